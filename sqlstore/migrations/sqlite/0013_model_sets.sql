-- The model set every node serves, as a history of changes: the newest
-- row is the set in service. previous_seq is unique, so two nodes
-- changing the same set at once cannot both win.
CREATE TABLE model_set_changes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    set_id       TEXT NOT NULL,
    manifest     TEXT NOT NULL,
    action       TEXT NOT NULL,
    changed_by   TEXT NOT NULL,
    at           INTEGER NOT NULL,
    previous_seq INTEGER NOT NULL UNIQUE
);
