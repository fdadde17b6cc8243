//! Embedded, per-engine migrations.
//!
//! Each engine has its own folder of numbered SQL files (dialects differ in
//! types: `BIGINT`/`BYTEA` on PostgreSQL, `INTEGER`/`BLOB` on SQLite). They are
//! compiled into the binary and applied in order, each in its own
//! transaction, at start and by `carfin migrate`. Applied versions are
//! recorded with a checksum: an edited migration or a database newer than the
//! binary stops the start with a clear message. On PostgreSQL an advisory lock
//! lets several nodes start at once.

use crate::db::{Db, Engine};
use crate::error::{Result, StoreError};
use sha2::{Digest, Sha256};
use sqlx::{Executor, Row};

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number, increasing.
    pub version: i64,
    /// Its name, for the record.
    pub name: &'static str,
    /// The SQL.
    pub sql: &'static str,
}

/// Which set of tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Customers, contracts, invoices…
    Main,
    /// The subject-key store, kept apart from the data.
    KeyStore,
}

macro_rules! migrations {
    ($dir:literal: $($version:literal => $name:literal),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../migrations/", $dir, "/", $name, ".sql")),
        }),*]
    };
}

const SQLITE_MAIN: &[Migration] = migrations!("sqlite": 1 => "0001_foundation", 2 => "0002_audit_disclosures", 3 => "0003_identity", 4 => "0004_documents", 5 => "0005_portal_indexes", 6 => "0006_payments", 7 => "0007_back_office");
const POSTGRES_MAIN: &[Migration] = migrations!("postgres": 1 => "0001_foundation", 2 => "0002_audit_disclosures", 3 => "0003_identity", 4 => "0004_documents", 5 => "0005_portal_indexes", 6 => "0006_payments", 7 => "0007_back_office");
const SQLITE_KEYS: &[Migration] = migrations!("keystore/sqlite": 1 => "0001_subject_keys");
const POSTGRES_KEYS: &[Migration] = migrations!("keystore/postgres": 1 => "0001_subject_keys");

/// The migrations of a schema for an engine.
pub fn migrations(engine: Engine, schema: Schema) -> &'static [Migration] {
    match (engine, schema) {
        (Engine::Sqlite, Schema::Main) => SQLITE_MAIN,
        (Engine::Postgres, Schema::Main) => POSTGRES_MAIN,
        (Engine::Sqlite, Schema::KeyStore) => SQLITE_KEYS,
        (Engine::Postgres, Schema::KeyStore) => POSTGRES_KEYS,
    }
}

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// Applies every pending migration; returns how many were applied.
pub async fn run(db: &Db, schema: Schema) -> Result<usize> {
    let list = migrations(db.engine(), schema);
    let mut applied = 0;
    {
        let mut tx = db.begin_write().await?;
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at BIGINT NOT NULL)",
        )
        .await?;
        tx.commit().await?;
    }
    for migration in list {
        let mut tx = db.begin_write().await?;
        if db.engine() == Engine::Postgres {
            // Serialises concurrent starts of several nodes.
            sqlx::query("SELECT pg_advisory_xact_lock(7243318)")
                .execute(&mut *tx)
                .await?;
        }
        let row = sqlx::query("SELECT checksum FROM schema_migrations WHERE version = $1")
            .bind(migration.version)
            .fetch_optional(&mut *tx)
            .await?;
        let sum = checksum(migration.sql);
        if let Some(row) = row {
            let stored: String = row.try_get(0)?;
            if stored != sum {
                return Err(StoreError::Migration(format!(
                    "migration {} ({}) was changed after it was applied",
                    migration.version, migration.name
                )));
            }
            continue;
        }
        tx.execute(migration.sql).await.map_err(|e| {
            StoreError::Migration(format!(
                "migration {} ({}) failed: {e}",
                migration.version, migration.name
            ))
        })?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(sum)
        .bind(chrono::Utc::now().timestamp())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        applied += 1;
    }
    let newest: Option<i64> = sqlx::query("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(db.reader())
        .await?
        .try_get(0)?;
    let known = list.last().map(|m| m.version).unwrap_or(0);
    if newest.unwrap_or(0) > known {
        return Err(StoreError::Migration(format!(
            "the database schema (version {}) is newer than this binary knows ({known}); upgrade carfin",
            newest.unwrap_or(0)
        )));
    }
    Ok(applied)
}
