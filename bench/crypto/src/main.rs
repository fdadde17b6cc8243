//! The cost of the encryption seam (PRV-03): sealing a field, opening a
//! field, and a blind-index look-up (HMAC plus an indexed query on a seeded
//! SQLite table). Each operation runs many times per round, in several
//! rounds; the median of the rounds is printed in ns/op, with the machine.
//!
//! `cargo run --release -p carfin-bench-crypto [-- CUSTOMERS]`

use anyhow::{Context, Result};
use carfin_store::crypto::{generate_key_hex, BlindIndexKey, FieldRef, SubjectKey};
use carfin_store::{Db, DbOptions};
use std::hint::black_box;
use std::time::Instant;

const ROUNDS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `op` `iters` times per round, `ROUNDS` rounds; median ns/op.
fn measure(iters: usize, mut op: impl FnMut(usize)) -> f64 {
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for i in 0..iters {
            op(i);
        }
        rounds.push(start.elapsed().as_nanos() as f64 / iters as f64);
    }
    median(rounds)
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs (nproc), {model}")
}

fn main() -> Result<()> {
    let customers: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().context("CUSTOMERS must be a number")?,
        None => 100_000,
    };
    println!("machine: {}", machine());
    let key = SubjectKey::generate();
    let bidx = BlindIndexKey::parse(&generate_key_hex()).context("generated key does not parse")?;
    let email = "jan.de.vries-van.den.berg@example.com";
    let field = |row: usize| FieldRef {
        table: "customers",
        column: "email",
        row: row as i64,
    };

    let seal = measure(200_000, |i| {
        black_box(key.seal(field(i), black_box(email)).ok());
    });
    let sealed: Vec<Vec<u8>> = (0..1024)
        .map(|i| key.seal(field(i), email))
        .collect::<std::result::Result<_, _>>()?;
    let open = measure(200_000, |i| {
        let i = i % sealed.len();
        black_box(key.open(field(i), &sealed[i]).ok());
    });
    let hmac = measure(200_000, |i| {
        black_box(bidx.index(
            "customers.email",
            black_box(if i % 2 == 0 { email } else { "x@y.nl" }),
        ));
    });
    println!(
        "field: {} bytes of plaintext, {} sealed",
        email.len(),
        sealed[0].len()
    );
    println!("seal a field (AES-256-GCM, random nonce):   {seal:>9.0} ns/op");
    println!("open a field:                               {open:>9.0} ns/op");
    println!("blind index (HMAC-SHA256, truncated):       {hmac:>9.0} ns/op");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(lookup(customers, &bidx))
}

async fn lookup(customers: usize, bidx: &BlindIndexKey) -> Result<()> {
    use sqlx::Row;
    let dir = std::env::temp_dir().join(format!("carfin-bench-crypto-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = carfin_store::db::sqlite_url(&dir.join("bench.db"));
    let db = Db::connect(&url, &DbOptions::default()).await?;
    sqlx::query("CREATE TABLE people (id INTEGER PRIMARY KEY, email_bidx BLOB)")
        .execute(db.reader())
        .await?;
    let start = Instant::now();
    let mut tx = db.begin_write().await?;
    for i in 0..customers {
        sqlx::query("INSERT INTO people (id, email_bidx) VALUES ($1, $2)")
            .bind(i as i64)
            .bind(bidx.index("customers.email", &format!("person{i}@example.com")))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    sqlx::query("CREATE INDEX people_email_bidx ON people (email_bidx)")
        .execute(db.reader())
        .await?;
    println!(
        "seeded {customers} rows with an indexed 16-byte blind index in {:.1} s (SQLite, WAL)",
        start.elapsed().as_secs_f64()
    );
    let iters = 20_000;
    let mut rounds = Vec::with_capacity(ROUNDS);
    let mut found = 0usize;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for i in 0..iters {
            let wanted = format!("person{}@example.com", (i * 7919) % customers.max(1));
            let rows = sqlx::query("SELECT id FROM people WHERE email_bidx = $1")
                .bind(bidx.index("customers.email", &wanted))
                .fetch_all(db.reader())
                .await?;
            found += rows
                .iter()
                .filter_map(|r| r.try_get::<i64, _>(0).ok())
                .count();
        }
        rounds.push(start.elapsed().as_nanos() as f64 / iters as f64);
    }
    let lookup = median(rounds);
    println!(
        "blind-index look-up (HMAC + indexed SELECT through the read pool): {lookup:>9.0} ns/op ({found} hits)"
    );
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
