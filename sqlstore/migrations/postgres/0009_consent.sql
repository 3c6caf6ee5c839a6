-- The notice a person is shown before the camera opens (presence.Notice,
-- JSON; empty when the relying party set none) and the person's answer
-- (presence.Consent, JSON; empty until they answered).
ALTER TABLE sessions ADD COLUMN notice TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN consent TEXT NOT NULL DEFAULT '';
