-- Frame fingerprints outlive their sessions: a relying party that deletes
-- a session (the face-login app deletes each one once it has read the
-- verdict) must not wipe the evidence that catches the session's frames
-- replayed. A fingerprint is the SHA-256 of a frame's bytes and its
-- 256-bit perceptual hash (four 64-bit words; a hash within one bit of
-- another shares word 0 or word 1 exactly, so those two are indexed); it
-- holds no image and no face template. Every judged frame showing one
-- face is kept, whatever the verdict, until expires_at (the retention
-- window), or until the subject it belongs to is erased: subject_id is
-- copied from the session when it names, enrols or matches a subject, so
-- the link survives the session's deletion.
CREATE TABLE frame_fingerprints (
    session_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    subject_id TEXT NOT NULL DEFAULT '',
    sha256     BLOB NOT NULL,
    w0         INTEGER NOT NULL,
    w1         INTEGER NOT NULL,
    w2         INTEGER NOT NULL,
    w3         INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE INDEX frame_fingerprints_sha ON frame_fingerprints (sha256);
CREATE INDEX frame_fingerprints_w0 ON frame_fingerprints (w0);
CREATE INDEX frame_fingerprints_w1 ON frame_fingerprints (w1);
CREATE INDEX frame_fingerprints_subject ON frame_fingerprints (subject_id);
CREATE INDEX frame_fingerprints_expiry ON frame_fingerprints (expires_at);
-- The hashes kept so far (passed sessions only) move over, with 30 days
-- from their creation, the default retention.
INSERT INTO frame_fingerprints (session_id, seq, subject_id, sha256, w0, w1, w2, w3, created_at, expires_at)
    SELECT h.session_id, h.seq, s.subject_id, h.sha256, h.w0, h.w1, h.w2, h.w3, h.created_at, h.created_at + 2592000000
    FROM frame_hashes h JOIN sessions s ON s.id = h.session_id;
DROP TABLE frame_hashes;
