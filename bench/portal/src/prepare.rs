//! The data a scale needs: a seeded data directory (kept between runs) and
//! a sample of signed-in customers.
//!
//! Signing in goes through the application's own `identity::account::login`
//! (so the cookie is exactly what `/login` hands out: a session started by
//! the app, terms accepted, no second factor). Only the account is created
//! directly, as `carfin demo` creates its demo accounts: a verified account
//! on the customer's e-mail address with every contract activated. All
//! bench accounts share one Argon2id hash of [`PASSWORD`] made with the
//! app's hasher, so preparing costs one hash plus one verification per
//! customer.

use anyhow::{anyhow, bail, Context, Result};
use carfin_app::config::Config;
use carfin_app::identity::account::{self, LoginOutcome};
use carfin_app::identity::session::SessionState;
use carfin_app::identity::ClientInfo;
use carfin_app::{App, SystemClock};
use carfin_store::crypto::FieldRef;
use carfin_store::keystore::KeyState;
use carfin_store::repo::customers::{self, Personal};
use carfin_store::repo::identity as repo;
use carfin_store::repo::SqlValue;
use sqlx::Row;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

/// The password of every bench account (never typed anywhere).
pub const PASSWORD: &str = "bench-Carfin-portal-2026";
/// Demo key files that `carfin seed` writes into the data directory.
const MASTER_KEY_FILE: &str = "demo-master.key";
const BLIND_INDEX_KEY_FILE: &str = "demo-blind-index.key";

/// The application configuration the bench itself opens a data directory with.
pub fn config(dir: &Path, idle_minutes: i64) -> Result<Config> {
    Config::layered(None, Vec::<(String, String)>::new(), |c| {
        c.data_dir = Some(dir.to_path_buf());
        c.keys.master_key_file = Some(dir.join(MASTER_KEY_FILE));
        c.keys.blind_index_key_file = Some(dir.join(BLIND_INDEX_KEY_FILE));
        c.auth.session_idle_minutes = idle_minutes;
    })
    .map_err(|problems| anyhow!("bench configuration: {problems}"))
}

/// Opens the data directory through the application (migrating it).
pub async fn open(dir: &Path, idle_minutes: i64) -> Result<App> {
    Ok(App::build(config(dir, idle_minutes)?, Arc::new(SystemClock)).await?)
}

/// `carfin` with no `CARFIN_…` variables of the caller's environment, so
/// that a configured database elsewhere is never touched.
pub fn carfin_command(carfin: &Path) -> Command {
    let mut command = Command::new(carfin);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CARFIN_") {
            command.env_remove(name);
        }
    }
    command
}

/// Makes sure `dir` holds a database seeded with exactly `customers`
/// customers; seeds it with `carfin seed` when it does not (an existing
/// directory with another count is removed first).
pub async fn ensure_seeded(
    carfin: &Path,
    dir: &Path,
    customers: u64,
    idle_minutes: i64,
) -> Result<()> {
    if dir.join("carfin.db").exists() && dir.join(MASTER_KEY_FILE).exists() {
        let app = open(dir, idle_minutes).await?;
        let there = customers::count(app.db()).await?;
        app.close().await;
        if there == customers as i64 {
            println!(
                "data: {} already holds {customers} customers (reused; delete it to seed anew)",
                dir.display()
            );
            return Ok(());
        }
        println!(
            "data: {} holds {there} customers, not {customers}: seeding anew",
            dir.display()
        );
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    println!(
        "data: seeding {customers} customers into {} (carfin seed) …",
        dir.display()
    );
    let started = Instant::now();
    let log = std::fs::File::create(dir.join("seed.log"))?;
    let status = carfin_command(carfin)
        .arg("--data-dir")
        .arg(dir)
        .args(["seed", "--customers", &customers.to_string()])
        .stderr(log)
        .status()
        .with_context(|| format!("cannot run {}", carfin.display()))?;
    if !status.success() {
        bail!(
            "carfin seed failed ({status}); see {}",
            dir.join("seed.log").display()
        );
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "data: seeded {customers} customers in {secs:.1} s ({:.0} customers/s, wall clock of carfin seed)",
        customers as f64 / secs
    );
    Ok(())
}

/// Runs the background jobs that are due, so that the server does not run
/// them in the middle of a measurement (each runs at most hourly).
pub async fn run_due_jobs(app: &App) -> Result<()> {
    for job in carfin_jobs::JOBS {
        let started = Instant::now();
        let ran = carfin_jobs::run_if_due(app, job, "bench-portal").await?;
        if ran {
            println!(
                "jobs: ran {} before serving ({:.1} s)",
                job.name,
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// A signed-in customer of the sample.
#[derive(Debug, Clone)]
pub struct Signed {
    pub customer_id: i64,
    /// The session cookie's value.
    pub token: String,
    /// Numbers of the contracts the dashboard lists.
    pub contract_numbers: Vec<String>,
}

/// A tiny deterministic generator (SplitMix64): the same sample every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A random 64-hex-digit CSRF cookie value (any well-formed value is
/// accepted as the browser's token; sending one keeps the server from
/// minting a new one on every response, as for a real browser).
pub fn csrf_token(seed: u64) -> String {
    let mut rng = SplitMix(seed ^ 0xC52F_00C5_2F00);
    (0..4).map(|_| format!("{:016x}", rng.next())).collect()
}

/// A customer that can be signed in: a person with an e-mail address and
/// at least one contract the portal shows.
struct Candidate {
    id: i64,
    entity_id: i64,
    language: String,
    email: String,
}

/// Customers at or after `from` in id order that hold (or co-hold) a
/// contract that is not pending.
const ELIGIBLE: &str = "SELECT cu.id FROM customers cu WHERE cu.id >= $1 AND cu.kind = 'person' \
     AND EXISTS (SELECT 1 FROM contract_parties p JOIN contracts c ON c.id = p.contract_id \
     WHERE p.customer_id = cu.id AND p.role IN ('holder', 'co_holder') AND c.status <> 'pending') \
     ORDER BY cu.id LIMIT 32";

/// `n` distinct customers sampled uniformly over the id range (the first
/// eligible customer at or after each random point).
async fn sample(app: &App, n: usize, seed: u64) -> Result<Vec<Candidate>> {
    let row = sqlx::query("SELECT MIN(id), MAX(id) FROM customers")
        .fetch_one(app.db().reader())
        .await?;
    let (Some(min), Some(max)) = (
        row.try_get::<Option<i64>, _>(0)?,
        row.try_get::<Option<i64>, _>(1)?,
    ) else {
        bail!("the database holds no customers");
    };
    let span = (max - min + 1) as u64;
    let mut rng = SplitMix(seed);
    let mut chosen: Vec<Candidate> = Vec::with_capacity(n);
    let mut attempts = 0;
    while chosen.len() < n {
        attempts += 1;
        if attempts > n * 20 {
            bail!(
                "found only {} of {n} customers with a contract and an e-mail address",
                chosen.len()
            );
        }
        let point = min + (rng.next() % span) as i64;
        // The first eligible customer at or after the point; past the last
        // one, the first of all.
        'search: for from in [point, min] {
            let rows = sqlx::query(ELIGIBLE)
                .bind(from)
                .fetch_all(app.db().reader())
                .await?;
            for row in rows {
                let id: i64 = row.try_get(0)?;
                if chosen.iter().any(|c| c.id == id) {
                    continue;
                }
                let Some(record) = customers::get(app.db(), app.keys(), id).await? else {
                    continue;
                };
                let Personal::Known(personal) = record.personal else {
                    continue;
                };
                let Some(email) = personal.email else {
                    continue;
                };
                let email = carfin_domain::EmailAddress::parse(&email)
                    .map(|e| e.normalized())
                    .unwrap_or_else(|_| email.trim().to_lowercase());
                chosen.push(Candidate {
                    id,
                    entity_id: record.entity_id,
                    language: record.language,
                    email,
                });
                break 'search;
            }
        }
    }
    Ok(chosen)
}

/// Gives the candidate a verified account with every contract activated
/// (as `carfin demo` does for its demo customers), unless it has one.
async fn ensure_account(app: &App, c: &Candidate, hash: &str) -> Result<bool> {
    let existing = {
        let mut conn = app.db().reader().acquire().await?;
        repo::account_of_customer(&mut conn, c.id).await?
    };
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    let account_id = match existing {
        Some(account) => {
            if account.status != "active" || account.second_factor != "none" {
                bail!(
                    "customer {} has an account that is {} with second factor {}: \
                     the bench needs a plain active account (delete the data directory)",
                    c.id,
                    account.status,
                    account.second_factor
                );
            }
            account.id
        }
        None => {
            let email_bidx = app.blind_index().index(repo::ACCOUNT_EMAIL_INDEX, &c.email);
            if repo::account_by_email(app.db(), &email_bidx)
                .await?
                .is_some()
            {
                return Ok(false);
            }
            let KeyState::Live(key) = app.keys().get(c.id).await? else {
                return Ok(false);
            };
            let account_id = app.ids().next();
            let terms = account::terms_version_in_force(app, c.entity_id)
                .await?
                .unwrap_or_else(|| carfin_app::demo::TERMS_VERSION.to_string());
            let sealed = key.seal(
                FieldRef {
                    table: "accounts",
                    column: "email",
                    row: account_id,
                },
                &c.email,
            )?;
            repo::insert_account(
                &mut tx,
                &repo::NewAccount {
                    id: account_id,
                    customer_id: c.id,
                    entity_id: c.entity_id,
                    email: sealed,
                    email_bidx,
                    password_hash: hash.to_string(),
                    language: c.language.clone(),
                    terms_version: terms.clone(),
                    now,
                },
            )
            .await?;
            repo::update_account(
                &mut tx,
                account_id,
                "status = 'active', email_verified_at = $2",
                vec![SqlValue::Int(now)],
                now,
            )
            .await?;
            repo::record_acceptance(
                &mut tx,
                app.ids().next(),
                c.id,
                c.entity_id,
                &terms,
                "registration",
                now,
            )
            .await?;
            account_id
        }
    };
    for contract in repo::portal_contracts(app.db(), c.id, account_id).await? {
        repo::activate_contract(&mut tx, account_id, contract.id, now).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Signs the candidate in through the application; the session cookie's value.
async fn sign_in(app: &App, c: &Candidate) -> Result<String> {
    let client = ClientInfo {
        address: Some(std::net::IpAddr::from([127, 0, 0, 1])),
        user_agent: "wrk (carfin-bench-portal)".into(),
        request_id: "bench-portal".into(),
        language: c.language.parse().unwrap_or_default(),
    };
    match account::login(app, &c.email, PASSWORD, &client).await? {
        LoginOutcome::Session {
            token,
            state: SessionState::Active,
        } => Ok(token),
        other => bail!("customer {}: sign-in gave {other:?}", c.id),
    }
}

/// Samples `n` customers, makes sure each has a bench account, and signs
/// each in; returns their session cookies.
pub async fn signed_in_sample(app: &App, n: usize, seed: u64) -> Result<Vec<Signed>> {
    let started = Instant::now();
    let candidates = sample(app, n * 2, seed).await?;
    let hash = app
        .hasher()
        .hash(PASSWORD)
        .await
        .map_err(|e| anyhow!("password hashing: {e}"))?;
    let mut ready = Vec::with_capacity(n);
    let mut created = 0usize;
    for c in candidates {
        if ready.len() == n {
            break;
        }
        let had = {
            let mut conn = app.db().reader().acquire().await?;
            repo::account_of_customer(&mut conn, c.id).await?.is_some()
        };
        if ensure_account(app, &c, &hash).await? {
            created += usize::from(!had);
            ready.push(c);
        }
    }
    if ready.len() < n {
        bail!(
            "only {} of {n} sampled customers could get an account",
            ready.len()
        );
    }
    let sampled = started.elapsed();
    // Sign-ins run concurrently; the app's hasher bounds the Argon2 work.
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in ready.into_iter().enumerate() {
        let app = app.clone();
        tasks.spawn(async move {
            let token = sign_in(&app, &c).await?;
            let contracts = {
                let mut conn = app.db().reader().acquire().await?;
                let account = repo::account_of_customer(&mut conn, c.id)
                    .await?
                    .ok_or_else(|| anyhow!("customer {}: account vanished", c.id))?;
                repo::portal_contracts(app.db(), c.id, account.id).await?
            };
            anyhow::Ok((
                i,
                Signed {
                    customer_id: c.id,
                    token,
                    contract_numbers: contracts.into_iter().map(|c| c.contract_number).collect(),
                },
            ))
        });
    }
    let mut signed: Vec<(usize, Signed)> = Vec::with_capacity(n);
    while let Some(done) = tasks.join_next().await {
        signed.push(done??);
    }
    signed.sort_by_key(|(i, _)| *i);
    println!(
        "sessions: {n} customers sampled over the id range ({created} new accounts) in {:.1} s, \
         signed in through the app in {:.1} s",
        sampled.as_secs_f64(),
        (started.elapsed() - sampled.min(started.elapsed())).as_secs_f64()
    );
    Ok(signed.into_iter().map(|(_, s)| s).collect())
}
