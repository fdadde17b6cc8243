-- Customer identity and access (ACC-01 … ACC-11) and the outbox (OPS-05).
-- Conventions as in 0001: application-assigned ids, Unix-second times,
-- BYTEA columns holding personal data are AEAD-sealed under the data
-- subject's key, `*_hash` columns hold keyed hashes (HMAC-SHA256) of
-- secrets (session ids, links, codes) so the database never holds a usable
-- secret.

-- Registration proof (ACC-01): a keyed hash over the contract number, the
-- party's date of birth (persons) or company number (companies) and the
-- postcode, per contract party. NULL for parties loaded before this index.
ALTER TABLE contract_parties ADD COLUMN registration_bidx BYTEA;
CREATE INDEX contract_parties_registration ON contract_parties (registration_bidx);

-- The terms of use versions of each entity (ACC-11); the newest version
-- whose date has come is in force.
CREATE TABLE terms_of_use (
    entity_id BIGINT NOT NULL REFERENCES legal_entities (id),
    version TEXT NOT NULL,
    in_force_from TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (entity_id, version)
);

-- Who accepted which version when. Kept after the account is closed: it is
-- the evidence of what was agreed (contract records' retention).
CREATE TABLE terms_acceptances (
    id BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    entity_id BIGINT NOT NULL REFERENCES legal_entities (id),
    version TEXT NOT NULL,
    context TEXT NOT NULL CHECK (context IN ('registration', 'login')),
    accepted_at BIGINT NOT NULL
);
CREATE INDEX terms_acceptances_customer ON terms_acceptances (customer_id);

-- A customer's portal account: one per customer. Portal-only data: it is
-- deleted when the account closes (ACC-09).
CREATE TABLE accounts (
    id BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL UNIQUE REFERENCES customers (id),
    entity_id BIGINT NOT NULL REFERENCES legal_entities (id),
    email BYTEA NOT NULL,
    email_bidx BYTEA NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('unverified', 'active', 'frozen')),
    language TEXT NOT NULL CHECK (language IN ('nl', 'fr', 'en')),
    terms_version TEXT NOT NULL,
    email_verified_at BIGINT,
    second_factor TEXT NOT NULL CHECK (second_factor IN ('none', 'totp', 'sms')),
    totp_secret BYTEA,
    totp_last_step BIGINT,
    frozen_at BIGINT,
    last_login_at BIGINT,
    closure_notice_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Contracts the customer proved to hold by an SMS code (ACC-03).
CREATE TABLE contract_activations (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    contract_id BIGINT NOT NULL REFERENCES contracts (id),
    activated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, contract_id)
);

-- Six-digit codes sent by SMS (activation, login second factor).
CREATE TABLE one_time_codes (
    id BIGINT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('activation', 'login')),
    contract_id BIGINT REFERENCES contracts (id),
    code_hash BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'used', 'exhausted', 'replaced')),
    created_at BIGINT NOT NULL
);
CREATE INDEX one_time_codes_account ON one_time_codes (account_id, purpose, created_at);

-- Single-use or time-limited links sent by e-mail.
CREATE TABLE account_tokens (
    token_hash BYTEA PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL CHECK (kind IN ('verify_email', 'reset_password', 'change_email', 'report_access')),
    new_email BYTEA,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX account_tokens_account ON account_tokens (account_id, kind);

-- Ten single-use recovery codes for the second factor (ACC-04).
CREATE TABLE recovery_codes (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    code_hash BYTEA NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, code_hash)
);

-- Sessions (ACC-06): the cookie holds a random id; only its keyed hash is
-- stored. `id` is a public handle for "end this session".
CREATE TABLE sessions (
    id BIGINT PRIMARY KEY,
    token_hash BYTEA NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    state TEXT NOT NULL CHECK (state IN ('second_factor', 'terms', 'active')),
    device BYTEA NOT NULL,
    network BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Failed attempts per account (keyed hash of the e-mail address, so unknown
-- addresses are throttled alike) and per network address (ACC-05).
CREATE TABLE auth_throttle (
    scope TEXT NOT NULL,
    key BYTEA NOT NULL,
    failures BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until BIGINT,
    PRIMARY KEY (scope, key)
);

-- E-mail and SMS written in the transaction of the change that causes
-- them, delivered by a worker with retries (OPS-05). Recipient and contents
-- are sealed under the data subject's key.
CREATE TABLE outbox (
    id BIGINT PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    entity_id BIGINT NOT NULL REFERENCES legal_entities (id),
    subject_id BIGINT NOT NULL REFERENCES customers (id),
    kind TEXT NOT NULL,
    recipient BYTEA NOT NULL,
    subject BYTEA,
    body_text BYTEA NOT NULL,
    body_html BYTEA,
    idempotency_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_subject ON outbox (subject_id);
