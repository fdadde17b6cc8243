//! The `carfin` binary, driven as an operator would: through its commands.

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
    command.env_remove("CARFIN_DATABASE_URL").env_remove("CARFIN_CONFIG");
    command.output().expect("carfin runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// OPS-03: an unknown database scheme is refused with a clear message.
#[test]
fn unknown_database_scheme_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = carfin(dir.path(), &["migrate", "--database-url", "mysql://app:hunter2@db/carfin"], &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("database.url") && err.contains("sqlite:// or postgres://"), "{err}");
    assert!(!err.contains("hunter2"), "a secret leaked: {err}");
}

// OPS-02: every configuration problem is reported with its key's name.
#[test]
fn configuration_problems_name_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = carfin(
        dir.path(),
        &["migrate"],
        &[("CARFIN_LISTEN", "not-an-address"), ("CARFIN_MASTER_KEY", "too-short"), ("CARFIN_LOG_FORMAT", "xml")],
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
    let out = carfin(dir.path(), &["seed", "--customers", "40", "--batch", "15"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("seeded 40 customers") && stdout.contains("rows/s"), "{stdout}");
    let err = text(&out.stderr);
    assert!(err.contains("demo keys"), "the demo keys are announced: {err}");
    assert!(dir.path().join("demo-master.key").exists());
    let mut db = std::fs::read(dir.path().join("carfin.db")).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("carfin.db-wal")) {
        db.extend(wal);
    }
    assert!(db.len() > 100_000);
    let raw = String::from_utf8_lossy(&db);
    assert!(!raw.contains("@example.com"), "an e-mail address is stored in plaintext");
    assert!(!raw.contains("+316"), "a phone number is stored in plaintext");
    // A second run adds more, numbered after the first.
    let again = carfin(dir.path(), &["seed", "--customers", "5"], &[]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let migrate = carfin(dir.path(), &["migrate"], &[]);
    assert!(migrate.status.success());
    assert!(text(&migrate.stdout).contains("database is current"));
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

// OPS-01, OPS-05: `carfin demo` creates the database, loads demo data,
// serves the Dutch landing page, and shuts down gracefully on SIGTERM.
#[test]
fn demo_serves_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_carfin"))
        .args(["demo", "--listen", &listen, "--data-dir"])
        .arg(dir.path())
        .env_remove("CARFIN_DATABASE_URL")
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

    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit status {:?}", out.status);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("demo data loaded: 60 customers"), "{stdout}");
    let logs = text(&out.stderr);
    assert!(logs.contains("shutdown complete"), "{logs}");
    // Logs are JSON lines.
    let json_lines = logs.lines().filter(|l| l.starts_with('{')).count();
    assert!(json_lines >= 3, "{logs}");
}
