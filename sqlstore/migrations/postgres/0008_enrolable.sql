-- Whether the relying party asked to keep the session's face template
-- for a later enrolment, verification or identification. Templates are
-- computed (and kept) only when they can be used; sessions from before
-- this column kept theirs, so they stay enrolable.
ALTER TABLE sessions ADD COLUMN enrolable INTEGER NOT NULL DEFAULT 1;
