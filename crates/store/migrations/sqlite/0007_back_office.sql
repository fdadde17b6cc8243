-- The back office (BOF-01 … BOF-06, PRV-14, ACC-08).

-- Staff accounts, apart from customers' (BOF-01). Staff members are data
-- subjects too: the work e-mail address, name and TOTP secret are sealed
-- under the staff member's own subject key; the address is found by its
-- blind index, the identity provider's subject by a keyed hash. A staff
-- member signs in with a password and a mandatory TOTP code, or through
-- the company's single sign-on.
CREATE TABLE staff_accounts (
    id INTEGER PRIMARY KEY,
    email BLOB NOT NULL,
    email_bidx BLOB NOT NULL UNIQUE,
    display_name BLOB NOT NULL,
    password_hash TEXT,
    totp_secret BLOB,
    totp_last_step INTEGER,
    oidc_subject_bidx BLOB UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    last_sign_in_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Roles held (PRV-14); what each role may read for which purpose is
-- declared in privacy/roles.toml next to the processing register.
CREATE TABLE staff_roles (
    staff_id INTEGER NOT NULL REFERENCES staff_accounts (id),
    role TEXT NOT NULL CHECK (role IN ('customer_service', 'contract_administration', 'collections', 'privacy_officer', 'security_officer', 'administrator', 'auditor')),
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (staff_id, role)
);

-- Staff sessions: only the HMAC of the cookie's id is stored; idle 10
-- minutes, absolute 8 hours (BOF-01).
CREATE TABLE staff_sessions (
    id INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    staff_id INTEGER NOT NULL REFERENCES staff_accounts (id),
    state TEXT NOT NULL CHECK (state IN ('second_factor', 'active')),
    method TEXT NOT NULL CHECK (method IN ('password_totp', 'sso')),
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);

-- Single sign-on attempts in flight (authorization code flow with PKCE):
-- the state's hash, the nonce and the code verifier, for ten minutes.
CREATE TABLE staff_sso_attempts (
    state_hash BLOB PRIMARY KEY,
    nonce TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- A customer's file opened by a staff member for a stated purpose, for a
-- limited time (BOF-03, PRV-14): a request or queue item, an inbound call
-- (with a note, sealed under the customer's key), or a collection case.
CREATE TABLE staff_file_accesses (
    id INTEGER PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff_accounts (id),
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('request', 'inbound_call', 'collection_case')),
    reference TEXT NOT NULL,
    note BLOB,
    opened_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX staff_file_accesses_open ON staff_file_accesses (staff_id, customer_id, expires_at);
CREATE INDEX staff_file_accesses_review ON staff_file_accesses (opened_at);

-- One request model for every queue (BOF-02): account freezes (ACC-08),
-- unknown payment notifications (PAY-02), and later change requests,
-- messages and data-subject requests.
CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers (id),
    contract_id INTEGER REFERENCES contracts (id),
    status TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'waiting', 'resolved', 'rejected')),
    priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    -- Working hours allowed (service level) and the due time they give.
    sla_minutes INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    assignee_staff_id INTEGER REFERENCES staff_accounts (id),
    -- The record the request is about (a notification id, …).
    subject_ref TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    closed_at INTEGER
);
CREATE INDEX requests_queue ON requests (kind, status, due_at);
CREATE INDEX requests_customer ON requests (customer_id, created_at);
CREATE UNIQUE INDEX requests_subject ON requests (kind, subject_ref);

-- Internal notes (staff only), sealed under the customer's key when there
-- is a customer.
CREATE TABLE request_notes (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES requests (id),
    staff_id INTEGER NOT NULL REFERENCES staff_accounts (id),
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX request_notes_request ON request_notes (request_id, created_at);

-- The request's timeline: status changes and assignments; the ones the
-- customer may see are marked.
CREATE TABLE request_events (
    id INTEGER PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES requests (id),
    event TEXT NOT NULL,
    status TEXT,
    staff_id INTEGER REFERENCES staff_accounts (id),
    visible_to_customer INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX request_events_request ON request_events (request_id, created_at);

-- Access reviews signed off (BOF-06): the period, who signed, when, and
-- the SHA-256 of the report as it was signed.
CREATE TABLE access_reviews (
    id INTEGER PRIMARY KEY,
    period_from TEXT NOT NULL,
    period_to TEXT NOT NULL,
    reviewer_staff_id INTEGER NOT NULL REFERENCES staff_accounts (id),
    report_sha256 BLOB NOT NULL,
    signed_off_at INTEGER NOT NULL
);

-- Imports from the core system (BOF-04): one row per run.
CREATE TABLE import_runs (
    id INTEGER PRIMARY KEY,
    file_name TEXT NOT NULL,
    sha256 BLOB NOT NULL,
    format TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    rows_total INTEGER NOT NULL,
    rows_imported INTEGER NOT NULL,
    rows_unchanged INTEGER NOT NULL,
    rows_rejected INTEGER NOT NULL
);

-- Monthly invoice runs (BOF-04): each period's run and what it created;
-- the invoices themselves are unique per (contract, kind, period).
CREATE TABLE invoice_runs (
    id INTEGER PRIMARY KEY,
    period TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    invoices_created INTEGER NOT NULL
);
CREATE INDEX invoice_runs_period ON invoice_runs (period);

-- Customers found by exact name through a blind index (BOF-03): the
-- normalized full name (or company name), keyed.
ALTER TABLE customers ADD COLUMN name_bidx BLOB;
CREATE INDEX customers_name_bidx ON customers (name_bidx);
