-- Documents the portal issued (CON-03, CON-04, CON-06, SRV-05, PRV-04):
-- what was generated for whom, when, in which language, and a SHA-256 of
-- the bytes, so a document's printed reference can be checked later. The
-- PDF itself is not kept; it is generated again from the data.
CREATE TABLE issued_documents (
    id INTEGER PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    contract_id INTEGER REFERENCES contracts (id),
    invoice_id INTEGER REFERENCES invoices (id),
    kind TEXT NOT NULL CHECK (kind IN ('invoice', 'statement', 'annual_statement', 'tax_certificate', 'settlement_quote', 'contract_copy', 'schedule', 'data_export')),
    period TEXT,
    language TEXT NOT NULL CHECK (language IN ('nl', 'fr', 'en')),
    sha256 BLOB NOT NULL,
    generated_at INTEGER NOT NULL
);
CREATE INDEX issued_documents_customer ON issued_documents (customer_id, generated_at);

-- The account customers pay into, printed with the payment instructions of
-- every invoice (CON-03). Entities loaded before this migration get it from
-- the reference data on the next `carfin demo` or by an update.
ALTER TABLE legal_entities ADD COLUMN bank_iban TEXT NOT NULL DEFAULT '';
ALTER TABLE legal_entities ADD COLUMN bank_bic TEXT NOT NULL DEFAULT '';
