-- The key store lives apart from the data (its own SQLite file, or its own
-- PostgreSQL schema) and is backed up on its own schedule, so that a
-- restored data backup cannot revive a person whose key was destroyed.
CREATE TABLE subject_keys (
    subject_id INTEGER PRIMARY KEY,
    wrapped_key BLOB,
    master_key_id TEXT,
    created_at INTEGER NOT NULL,
    rotated_at INTEGER,
    shredded_at INTEGER
);
