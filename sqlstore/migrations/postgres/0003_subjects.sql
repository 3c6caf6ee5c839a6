-- Subjects (the relying party's people) and their face templates, sealed
-- with AES-256-GCM. Templates carry an insertion sequence and deletions are
-- logged by template id, so every node's search index can catch up
-- incrementally: no node keeps state the others cannot see.
CREATE TABLE subjects (
    id         TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE subject_templates (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_id TEXT NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
    template   BYTEA NOT NULL,
    session_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX subject_templates_subject ON subject_templates (subject_id);

CREATE TABLE template_deletions (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    template_id BIGINT NOT NULL
);

-- The template of the face judged in a session, kept (sealed) with the
-- session so it can be enrolled or verified later, erased with it.
ALTER TABLE sessions ADD COLUMN probe_template BYTEA;
CREATE INDEX sessions_subject ON sessions (subject_id);
