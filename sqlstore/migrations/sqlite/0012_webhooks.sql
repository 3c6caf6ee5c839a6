-- Webhooks: a relying party's endpoints (per API key) and the
-- transactional outbox of their deliveries. A delivery row is written in
-- the same transaction as the change it reports (a verdict, an expiry, an
-- enrolment, an erasure), one per endpoint subscribed at that moment, so
-- a crash between the commit and the send loses nothing. A node claims a
-- due delivery with a lease (lease_owner, lease_until) before sending, so
-- two nodes never send one on purpose; one that dies mid-send leaves the
-- lease to expire and another sends again (at least once).
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    api_key_id      TEXT NOT NULL,
    url             TEXT NOT NULL,
    -- ",session.succeeded,subject.erased," or "*" for every event.
    events          TEXT NOT NULL,
    secret          BLOB NOT NULL,   -- sealed, like templates
    previous_secret BLOB,            -- sealed; also signs until previous_until
    previous_until  INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_key ON webhook_endpoints (api_key_id);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    api_key_id      TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    -- pending, delivered or failed (retries spent).
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    give_up_at      INTEGER NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    finished_at     INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
