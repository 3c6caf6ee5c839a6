-- Sessions, API keys, audit images, the audit log and rate-limit windows.
-- Times are Unix milliseconds (UTC) in both dialects.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    secret_hash  BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY,
    mode               TEXT NOT NULL,
    status             TEXT NOT NULL,
    correlation_id     TEXT NOT NULL DEFAULT '',
    audit_images       INTEGER NOT NULL DEFAULT 0,
    api_key_id         TEXT NOT NULL,
    client_token_hash  BLOB NOT NULL UNIQUE,
    token_used_at      INTEGER,
    reference_template BLOB,
    subject_id         TEXT NOT NULL DEFAULT '',
    challenge          BLOB,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    completed_at       INTEGER,
    decision           TEXT NOT NULL DEFAULT '',
    verdict            TEXT
);
CREATE INDEX sessions_open ON sessions (status, expires_at);
CREATE INDEX sessions_completed ON sessions (completed_at);

CREATE TABLE audit_images (
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (session_id, idx)
);

CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             INTEGER NOT NULL,
    action         TEXT NOT NULL,
    api_key_id     TEXT NOT NULL DEFAULT '',
    session_id     TEXT NOT NULL DEFAULT '',
    subject_id     TEXT NOT NULL DEFAULT '',
    correlation_id TEXT NOT NULL DEFAULT '',
    decision       TEXT NOT NULL DEFAULT '',
    score          REAL,
    detail         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_session ON audit_log (session_id);

-- The audit log is append-only, enforced by the database itself.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TABLE rate_windows (
    key          TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
