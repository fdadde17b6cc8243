//! Monthly invoice runs (BOF-04): every contract running in a month gets
//! its instalment invoice for that month, with its ledger entry, exactly
//! once. "Running" means active, with the month holding one of the due
//! dates of its current terms (`carfin_domain::finance::due_date`: month 1
//! falls due on the start date, month n n−1 months later, the last in the
//! month before the end date).
//!
//! Once per period is the unique index `invoices_contract_period
//! (contract_id, kind, period)`: a run skips the contracts already invoiced
//! and inserts with `ON CONFLICT … DO NOTHING`, so two runs — one after the
//! other, or at once on two nodes — create each invoice once. Each run is
//! recorded in `invoice_runs` and audited. The scheduled job runs the
//! current month, every day once the month has started (later days create
//! only what is missing: contracts activated since).

use super::import::{
    derived_reference, invoice_values, parse_period, Actor, INVOICE_COLUMNS, ROLES,
};
use super::StaffSession;
use crate::audit;
use crate::{App, AppError};
use carfin_domain::finance::{amortization_schedule, due_date};
use carfin_domain::{Country, Money};
use carfin_store::repo::finance::{FinanceInsert, NewInvoice, NewLedgerEntry};
use carfin_store::repo::imports::{self as repo, BillableContract, InvoiceRunRecord};
use carfin_store::repo::Insert;
use carfin_store::StoreError;
use chrono::{Datelike, Months, NaiveDate};

/// Contracts per transaction.
const CHUNK: i64 = 2_000;
/// The purpose invoice runs serve (privacy register).
const PURPOSE: &str = "invoice";

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRunReport {
    /// The `invoice_runs` row.
    pub run_id: i64,
    /// `YYYY-MM`.
    pub period: String,
    /// Contracts with an instalment due in the period.
    pub due: u64,
    /// Invoices created now.
    pub created: u64,
    /// Contracts that had their invoice for the period already.
    pub existing: u64,
}

/// The period `YYYY-MM`, refused as `AppError::Invalid` otherwise.
pub fn period_start(period: &str) -> Result<NaiveDate, AppError> {
    parse_period(period.trim()).ok_or_else(|| {
        AppError::Invalid(vec![(
            "period".into(),
            "staff_imports.run.error.period".into(),
        )])
    })
}

/// The instalment due in the month starting `first`: (schedule month from
/// 1, due date, amount), if the contract's terms have one.
fn instalment_in(contract: &BillableContract, first: NaiveDate) -> Option<(u32, NaiveDate, i64)> {
    let t = &contract.terms;
    let start = NaiveDate::parse_from_str(&t.start_date, "%Y-%m-%d").ok()?;
    let months = (first.year() - start.year()) * 12 + first.month() as i32 - start.month() as i32;
    let month = u32::try_from(months + 1).ok()?;
    let term = u32::try_from(t.term_months).ok()?;
    if month == 0 || month > term {
        return None;
    }
    let due = due_date(start, month)?;
    if due.year() != first.year() || due.month() != first.month() {
        return None;
    }
    // The last instalment of a financing contract settles the schedule:
    // the balloon plus the rounding (as the generated data does).
    let amount = if month == term && contract.contract_type != "operational_lease" {
        amortization_schedule(
            Money::from_cents(t.financed_amount_cents),
            Money::from_cents(t.balloon_cents),
            u32::try_from(t.nominal_rate_bp).ok()?,
            term,
            Money::from_cents(t.monthly_instalment_cents),
        )
        .and_then(|lines| lines.last().map(|l| l.instalment.cents()))
        .unwrap_or(t.monthly_instalment_cents)
    } else {
        t.monthly_instalment_cents
    };
    Some((month, due, amount))
}

/// Runs the invoices of `period` (`YYYY-MM`) for `actor`.
pub async fn run(app: &App, actor: Actor<'_>, period: &str) -> Result<InvoiceRunReport, AppError> {
    if let Actor::Staff(staff) = actor {
        staff.require_any(ROLES)?;
    }
    let first = period_start(period)?;
    let period = format!("{:04}-{:02}", first.year(), first.month());
    let last = first
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .ok_or_else(|| {
            AppError::Invalid(vec![(
                "period".into(),
                "staff_imports.run.error.period".into(),
            )])
        })?;
    let run_id = app.ids().next();
    let request_id = format!("invoice-run-{run_id}");
    let started_at = app.clock().now().timestamp();
    let today = app.clock().today().to_string();
    repo::insert_invoice_run(app.db(), run_id, &period, started_at).await?;
    let mut report = InvoiceRunReport {
        run_id,
        period: period.clone(),
        due: 0,
        created: 0,
        existing: 0,
    };
    let mut after = 0_i64;
    loop {
        let contracts = repo::active_contracts_overlapping(
            app.db(),
            &first.to_string(),
            &last.to_string(),
            after,
            CHUNK,
        )
        .await?;
        let Some(last_contract) = contracts.last() else {
            break;
        };
        after = last_contract.id;
        let due: Vec<(&BillableContract, NaiveDate, i64)> = contracts
            .iter()
            .filter_map(|c| instalment_in(c, first).map(|(_, due, amount)| (c, due, amount)))
            .collect();
        if due.is_empty() {
            continue;
        }
        report.due += due.len() as u64;
        let now = app.clock().now().timestamp();
        let mut tx = app.db().begin_write().await?;
        let ids: Vec<i64> = due.iter().map(|(c, _, _)| c.id).collect();
        let invoiced = repo::contracts_invoiced(&mut tx, &ids, "instalment", &period).await?;
        let wanted: Vec<(&BillableContract, NaiveDate, i64, String)> = due
            .into_iter()
            .filter(|(c, _, _)| !invoiced.contains(&c.id))
            .map(|(c, d, a)| {
                let number = format!(
                    "{}-{:04}{:02}",
                    c.contract_number,
                    first.year(),
                    first.month()
                );
                (c, d, a, number)
            })
            .collect();
        let numbers: Vec<String> = wanted.iter().map(|w| w.3.clone()).collect();
        let taken = repo::invoice_numbers_taken(&mut tx, &numbers).await?;
        let mut invoices = Insert::new("invoices", INVOICE_COLUMNS)
            .ignore_conflicts("(contract_id, kind, period)");
        let mut new = Vec::new();
        for (c, due, amount, number) in wanted {
            if taken.contains(&number) {
                // Another invoice carries this number (an import): leave
                // it to contract administration.
                tracing::warn!(contract_id = c.id, "invoice run: invoice number taken");
                continue;
            }
            let country = if c.country == "BE" {
                Country::Be
            } else {
                Country::Nl
            };
            let Some(reference) = derived_reference(country, &number) else {
                continue;
            };
            let id = app.ids().next();
            invoices.row(invoice_values(&NewInvoice {
                id,
                entity_id: c.entity_id,
                contract_id: c.id,
                invoice_number: number,
                kind: "instalment".into(),
                period: Some(period.clone()),
                issue_date: today.clone(),
                due_date: due.to_string(),
                amount_cents: amount,
                paid_cents: 0,
                status: "open".into(),
                payment_reference: reference,
                created_at: now,
            }));
            new.push((id, c.id, amount));
        }
        let created = if new.is_empty() {
            0
        } else {
            invoices.execute(&mut tx).await?
        };
        if created > 0 {
            // Only the invoices stored now get their ledger entry (a
            // concurrent run may have stored some of the others).
            let ids: Vec<i64> = new.iter().map(|(id, _, _)| *id).collect();
            let present = repo::invoice_ids_present(&mut tx, &ids).await?;
            let mut ledger = FinanceInsert::default();
            for (invoice_id, contract_id, amount) in &new {
                if present.contains(invoice_id) {
                    ledger.ledger(&NewLedgerEntry {
                        id: app.ids().next(),
                        contract_id: *contract_id,
                        invoice_id: Some(*invoice_id),
                        entry_date: today.clone(),
                        kind: "invoice".into(),
                        amount_cents: *amount,
                        created_at: now,
                    });
                }
            }
            ledger.execute(&mut tx).await?;
            let entry = actor.entry(
                "invoices.run",
                None,
                &["invoices", "ledger_entries"],
                PURPOSE,
                &request_id,
            );
            audit::record(&mut tx, app, entry).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        report.created += created;
    }
    report.existing = report.due.saturating_sub(report.created);
    let mut tx = app.db().begin_write().await?;
    repo::finish_invoice_run(
        &mut tx,
        run_id,
        i64::try_from(report.created).unwrap_or(i64::MAX),
        app.clock().now().timestamp(),
    )
    .await?;
    let entry = actor.entry(
        "invoices.run_finished",
        None,
        &["invoice_runs"],
        PURPOSE,
        &request_id,
    );
    audit::record(&mut tx, app, entry).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(report)
}

/// A run started in the back office by contract administration.
pub async fn run_as_staff(
    app: &App,
    staff: &StaffSession,
    period: &str,
) -> Result<InvoiceRunReport, AppError> {
    staff.require_any(ROLES)?;
    run(app, Actor::Staff(staff), period).await
}

/// The most recent invoice runs, for contract administration.
pub async fn recent_runs(
    app: &App,
    staff: &StaffSession,
    limit: i64,
) -> Result<Vec<InvoiceRunRecord>, AppError> {
    staff.require_any(ROLES)?;
    Ok(repo::recent_invoice_runs(app.db(), limit.clamp(1, 100)).await?)
}

/// The scheduled job's run: the current month's invoices.
pub async fn scheduled(app: &App) -> Result<String, AppError> {
    let today = app.clock().today();
    let period = format!("{:04}-{:02}", today.year(), today.month());
    let report = run(app, Actor::System, &period).await?;
    Ok(format!(
        "{} invoices created for {} ({} already there)",
        report.created, report.period, report.existing
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use carfin_store::repo::finance::ContractTerms;

    fn contract(start: &str, term: i64, kind: &str) -> BillableContract {
        BillableContract {
            id: 1,
            contract_number: "NL1".into(),
            entity_id: 1,
            country: "NL".into(),
            contract_type: kind.into(),
            terms: ContractTerms {
                version: 1,
                valid_from: start.into(),
                start_date: start.into(),
                end_date: String::new(),
                term_months: term,
                financed_amount_cents: 2_000_000,
                down_payment_cents: 0,
                balloon_cents: 500_000,
                nominal_rate_bp: 500,
                apr_bp: 510,
                monthly_instalment_cents: 30_000,
                km_per_year: None,
                excess_km_price_cents: None,
                change_reason: "origination".into(),
            },
        }
    }

    fn month(y: i32, m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, 1).unwrap()
    }

    // BOF-04: month 1 falls due on the start date; nothing before the
    // start or after the last month; the last financing instalment
    // carries the balloon.
    #[test]
    fn the_instalment_of_a_month() {
        let c = contract("2026-01-15", 3, "operational_lease");
        assert_eq!(instalment_in(&c, month(2025, 12)), None);
        let (m, due, amount) = instalment_in(&c, month(2026, 1)).unwrap();
        assert_eq!(
            (m, due.to_string(), amount),
            (1, "2026-01-15".into(), 30_000)
        );
        assert_eq!(instalment_in(&c, month(2026, 3)).unwrap().0, 3);
        assert_eq!(instalment_in(&c, month(2026, 4)), None);
        let f = contract("2026-01-31", 2, "financial_lease");
        let (m, due, amount) = instalment_in(&f, month(2026, 2)).unwrap();
        assert_eq!((m, due.to_string()), (2, "2026-02-28".into()));
        assert!(amount > 500_000, "the balloon is in the last one: {amount}");
        assert!(period_start("2026-1").is_err());
        assert_eq!(period_start(" 2026-02 ").unwrap(), month(2026, 2));
    }
}
