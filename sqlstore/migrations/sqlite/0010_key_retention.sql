-- Retention chosen by the relying party's key, within the operator's
-- bounds, copied onto each session at creation (milliseconds; 0 is the
-- server's setting): how long the session, its audit images and its
-- frame fingerprints are kept after it ends.
ALTER TABLE sessions ADD COLUMN retain_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN retain_images_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN retain_fingerprints_ms INTEGER NOT NULL DEFAULT 0;
