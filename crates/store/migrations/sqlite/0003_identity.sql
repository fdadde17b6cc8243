-- Customer identity and access (ACC-01 … ACC-11) and the outbox (OPS-05).
-- Conventions as in 0001: application-assigned ids, Unix-second times,
-- BLOB columns holding personal data are AEAD-sealed under the data
-- subject's key, `*_hash` columns hold keyed hashes (HMAC-SHA256) of
-- secrets (session ids, links, codes) so the database never holds a usable
-- secret.

-- Registration proof (ACC-01): a keyed hash over the contract number, the
-- party's date of birth (persons) or company number (companies) and the
-- postcode, per contract party. NULL for parties loaded before this index.
ALTER TABLE contract_parties ADD COLUMN registration_bidx BLOB;
CREATE INDEX contract_parties_registration ON contract_parties (registration_bidx);

-- The terms of use versions of each entity (ACC-11); the newest version
-- whose date has come is in force.
CREATE TABLE terms_of_use (
    entity_id INTEGER NOT NULL REFERENCES legal_entities (id),
    version TEXT NOT NULL,
    in_force_from TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (entity_id, version)
);

-- Who accepted which version when. Kept after the account is closed: it is
-- the evidence of what was agreed (contract records' retention).
CREATE TABLE terms_acceptances (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    entity_id INTEGER NOT NULL REFERENCES legal_entities (id),
    version TEXT NOT NULL,
    context TEXT NOT NULL CHECK (context IN ('registration', 'login')),
    accepted_at INTEGER NOT NULL
);
CREATE INDEX terms_acceptances_customer ON terms_acceptances (customer_id);

-- A customer's portal account: one per customer. Portal-only data: it is
-- deleted when the account closes (ACC-09).
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL UNIQUE REFERENCES customers (id),
    entity_id INTEGER NOT NULL REFERENCES legal_entities (id),
    email BLOB NOT NULL,
    email_bidx BLOB NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('unverified', 'active', 'frozen')),
    language TEXT NOT NULL CHECK (language IN ('nl', 'fr', 'en')),
    terms_version TEXT NOT NULL,
    email_verified_at INTEGER,
    second_factor TEXT NOT NULL CHECK (second_factor IN ('none', 'totp', 'sms')),
    totp_secret BLOB,
    totp_last_step INTEGER,
    frozen_at INTEGER,
    last_login_at INTEGER,
    closure_notice_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Contracts the customer proved to hold by an SMS code (ACC-03).
CREATE TABLE contract_activations (
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    contract_id INTEGER NOT NULL REFERENCES contracts (id),
    activated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, contract_id)
);

-- Six-digit codes sent by SMS (activation, login second factor).
CREATE TABLE one_time_codes (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('activation', 'login')),
    contract_id INTEGER REFERENCES contracts (id),
    code_hash BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'used', 'exhausted', 'replaced')),
    created_at INTEGER NOT NULL
);
CREATE INDEX one_time_codes_account ON one_time_codes (account_id, purpose, created_at);

-- Single-use or time-limited links sent by e-mail.
CREATE TABLE account_tokens (
    token_hash BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL CHECK (kind IN ('verify_email', 'reset_password', 'change_email', 'report_access')),
    new_email BLOB,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX account_tokens_account ON account_tokens (account_id, kind);

-- Ten single-use recovery codes for the second factor (ACC-04).
CREATE TABLE recovery_codes (
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    code_hash BLOB NOT NULL,
    used_at INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, code_hash)
);

-- Sessions (ACC-06): the cookie holds a random id; only its keyed hash is
-- stored. `id` is a public handle for "end this session".
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    state TEXT NOT NULL CHECK (state IN ('second_factor', 'terms', 'active')),
    device BLOB NOT NULL,
    network BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Failed attempts per account (keyed hash of the e-mail address, so unknown
-- addresses are throttled alike) and per network address (ACC-05).
CREATE TABLE auth_throttle (
    scope TEXT NOT NULL,
    key BLOB NOT NULL,
    failures INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    locked_until INTEGER,
    PRIMARY KEY (scope, key)
);

-- E-mail and SMS written in the transaction of the change that causes
-- them, delivered by a worker with retries (OPS-05). Recipient and contents
-- are sealed under the data subject's key.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    entity_id INTEGER NOT NULL REFERENCES legal_entities (id),
    subject_id INTEGER NOT NULL REFERENCES customers (id),
    kind TEXT NOT NULL,
    recipient BLOB NOT NULL,
    subject BLOB,
    body_text BLOB NOT NULL,
    body_html BLOB,
    idempotency_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_subject ON outbox (subject_id);
