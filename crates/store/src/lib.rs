//! carfin's store: the only code that speaks SQL.
//!
//! One code path serves SQLite (the embedded default) and PostgreSQL
//! (production, several nodes) through sqlx's `Any` driver; the engine
//! follows from the database URL. Personal data passes through the
//! encryption seam ([`crypto`]) here, so nothing above this crate handles
//! ciphertext and nothing below it sees plaintext at rest.

pub mod crypto;
pub mod db;
pub mod error;
pub mod ids;
pub mod keystore;
pub mod migrate;
pub mod repo;

pub use db::{Db, DbOptions, Engine};
pub use error::StoreError;
pub use ids::IdGen;
