-- PRV-15: the audit log. Append-only in the application; each record's hash
-- covers its contents and the previous record's hash (a hash chain), so
-- `carfin audit verify` finds any change, deletion, insertion or reordering.
-- It holds codes, pseudonymous ids and the NAMES of fields, never values.
CREATE TABLE audit_log (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE,
    at BIGINT NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('customer', 'staff', 'system')),
    actor_id BIGINT,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_id BIGINT,
    purpose TEXT NOT NULL,
    fields TEXT NOT NULL,
    request_id TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
-- "Who accessed my data" (PRV-16).
CREATE INDEX audit_log_subject ON audit_log (subject_id, at) WHERE subject_id IS NOT NULL;

-- PRV-19: every disclosure of a subject's data to a recipient of the register.
CREATE TABLE disclosures (
    id BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    subject_id BIGINT NOT NULL,
    recipient TEXT NOT NULL,
    categories TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    consent_ref TEXT,
    reason TEXT NOT NULL,
    request_id TEXT
);
CREATE INDEX disclosures_subject ON disclosures (subject_id, at);
