//! Invoice use cases.

use crate::audit::{self, AuditEntry};
use crate::{App, AppError};
use carfin_store::repo::finance;

/// Marks invoices past their due date as overdue (a scheduled job); returns how many.
pub async fn mark_overdue(app: &App) -> Result<u64, AppError> {
    let today = app.clock().today().to_string();
    let now = app.clock().now().timestamp();
    let mut tx = app.db().begin_write().await?;
    let changed = finance::mark_overdue(&mut tx, &today, now).await?;
    // Audited in the same transaction (PRV-15), also when nothing changed,
    // so every run of the job leaves a trace.
    let entry = AuditEntry::system(
        app,
        "invoices.mark_overdue",
        "invoice",
        &["invoices.status"],
    );
    audit::record(&mut tx, app, entry).await?;
    tx.commit().await.map_err(carfin_store::StoreError::from)?;
    Ok(changed)
}
