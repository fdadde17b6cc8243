//! Connection pools for SQLite and PostgreSQL behind one type.

use crate::error::{Result, StoreError};
use crate::migrate;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

/// The database engine, as chosen by the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The embedded default.
    Sqlite,
    /// Production and several nodes.
    Postgres,
}

impl Engine {
    /// The engine for a database URL; an unknown scheme is refused.
    pub fn from_url(url: &str) -> Result<Engine> {
        let scheme = url.split(':').next().unwrap_or("");
        match scheme {
            "sqlite" => Ok(Engine::Sqlite),
            "postgres" | "postgresql" => Ok(Engine::Postgres),
            other => Err(StoreError::UnsupportedScheme(other.to_string())),
        }
    }

    /// A short name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Largest number of connections (PostgreSQL) or reader connections (SQLite).
    pub max_connections: u32,
    /// How long a request waits for a connection before it fails.
    pub acquire_timeout: Duration,
    /// SQLite `synchronous`: `FULL` (the default, durable on power loss) or `NORMAL`.
    pub sqlite_synchronous_full: bool,
    /// For the key store on PostgreSQL: the schema that holds its tables.
    pub pg_schema: Option<String>,
    /// SQLite `secure_delete`: overwrite deleted content (the key store).
    pub sqlite_secure_delete: bool,
    /// SQLite page cache per connection, in KiB.
    pub sqlite_cache_kib: u32,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            sqlite_synchronous_full: true,
            pg_schema: None,
            sqlite_secure_delete: false,
            sqlite_cache_kib: 32 * 1024,
        }
    }
}

/// A database: a pool for reads and a pool for writes.
///
/// On SQLite the write pool holds a single connection and every write
/// transaction starts with `BEGIN IMMEDIATE`, so a read that later writes
/// never fails with `SQLITE_BUSY` inside the process, and other processes
/// (the CLI next to a running server) wait on `busy_timeout`. On PostgreSQL
/// both are the same pool.
#[derive(Clone, Debug)]
pub struct Db {
    engine: Engine,
    read: AnyPool,
    write: AnyPool,
}

static DRIVERS: Once = Once::new();

impl Db {
    /// Connects to the database named by `url` without migrating it.
    pub async fn connect(url: &str, options: &DbOptions) -> Result<Db> {
        let engine = Engine::from_url(url)?;
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        // Statement logging is off: slow-statement lines would carry SQL text
        // into the logs, and the logs stay free of anything but opaque ids.
        let connect = AnyConnectOptions::from_str(url)?.disable_statement_logging();
        match engine {
            Engine::Sqlite => {
                let sync = if options.sqlite_synchronous_full {
                    "FULL"
                } else {
                    "NORMAL"
                };
                let secure_delete = if options.sqlite_secure_delete {
                    "ON"
                } else {
                    "OFF"
                };
                let cache = options.sqlite_cache_kib.max(1024);
                let pragmas = format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                     PRAGMA temp_store = MEMORY; PRAGMA cache_size = -{cache}; \
                     PRAGMA secure_delete = {secure_delete};"
                );
                let write = pool_options(1, options, pragmas.clone(), false)
                    .connect_with(connect.clone())
                    .await?;
                // SQLite reads are CPU-bound in this process: readers beyond twice
                // the cores add a page cache each and no throughput (measured
                // with bench/portal: 4 readers on 2 cores serve as many
                // dashboards as 10, with half the peak memory).
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                let readers = options
                    .max_connections
                    .min(u32::try_from(cores * 2).unwrap_or(u32::MAX))
                    .max(1);
                let read = pool_options(readers, options, pragmas, false)
                    .connect_with(connect)
                    .await?;
                Ok(Db {
                    engine,
                    read,
                    write,
                })
            }
            Engine::Postgres => {
                let setup = match &options.pg_schema {
                    Some(schema) => {
                        let schema = quote_ident(schema);
                        format!(
                            "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema};"
                        )
                    }
                    None => String::new(),
                };
                let pool = pool_options(options.max_connections.max(2), options, setup, true)
                    .connect_with(connect)
                    .await?;
                Ok(Db {
                    engine,
                    read: pool.clone(),
                    write: pool,
                })
            }
        }
    }

    /// Connects and applies the main schema's migrations.
    pub async fn open(url: &str, options: &DbOptions) -> Result<Db> {
        let db = Db::connect(url, options).await?;
        migrate::run(&db, migrate::Schema::Main).await?;
        Ok(db)
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The pool for reads.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let tx = match self.engine {
            Engine::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.write.begin().await?,
        };
        Ok(tx)
    }

    /// Whether the database answers a trivial query (readiness).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Pool settings. `test_before_acquire` (a ping before every checkout) is
/// for network connections that may have died: SQLite's are in-process
/// files, and the ping was a thread hand-off per query (measured with
/// `bench/portal`: about a tenth of the dashboard's server time).
fn pool_options(max: u32, options: &DbOptions, setup: String, ping: bool) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .test_before_acquire(ping)
        .acquire_timeout(options.acquire_timeout)
        .after_connect(move |conn, _meta| {
            let setup = setup.clone();
            Box::pin(async move {
                if !setup.is_empty() {
                    conn.execute(setup.as_str()).await?;
                }
                Ok(())
            })
        })
}

/// Quotes a PostgreSQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The SQLite URL of a file inside a data directory, created if absent.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    // OPS-03: the engine follows from the URL; an unknown scheme is refused.
    #[test]
    fn engine_from_url() {
        assert_eq!(
            Engine::from_url("sqlite:///tmp/x.db").ok(),
            Some(Engine::Sqlite)
        );
        assert_eq!(
            Engine::from_url("postgres://localhost/db").ok(),
            Some(Engine::Postgres)
        );
        assert_eq!(
            Engine::from_url("postgresql://localhost/db").ok(),
            Some(Engine::Postgres)
        );
        let err = Engine::from_url("mysql://localhost/db")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("unsupported database URL scheme `mysql`: use sqlite:// or postgres://")
        );
    }
}
