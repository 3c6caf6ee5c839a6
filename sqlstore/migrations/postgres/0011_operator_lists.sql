-- The operator's lists read sessions newest first, page by page.
CREATE INDEX sessions_created_id ON sessions (created_at, id);
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX sessions_correlation ON sessions (correlation_id, created_at);
