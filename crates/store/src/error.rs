//! The store's error type. Messages never carry bound values or personal data.

/// What can go wrong below the application layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names an engine carfin does not support.
    #[error("unsupported database URL scheme `{0}`: use sqlite:// or postgres://")]
    UnsupportedScheme(String),
    /// A database error (connection, constraint, syntax).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed or the schema is newer than this binary.
    #[error("migration error: {0}")]
    Migration(String),
    /// Sealing or opening a personal-data value failed (wrong key, tampered
    /// value, value moved between rows).
    #[error("cryptographic integrity error: {0}")]
    Crypto(String),
    /// A stored value does not parse into its domain type.
    #[error("corrupt stored value in {0}")]
    Corrupt(&'static str),
}

impl StoreError {
    /// Whether this is a unique-constraint violation on the given constraint
    /// or index name (so use cases can turn it into a form error).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
