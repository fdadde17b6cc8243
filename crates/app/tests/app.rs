//! The application layer against a real database (SQLite, or PostgreSQL
//! when CARFIN_TEST_POSTGRES is set): demo data, the data model's
//! invariants, sealing at rest and the scheduled jobs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use carfin_domain::{Country, EmailAddress, Iban, PaymentReference, PhoneNumber, Postcode};
use carfin_store::repo::customers::{self, Personal};
use carfin_testkit::TestApp;
use sqlx::Row;

async fn scalar(t: &TestApp, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

async fn pairs(t: &TestApp, sql: &str) -> Vec<(String, String)> {
    sqlx::query(sql)
        .fetch_all(t.app.db().reader())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.try_get(0).unwrap(), r.try_get(1).unwrap()))
        .collect()
}

// ENT-01, ENT-02, CON-01: the demo has a Dutch and a Belgian entity, at least
// three brands, at least 50 customers, and every contract type in every status.
#[tokio::test]
async fn demo_covers_entities_brands_and_every_contract_type_and_status() {
    let t = TestApp::spawn().await;
    assert_eq!(
        scalar(
            &t,
            "SELECT COUNT(*) FROM legal_entities WHERE country IN ('NL','BE')"
        )
        .await,
        2
    );
    assert!(scalar(&t, "SELECT COUNT(DISTINCT country) FROM legal_entities").await == 2);
    assert!(scalar(&t, "SELECT COUNT(*) FROM brands").await >= 3);
    assert!(scalar(&t, "SELECT COUNT(*) FROM customers").await >= 50);
    assert!(scalar(&t, "SELECT COUNT(*) FROM customers WHERE kind = 'company'").await >= 1);
    let combos = pairs(&t, "SELECT DISTINCT contract_type, status FROM contracts").await;
    for kind in carfin_app::seed::CONTRACT_TYPES {
        for status in carfin_app::seed::CONTRACT_STATUSES {
            assert!(
                combos.iter().any(|(k, s)| k == kind && s == status),
                "no {kind} contract in status {status}"
            );
        }
    }
    // Every contract has its first version and a holder.
    assert_eq!(
        scalar(&t, "SELECT COUNT(*) FROM contracts c WHERE NOT EXISTS (SELECT 1 FROM contract_versions v WHERE v.contract_id = c.id AND v.version = c.current_version)").await,
        0
    );
    assert_eq!(
        scalar(&t, "SELECT COUNT(*) FROM contracts c WHERE NOT EXISTS (SELECT 1 FROM contract_parties p WHERE p.contract_id = c.id AND p.role = 'holder')").await,
        0
    );
    // Leases carry a kilometre allowance and an excess price; credit does not.
    assert_eq!(
        scalar(&t, "SELECT COUNT(*) FROM contract_versions v JOIN contracts c ON c.id = v.contract_id WHERE c.contract_type <> 'consumer_credit' AND (v.km_per_year IS NULL OR v.excess_km_price_cents IS NULL)").await,
        0
    );
    t.cleanup().await;
}

// CON-03, CON-04: every contract that has started has at least 24 monthly
// invoices; some are overdue; each carries a valid payment reference in its
// country's format; the ledger balance equals what the invoices leave unpaid.
#[tokio::test]
async fn invoices_ledger_and_payment_references_are_consistent() {
    let t = TestApp::spawn().await;
    let short = scalar(
        &t,
        "SELECT COUNT(*) FROM contracts c WHERE c.status <> 'pending' AND (SELECT COUNT(*) FROM invoices i WHERE i.contract_id = c.id) < 24",
    )
    .await;
    assert_eq!(short, 0, "contracts with fewer than 24 invoices");
    assert!(
        scalar(
            &t,
            "SELECT COUNT(*) FROM invoices WHERE status IN ('overdue', 'in_collection')"
        )
        .await
            > 0
    );
    assert!(scalar(&t, "SELECT COUNT(*) FROM invoices WHERE status = 'paid'").await > 0);
    let refs = pairs(
        &t,
        "SELECT e.country, i.payment_reference FROM invoices i JOIN legal_entities e ON e.id = i.entity_id",
    )
    .await;
    assert!(refs.len() > 1000);
    for (country, reference) in &refs {
        let country: Country = country.parse().unwrap();
        assert!(
            PaymentReference::parse_for(country, reference).is_ok(),
            "{country:?} {reference}"
        );
    }
    let mismatched = scalar(
        &t,
        "SELECT COUNT(*) FROM contracts c WHERE \
         (SELECT COALESCE(SUM(amount_cents), 0) FROM ledger_entries l WHERE l.contract_id = c.id) <> \
         (SELECT COALESCE(SUM(amount_cents - paid_cents), 0) FROM invoices i WHERE i.contract_id = c.id)",
    )
    .await;
    assert_eq!(mismatched, 0, "ledger balance differs from unpaid invoices");
    t.cleanup().await;
}

// PRV-03 (groundwork), CON-02: personal fields are sealed in the database,
// open to valid values through the store, and after the subject's key is
// destroyed every read answers "erased".
#[tokio::test]
async fn customers_are_sealed_valid_and_shreddable() {
    let t = TestApp::spawn().await;
    let ids: Vec<i64> = sqlx::query("SELECT id FROM customers ORDER BY id")
        .fetch_all(t.app.db().reader())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get(0).unwrap())
        .collect();
    let mut first_email = None;
    for id in &ids {
        let record = customers::get(t.app.db(), t.app.keys(), *id)
            .await
            .unwrap()
            .unwrap();
        let Personal::Known(p) = record.personal else {
            panic!("customer {id} unreadable")
        };
        let country: Country = record.country.parse().unwrap();
        Postcode::parse_for(country, &p.postcode).unwrap();
        let email = EmailAddress::parse(p.email.as_deref().unwrap()).unwrap();
        PhoneNumber::parse(p.phone.as_deref().unwrap()).unwrap();
        assert!(PhoneNumber::parse(p.phone.as_deref().unwrap())
            .unwrap()
            .is_mobile());
        Iban::parse(p.iban.as_deref().unwrap()).unwrap();
        assert!(!p.display_name().is_empty());
        first_email.get_or_insert(email.normalized());
    }
    let email = first_email.unwrap();
    // The raw column holds no plaintext.
    let raw: Vec<u8> = sqlx::query("SELECT email FROM customers WHERE id = $1")
        .bind(ids[0])
        .fetch_one(t.app.db().reader())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert!(!raw.windows(email.len()).any(|w| w == email.as_bytes()));
    // Exact-match look-up through the blind index.
    assert_eq!(
        customers::ids_by_email(t.app.db(), t.app.blind_index(), &email)
            .await
            .unwrap(),
        vec![ids[0]]
    );
    // Crypto-shredding: the key goes, the data becomes unreadable.
    assert!(t.app.keys().shred(ids[0], 1).await.unwrap());
    let erased = customers::get(t.app.db(), t.app.keys(), ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(erased.personal, Personal::Erased);
    let other = customers::get(t.app.db(), t.app.keys(), ids[1])
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(other.personal, Personal::Known(_)));
    t.cleanup().await;
}

// CON-03: the scheduled job marks invoices past their due date overdue, once
// per interval across nodes (the lease), and is idempotent.
#[tokio::test]
async fn overdue_job_runs_under_a_lease() {
    let t = TestApp::spawn().await;
    let open_before = scalar(&t, "SELECT COUNT(*) FROM invoices WHERE status = 'open'").await;
    assert!(open_before > 0, "the demo has open invoices");
    let job = carfin_jobs::JOBS
        .iter()
        .find(|j| j.name == "mark_overdue_invoices")
        .unwrap();
    t.clock.advance(chrono::Duration::days(45));
    assert!(carfin_jobs::run_if_due(&t.app, job, "node-a")
        .await
        .unwrap());
    assert_eq!(
        scalar(&t, "SELECT COUNT(*) FROM invoices WHERE status = 'open'").await,
        0
    );
    // Not due again within the interval, whichever node asks.
    assert!(!carfin_jobs::run_if_due(&t.app, job, "node-b")
        .await
        .unwrap());
    t.clock
        .advance(chrono::Duration::seconds(job.every_secs + 1));
    assert!(carfin_jobs::run_if_due(&t.app, job, "node-b")
        .await
        .unwrap());
    t.cleanup().await;
}

/// The columns of the live schema: the main database and the key store
/// (SQLite: its own file, `keys.db`; PostgreSQL: the `carfin_keys` schema).
async fn live_schema(t: &TestApp) -> Vec<carfin_app::privacy::LiveColumn> {
    use carfin_app::privacy::{LiveColumn, Store};
    use carfin_store::Engine;
    async fn sqlite(pool: &sqlx::AnyPool, store: Store) -> Vec<LiveColumn> {
        let tables: Vec<String> = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get(0).unwrap())
        .collect();
        let mut columns = Vec::new();
        for table in tables {
            // Table names come from sqlite_master; quoted as identifiers.
            let rows = sqlx::query(&format!(
                "PRAGMA table_info(\"{}\")",
                table.replace('"', "\"\"")
            ))
            .fetch_all(pool)
            .await
            .unwrap();
            for row in rows {
                let name: String = row.try_get("name").unwrap();
                let data_type: String = row.try_get("type").unwrap();
                columns.push(LiveColumn::new(store, &table, &name, &data_type));
            }
        }
        columns
    }
    async fn postgres(pool: &sqlx::AnyPool, store: Store, schema: &str) -> Vec<LiveColumn> {
        sqlx::query(&format!(
            "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = {schema} ORDER BY table_name, ordinal_position"
        ))
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let (table, column, data_type): (String, String, String) =
                (r.try_get(0).unwrap(), r.try_get(1).unwrap(), r.try_get(2).unwrap());
            LiveColumn::new(store, &table, &column, &data_type)
        })
        .collect()
    }
    let main = t.app.db().reader();
    match t.engine {
        Engine::Sqlite => {
            let mut live = sqlite(main, Store::Main).await;
            // The key store is its own file: opened read-only beside the app.
            let url = t.app.config().keystore_url().replace("mode=rwc", "mode=ro");
            let keys = sqlx::AnyPool::connect(&url).await.unwrap();
            live.extend(sqlite(&keys, Store::KeyStore).await);
            keys.close().await;
            live
        }
        Engine::Postgres => {
            // Same database, the key store in its own schema.
            let mut live = postgres(main, Store::Main, "current_schema()").await;
            live.extend(postgres(main, Store::KeyStore, "'carfin_keys'").await);
            live
        }
    }
}

// PRV-02, PRV-03: every column of the live schema (main database and key
// store, on SQLite and on PostgreSQL) is classified in privacy/register.toml,
// every classified column exists, and every column the register marks
// sealed is BLOB/BYTEA in the database.
#[tokio::test]
async fn live_schema_is_classified_in_the_register() {
    use carfin_app::privacy::{self, Store};
    let t = TestApp::builder()
        .demo(carfin_testkit::Demo::Empty)
        .spawn()
        .await;
    let live = live_schema(&t).await;
    for (store, table) in [
        (Store::Main, "customers"),
        (Store::Main, "schema_migrations"),
        (Store::KeyStore, "subject_keys"),
    ] {
        assert!(
            live.iter().any(|c| c.store == store && c.table == table),
            "{table} not read from {store:?}"
        );
    }
    let unclassified = privacy::unclassified(&live);
    assert!(
        unclassified.is_empty(),
        "columns not classified in privacy/register.toml on {:?}: {unclassified:?}",
        t.engine
    );
    let stale = privacy::stale(&live);
    assert!(
        stale.is_empty(),
        "classified in privacy/register.toml but not in the {:?} schema: {stale:?}",
        t.engine
    );
    let not_binary = privacy::sealed_not_binary(&live);
    assert!(
        not_binary.is_empty(),
        "marked sealed but not BLOB/BYTEA on {:?}: {not_binary:?}",
        t.engine
    );
    // The sealed columns the store writes are among them.
    let register = privacy::register().unwrap();
    for column in carfin_store::repo::customers::SEALED_COLUMNS {
        assert!(
            register
                .column(Store::Main, "customers", column)
                .is_some_and(|c| c.is_sealed()),
            "customers.{column}"
        );
    }
    for column in ["licence_plate", "vin"] {
        assert!(
            register
                .column(Store::Main, "vehicles", column)
                .is_some_and(|c| c.is_sealed()),
            "vehicles.{column}"
        );
    }
    t.cleanup().await;
}

// PRV-02: a column added without classification fails the check, naming
// it; a classified column that disappears is named too.
#[tokio::test]
async fn unclassified_and_vanished_columns_are_named() {
    use carfin_app::privacy;
    let t = TestApp::builder()
        .demo(carfin_testkit::Demo::Empty)
        .spawn()
        .await;
    let mut tx = t.app.db().begin_write().await.unwrap();
    sqlx::query("CREATE TABLE tmp_unclassified (id BIGINT PRIMARY KEY, note TEXT)")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE dealers DROP COLUMN phone")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let live = live_schema(&t).await;
    assert_eq!(
        privacy::unclassified(&live),
        ["tmp_unclassified.id", "tmp_unclassified.note"]
    );
    assert_eq!(privacy::stale(&live), ["dealers.phone"]);
    t.cleanup().await;
}
