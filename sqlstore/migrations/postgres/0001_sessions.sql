-- Sessions, API keys, audit images, the audit log and rate-limit windows.
-- Times are Unix milliseconds (UTC) in both dialects.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY,
    mode               TEXT NOT NULL,
    status             TEXT NOT NULL,
    correlation_id     TEXT NOT NULL DEFAULT '',
    audit_images       INTEGER NOT NULL DEFAULT 0,
    api_key_id         TEXT NOT NULL,
    client_token_hash  BYTEA NOT NULL UNIQUE,
    token_used_at      BIGINT,
    reference_template BYTEA,
    subject_id         TEXT NOT NULL DEFAULT '',
    challenge          BYTEA,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    completed_at       BIGINT,
    decision           TEXT NOT NULL DEFAULT '',
    verdict            TEXT
);
CREATE INDEX sessions_open ON sessions (status, expires_at);
CREATE INDEX sessions_completed ON sessions (completed_at);

CREATE TABLE audit_images (
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    data         BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (session_id, idx)
);

CREATE TABLE audit_log (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             BIGINT NOT NULL,
    action         TEXT NOT NULL,
    api_key_id     TEXT NOT NULL DEFAULT '',
    session_id     TEXT NOT NULL DEFAULT '',
    subject_id     TEXT NOT NULL DEFAULT '',
    correlation_id TEXT NOT NULL DEFAULT '',
    decision       TEXT NOT NULL DEFAULT '',
    score          DOUBLE PRECISION,
    detail         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_session ON audit_log (session_id);

-- The audit log is append-only, enforced by the database itself.
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE rate_windows (
    key          TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
