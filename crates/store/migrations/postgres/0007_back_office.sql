-- The back office (BOF-01 … BOF-06, PRV-14, ACC-08).

-- Staff accounts, apart from customers' (BOF-01). Staff members are data
-- subjects too: the work e-mail address, name and TOTP secret are sealed
-- under the staff member's own subject key; the address is found by its
-- blind index, the identity provider's subject by a keyed hash. A staff
-- member signs in with a password and a mandatory TOTP code, or through
-- the company's single sign-on.
CREATE TABLE staff_accounts (
    id BIGINT PRIMARY KEY,
    email BYTEA NOT NULL,
    email_bidx BYTEA NOT NULL UNIQUE,
    display_name BYTEA NOT NULL,
    password_hash TEXT,
    totp_secret BYTEA,
    totp_last_step BIGINT,
    oidc_subject_bidx BYTEA UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    last_sign_in_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Roles held (PRV-14); what each role may read for which purpose is
-- declared in privacy/roles.toml next to the processing register.
CREATE TABLE staff_roles (
    staff_id BIGINT NOT NULL REFERENCES staff_accounts (id),
    role TEXT NOT NULL CHECK (role IN ('customer_service', 'contract_administration', 'collections', 'privacy_officer', 'security_officer', 'administrator', 'auditor')),
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (staff_id, role)
);

-- Staff sessions: only the HMAC of the cookie's id is stored; idle 10
-- minutes, absolute 8 hours (BOF-01).
CREATE TABLE staff_sessions (
    id BIGINT PRIMARY KEY,
    token_hash BYTEA NOT NULL UNIQUE,
    staff_id BIGINT NOT NULL REFERENCES staff_accounts (id),
    state TEXT NOT NULL CHECK (state IN ('second_factor', 'active')),
    method TEXT NOT NULL CHECK (method IN ('password_totp', 'sso')),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);

-- Single sign-on attempts in flight (authorization code flow with PKCE):
-- the state's hash, the nonce and the code verifier, for ten minutes.
CREATE TABLE staff_sso_attempts (
    state_hash BYTEA PRIMARY KEY,
    nonce TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- A customer's file opened by a staff member for a stated purpose, for a
-- limited time (BOF-03, PRV-14): a request or queue item, an inbound call
-- (with a note, sealed under the customer's key), or a collection case.
CREATE TABLE staff_file_accesses (
    id BIGINT PRIMARY KEY,
    staff_id BIGINT NOT NULL REFERENCES staff_accounts (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('request', 'inbound_call', 'collection_case')),
    reference TEXT NOT NULL,
    note BYTEA,
    opened_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX staff_file_accesses_open ON staff_file_accesses (staff_id, customer_id, expires_at);
CREATE INDEX staff_file_accesses_review ON staff_file_accesses (opened_at);

-- One request model for every queue (BOF-02): account freezes (ACC-08),
-- unknown payment notifications (PAY-02), and later change requests,
-- messages and data-subject requests.
CREATE TABLE requests (
    id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    customer_id BIGINT REFERENCES customers (id),
    contract_id BIGINT REFERENCES contracts (id),
    status TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'waiting', 'resolved', 'rejected')),
    priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    -- Working hours allowed (service level) and the due time they give.
    sla_minutes BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    assignee_staff_id BIGINT REFERENCES staff_accounts (id),
    -- The record the request is about (a notification id, …).
    subject_ref TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE INDEX requests_queue ON requests (kind, status, due_at);
CREATE INDEX requests_customer ON requests (customer_id, created_at);
CREATE UNIQUE INDEX requests_subject ON requests (kind, subject_ref);

-- Internal notes (staff only), sealed under the customer's key when there
-- is a customer.
CREATE TABLE request_notes (
    id BIGINT PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES requests (id),
    staff_id BIGINT NOT NULL REFERENCES staff_accounts (id),
    body BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX request_notes_request ON request_notes (request_id, created_at);

-- The request's timeline: status changes and assignments; the ones the
-- customer may see are marked.
CREATE TABLE request_events (
    id BIGINT PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES requests (id),
    event TEXT NOT NULL,
    status TEXT,
    staff_id BIGINT REFERENCES staff_accounts (id),
    visible_to_customer BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX request_events_request ON request_events (request_id, created_at);

-- Access reviews signed off (BOF-06): the period, who signed, when, and
-- the SHA-256 of the report as it was signed.
CREATE TABLE access_reviews (
    id BIGINT PRIMARY KEY,
    period_from TEXT NOT NULL,
    period_to TEXT NOT NULL,
    reviewer_staff_id BIGINT NOT NULL REFERENCES staff_accounts (id),
    report_sha256 BYTEA NOT NULL,
    signed_off_at BIGINT NOT NULL
);

-- Imports from the core system (BOF-04): one row per run.
CREATE TABLE import_runs (
    id BIGINT PRIMARY KEY,
    file_name TEXT NOT NULL,
    sha256 BYTEA NOT NULL,
    format TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    rows_total BIGINT NOT NULL,
    rows_imported BIGINT NOT NULL,
    rows_unchanged BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL
);

-- Monthly invoice runs (BOF-04): each period's run and what it created;
-- the invoices themselves are unique per (contract, kind, period).
CREATE TABLE invoice_runs (
    id BIGINT PRIMARY KEY,
    period TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    invoices_created BIGINT NOT NULL
);
CREATE INDEX invoice_runs_period ON invoice_runs (period);

-- Customers found by exact name through a blind index (BOF-03): the
-- normalized full name (or company name), keyed.
ALTER TABLE customers ADD COLUMN name_bidx BYTEA;
CREATE INDEX customers_name_bidx ON customers (name_bidx);
