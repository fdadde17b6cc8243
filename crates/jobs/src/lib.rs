//! Background jobs. Each job runs at most once per interval across all nodes:
//! a node takes the job's lease in the database (`job_leases`) before
//! running it, so two nodes on one PostgreSQL behave as one, and a node that
//! dies mid-run loses its lease when it expires, after which another node
//! (or the same one, restarted) runs the job again. Jobs are idempotent.

use carfin_app::App;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a lease lasts; a job must finish (or renew) within it.
const LEASE_SECS: i64 = 600;
/// How often the scheduler looks for due jobs.
const TICK: Duration = Duration::from_secs(30);

/// A scheduled job.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    /// Its name (the lease key).
    pub name: &'static str,
    /// Seconds between runs.
    pub every_secs: i64,
}

/// Every scheduled job.
pub const JOBS: &[Job] = &[
    Job {
        name: "mark_overdue_invoices",
        every_secs: 3600,
    },
    // ACC-09: accounts close 18 months after the last contract ended.
    Job {
        name: "close_expired_accounts",
        every_secs: 24 * 3600,
    },
    // PAY-03: authorised payments are booked on their booking day;
    // checkout sessions that ended unused expire.
    Job {
        name: "book_payments",
        every_secs: 900,
    },
    // BOF-04: the monthly invoice run (idempotent per contract and period).
    Job {
        name: "invoice_run",
        every_secs: 24 * 3600,
    },
    // ACC-06: expired sessions and old throttle rows are deleted.
    Job {
        name: "prune_sessions",
        every_secs: 3600,
    },
];

/// The scheduled job of that name.
pub fn job(name: &str) -> Option<&'static Job> {
    JOBS.iter().find(|j| j.name == name)
}

/// Starts the scheduler; it stops when `stop` turns true.
pub fn spawn(app: App, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    let holder = format!("node-{:016x}", rand_u64());
    tokio::spawn(async move {
        loop {
            for job in JOBS {
                if *stop.borrow() {
                    return;
                }
                if let Err(error) = run_if_due(&app, job, &holder).await {
                    tracing::error!(job = job.name, %error, "job failed");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => return,
            }
        }
    })
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}

/// Runs a job if it is due and this node gets its lease; returns whether it ran.
pub async fn run_if_due(app: &App, job: &Job, holder: &str) -> Result<bool, carfin_app::AppError> {
    let now = app.clock().now().timestamp();
    let leases = carfin_store::repo::jobs::Leases::new(app.db());
    if !leases
        .acquire(
            job.name,
            holder,
            now,
            now + LEASE_SECS,
            now - job.every_secs,
        )
        .await?
    {
        return Ok(false);
    }
    let started = std::time::Instant::now();
    let outcome = match job.name {
        "mark_overdue_invoices" => carfin_app::invoices::mark_overdue(app)
            .await
            .map(|n| format!("{n} invoices overdue")),
        "close_expired_accounts" => carfin_app::identity::account::close_expired(app)
            .await
            .map(|r| format!("{} notified, {} closed", r.notified, r.closed)),
        "book_payments" => carfin_app::payments::booking::book_due(app).await.map(|r| {
            format!(
                "{} payments booked, {} sessions expired",
                r.booked, r.expired
            )
        }),
        "invoice_run" => carfin_app::staff::invoice_run::scheduled(app).await,
        "prune_sessions" => carfin_app::identity::session::prune(app)
            .await
            .map(|n| format!("{n} sessions ended")),
        _ => Ok("unknown job".to_string()),
    };
    let text = match &outcome {
        Ok(text) => text.clone(),
        Err(error) => format!("failed: {error}"),
    };
    leases
        .release(job.name, holder, app.clock().now().timestamp(), &text)
        .await?;
    tracing::info!(job = job.name, ms = started.elapsed().as_millis() as u64, outcome = %text, "job finished");
    outcome.map(|_| true)
}
