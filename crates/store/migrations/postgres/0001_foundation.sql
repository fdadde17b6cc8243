-- carfin foundation schema (ENT-01, ENT-02, CON-01, CON-02, CON-03).
-- Conventions: ids are 64-bit integers assigned by the application (see
-- store/src/ids.rs) so that sealed values can be bound to their row before
-- the insert; timestamps are Unix seconds (UTC); calendar dates are ISO
-- 'YYYY-MM-DD' text; money is integer euro cents; rates are basis points.
-- Columns holding personal data that identifies, contacts or describes a
-- person's accounts are BYTEA/BLOB and hold AEAD-sealed values (PRV-03);
-- `*_bidx` columns hold keyed blind indexes for exact-match look-ups.

CREATE TABLE legal_entities (
    id BIGINT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    legal_form TEXT NOT NULL,
    country TEXT NOT NULL CHECK (country IN ('NL', 'BE')),
    street TEXT NOT NULL,
    postcode TEXT NOT NULL,
    city TEXT NOT NULL,
    registration_number TEXT NOT NULL,
    vat_number TEXT NOT NULL,
    supervisory_authority TEXT NOT NULL,
    supervisory_authority_url TEXT NOT NULL,
    dpo_email TEXT NOT NULL,
    dpo_phone TEXT NOT NULL,
    dpo_postal_address TEXT NOT NULL,
    service_email TEXT NOT NULL,
    service_phone TEXT NOT NULL,
    languages TEXT NOT NULL,
    default_language TEXT NOT NULL,
    contract_retention_years BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE brands (
    id BIGINT PRIMARY KEY,
    entity_id BIGINT NOT NULL REFERENCES legal_entities (id),
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    website TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX brands_entity ON brands (entity_id);

CREATE TABLE dealers (
    id BIGINT PRIMARY KEY,
    entity_id BIGINT NOT NULL REFERENCES legal_entities (id),
    name TEXT NOT NULL,
    registration_number TEXT NOT NULL,
    city TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX dealers_entity ON dealers (entity_id);

-- A customer is a data subject: its id is the subject id under which its
-- personal data is sealed. Persons fill the name fields, companies the
-- company fields; the address and contact fields are shared.
CREATE TABLE customers (
    id BIGINT PRIMARY KEY,
    entity_id BIGINT NOT NULL REFERENCES legal_entities (id),
    customer_number TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('person', 'company')),
    language TEXT NOT NULL CHECK (language IN ('nl', 'fr', 'en')),
    country TEXT NOT NULL CHECK (country IN ('NL', 'BE')),
    initials BYTEA,
    given_names BYTEA,
    name_prefix BYTEA,
    surname BYTEA,
    date_of_birth BYTEA,
    company_name BYTEA,
    company_number BYTEA,
    street BYTEA NOT NULL,
    house_number BYTEA NOT NULL,
    postcode BYTEA NOT NULL,
    city BYTEA NOT NULL,
    email BYTEA,
    phone BYTEA,
    iban BYTEA,
    email_bidx BYTEA,
    phone_bidx BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX customers_entity ON customers (entity_id);
CREATE INDEX customers_email_bidx ON customers (email_bidx);
CREATE INDEX customers_phone_bidx ON customers (phone_bidx);

CREATE TABLE vehicles (
    id BIGINT PRIMARY KEY,
    entity_id BIGINT NOT NULL REFERENCES legal_entities (id),
    subject_id BIGINT NOT NULL REFERENCES customers (id),
    make TEXT NOT NULL,
    model TEXT NOT NULL,
    fuel TEXT NOT NULL,
    plate_country TEXT NOT NULL CHECK (plate_country IN ('NL', 'BE')),
    licence_plate BYTEA NOT NULL,
    vin BYTEA NOT NULL,
    plate_bidx BYTEA NOT NULL,
    first_registration TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX vehicles_subject ON vehicles (subject_id);
CREATE INDEX vehicles_plate_bidx ON vehicles (plate_bidx);

CREATE TABLE odometer_readings (
    id BIGINT PRIMARY KEY,
    vehicle_id BIGINT NOT NULL REFERENCES vehicles (id),
    reading_date TEXT NOT NULL,
    kilometres BIGINT NOT NULL CHECK (kilometres >= 0),
    source TEXT NOT NULL CHECK (source IN ('delivery', 'customer', 'dealer', 'inspection', 'contract_end', 'import')),
    created_at BIGINT NOT NULL
);
CREATE INDEX odometer_vehicle ON odometer_readings (vehicle_id, reading_date);

CREATE TABLE contracts (
    id BIGINT PRIMARY KEY,
    entity_id BIGINT NOT NULL REFERENCES legal_entities (id),
    brand_id BIGINT NOT NULL REFERENCES brands (id),
    dealer_id BIGINT REFERENCES dealers (id),
    vehicle_id BIGINT NOT NULL REFERENCES vehicles (id),
    contract_number TEXT NOT NULL UNIQUE,
    contract_type TEXT NOT NULL CHECK (contract_type IN ('financial_lease', 'operational_lease', 'consumer_credit')),
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'ended', 'closed')),
    current_version BIGINT NOT NULL,
    ended_on TEXT,
    closed_on TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX contracts_entity_status ON contracts (entity_id, status);
CREATE INDEX contracts_vehicle ON contracts (vehicle_id);

-- Every amendment adds a version; earlier versions stay (CON-01).
CREATE TABLE contract_versions (
    contract_id BIGINT NOT NULL REFERENCES contracts (id),
    version BIGINT NOT NULL,
    valid_from TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    term_months BIGINT NOT NULL CHECK (term_months > 0),
    financed_amount_cents BIGINT NOT NULL CHECK (financed_amount_cents >= 0),
    down_payment_cents BIGINT NOT NULL CHECK (down_payment_cents >= 0),
    balloon_cents BIGINT NOT NULL CHECK (balloon_cents >= 0),
    nominal_rate_bp BIGINT NOT NULL CHECK (nominal_rate_bp >= 0),
    apr_bp BIGINT NOT NULL CHECK (apr_bp >= 0),
    monthly_instalment_cents BIGINT NOT NULL CHECK (monthly_instalment_cents >= 0),
    km_per_year BIGINT,
    excess_km_price_cents BIGINT,
    change_reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (contract_id, version)
);

CREATE TABLE contract_parties (
    contract_id BIGINT NOT NULL REFERENCES contracts (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    role TEXT NOT NULL CHECK (role IN ('holder', 'co_holder', 'guarantor')),
    PRIMARY KEY (contract_id, customer_id)
);
CREATE INDEX contract_parties_customer ON contract_parties (customer_id);

CREATE TABLE invoices (
    id BIGINT PRIMARY KEY,
    entity_id BIGINT NOT NULL REFERENCES legal_entities (id),
    contract_id BIGINT NOT NULL REFERENCES contracts (id),
    invoice_number TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('instalment', 'excess_km', 'fee', 'credit')),
    period TEXT,
    issue_date TEXT NOT NULL,
    due_date TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    paid_cents BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'overdue', 'in_collection', 'written_off')),
    payment_reference TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Serves a contract's invoice list (a few dozen rows, sorted after) and the
-- invoice run's once-per-period rule.
CREATE UNIQUE INDEX invoices_contract_period ON invoices (contract_id, kind, period);
-- Only unpaid invoices are looked up by due date (overdue marking, dunning);
-- paid ones, the vast majority, stay out of this index.
CREATE INDEX invoices_unpaid_due ON invoices (due_date) WHERE status IN ('open', 'overdue', 'in_collection');

-- Debits are positive, credits negative; the balance is the sum.
CREATE TABLE ledger_entries (
    id BIGINT PRIMARY KEY,
    contract_id BIGINT NOT NULL REFERENCES contracts (id),
    invoice_id BIGINT REFERENCES invoices (id),
    entry_date TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('invoice', 'payment', 'credit', 'write_off', 'fee')),
    amount_cents BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_contract_date ON ledger_entries (contract_id, entry_date, id);

-- Leases of scheduled jobs, so that one node at a time runs each job.
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT,
    lease_until BIGINT NOT NULL,
    last_started_at BIGINT,
    last_finished_at BIGINT,
    last_outcome TEXT
);
