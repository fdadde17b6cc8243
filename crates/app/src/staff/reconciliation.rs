//! Reconciliation in the back office (PAY-06): contract administration and
//! collections upload Adyen's settlement detail report and see the
//! differences with carfin's bookings. The same use cases as `carfin
//! payments import-settlement` and `reconcile`, behind a role check and
//! audited.

use super::{Role, StaffSession};
use crate::audit::{self, ActorKind, AuditEntry};
use crate::payments::reconcile::{self, ImportError, ImportReport, Reconciliation};
use crate::{App, AppError};
use carfin_store::StoreError;
use chrono::NaiveDate;

/// Who may import settlement reports and read the differences.
pub const ROLES: &[Role] = &[
    Role::ContractAdministration,
    Role::Collections,
    Role::Administrator,
];

async fn record(
    app: &App,
    staff: &StaffSession,
    action: &str,
    request_id: &str,
) -> Result<(), AppError> {
    let mut tx = app.db().begin_write().await?;
    audit::record(
        &mut tx,
        app,
        AuditEntry {
            actor_kind: ActorKind::Staff,
            actor_id: Some(staff.staff_id),
            role: staff.audit_role().into(),
            action: action.into(),
            subject_id: None,
            purpose: "process_payments".into(),
            fields: vec!["settlement_lines".into(), "payments.status".into()],
            request_id: if request_id.is_empty() {
                "none".into()
            } else {
                request_id.into()
            },
        },
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// Imports an uploaded settlement detail report (bad lines reported, good
/// ones kept; the same file twice changes nothing).
pub async fn import(
    app: &App,
    staff: &StaffSession,
    file_name: &str,
    bytes: &[u8],
    request_id: &str,
) -> Result<Result<ImportReport, ImportError>, AppError> {
    staff.require_any(ROLES)?;
    let outcome = reconcile::import_settlement_report(app, file_name, bytes).await;
    if let Err(ImportError::App(error)) = outcome {
        return Err(error);
    }
    record(app, staff, "staff.settlement_report_imported", request_id).await?;
    Ok(outcome)
}

/// The differences of a period.
pub async fn differences(
    app: &App,
    staff: &StaffSession,
    from: NaiveDate,
    to: NaiveDate,
    request_id: &str,
) -> Result<Reconciliation, AppError> {
    staff.require_any(ROLES)?;
    let result = reconcile::reconcile(app, from, to).await?;
    record(app, staff, "staff.reconciliation_read", request_id).await?;
    Ok(result)
}
