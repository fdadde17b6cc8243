//! The disclosure log (PRV-19): every time a subject's personal data leaves
//! carfin for a recipient, a record of the recipient, the data categories,
//! the legal basis (or consent), the reason and the time — written with an
//! audit record (action `disclosure`) in the caller's transaction, so the
//! disclosure, its log entry and its audit record commit or fail together.
//!
//! Recipients, categories and legal bases must be ids of the processing
//! register (`privacy/register.toml`), so the log speaks the register's
//! language and the "who received my data" page (PRV-16) can name them.

use crate::audit::{self, ActorKind, AuditEntry};
use crate::{privacy, App, AppError};
use carfin_store::repo::audit::{self as repo, DisclosureRow};
use sqlx::AnyConnection;

/// A disclosure to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosure {
    /// The data subject whose data left.
    pub subject_id: i64,
    /// A recipient id of the register.
    pub recipient: String,
    /// Data-category ids of the register.
    pub categories: Vec<String>,
    /// A legal-basis id of the register.
    pub legal_basis: String,
    /// The consent relied on (required when the legal basis is consent).
    pub consent_ref: Option<String>,
    /// Why, in words without personal values (e.g. "damage claim handed to insurer").
    pub reason: String,
    /// The purpose (a code) for the audit record.
    pub purpose: String,
    /// Who made the disclosure.
    pub actor_kind: ActorKind,
    pub actor_id: Option<i64>,
    pub role: String,
    /// The request that caused it.
    pub request_id: Option<String>,
}

/// Longest accepted reason.
const MAX_REASON: usize = 500;

fn validate(d: &Disclosure) -> Result<(), AppError> {
    let register = privacy::register().map_err(|e| AppError::Config(e.to_string()))?;
    let mut problems = Vec::new();
    let mut problem = |field: &str, key: &str| problems.push((field.to_string(), key.to_string()));
    if !register
        .recipients
        .iter()
        .any(|r| r.id.get_ref() == &d.recipient)
    {
        problem("recipient", "disclosure.unknown_recipient");
    }
    if d.categories.is_empty()
        || !d
            .categories
            .iter()
            .all(|c| register.data_categories.iter().any(|k| k.id.get_ref() == c))
    {
        problem("categories", "disclosure.unknown_category");
    }
    if !register
        .legal_bases
        .iter()
        .any(|b| b.id.get_ref() == &d.legal_basis)
    {
        problem("legal_basis", "disclosure.unknown_legal_basis");
    }
    if d.legal_basis == "consent" && d.consent_ref.as_deref().is_none_or(str::is_empty) {
        problem("consent_ref", "disclosure.consent_missing");
    }
    if d.reason.trim().is_empty() || d.reason.len() > MAX_REASON {
        problem("reason", "disclosure.reason");
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(problems))
    }
}

/// Records a disclosure and its audit record within the caller's write
/// transaction. Refused (nothing written) when the recipient, a category or
/// the legal basis is not in the register.
pub async fn record(tx: &mut AnyConnection, app: &App, d: Disclosure) -> Result<(), AppError> {
    validate(&d)?;
    let request_id = d
        .request_id
        .clone()
        .unwrap_or_else(|| format!("run-{}", app.ids().next()));
    let entry = AuditEntry {
        actor_kind: d.actor_kind,
        actor_id: d.actor_id,
        role: d.role.clone(),
        action: "disclosure".into(),
        subject_id: Some(d.subject_id),
        purpose: d.purpose.clone(),
        fields: d.categories.clone(),
        request_id,
    };
    // Validate the audit entry before writing anything.
    audit::validate(&entry)?;
    let row = DisclosureRow {
        id: app.ids().next(),
        at: app.clock().now().timestamp(),
        subject_id: d.subject_id,
        recipient: d.recipient,
        categories: d.categories.join(","),
        legal_basis: d.legal_basis,
        consent_ref: d.consent_ref,
        reason: d.reason,
        request_id: d.request_id,
    };
    repo::insert_disclosure(tx, &row).await?;
    audit::record(tx, app, entry).await
}

/// A subject's disclosures, newest first (the "who received my data" page).
pub async fn list_for_subject(app: &App, subject_id: i64) -> Result<Vec<DisclosureRow>, AppError> {
    Ok(repo::disclosures_for_subject(app.db(), subject_id).await?)
}
