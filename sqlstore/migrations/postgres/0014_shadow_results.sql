-- What a candidate model set or threshold running in shadow would have
-- decided, beside the verdict the session got (scores and reasons only;
-- no image, no template). A row goes with its session.
CREATE TABLE shadow_results (
    session_id     TEXT PRIMARY KEY,
    api_key_id     TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    mode           TEXT NOT NULL,
    candidate      TEXT NOT NULL,
    real_verdict   TEXT NOT NULL,
    shadow_verdict TEXT NOT NULL,
    audit_images   BIGINT NOT NULL,
    at             BIGINT NOT NULL
);
CREATE INDEX shadow_results_at ON shadow_results (at);
