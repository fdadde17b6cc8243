//! `carfin audit …`: operations on the hash-chained audit log (PRV-15).

use anyhow::Result;
use carfin_app::audit::VerifyReport;
use carfin_app::App;
use clap::Subcommand;

/// The audit subcommands.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the whole hash chain; exit non-zero naming the first broken record.
    Verify,
}

/// Runs an audit subcommand; a broken chain ends the process with status 2.
pub async fn run(app: App, command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Verify => {
            let report = carfin_app::audit::verify(&app).await;
            app.close().await;
            match report? {
                VerifyReport::Intact { records } => {
                    println!("audit log intact: {records} records");
                    Ok(())
                }
                VerifyReport::Broken { seq, reason } => {
                    println!("audit log broken at record {seq}: {reason}");
                    std::process::exit(2);
                }
            }
        }
    }
}
