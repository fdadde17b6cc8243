//! Crypto-shredding of a data subject (PRV-03): the mechanism only.
//!
//! [`erase_subject`] destroys the subject's key in the key store, then clears
//! the subject's blind indexes in the main database. Afterwards every sealed
//! value of the subject — in the live database and in any copy or backup of
//! it — is unreadable, reads say [`Personal::Erased`], and exact-match
//! look-ups (e-mail, phone, plate) find nothing.
//!
//! This is the mechanism, not the workflow: the erasure request (PRV-05),
//! legal holds and retention (a contract still running, tax and
//! anti-money-laundering records), the audit record and the notification of
//! recipients come later and will call this once they allow it.
//!
//! [`Personal::Erased`]: carfin_store::repo::customers::Personal::Erased

use crate::error::AppError;
use crate::App;
use carfin_store::keystore::KeyState;
use carfin_store::repo::customers;

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureReport {
    /// The subject's key was destroyed by this call (`false`: it had been
    /// already, and this call completed the rest).
    pub key_destroyed: bool,
    /// Customer rows whose blind indexes were cleared.
    pub customers_cleared: u64,
    /// Vehicle rows whose plate blind index was overwritten.
    pub vehicles_cleared: u64,
}

/// Erases a data subject by crypto-shredding.
///
/// Order and idempotency: the key is destroyed first, in its own key-store
/// transaction (the key store is a separate database, so the two steps
/// cannot share one transaction). Then one main-database transaction sets
/// `customers.email_bidx` and `phone_bidx` to NULL and overwrites every
/// `vehicles.plate_bidx` of the subject with 16 random bytes: that column is
/// NOT NULL (and a migration is not worth it for this), and a random value
/// of the index's length matches no plate. A crash between the two steps
/// leaves unreadable ciphertext and stale indexes that lead only to an
/// erased subject; calling this again completes the second step.
///
/// `NotFound` when the subject has neither a key nor a customer row.
pub async fn erase_subject(app: &App, subject_id: i64) -> Result<ErasureReport, AppError> {
    let now = app.clock().now().timestamp();
    let key_destroyed = match app.keys().get(subject_id).await {
        Ok(KeyState::Missing) => false,
        Ok(KeyState::Shredded(_)) => false,
        // A key that no longer unwraps (unknown master) is destroyed all the same.
        Ok(KeyState::Live(_)) | Err(_) => app.keys().shred(subject_id, now).await?,
    };
    let cleared = customers::clear_blind_indexes(app.db(), subject_id, now).await?;
    if !key_destroyed && cleared.customers == 0 && cleared.vehicles == 0 {
        if let KeyState::Missing = app.keys().get(subject_id).await? {
            return Err(AppError::NotFound);
        }
    }
    Ok(ErasureReport {
        key_destroyed,
        customers_cleared: cleared.customers,
        vehicles_cleared: cleared.vehicles,
    })
}
