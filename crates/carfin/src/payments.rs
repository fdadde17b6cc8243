//! `carfin payments …`: the provider's settlement reports and reconciliation (PAY-06).
//!
//! Exit codes of `import-settlement`: 0 when the file was imported (even
//! if some lines were refused: each is printed to stderr as `line N:
//! reason`) or had been imported before; 1 when the file is refused as a
//! whole (unreadable, empty, a needed column missing) or not one of its
//! lines could be imported. `reconcile` exits 0 whether or not it finds
//! differences; it fails only on bad arguments or a storage error.

use anyhow::{bail, Context, Result};
use carfin_app::payments::reconcile::{self, Difference, ImportReport, Reconciliation};
use carfin_app::App;
use chrono::{DateTime, Duration, NaiveDate};
use clap::Subcommand;
use std::io::Write;
use std::path::PathBuf;

/// Days `reconcile` looks back by default.
const DEFAULT_DAYS: i64 = 30;

/// The payments subcommands.
#[derive(Subcommand, Debug)]
pub enum PaymentsCommand {
    /// Import the provider's settlement details report (CSV). Refused lines
    /// are printed to stderr; the good ones are imported.
    ImportSettlement {
        /// The report file.
        file: PathBuf,
    },
    /// List the differences between payments booked and the imported
    /// settlement reports.
    Reconcile {
        /// First day (YYYY-MM-DD); default: 30 days before --to.
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last day (YYYY-MM-DD), inclusive; default: today.
        #[arg(long)]
        to: Option<NaiveDate>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReconcileFormat::Text)]
        format: ReconcileFormat,
    },
}

/// How `reconcile` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ReconcileFormat {
    /// A summary per category for a person.
    Text,
    /// RFC 4180 CSV: a header, one row per difference.
    Csv,
}

/// Runs a payments subcommand.
pub async fn run(app: &App, command: PaymentsCommand) -> Result<()> {
    match command {
        PaymentsCommand::ImportSettlement { file } => import(app, &file).await,
        PaymentsCommand::Reconcile { from, to, format } => {
            let to = to.unwrap_or_else(|| app.clock().today());
            let from = from.unwrap_or(to - Duration::days(DEFAULT_DAYS));
            if from > to {
                bail!("--from {from} is after --to {to}");
            }
            let result = reconcile::reconcile(app, from, to).await?;
            let text = match format {
                ReconcileFormat::Text => text_report(&result),
                ReconcileFormat::Csv => result.to_csv(),
            };
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                // The reader went away (`| head`): nothing more to say.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                result => Ok(result?),
            }
        }
    }
}

async fn import(app: &App, file: &std::path::Path) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let report = reconcile::import_settlement_report(app, &name, &bytes)
        .await
        .with_context(|| format!("{} not imported", file.display()))?;
    print_import(&name, &report);
    if !report.already_imported
        && report.imported + report.duplicates + report.skipped == 0
        && !report.rejected.is_empty()
    {
        bail!("no line of {name} could be imported");
    }
    Ok(())
}

fn print_import(name: &str, report: &ImportReport) {
    if report.already_imported {
        let when = report
            .imported_before_at
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .map(|t| t.format(" on %Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        println!("{name} was already imported{when}: nothing changed");
        return;
    }
    println!(
        "{name}: {} new lines imported, {} already known, {} skipped (not about a payment), {} rejected",
        report.imported,
        report.duplicates,
        report.skipped,
        report.rejected.len()
    );
    for rejected in &report.rejected {
        eprintln!("{rejected}");
    }
}

/// The human-readable report: a heading and a count per category, one
/// line per difference.
fn text_report(r: &Reconciliation) -> String {
    let mut out = format!("reconciliation {} to {}\n", r.from, r.to);
    if r.is_empty() {
        out.push_str("no differences\n");
        return out;
    }
    for (title, list) in [
        ("booked without settlement", &r.booked_without_settlement),
        (
            "settlements without booking",
            &r.settlements_without_booking,
        ),
        ("amount differences", &r.amount_differences),
    ] {
        out.push_str(&format!("{title}: {}\n", list.len()));
        for d in list {
            out.push_str("  ");
            out.push_str(&describe(d));
            out.push('\n');
        }
    }
    out
}

fn describe(d: &Difference) -> String {
    let mut parts = vec![d.kind.as_str().to_string()];
    if let Some(id) = d.payment_id {
        let status = d.payment_status.as_deref().unwrap_or("?");
        parts.push(format!("payment {id} ({status})"));
    }
    if let Some(psp) = &d.psp_reference {
        parts.push(format!("psp {psp}"));
    }
    if let Some(reference) = &d.merchant_reference {
        parts.push(format!("merchant reference {reference}"));
    }
    if let Some(cents) = d.expected_cents {
        parts.push(format!(
            "expected {} {}",
            d.currency,
            reconcile::format_minor_units(cents, &d.currency)
        ));
    }
    if let Some(cents) = d.reported_cents {
        let currency = d.reported_currency.as_deref().unwrap_or(&d.currency);
        parts.push(format!(
            "reported {currency} {}",
            reconcile::format_minor_units(cents, currency)
        ));
    }
    if let Some(diff) = d.difference_cents() {
        parts.push(format!(
            "difference {}",
            reconcile::format_minor_units(diff, &d.currency)
        ));
    }
    if let Some(day) = d.booked_on {
        let what = match d.kind {
            reconcile::Kind::Settlement => "booked",
            reconcile::Kind::Refund => "refunded",
            reconcile::Kind::Chargeback => "charged back",
        };
        parts.push(format!("{what} {day}"));
    }
    if let Some(day) = d.reported_on {
        parts.push(format!("reported on {day}"));
    }
    if let Some(types) = &d.record_type {
        parts.push(format!("type {types}"));
    }
    if let Some(batch) = &d.batch_number {
        parts.push(format!("batch {batch}"));
    }
    parts.join(", ")
}
