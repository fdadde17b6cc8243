//! The `carfin` binary, driven as an operator would: through its commands.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn carfin(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_carfin"));
    command.args(args).arg("--data-dir").arg(dir);
    for (k, v) in env {
        command.env(k, v);
    }
    command
        .env_remove("CARFIN_DATABASE_URL")
        .env_remove("CARFIN_CONFIG");
    command.output().expect("carfin runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// OPS-03: an unknown database scheme is refused with a clear message.
#[test]
fn unknown_database_scheme_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = carfin(
        dir.path(),
        &["migrate", "--database-url", "mysql://app:hunter2@db/carfin"],
        &[],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("database.url") && err.contains("sqlite:// or postgres://"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "a secret leaked: {err}");
}

// OPS-02: every configuration problem is reported with its key's name.
#[test]
fn configuration_problems_name_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = carfin(
        dir.path(),
        &["migrate"],
        &[
            ("CARFIN_LISTEN", "not-an-address"),
            ("CARFIN_MASTER_KEY", "too-short"),
            ("CARFIN_LOG_FORMAT", "xml"),
        ],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    for key in ["server.listen", "keys.master_key", "log.format"] {
        assert!(err.contains(key), "{key} not named in: {err}");
    }
    assert!(!err.contains("too-short"), "a secret leaked: {err}");
}

// OPS-01, OPS-03: migrate creates the embedded database; seed fills it and
// reports its rate; personal data is sealed on disk (PRV-03 groundwork).
#[test]
fn seed_generates_customers_sealed_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let out = carfin(
        dir.path(),
        &["seed", "--customers", "40", "--batch", "15"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("seeded 40 customers") && stdout.contains("rows/s"),
        "{stdout}"
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("demo keys"),
        "the demo keys are announced: {err}"
    );
    assert!(dir.path().join("demo-master.key").exists());
    let mut db = std::fs::read(dir.path().join("carfin.db")).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("carfin.db-wal")) {
        db.extend(wal);
    }
    assert!(db.len() > 100_000);
    let raw = String::from_utf8_lossy(&db);
    assert!(
        !raw.contains("@example.com"),
        "an e-mail address is stored in plaintext"
    );
    assert!(
        !raw.contains("+316"),
        "a phone number is stored in plaintext"
    );
    // A second run adds more, numbered after the first.
    let again = carfin(dir.path(), &["seed", "--customers", "5"], &[]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let migrate = carfin(dir.path(), &["migrate"], &[]);
    assert!(migrate.status.success());
    assert!(text(&migrate.stdout).contains("database is current"));
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

fn http_post_json(port: u16, path: &str, body: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// A notification request with one AUTHORISATION item, signed with `key`.
fn signed_notification(key: &str) -> String {
    use carfin_app::payments::adyen::{
        Amount, NotificationItem, NotificationItemWrapper, NotificationRequest,
    };
    let mut item = NotificationItem {
        psp_reference: "DEMO4Q2WJ8ZK7N3X".into(),
        merchant_account_code: "CarfinDemo".into(),
        merchant_reference: "no-such-payment".into(),
        amount: Some(Amount {
            currency: "EUR".into(),
            value: Some(12_345),
        }),
        event_code: "AUTHORISATION".into(),
        success: "true".into(),
        ..Default::default()
    };
    item.sign(&hex_decode(key));
    serde_json::to_string(&NotificationRequest {
        live: "false".into(),
        items: vec![NotificationItemWrapper { item }],
    })
    .unwrap()
}

fn hex_decode(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

// OPS-01, OPS-05: `carfin demo` creates the database, loads demo data,
// serves the Dutch landing page, and shuts down gracefully on SIGTERM.
// PAY-05: the demo, started with CARFIN_ADYEN_HMAC_KEY, pays through its
// simulator and accepts notifications signed with that key (and no other).
#[test]
fn demo_serves_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let hmac_key = "8D6B4C2A0E1F3A5B7C9D1E2F3A4B5C6D7E8F9A0B1C2D3E4F5A6B7C8D9E0F1A2B";
    let child = Command::new(env!("CARGO_BIN_EXE_carfin"))
        .args(["demo", "--listen", &listen, "--data-dir"])
        .arg(dir.path())
        .env_remove("CARFIN_DATABASE_URL")
        .env("CARFIN_ADYEN_HMAC_KEY", hmac_key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut health = None;
    while Instant::now() < deadline {
        if let Some(r) = http_get(port, "/healthz") {
            health = Some(r);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let health = health.expect("the demo answers /healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let home = http_get(port, "/").unwrap();
    assert!(home.starts_with("HTTP/1.1 200"), "{home}");
    assert!(home.contains("lang=\"nl\""), "Dutch by default");
    assert!(home.contains("Carfin Lease"));
    let ready = http_get(port, "/readyz").unwrap();
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let accepted = http_post_json(port, "/webhooks/adyen", &signed_notification(hmac_key)).unwrap();
    assert!(accepted.starts_with("HTTP/1.1 200"), "{accepted}");
    assert!(accepted.ends_with("[accepted]"), "{accepted}");
    let other_key = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";
    let refused = http_post_json(port, "/webhooks/adyen", &signed_notification(other_key)).unwrap();
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");

    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit status {:?}", out.status);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("demo data loaded: 60 customers"),
        "{stdout}"
    );
    assert!(
        stdout.contains("demo payments: Adyen simulator")
            && stdout.contains("CARFIN_ADYEN_HMAC_KEY"),
        "{stdout}"
    );
    // BOF-01: one staff account per role, with its password and TOTP secret.
    let staff: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("demo staff: "))
        .collect();
    assert_eq!(staff.len(), 7, "{stdout}");
    for line in &staff {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "{line}");
        assert!(parts[0].ends_with("@staff.carfin.example"), "{line}");
        assert!(
            parts[2].len() >= 26
                && parts[2]
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)),
            "a base32 TOTP secret: {line}"
        );
    }
    assert!(staff.iter().any(|l| l.starts_with("security.officer@")));
    let logs = text(&out.stderr);
    assert!(logs.contains("shutdown complete"), "{logs}");
    // Logs are JSON lines.
    let json_lines = logs.lines().filter(|l| l.starts_with('{')).count();
    assert!(json_lines >= 3, "{logs}");
}

/// Runs `carfin privacy …` with an empty data directory, which must stay
/// empty: the register export needs no configuration, database or keys.
fn privacy(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["privacy"];
    all.extend_from_slice(args);
    let out = carfin(dir.path(), &all, &[]);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(
        left.is_empty(),
        "the privacy command touched the data directory: {left:?}"
    );
    out
}

/// An RFC 4180 reader (CRLF line ends, quoted cells with doubled quotes).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cell.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cell.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                assert!(cell.is_empty(), "a quote inside an unquoted cell");
                quoted = true;
            }
            ',' => row.push(std::mem::take(&mut cell)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CRLF line ends");
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            '\n' => panic!("a bare LF line end"),
            _ => cell.push(c),
        }
    }
    assert!(
        !quoted && cell.is_empty() && row.is_empty(),
        "the last row ends with CRLF"
    );
    rows
}

const ACTIVITY_BASES: [(&str, &str); 11] = [
    ("contracts", "contract"),
    ("invoicing", "contract"),
    ("portal", "contract"),
    ("customer_service", "contract"),
    ("collections", "contract"),
    ("statutory", "legal_obligation"),
    ("security", "legitimate_interest"),
    ("reporting", "legitimate_interest"),
    ("marketing", "consent"),
    ("surveys", "consent"),
    ("web_statistics", "consent"),
];

// PRV-01: `carfin privacy register --format json` lists all eleven
// activities of each entity with their legal bases, recipients, processors,
// retention, DPIA and the transfers outside the EEA with their safeguards.
#[test]
fn privacy_register_json_lists_activities_legal_bases_and_transfers() {
    let out = privacy(&["register", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entities = record["entities"].as_array().unwrap();
    let slugs: Vec<&str> = entities
        .iter()
        .map(|e| e["entity"]["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["carfin-nederland", "carfin-belgique"]);
    for entity in entities {
        let slug = entity["entity"]["slug"].as_str().unwrap();
        assert!(!entity["entity"]["controller"].as_str().unwrap().is_empty());
        assert!(!entity["entity"]["supervisory_authority"]
            .as_str()
            .unwrap()
            .is_empty());
        let activities = entity["activities"].as_array().unwrap();
        assert_eq!(activities.len(), 11, "{slug}");
        for (id, basis) in ACTIVITY_BASES {
            let a = activities
                .iter()
                .find(|a| a["id"] == id)
                .unwrap_or_else(|| panic!("{slug} lacks {id}"));
            let bases: Vec<&str> = a["legal_basis"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["id"].as_str().unwrap())
                .collect();
            assert!(bases.contains(&basis), "{slug}/{id}: {bases:?}");
            for b in a["legal_basis"].as_array().unwrap() {
                assert!(
                    b["article"].as_str().unwrap().starts_with("GDPR Art. 6(1)"),
                    "{b}"
                );
            }
            // Every reference is resolved to a name.
            assert!(!a["name"].as_str().unwrap().is_empty());
            for list in ["purposes", "data_categories", "data_subjects", "sources"] {
                let items = a[list].as_array().unwrap();
                assert!(!items.is_empty(), "{slug}/{id}: no {list}");
                for item in items {
                    assert_ne!(
                        item["name"], item["id"],
                        "{slug}/{id}: {list} not resolved: {item}"
                    );
                }
            }
            assert!(!a["retention"]["name"].as_str().unwrap().is_empty());
        }
        let transfers: Vec<(String, String, String)> = activities
            .iter()
            .flat_map(|a| a["transfers"].as_array().unwrap().clone())
            .map(|t| {
                (
                    t["country"].as_str().unwrap().to_string(),
                    t["safeguard"]["id"].as_str().unwrap().to_string(),
                    t["recipient"]["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for (country, safeguard) in [
            ("IN", "standard_contractual_clauses"),
            ("US", "standard_contractual_clauses"),
            ("GB", "adequacy_decision"),
        ] {
            assert!(
                transfers
                    .iter()
                    .any(|(c, s, r)| c == country && s == safeguard && !r.is_empty()),
                "{slug}: no transfer to {country} under {safeguard}: {transfers:?}"
            );
        }
        let collections = activities
            .iter()
            .find(|a| a["id"] == "collections")
            .unwrap();
        assert!(collections["dpia"]["name"]
            .as_str()
            .unwrap()
            .contains("DPIA-2026-03"));
        let processors = collections["processors"].as_array().unwrap();
        assert!(processors
            .iter()
            .any(|p| p["name"].as_str().unwrap().contains("collection agency")));
        assert!(processors.iter().all(|p| p["type"] == "processor"));
        let invoicing = activities.iter().find(|a| a["id"] == "invoicing").unwrap();
        assert!(invoicing["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"].as_str().unwrap().starts_with("Adyen")));
    }
}

// PRV-01: the CSV export parses back (RFC 4180): a header and one row per
// entity × activity, agreeing with the JSON export.
#[test]
fn privacy_register_csv_parses_back() {
    let out = privacy(&["register", "--format", "csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows = parse_csv(&text(&out.stdout));
    assert_eq!(
        rows[0],
        [
            "entity",
            "activity",
            "purposes",
            "legal_basis",
            "data_categories",
            "data_subjects",
            "recipients",
            "processors",
            "transfers",
            "retention",
            "dpia"
        ]
    );
    assert_eq!(rows.len(), 1 + 2 * 11);
    for row in &rows[1..] {
        assert_eq!(row.len(), 11, "{row:?}");
        assert!(
            ["carfin-nederland", "carfin-belgique"].contains(&row[0].as_str()),
            "{row:?}"
        );
        // No cell starts like a spreadsheet formula.
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell}");
        }
    }
    let json: serde_json::Value =
        serde_json::from_slice(&privacy(&["register", "--format", "json"]).stdout).unwrap();
    let mut expected = Vec::new();
    for entity in json["entities"].as_array().unwrap() {
        for a in entity["activities"].as_array().unwrap() {
            expected.push((
                entity["entity"]["slug"].as_str().unwrap().to_string(),
                a["name"].as_str().unwrap().to_string(),
                a["retention"]["name"].as_str().unwrap().to_string(),
            ));
        }
    }
    let got: Vec<(String, String, String)> = rows[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[9].clone()))
        .collect();
    assert_eq!(got, expected);
    // Cells with commas survived the round trip.
    let contracts = rows
        .iter()
        .find(|r| r[1] == "Contract administration")
        .unwrap();
    assert!(
        contracts[2].contains("Conclude, perform and end the lease or financing contract"),
        "{contracts:?}"
    );
    let surveys = rows
        .iter()
        .find(|r| r[1] == "Satisfaction surveys")
        .unwrap();
    assert!(
        surveys[3].contains("Consent") && surveys[8].contains("US"),
        "{surveys:?}"
    );
}

// PRV-01, ENT-01: `--entity carfin-belgique` exports only the Belgian
// controller's record; `--lang fr` translates it; an unknown entity is refused.
#[test]
fn privacy_register_filters_by_entity() {
    let out = privacy(&[
        "register",
        "--format",
        "json",
        "--entity",
        "carfin-belgique",
        "--lang",
        "fr",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entities = record["entities"].as_array().unwrap();
    assert_eq!(entities.len(), 1);
    assert_eq!(entities[0]["entity"]["slug"], "carfin-belgique");
    assert_eq!(entities[0]["activities"].as_array().unwrap().len(), 11);
    let marketing = entities[0]["activities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "marketing")
        .unwrap();
    assert_eq!(marketing["name"], "Marketing direct");
    assert_eq!(marketing["legal_basis"][0]["name"], "Consentement");

    let csv = privacy(&["register", "--format", "csv", "--entity", "carfin-belgique"]);
    assert!(csv.status.success(), "{}", text(&csv.stderr));
    let rows = parse_csv(&text(&csv.stdout));
    assert_eq!(rows.len(), 1 + 11);
    assert!(rows[1..].iter().all(|r| r[0] == "carfin-belgique"));

    let unknown = privacy(&["register", "--entity", "carfin-luxembourg"]);
    assert!(!unknown.status.success());
    let err = text(&unknown.stderr);
    assert!(
        err.contains("carfin-luxembourg") && err.contains("carfin-belgique"),
        "{err}"
    );
}

/// Runs one statement against the SQLite database of a data directory.
fn tamper(dir: &Path, sql: &str) {
    let url = format!("sqlite://{}", dir.join("carfin.db").display());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::ConnectOptions;
        let mut conn = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .connect()
            .await
            .unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
        sqlx::Connection::close(conn).await.unwrap();
    });
}

// PRV-15: `carfin audit verify` passes on a freshly seeded data directory
// (one record per seed batch) and fails, naming the first broken record,
// once a record is altered in the database file.
#[test]
fn audit_verify_passes_then_detects_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let seed = carfin(
        dir.path(),
        &["seed", "--customers", "5", "--batch", "2"],
        &[],
    );
    assert!(seed.status.success(), "{}", text(&seed.stderr));
    let out = carfin(dir.path(), &["audit", "verify"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("audit log intact: 3 records"),
        "{}",
        text(&out.stdout)
    );

    tamper(
        dir.path(),
        "UPDATE audit_log SET fields = 'customers' WHERE seq = 2",
    );
    let out = carfin(dir.path(), &["audit", "verify"], &[]);
    assert!(!out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.contains("audit log broken at record 2:"), "{stdout}");

    tamper(dir.path(), "DELETE FROM audit_log WHERE seq = 2");
    let out = carfin(dir.path(), &["audit", "verify"], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stdout).contains("audit log broken at record 3:"),
        "{}",
        text(&out.stdout)
    );
}

/// Starts `carfin demo` on `dir`, waits until it answers, stops it with
/// SIGTERM and returns its output.
fn run_demo_once(dir: &Path) -> Output {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_carfin"))
        .args(["demo", "--listen", &listen, "--data-dir"])
        .arg(dir)
        .env_remove("CARFIN_DATABASE_URL")
        .env_remove("CARFIN_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && http_get(port, "/readyz").is_none() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

/// The demo's customers, read through the app with the demo's key files.
fn demo_customers(dir: &Path) -> Vec<carfin_store::repo::customers::CustomerPersonal> {
    use carfin_store::repo::customers::{self, Personal};
    let env = vec![
        ("CARFIN_DATA_DIR".to_string(), dir.display().to_string()),
        (
            "CARFIN_MASTER_KEY_FILE".to_string(),
            dir.join("demo-master.key").display().to_string(),
        ),
        (
            "CARFIN_BLIND_INDEX_KEY_FILE".to_string(),
            dir.join("demo-blind-index.key").display().to_string(),
        ),
    ];
    let config = carfin_app::Config::load(None, env).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let app = carfin_app::App::build(config, std::sync::Arc::new(carfin_app::SystemClock))
            .await
            .unwrap();
        let ids: Vec<i64> = {
            use sqlx::Row;
            sqlx::query("SELECT id FROM customers")
                .fetch_all(app.db().reader())
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get(0).unwrap())
                .collect()
        };
        let mut all = Vec::new();
        for id in ids {
            let record = customers::get(app.db(), app.keys(), id)
                .await
                .unwrap()
                .unwrap();
            match record.personal {
                Personal::Known(p) => all.push(p),
                Personal::Erased => panic!("demo customer {id} erased"),
            }
        }
        app.close().await;
        all
    })
}

// PRV-03 (done means): the raw files of a `carfin demo` data directory —
// database, WAL, key store — hold none of the demo customers' e-mail
// addresses, names, phone numbers or IBANs in plaintext.
#[test]
fn demo_data_directory_holds_no_personal_data_in_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_demo_once(dir.path());
    assert!(text(&out.stdout).contains("demo data loaded: 60 customers"));
    // Every file as it is on disk after the demo stopped, before anything
    // else opens the database.
    let mut raw = Vec::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            files.push(path.file_name().unwrap().to_string_lossy().into_owned());
            raw.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(files.iter().any(|f| f == "carfin.db"), "{files:?}");
    assert!(files.iter().any(|f| f == "keys.db"), "{files:?}");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    // The files are read right: a dealer's business address is stored plainly.
    assert!(raw.contains("verkoop@debrug.example"));
    assert!(
        !raw.contains("@example.com"),
        "the demo e-mail domain in {files:?}"
    );

    let people = demo_customers(dir.path());
    assert_eq!(people.len(), 60);
    let mut checked = 0;
    for p in &people {
        let name = [
            p.given_names.as_deref(),
            p.name_prefix.as_deref(),
            p.surname.as_deref(),
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
        let mut values = vec![
            p.email.clone().unwrap(),
            p.phone.clone().unwrap(),
            p.iban.clone().unwrap(),
        ];
        if !name.is_empty() {
            values.push(name);
        }
        values.extend(p.company_name.clone());
        // Surnames alone where they are long enough not to occur by chance.
        values.extend(p.surname.clone().filter(|s| s.len() >= 6));
        for value in values {
            assert!(
                !raw.contains(&value),
                "a personal value of customer is in plaintext in {files:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 60 * 4);
}

// PRV-03: `carfin keys rotate` re-wraps every subject key, says how many,
// and tells the operator what to switch; a second run has nothing to do.
#[test]
fn keys_rotate_rewraps_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let seeded = carfin(dir.path(), &["seed", "--customers", "12"], &[]);
    assert!(seeded.status.success(), "{}", text(&seeded.stderr));
    let new_key = dir.path().join("new-master.key");
    std::fs::write(
        &new_key,
        format!("{}\n", carfin_store::crypto::generate_key_hex()),
    )
    .unwrap();
    let new_key = new_key.display().to_string();
    let out = carfin(
        dir.path(),
        &["keys", "rotate", "--new-master-key-file", &new_key],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("re-wrapped 12 subject keys"), "{stdout}");
    assert!(
        stdout.contains("keys.master_key") && stdout.contains("keys.previous_master_keys"),
        "{stdout}"
    );
    // The servers switched: the new key is current, the old one previous.
    let old_key = std::fs::read_to_string(dir.path().join("demo-master.key")).unwrap();
    let blind = dir
        .path()
        .join("demo-blind-index.key")
        .display()
        .to_string();
    let switched = [
        ("CARFIN_MASTER_KEY_FILE", new_key.as_str()),
        ("CARFIN_PREVIOUS_MASTER_KEYS", old_key.trim()),
        ("CARFIN_BLIND_INDEX_KEY_FILE", blind.as_str()),
    ];
    let again = carfin(
        dir.path(),
        &["keys", "rotate", "--new-master-key-file", &new_key],
        &switched,
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    let stdout = text(&again.stdout);
    assert!(stdout.contains("re-wrapped 0 subject keys"), "{stdout}");
    assert!(stdout.contains("finished"), "{stdout}");
    // With only the new key, the data still serves: more customers can be
    // seeded and the database migrated.
    let only_new = &switched[..1];
    let env = [only_new[0], switched[2]];
    let migrate = carfin(dir.path(), &["migrate"], &env);
    assert!(migrate.status.success(), "{}", text(&migrate.stderr));
    // A wrong key file is refused with its name.
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "nope").unwrap();
    let refused = carfin(
        dir.path(),
        &[
            "keys",
            "rotate",
            "--new-master-key-file",
            &bad.display().to_string(),
        ],
        &[],
    );
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("bad.key"));
}
