//! `carfin seed`: generates customers on a blocking thread (generation and
//! sealing) while this task writes batches, so both cores work.

use anyhow::Result;
use carfin_app::seed::{write_batch, Generator};
use carfin_app::App;
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;

pub async fn run(app: &App, customers: u64, batch_size: usize, seed: u64) -> Result<()> {
    carfin_app::demo::install_reference_data(app).await?;
    let refs = carfin_app::demo::entity_refs(app).await?;
    // Numbers continue after what is there (demo data included).
    let customers_there = carfin_store::repo::customers::count(app.db()).await? as u64;
    let contracts_there = carfin_store::repo::finance::count_contracts(app.db()).await? as u64;
    let mut generator = Generator::new(
        app,
        refs,
        seed,
        customers_there + 1_000_000,
        contracts_there + 1_000_000,
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let producer = tokio::task::spawn_blocking(move || -> Result<()> {
        let mut left = customers;
        while left > 0 {
            let n = left.min(batch_size as u64) as usize;
            let batch = generator.batch(n)?;
            if tx.blocking_send(batch).is_err() {
                break;
            }
            left -= n as u64;
        }
        Ok(())
    });
    let bar = ProgressBar::new(customers);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} customers {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let (mut rows, mut contracts, mut done) = (0usize, 0usize, 0u64);
    while let Some(mut batch) = rx.recv().await {
        rows += batch.row_count + batch.keys.len();
        contracts += batch.contract_count;
        done += batch.customer_count as u64;
        write_batch(app, &mut batch).await?;
        bar.set_position(done);
    }
    producer.await??;
    bar.finish();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeded {done} customers, {contracts} contracts, {rows} rows in {secs:.1} s ({:.0} rows/s, {:.0} customers/s)",
        rows as f64 / secs,
        done as f64 / secs
    );
    Ok(())
}
