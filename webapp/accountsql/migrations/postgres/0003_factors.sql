-- A second factor (an authenticator app, RFC 6238), one-time recovery
-- codes (hashed), face logins waiting for their second factor, and how
-- each browser logged in.
CREATE TABLE totp (
    user_id      TEXT PRIMARY KEY,
    secret       BYTEA NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL,
    code_hash  BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE pending_logins (
    token_hash BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL,
    browser    BYTEA NOT NULL,
    auth_time  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

ALTER TABLE browser_logins ADD COLUMN amr TEXT NOT NULL DEFAULT 'face liveness';

-- What a code and a request carry of the second factor: how the login
-- was made, and the level the client asked for (acr_values).
ALTER TABLE oidc_codes ADD COLUMN amr TEXT NOT NULL DEFAULT 'face liveness';
ALTER TABLE oidc_requests ADD COLUMN acr TEXT NOT NULL DEFAULT '';
