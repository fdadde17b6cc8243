//! The subject-key store, apart from the data (PRV-03).
//!
//! On SQLite it is its own file (`keys.db` beside `carfin.db`); on PostgreSQL
//! its own schema (`carfin_keys`). Destroying a subject's key here makes every
//! sealed value of that subject unreadable, in the live database and in any
//! copy or backup of it.
//!
//! Writes here and in the main database are separate transactions. Keys are
//! created before the rows they seal (a crash in between leaves an unused
//! key, which is harmless); erasure destroys the key first (a crash after it
//! leaves only unreadable ciphertext and blind indexes that no longer match
//! anyone, which the erasure workflow clears on retry).

use crate::crypto::{MasterKey, SubjectKey};
use crate::db::{Db, DbOptions, Engine};
use crate::error::{Result, StoreError};
use crate::migrate::{self, Schema};
use crate::repo::Insert;
use sqlx::Row;
use std::sync::Arc;

/// What the key store holds for a subject.
#[derive(Debug, Clone)]
pub enum KeyState {
    /// The subject's key.
    Live(Box<SubjectKey>),
    /// The key was destroyed at this Unix time.
    Shredded(i64),
    /// No key was ever stored.
    Missing,
}

/// Subject keys, wrapped by the master key(s).
#[derive(Clone, Debug)]
pub struct KeyStore {
    db: Db,
    /// The current master key first, then older ones still accepted for reading.
    masters: Arc<Vec<MasterKey>>,
}

impl KeyStore {
    /// Opens (and migrates) the key store.
    pub async fn open(url: &str, masters: Vec<MasterKey>) -> Result<KeyStore> {
        if masters.is_empty() {
            return Err(StoreError::Crypto("no master key configured".into()));
        }
        let mut options = DbOptions {
            max_connections: 4,
            sqlite_secure_delete: true,
            ..DbOptions::default()
        };
        if Engine::from_url(url)? == Engine::Postgres {
            options.pg_schema = Some("carfin_keys".into());
        }
        let db = Db::connect(url, &options).await?;
        migrate::run(&db, Schema::KeyStore).await?;
        Ok(KeyStore {
            db,
            masters: Arc::new(masters),
        })
    }

    fn current(&self) -> &MasterKey {
        // `open` refuses an empty list.
        &self.masters[0]
    }

    fn master(&self, id: &str) -> Result<&MasterKey> {
        self.masters.iter().find(|m| m.id() == id).ok_or_else(|| {
            StoreError::Crypto(format!("subject key wrapped by unknown master key {id}"))
        })
    }

    /// Creates and stores a new key for a subject.
    pub async fn create(&self, subject_id: i64, now: i64) -> Result<SubjectKey> {
        let key = SubjectKey::generate();
        self.insert_many(&[(subject_id, key.clone())], now).await?;
        Ok(key)
    }

    /// Stores many new subject keys in one transaction (bulk loads).
    pub async fn insert_many(&self, keys: &[(i64, SubjectKey)], now: i64) -> Result<()> {
        let master = self.current();
        let mut insert = Insert::new(
            "subject_keys",
            &["subject_id", "wrapped_key", "master_key_id", "created_at"],
        );
        for (subject_id, key) in keys {
            insert.row(vec![
                (*subject_id).into(),
                master.wrap(*subject_id, key)?.into(),
                master.id().into(),
                now.into(),
            ]);
        }
        let mut tx = self.db.begin_write().await?;
        insert.execute(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The state of a subject's key.
    pub async fn get(&self, subject_id: i64) -> Result<KeyState> {
        let row = sqlx::query(
            "SELECT wrapped_key, master_key_id, shredded_at FROM subject_keys WHERE subject_id = $1",
        )
        .bind(subject_id)
        .fetch_optional(self.db.reader())
        .await?;
        let Some(row) = row else {
            return Ok(KeyState::Missing);
        };
        let wrapped: Option<Vec<u8>> = row.try_get(0)?;
        let master_id: Option<String> = row.try_get(1)?;
        let shredded_at: Option<i64> = row.try_get(2)?;
        match (wrapped, master_id, shredded_at) {
            (_, _, Some(at)) => Ok(KeyState::Shredded(at)),
            (Some(wrapped), Some(master_id), None) => Ok(KeyState::Live(Box::new(
                self.master(&master_id)?.unwrap_key(subject_id, &wrapped)?,
            ))),
            _ => Err(StoreError::Corrupt("subject_keys")),
        }
    }

    /// Destroys a subject's key (crypto-shredding). Keeps a tombstone with the
    /// time, so reads can say "erased" rather than "missing".
    pub async fn shred(&self, subject_id: i64, now: i64) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let done = sqlx::query(
            "UPDATE subject_keys SET wrapped_key = NULL, master_key_id = NULL, shredded_at = $2 \
             WHERE subject_id = $1 AND shredded_at IS NULL",
        )
        .bind(subject_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        if self.db.engine() == Engine::Sqlite {
            // Old page images of the wrapped key must not linger in the WAL.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(self.db.reader())
                .await?;
        }
        Ok(done == 1)
    }

    /// Re-wraps up to `limit` live subject keys that are not yet wrapped by
    /// `new` (master-key rotation, PRV-03). Each key is unwrapped with
    /// whichever of this store's master keys wrapped it and wrapped again
    /// under `new`; `rotated_at` is set. One short write transaction per
    /// batch, so a running server keeps reading and writing between batches;
    /// keys already under `new` are skipped, so a rotation that stopped half
    /// way resumes where it was. Returns how many keys were re-wrapped; `0`
    /// means the rotation is complete.
    pub async fn rotate_batch(&self, new: &MasterKey, limit: usize, now: i64) -> Result<usize> {
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let mut tx = self.db.begin_write().await?;
        let rows = sqlx::query(
            "SELECT subject_id, wrapped_key, master_key_id FROM subject_keys \
             WHERE shredded_at IS NULL AND master_key_id <> $1 \
             ORDER BY subject_id LIMIT $2",
        )
        .bind(new.id())
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut done = 0;
        for row in &rows {
            let subject_id: i64 = row.try_get(0)?;
            let wrapped: Option<Vec<u8>> = row.try_get(1)?;
            let old_id: Option<String> = row.try_get(2)?;
            let (Some(wrapped), Some(old_id)) = (wrapped, old_id) else {
                return Err(StoreError::Corrupt("subject_keys"));
            };
            let key = self.master(&old_id)?.unwrap_key(subject_id, &wrapped)?;
            // The guard on the old master and on `shredded_at` makes a key
            // shredded (or re-wrapped) meanwhile stay as it is.
            done += sqlx::query(
                "UPDATE subject_keys SET wrapped_key = $2, master_key_id = $3, rotated_at = $4 \
                 WHERE subject_id = $1 AND master_key_id = $5 AND shredded_at IS NULL",
            )
            .bind(subject_id)
            .bind(new.wrap(subject_id, &key)?)
            .bind(new.id())
            .bind(now)
            .bind(old_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(usize::try_from(done).unwrap_or(usize::MAX))
    }

    /// How many live subject keys are wrapped by a master key other than
    /// `master` (what a rotation to `master` still has to do).
    pub async fn count_not_wrapped_by(&self, master: &MasterKey) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM subject_keys WHERE shredded_at IS NULL AND master_key_id <> $1",
        )
        .bind(master.id())
        .fetch_one(self.db.reader())
        .await?
        .try_get(0)?)
    }

    /// The fingerprints of the master keys this store accepts, current first.
    pub fn master_ids(&self) -> Vec<String> {
        self.masters.iter().map(|m| m.id().to_string()).collect()
    }

    /// Readiness of the key store.
    pub async fn ping(&self) -> Result<()> {
        self.db.ping().await
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.db.close().await;
    }
}
