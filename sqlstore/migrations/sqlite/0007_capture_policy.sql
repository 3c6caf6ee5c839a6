-- How a relying party lets frames arrive (presence.CapturePolicy, JSON):
-- per API key, copied onto each session at creation (narrowed there when
-- the request asks), so changing a key's policy never changes a session
-- already handed to a device.
ALTER TABLE api_keys ADD COLUMN policy TEXT NOT NULL DEFAULT '{}';
ALTER TABLE sessions ADD COLUMN capture_policy TEXT NOT NULL DEFAULT '{}';
