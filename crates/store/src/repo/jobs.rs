//! Job leases: one node at a time runs each scheduled job.

use crate::error::Result;
use crate::Db;

/// Leases of scheduled jobs.
#[derive(Debug)]
pub struct Leases<'a> {
    db: &'a Db,
}

impl<'a> Leases<'a> {
    /// Leases in this database.
    pub fn new(db: &'a Db) -> Leases<'a> {
        Leases { db }
    }

    /// Takes the lease of `name` until `until` if nobody holds it and the job
    /// last finished before `due_before`; returns whether it was taken.
    pub async fn acquire(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        until: i64,
        due_before: i64,
    ) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("INSERT INTO job_leases (name, lease_until) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let taken = sqlx::query(
            "UPDATE job_leases SET holder = $2, lease_until = $3, last_started_at = $4 \
             WHERE name = $1 AND lease_until < $4 \
             AND (last_finished_at IS NULL OR last_finished_at <= $5)",
        )
        .bind(name)
        .bind(holder)
        .bind(until)
        .bind(now)
        .bind(due_before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(taken == 1)
    }

    /// Gives the lease back and records the outcome.
    pub async fn release(&self, name: &str, holder: &str, now: i64, outcome: &str) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "UPDATE job_leases SET holder = NULL, lease_until = 0, last_finished_at = $3, last_outcome = $4 \
             WHERE name = $1 AND holder = $2",
        )
        .bind(name)
        .bind(holder)
        .bind(now)
        .bind(outcome)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
