-- The key store lives apart from the data (its own SQLite file, or its own
-- PostgreSQL schema) and is backed up on its own schedule, so that a
-- restored data backup cannot revive a person whose key was destroyed.
CREATE TABLE subject_keys (
    subject_id BIGINT PRIMARY KEY,
    wrapped_key BYTEA,
    master_key_id TEXT,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT,
    shredded_at BIGINT
);
