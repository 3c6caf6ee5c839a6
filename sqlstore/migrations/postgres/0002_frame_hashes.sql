-- Hashes of frames from sessions that passed, to catch them replayed in
-- another session: the SHA-256 of the bytes as sent, and a 256-bit
-- perceptual hash as four 64-bit words. A hash within one bit of another
-- shares word 0 or word 1 exactly, so those two are indexed.
CREATE TABLE frame_hashes (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    sha256     BYTEA NOT NULL,
    w0         BIGINT NOT NULL,
    w1         BIGINT NOT NULL,
    w2         BIGINT NOT NULL,
    w3         BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE INDEX frame_hashes_sha ON frame_hashes (sha256);
CREATE INDEX frame_hashes_w0 ON frame_hashes (w0);
CREATE INDEX frame_hashes_w1 ON frame_hashes (w1);
