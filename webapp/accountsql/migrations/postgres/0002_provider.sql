-- The app as an OpenID Provider: registered client applications, the
-- keys that sign ID tokens, authorization requests waiting for a face
-- login, single-use codes and access tokens (hashed), and the consent
-- each user gave each client.
CREATE TABLE oidc_clients (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    secret_hash      BYTEA,
    redirect_uris    TEXT NOT NULL,
    post_logout_uris TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL
);

CREATE TABLE oidc_keys (
    id          TEXT PRIMARY KEY,
    private_pem BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);

CREATE TABLE oidc_requests (
    id           TEXT PRIMARY KEY,
    browser      BYTEA NOT NULL,
    client_id    TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope        TEXT NOT NULL,
    state        TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    challenge    TEXT NOT NULL,
    fresh_after  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

CREATE TABLE oidc_codes (
    hash         BYTEA PRIMARY KEY,
    client_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    challenge    TEXT NOT NULL,
    nonce        TEXT NOT NULL,
    scope        TEXT NOT NULL,
    auth_time    BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX oidc_codes_user ON oidc_codes (user_id);

CREATE TABLE oidc_tokens (
    hash       BYTEA PRIMARY KEY,
    code_hash  BYTEA NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_tokens_code ON oidc_tokens (code_hash);
CREATE INDEX oidc_tokens_user ON oidc_tokens (user_id);

CREATE TABLE oidc_consents (
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
