-- Online payments through the payment provider (PAY-01 … PAY-06, COL-05).

-- One payment per checkout: the customer's selection of open, overdue or
-- in-collection invoices. Its id is the merchant reference sent to the
-- provider. States (PAY-03): initiated → authorised → booked, or refused,
-- cancelled, expired; a booked or authorised payment can end refunded or
-- charged back.
CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    entity_id INTEGER NOT NULL REFERENCES legal_entities (id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('initiated', 'authorised', 'booked', 'refused', 'cancelled', 'expired', 'refunded', 'charged_back')),
    language TEXT NOT NULL CHECK (language IN ('nl', 'fr', 'en')),
    -- The provider's checkout session: one per payment, created with the
    -- idempotency key `carfin-payment-{id}`, so a retried request never
    -- opens a second one (PAY-04).
    session_id TEXT,
    session_url TEXT,
    session_expires_at INTEGER,
    -- The last failure talking to the provider (timeout, unavailable,
    -- malformed), shown to the customer; cleared when a session exists.
    provider_error TEXT,
    psp_reference TEXT,
    authorised_cents INTEGER,
    payment_method TEXT,
    refusal_reason TEXT,
    authorised_at INTEGER,
    -- The working day on which an authorised payment is booked.
    book_on TEXT,
    booked_at INTEGER,
    ended_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX payments_customer ON payments (customer_id, created_at);
CREATE INDEX payments_to_book ON payments (book_on) WHERE status = 'authorised';
CREATE INDEX payments_open_sessions ON payments (session_expires_at) WHERE status = 'initiated';
CREATE INDEX payments_psp ON payments (psp_reference);

-- The invoices a payment pays, with what they had outstanding at checkout
-- and what the booking allocated to each (oldest first).
CREATE TABLE payment_invoices (
    payment_id INTEGER NOT NULL REFERENCES payments (id),
    invoice_id INTEGER NOT NULL REFERENCES invoices (id),
    requested_cents INTEGER NOT NULL,
    booked_cents INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (payment_id, invoice_id)
);
CREATE INDEX payment_invoices_invoice ON payment_invoices (invoice_id);

-- The provider's notifications (PAY-02), stored before they are
-- acknowledged and processed after, at most once per (pspReference,
-- eventCode, success). Only the signed fields and what processing needs are
-- kept: `additionalData` is not (data minimisation). A worker claims rows
-- with a lease, so a crash mid-way leaves them to be processed again.
CREATE TABLE payment_notifications (
    id INTEGER PRIMARY KEY,
    psp_reference TEXT NOT NULL,
    original_reference TEXT NOT NULL,
    merchant_account TEXT NOT NULL,
    merchant_reference TEXT NOT NULL,
    amount_value INTEGER,
    currency TEXT NOT NULL,
    event_code TEXT NOT NULL,
    success INTEGER NOT NULL,
    live INTEGER NOT NULL,
    event_date TEXT NOT NULL,
    payment_method TEXT NOT NULL,
    reason TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    payment_id INTEGER REFERENCES payments (id),
    claimed_until INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    processed_at INTEGER,
    outcome TEXT,
    -- Staff must look at it: an unknown merchant reference, an amount that
    -- differs, an event on a payment that cannot take it.
    needs_review INTEGER NOT NULL DEFAULT 0,
    UNIQUE (psp_reference, event_code, success)
);
CREATE INDEX payment_notifications_pending ON payment_notifications (received_at) WHERE processed_at IS NULL;
CREATE INDEX payment_notifications_review ON payment_notifications (received_at) WHERE needs_review = 1;
CREATE INDEX payment_notifications_payment ON payment_notifications (payment_id);

-- Settlement detail reports imported from the provider (PAY-06), once per
-- file (by its SHA-256), and their lines, once per natural key.
CREATE TABLE settlement_reports (
    id INTEGER PRIMARY KEY,
    file_name TEXT NOT NULL,
    sha256 BLOB NOT NULL UNIQUE,
    imported_at INTEGER NOT NULL,
    imported_lines INTEGER NOT NULL,
    rejected_lines INTEGER NOT NULL
);

CREATE TABLE settlement_lines (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES settlement_reports (id),
    line_no INTEGER NOT NULL,
    merchant_account TEXT NOT NULL,
    psp_reference TEXT NOT NULL,
    merchant_reference TEXT NOT NULL,
    payment_method TEXT NOT NULL,
    booked_at TEXT NOT NULL,
    record_type TEXT NOT NULL,
    modification_reference TEXT NOT NULL,
    gross_currency TEXT NOT NULL,
    gross_debit_cents INTEGER NOT NULL,
    gross_credit_cents INTEGER NOT NULL,
    net_currency TEXT NOT NULL,
    net_debit_cents INTEGER NOT NULL,
    net_credit_cents INTEGER NOT NULL,
    commission_cents INTEGER NOT NULL,
    batch_number TEXT NOT NULL,
    UNIQUE (merchant_account, psp_reference, record_type, modification_reference, batch_number)
);
CREATE INDEX settlement_lines_psp ON settlement_lines (psp_reference);
CREATE INDEX settlement_lines_merchant_reference ON settlement_lines (merchant_reference);
