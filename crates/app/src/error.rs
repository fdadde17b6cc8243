//! The application's error type. Its messages never carry personal data.

use carfin_store::StoreError;

/// What a use case can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Nothing there, or nothing the caller may see (the two are never told apart).
    #[error("not found")]
    NotFound,
    /// The input was refused; each entry is (field, message key).
    #[error("invalid input")]
    Invalid(Vec<(String, String)>),
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// A storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}
