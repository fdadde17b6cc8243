//! carfin's application layer: one function per use case. Each opens one
//! transaction, checks authorisation, changes state, writes any audit record
//! and outbox message in that same transaction, and commits. Handlers in the
//! web crate stay thin and call these.

pub mod audit;
pub mod clock;
pub mod config;
pub mod demo;
pub mod directory;
pub mod disclosure;
pub mod documents;
pub mod erasure;
pub mod error;
pub mod i18n;
pub mod identity;
pub mod invoices;
pub mod messages;
pub mod my_data;
pub mod outbox;
pub mod payments;
pub mod portal;
pub mod portal_pdf;
pub mod privacy;
pub mod seed;
pub mod staff;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use error::AppError;

use carfin_store::crypto::{BlindIndexKey, MasterKey};
use carfin_store::keystore::KeyStore;
use carfin_store::{Db, DbOptions, IdGen};
use std::sync::Arc;

/// The application: its database, key store, keys, clock and configuration.
/// Cheap to clone; shared by every request and job.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    db: Db,
    keys: KeyStore,
    blind_index: BlindIndexKey,
    clock: Arc<dyn Clock>,
    ids: IdGen,
    hasher: identity::password::Hasher,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("engine", &self.inner.db.engine())
            .finish_non_exhaustive()
    }
}

impl App {
    /// Connects to the database and key store (migrating both) and builds the app.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<App, AppError> {
        // The processing register drives classification and permissions: a
        // broken register stops the start (PRV-01).
        privacy::register().map_err(|e| AppError::Config(e.to_string()))?;
        let options = DbOptions {
            max_connections: config.database.max_connections,
            sqlite_synchronous_full: config.database.sqlite_synchronous_full(),
            sqlite_cache_kib: config.database.sqlite_cache_mib.saturating_mul(1024),
            ..DbOptions::default()
        };
        let db = Db::open(&config.database_url(), &options).await?;
        let master = MasterKey::parse(config.keys.master_key()?.expose())
            .ok_or_else(|| AppError::Config("keys.master_key is not a 256-bit key".into()))?;
        let blind_index = BlindIndexKey::parse(config.keys.blind_index_key()?.expose())
            .ok_or_else(|| AppError::Config("keys.blind_index_key is not a 256-bit key".into()))?;
        // The current master key first; former ones stay readable while a
        // rotation re-wraps their subject keys (`carfin keys rotate`).
        let mut masters = vec![master];
        for previous in &config.keys.previous_master_keys {
            let key = MasterKey::parse(previous.expose()).ok_or_else(|| {
                AppError::Config("keys.previous_master_keys holds a key that is not 256-bit".into())
            })?;
            if masters.iter().all(|m| m.id() != key.id()) {
                masters.push(key);
            }
        }
        let keys = KeyStore::open(&config.keystore_url(), masters).await?;
        let hasher = identity::password::Hasher::new(config.auth.hash_concurrency);
        Ok(App {
            inner: Arc::new(Inner {
                config,
                db,
                keys,
                blind_index,
                hasher,
                clock,
                ids: IdGen::new(),
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The injected clock.
    pub fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    /// The database (for the store-facing parts of jobs and the CLI).
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The subject-key store.
    pub fn keys(&self) -> &KeyStore {
        &self.inner.keys
    }

    /// The blind-index key.
    pub fn blind_index(&self) -> &BlindIndexKey {
        &self.inner.blind_index
    }

    /// The password hasher (Argon2id on blocking threads, bounded).
    pub fn hasher(&self) -> &identity::password::Hasher {
        &self.inner.hasher
    }

    /// The id generator.
    pub fn ids(&self) -> &IdGen {
        &self.inner.ids
    }

    /// Readiness: the database and the key store answer.
    pub async fn ready(&self) -> Result<(), AppError> {
        self.inner.db.ping().await?;
        self.inner.keys.ping().await?;
        Ok(())
    }

    /// Closes the pools (graceful shutdown).
    pub async fn close(&self) {
        self.inner.db.close().await;
        self.inner.keys.close().await;
    }
}
