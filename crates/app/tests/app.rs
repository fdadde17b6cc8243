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
    let job = carfin_jobs::job("mark_overdue_invoices").unwrap();
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

async fn customer_ids(t: &TestApp) -> Vec<i64> {
    sqlx::query("SELECT id FROM customers ORDER BY id")
        .fetch_all(t.app.db().reader())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get(0).unwrap())
        .collect()
}

// PRV-03: `carfin keys rotate` re-wraps every subject key under a new master
// key in short batches while a server (knowing the new and the old master)
// keeps reading; afterwards every customer opens with only the new master,
// and running it again finds nothing left to do.
#[tokio::test]
async fn master_key_rotation_rewraps_every_subject_key_while_reading() {
    use carfin_store::crypto::{generate_key_hex, MasterKey};
    use carfin_store::keystore::KeyStore;
    let t = TestApp::spawn().await;
    let url = t.app.config().keystore_url();
    let old = MasterKey::parse(t.app.config().keys.master_key().unwrap().expose()).unwrap();
    let new = MasterKey::parse(&generate_key_hex()).unwrap();
    let ids = customer_ids(&t).await;
    assert!(ids.len() >= 50);
    // A server switched to the new key, the old one kept for reading.
    let server = KeyStore::open(&url, vec![new.clone(), old.clone()])
        .await
        .unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (db, server, ids, done) = (
            t.app.db().clone(),
            server.clone(),
            ids.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            let mut reads = 0usize;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                for id in &ids {
                    let record = customers::get(&db, &server, *id).await.unwrap().unwrap();
                    assert!(matches!(record.personal, Personal::Known(_)), "{id}");
                    reads += 1;
                }
                if finished {
                    return reads;
                }
            }
        })
    };
    let mut rewrapped = 0;
    loop {
        let n = t.app.keys().rotate_batch(&new, 7, 1_000).await.unwrap();
        if n == 0 {
            break;
        }
        rewrapped += n;
        tokio::task::yield_now().await;
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let reads = reader.await.unwrap();
    assert!(reads >= ids.len());
    assert_eq!(rewrapped, ids.len(), "one key per customer");
    assert_eq!(t.app.keys().rotate_batch(&new, 7, 1_001).await.unwrap(), 0);
    let only_new = KeyStore::open(&url, vec![new.clone()]).await.unwrap();
    assert_eq!(only_new.count_not_wrapped_by(&new).await.unwrap(), 0);
    for id in &ids {
        let record = customers::get(t.app.db(), &only_new, *id)
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(record.personal, Personal::Known(_)), "{id}");
    }
    // The old master alone no longer opens anything.
    let only_old = KeyStore::open(&url, vec![old]).await.unwrap();
    assert!(customers::get(t.app.db(), &only_old, ids[0]).await.is_err());
    server.close().await;
    only_new.close().await;
    only_old.close().await;
    t.cleanup().await;
}

// PRV-03 (crypto-shredding): erasing a subject destroys the key and the
// blind indexes; reads say "erased", look-ups by e-mail, phone and plate
// find nothing, a retry completes a half-done erasure, and (SQLite) a copy
// of the data file taken before the erasure, opened with the current key
// store, shows the subject erased while everyone else still opens.
#[tokio::test]
async fn erased_subjects_are_unreadable_everywhere_including_old_copies() {
    use carfin_app::erasure::erase_subject;
    use carfin_store::repo::finance;
    let t = TestApp::spawn().await;
    let with_vehicle: Vec<i64> =
        sqlx::query("SELECT DISTINCT subject_id FROM vehicles ORDER BY subject_id")
            .fetch_all(t.app.db().reader())
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get(0).unwrap())
            .collect();
    let (subject, half_done) = (with_vehicle[0], with_vehicle[1]);
    let others: Vec<i64> = customer_ids(&t)
        .await
        .into_iter()
        .filter(|id| *id != subject && *id != half_done)
        .collect();
    let mut known = Vec::new();
    for id in [subject, half_done] {
        let Personal::Known(p) = customers::get(t.app.db(), t.app.keys(), id)
            .await
            .unwrap()
            .unwrap()
            .personal
        else {
            panic!("{id} readable before erasure")
        };
        let plates: Vec<String> = finance::plates_of(t.app.db(), t.app.keys(), id)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, p)| match p {
                Personal::Known(p) => p,
                Personal::Erased => panic!("plate erased"),
            })
            .collect();
        assert!(!plates.is_empty());
        let (email, phone) = (p.email.unwrap(), p.phone.unwrap());
        let bidx = t.app.blind_index();
        assert_eq!(
            customers::ids_by_email(t.app.db(), bidx, &email)
                .await
                .unwrap(),
            [id]
        );
        assert_eq!(
            customers::ids_by_phone(t.app.db(), bidx, &phone)
                .await
                .unwrap(),
            [id]
        );
        assert!(!finance::vehicle_ids_by_plate(t.app.db(), bidx, &plates[0])
            .await
            .unwrap()
            .is_empty());
        known.push((id, email, phone, plates));
    }

    // A copy of the data file, taken before the erasure (a backup).
    let copy = if t.engine == carfin_store::Engine::Sqlite {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(t.app.db().reader())
            .await
            .unwrap();
        let dir = t.app.config().data_dir.clone().unwrap().join("backup");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("carfin.db");
        std::fs::copy(
            t.app.config().data_dir.clone().unwrap().join("carfin.db"),
            &file,
        )
        .unwrap();
        Some(file)
    } else {
        None
    };

    let report = erase_subject(&t.app, subject).await.unwrap();
    assert!(report.key_destroyed);
    assert_eq!(report.customers_cleared, 1);
    assert!(report.vehicles_cleared >= 1);
    // A crash after the key was destroyed and before the indexes were
    // cleared: the retry completes it.
    assert!(t.app.keys().shred(half_done, 5).await.unwrap());
    let retry = erase_subject(&t.app, half_done).await.unwrap();
    assert!(!retry.key_destroyed);
    assert_eq!(retry.customers_cleared, 1);
    // Idempotent.
    assert!(!erase_subject(&t.app, subject).await.unwrap().key_destroyed);
    assert!(matches!(
        erase_subject(&t.app, 42).await,
        Err(carfin_app::AppError::NotFound)
    ));

    let bidx = t.app.blind_index();
    for (id, email, phone, plates) in &known {
        let record = customers::get(t.app.db(), t.app.keys(), *id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.personal, Personal::Erased);
        assert!(customers::ids_by_email(t.app.db(), bidx, email)
            .await
            .unwrap()
            .is_empty());
        assert!(customers::ids_by_phone(t.app.db(), bidx, phone)
            .await
            .unwrap()
            .is_empty());
        for plate in plates {
            assert!(finance::vehicle_ids_by_plate(t.app.db(), bidx, plate)
                .await
                .unwrap()
                .is_empty());
        }
        for (_, plate) in finance::plates_of(t.app.db(), t.app.keys(), *id)
            .await
            .unwrap()
        {
            assert_eq!(plate, Personal::Erased);
        }
    }
    for id in others.iter().take(5) {
        let record = customers::get(t.app.db(), t.app.keys(), *id)
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(record.personal, Personal::Known(_)), "{id}");
    }

    if let Some(file) = copy {
        let backup = carfin_store::Db::connect(
            &carfin_store::db::sqlite_url(&file),
            &carfin_store::DbOptions::default(),
        )
        .await
        .unwrap();
        let (id, email, _, plates) = &known[0];
        // The old copy still holds the ciphertext and the old blind index…
        assert_eq!(
            customers::ids_by_email(&backup, bidx, email).await.unwrap(),
            [*id]
        );
        // …but with the current key store nothing of it opens.
        let record = customers::get(&backup, t.app.keys(), *id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.personal, Personal::Erased);
        for (_, plate) in finance::plates_of(&backup, t.app.keys(), *id)
            .await
            .unwrap()
        {
            assert_eq!(plate, Personal::Erased);
        }
        assert!(!plates.is_empty());
        let record = customers::get(&backup, t.app.keys(), others[0])
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(record.personal, Personal::Known(_)));
        backup.close().await;
    }
    t.cleanup().await;
}

// ---------------------------------------------------------------------------
// PRV-15: the hash-chained audit log; PRV-19: the disclosure log.
// ---------------------------------------------------------------------------

mod audit_and_disclosures {
    use super::scalar;
    use carfin_app::audit::{self, ActorKind, AuditEntry, VerifyReport};
    use carfin_app::disclosure::{self, Disclosure};
    use carfin_app::AppError;
    use carfin_store::repo::audit::{self as repo, AuditRow};
    use carfin_testkit::TestApp;

    fn staff_read(subject: i64, fields: &[&str], request: &str) -> AuditEntry {
        AuditEntry {
            actor_kind: ActorKind::Staff,
            actor_id: Some(42),
            role: "service_desk".into(),
            action: "customer.read".into(),
            subject_id: Some(subject),
            purpose: "answer_requests".into(),
            fields: fields.iter().map(|f| (*f).to_string()).collect(),
            request_id: request.into(),
        }
    }

    async fn record(t: &TestApp, entry: AuditEntry) -> Result<(), AppError> {
        let mut tx = t.app.db().begin_write().await.unwrap();
        audit::record(&mut tx, &t.app, entry).await?;
        tx.commit().await.unwrap();
        Ok(())
    }

    async fn exec(t: &TestApp, sql: &str) {
        let mut tx = t.app.db().begin_write().await.unwrap();
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }

    async fn all_rows(t: &TestApp) -> Vec<AuditRow> {
        repo::page(t.app.db(), 0, 1_000_000).await.unwrap()
    }

    /// Puts the saved records back, exactly as they were.
    async fn restore(t: &TestApp, rows: &[AuditRow]) {
        let mut tx = t.app.db().begin_write().await.unwrap();
        sqlx::query("DELETE FROM audit_log")
            .execute(&mut *tx)
            .await
            .unwrap();
        for row in rows {
            repo::append(&mut tx, row).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(
            audit::verify(&t.app).await.unwrap(),
            VerifyReport::Intact {
                records: rows.len() as u64
            }
        );
    }

    async fn broken_at(t: &TestApp) -> (i64, String) {
        match audit::verify(&t.app).await.unwrap() {
            VerifyReport::Broken { seq, reason } => (seq, reason),
            VerifyReport::Intact { records } => {
                panic!("tampering not detected ({records} records intact)")
            }
        }
    }

    // PRV-15: real events are recorded (demo install, overdue job) in a chain
    // that verifies; altering, deleting, inserting and reordering records and
    // removing the last hash are each detected at the first broken record.
    #[tokio::test]
    async fn audit_chain_detects_every_tampering() {
        let t = TestApp::spawn().await;
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM audit_log WHERE action = 'demo.install' AND actor_kind = 'system' AND seq = 1"
            )
            .await,
            1
        );
        carfin_app::invoices::mark_overdue(&t.app).await.unwrap();
        assert_eq!(
            scalar(
                &t,
                "SELECT COUNT(*) FROM audit_log WHERE action = 'invoices.mark_overdue'"
            )
            .await,
            1
        );
        // The demo's own records (its install, the staff access seeded for
        // "who accessed my data", PRV-16) come first; n counts them all.
        let demo = scalar(&t, "SELECT COUNT(*) FROM audit_log").await as usize;
        for i in 0..4 {
            record(
                &t,
                staff_read(1000 + i, &["customers.email", "customers.iban"], "req-1"),
            )
            .await
            .unwrap();
        }
        let rows = all_rows(&t).await;
        let n = rows.len();
        assert_eq!(n, demo + 4);
        assert!(n >= 6);
        assert_eq!(rows[0].prev_hash, audit::GENESIS.to_vec());
        assert!(rows.windows(2).all(|w| w[1].prev_hash == w[0].hash));
        assert_eq!(
            audit::verify(&t.app).await.unwrap(),
            VerifyReport::Intact { records: n as u64 }
        );

        // (a) a changed field.
        exec(
            &t,
            "UPDATE audit_log SET purpose = 'send_offers' WHERE seq = 3",
        )
        .await;
        let (seq, reason) = broken_at(&t).await;
        assert_eq!(seq, 3, "{reason}");
        assert!(reason.contains("altered"), "{reason}");
        restore(&t, &rows).await;
        exec(&t, "UPDATE audit_log SET subject_id = 7 WHERE seq = 4").await;
        assert_eq!(broken_at(&t).await.0, 4);
        restore(&t, &rows).await;

        // (b) a record deleted in the middle.
        exec(&t, "DELETE FROM audit_log WHERE seq = 3").await;
        let (seq, reason) = broken_at(&t).await;
        assert_eq!(seq, 4, "{reason}");
        assert!(reason.contains("missing"), "{reason}");
        restore(&t, &rows).await;
        // … and renumbered to hide the gap.
        exec(&t, "DELETE FROM audit_log WHERE seq = 3").await;
        exec(&t, "UPDATE audit_log SET seq = seq + 1000 WHERE seq > 3").await;
        exec(&t, "UPDATE audit_log SET seq = seq - 1001 WHERE seq > 1000").await;
        let (seq, reason) = broken_at(&t).await;
        assert_eq!(seq, 3, "{reason}");
        assert!(reason.contains("prev_hash"), "{reason}");
        restore(&t, &rows).await;

        // (c) a forged record inserted in the middle, with a correctly
        // computed hash of its own: the next record no longer chains to it.
        exec(&t, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3").await;
        exec(&t, "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000").await;
        let mut forged = rows[2].clone();
        forged.id = -5;
        forged.action = "customer.update".into();
        forged.hash = audit::hash(&forged).to_vec();
        {
            let mut tx = t.app.db().begin_write().await.unwrap();
            repo::append(&mut tx, &forged).await.unwrap();
            tx.commit().await.unwrap();
        }
        let (seq, reason) = broken_at(&t).await;
        assert_eq!(seq, 4, "{reason}");
        restore(&t, &rows).await;
        // A forged record appended with a made-up hash.
        let mut tail = rows[n - 1].clone();
        tail.id = -7;
        tail.seq = n as i64 + 1;
        tail.prev_hash = rows[n - 1].hash.clone();
        tail.hash = vec![7; 32];
        {
            let mut tx = t.app.db().begin_write().await.unwrap();
            repo::append(&mut tx, &tail).await.unwrap();
            tx.commit().await.unwrap();
        }
        assert_eq!(broken_at(&t).await.0, n as i64 + 1);
        restore(&t, &rows).await;

        // (d) two records' seq values swapped.
        exec(&t, "UPDATE audit_log SET seq = -1 WHERE seq = 3").await;
        exec(&t, "UPDATE audit_log SET seq = 3 WHERE seq = 4").await;
        exec(&t, "UPDATE audit_log SET seq = 4 WHERE seq = -1").await;
        let (seq, reason) = broken_at(&t).await;
        assert_eq!(seq, 3, "{reason}");
        restore(&t, &rows).await;

        // (e) the last record's hash removed.
        {
            let mut tx = t.app.db().begin_write().await.unwrap();
            sqlx::query("UPDATE audit_log SET hash = $1 WHERE seq = $2")
                .bind(Vec::<u8>::new())
                .bind(n as i64)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let (seq, reason) = broken_at(&t).await;
        assert_eq!(seq, n as i64, "{reason}");
        restore(&t, &rows).await;

        // Appends continue the restored chain.
        record(&t, staff_read(1, &["customers.surname"], "req-2"))
            .await
            .unwrap();
        assert_eq!(
            audit::verify(&t.app).await.unwrap(),
            VerifyReport::Intact {
                records: n as u64 + 1
            }
        );
        t.cleanup().await;
    }

    // PRV-15: concurrent appends (each in its own write transaction) never
    // fork the chain: the next seq and prev_hash are read under the writer
    // lock (SQLite) or an advisory lock (PostgreSQL).
    #[tokio::test]
    async fn concurrent_appends_keep_one_chain() {
        let t = TestApp::spawn().await;
        let before = scalar(&t, "SELECT COUNT(*) FROM audit_log").await;
        let mut tasks = Vec::new();
        for i in 0..16 {
            let app = t.app.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = app.db().begin_write().await.unwrap();
                audit::record(&mut tx, &app, staff_read(i, &["customers.phone"], "req-c"))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(
            audit::verify(&t.app).await.unwrap(),
            VerifyReport::Intact {
                records: before as u64 + 16
            }
        );
        t.cleanup().await;
    }

    // PRV-15: an audit record holds field NAMES only; a field list that
    // could carry a value (or codes that could) is refused and nothing is written.
    #[tokio::test]
    async fn audit_refuses_values_in_field_lists() {
        let t = TestApp::spawn().await;
        let before = scalar(&t, "SELECT COUNT(*) FROM audit_log").await;
        for fields in [
            vec!["email=jan@example.nl"],
            vec!["customers.surname", "Jansen"],
            vec!["iban NL91ABNA0417164300"],
            vec![""],
            vec!["customers.email,customers.phone"],
        ] {
            let err = record(&t, staff_read(1, &fields, "req-3"))
                .await
                .unwrap_err();
            match err {
                AppError::Invalid(problems) => {
                    assert!(problems.iter().any(|(f, _)| f == "fields"), "{problems:?}")
                }
                other => panic!("{fields:?}: {other:?}"),
            }
        }
        let mut entry = staff_read(1, &["customers.email"], "req-3");
        entry.purpose = "call Jan about his arrears".into();
        assert!(matches!(record(&t, entry).await, Err(AppError::Invalid(_))));
        let mut entry = staff_read(1, &["customers.email"], "jan@example.nl");
        entry.request_id = "jan@example.nl".into();
        assert!(matches!(record(&t, entry).await, Err(AppError::Invalid(_))));
        assert_eq!(scalar(&t, "SELECT COUNT(*) FROM audit_log").await, before);
        t.cleanup().await;
    }

    fn disclosure(subject: i64, recipient: &str) -> Disclosure {
        Disclosure {
            subject_id: subject,
            recipient: recipient.into(),
            categories: vec!["identity".into(), "vehicle_identifiers".into()],
            legal_basis: "contract".into(),
            consent_ref: None,
            reason: "damage claim handed to the insurer at the customer's request".into(),
            purpose: "perform_contract".into(),
            actor_kind: ActorKind::Staff,
            actor_id: Some(7),
            role: "claims_handler".into(),
            request_id: Some("req-d1".into()),
        }
    }

    // PRV-19: a disclosure names a recipient, categories and a legal basis of
    // the register; an unknown one is refused and nothing is written; a valid
    // one writes the disclosure and its audit record in one transaction.
    #[tokio::test]
    async fn disclosures_are_validated_and_audited() {
        let t = TestApp::spawn().await;
        // A customer without a portal account: the demo seeds disclosures
        // for the others ("who accessed my data", PRV-16).
        let subject = scalar(
            &t,
            "SELECT MIN(id) FROM customers WHERE id NOT IN (SELECT customer_id FROM accounts)",
        )
        .await;
        let audits = scalar(&t, "SELECT COUNT(*) FROM audit_log").await;
        let disclosures = scalar(&t, "SELECT COUNT(*) FROM disclosures").await;

        let refused = [
            disclosure(subject, "acme_data_broker"),
            Disclosure {
                categories: vec!["shoe_size".into()],
                ..disclosure(subject, "insurer_nl")
            },
            Disclosure {
                categories: vec![],
                ..disclosure(subject, "insurer_nl")
            },
            Disclosure {
                legal_basis: "because".into(),
                ..disclosure(subject, "insurer_nl")
            },
            Disclosure {
                legal_basis: "consent".into(),
                ..disclosure(subject, "marketing_agency")
            },
        ];
        for d in refused {
            let mut tx = t.app.db().begin_write().await.unwrap();
            let result = disclosure::record(&mut tx, &t.app, d.clone()).await;
            tx.commit().await.unwrap();
            assert!(matches!(result, Err(AppError::Invalid(_))), "{d:?}");
        }
        assert_eq!(
            scalar(&t, "SELECT COUNT(*) FROM disclosures").await,
            disclosures
        );
        assert_eq!(scalar(&t, "SELECT COUNT(*) FROM audit_log").await, audits);

        let mut tx = t.app.db().begin_write().await.unwrap();
        disclosure::record(&mut tx, &t.app, disclosure(subject, "insurer_nl"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // With consent for marketing.
        let mut tx = t.app.db().begin_write().await.unwrap();
        disclosure::record(
            &mut tx,
            &t.app,
            Disclosure {
                legal_basis: "consent".into(),
                consent_ref: Some("consent-123".into()),
                categories: vec!["contact_details".into()],
                purpose: "send_offers".into(),
                request_id: None,
                ..disclosure(subject, "marketing_agency")
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        // A disclosure rolled back with its transaction leaves no trace.
        let mut tx = t.app.db().begin_write().await.unwrap();
        disclosure::record(&mut tx, &t.app, disclosure(subject, "dealers_nl"))
            .await
            .unwrap();
        tx.rollback().await.unwrap();

        let listed = disclosure::list_for_subject(&t.app, subject).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().any(|d| d.recipient == "insurer_nl"
            && d.categories == "identity,vehicle_identifiers"
            && d.legal_basis == "contract"
            && d.request_id.as_deref() == Some("req-d1")));
        assert!(listed.iter().any(|d| d.recipient == "marketing_agency"
            && d.consent_ref.as_deref() == Some("consent-123")));
        assert!(
            disclosure::list_for_subject(&t.app, subject + 1_000_000_000)
                .await
                .unwrap()
                .is_empty()
        );
        let rows = all_rows(&t).await;
        let audited: Vec<&AuditRow> = rows
            .iter()
            .filter(|r| r.action == "disclosure" && r.subject_id == Some(subject))
            .collect();
        assert_eq!(audited.len(), 2);
        assert!(audited.iter().all(|r| r.subject_id == Some(subject)
            && r.actor_kind == "staff"
            && r.actor_id == Some(7)));
        assert!(audited
            .iter()
            .any(|r| r.fields == "identity,vehicle_identifiers" && r.request_id == "req-d1"));
        assert_eq!(
            audit::verify(&t.app).await.unwrap(),
            VerifyReport::Intact {
                records: audits as u64 + 2
            }
        );
        t.cleanup().await;
    }
}

#[path = "app/outbox.rs"]
mod outbox;
