//! `carfin import FILE` and `carfin invoice-run --period YYYY-MM` (BOF-04).
//!
//! `import` prints a summary to stdout (rows imported, unchanged and
//! rejected, per kind, with the time taken) and every rejected row to
//! stderr as `row N (line L), KIND KEY: reason (code)`; a progress bar on
//! stderr when it is a terminal. Exit codes: 0 when the file was read
//! (even if some rows were rejected); 1 when the file is refused as a
//! whole (unreadable, empty, an unknown column, not JSON) or not one of
//! its rows could be imported or was there already.
//!
//! `invoice-run` prints how many invoices it created and how many were
//! there already; it fails only on a bad period or a storage error.

use anyhow::{bail, Context, Result};
use carfin_app::staff::import::{self, Actor, ImportError, Progress};
use carfin_app::staff::invoice_run;
use carfin_app::App;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// A progress bar on stderr (drawn only when stderr is a terminal).
struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, rows: u64) {
        self.0.set_length(rows);
    }

    fn done(&self, rows: u64) {
        self.0.set_position(rows);
    }
}

/// `carfin import FILE`.
pub async fn import(app: &App, file: &Path) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let result = import::import_file(app, Actor::System, &name, &bytes, &Bar(bar.clone())).await;
    bar.finish_and_clear();
    let report = match result {
        Ok(report) => report,
        Err(ImportError::File(problem)) => bail!("{name} not imported: {problem}"),
        Err(ImportError::App(error)) => {
            return Err(anyhow::Error::new(error).context(format!("{name} not imported")))
        }
    };
    let secs = started.elapsed().as_secs_f64();
    {
        let mut err = std::io::stderr().lock();
        for rejection in &report.rejected {
            let _ = writeln!(err, "{rejection}");
        }
    }
    println!(
        "{name}: {} rows ({}): {} imported, {} unchanged, {} rejected in {secs:.1} s ({:.0} rows/s)",
        report.rows,
        report.format.code(),
        report.imported,
        report.unchanged,
        report.rejected.len(),
        report.rows as f64 / secs.max(0.001)
    );
    for (kind, counts) in &report.kinds {
        println!(
            "  {}s: {} imported, {} unchanged, {} rejected",
            kind.code(),
            counts.imported,
            counts.unchanged,
            counts.rejected
        );
    }
    if report.rows > 0 && report.imported + report.unchanged == 0 {
        bail!("no row of {name} could be imported");
    }
    Ok(())
}

/// `carfin invoice-run --period YYYY-MM`.
pub async fn invoice_run(app: &App, period: &str) -> Result<()> {
    let started = Instant::now();
    let report = match invoice_run::run(app, Actor::System, period).await {
        Ok(report) => report,
        Err(carfin_app::AppError::Invalid(_)) => {
            bail!("--period {period:?} is not a month like 2026-03")
        }
        Err(error) => return Err(error.into()),
    };
    println!(
        "invoice run {}: {} invoices created, {} already there ({} contracts due) in {:.1} s",
        report.period,
        report.created,
        report.existing,
        report.due,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
