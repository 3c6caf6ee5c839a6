-- The face-login app's own records (a relying party's side of the API):
-- its users, every registration and login attempt (history and lockout),
-- and logged-in browsers (by cookie hash).
CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    username   TEXT NOT NULL UNIQUE,
    subject_id TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE attempts (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    username    TEXT NOT NULL DEFAULT '',
    user_id     TEXT NOT NULL DEFAULT '',
    client      TEXT NOT NULL DEFAULT '',
    browser     BYTEA,
    session_id  TEXT NOT NULL DEFAULT '',
    device      TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX attempts_user ON attempts (user_id, finished_at);
CREATE INDEX attempts_username ON attempts (username, finished_at);
CREATE INDEX attempts_client ON attempts (client, finished_at);

CREATE TABLE browser_logins (
    token_hash BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device     TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
