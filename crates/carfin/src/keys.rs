//! `carfin keys …`: key management (PRV-03).

use anyhow::{Context, Result};
use carfin_app::App;
use carfin_store::crypto::MasterKey;
use clap::Subcommand;
use std::path::{Path, PathBuf};

/// Subject keys re-wrapped per key-store transaction.
const ROTATE_BATCH: usize = 500;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Re-wrap every subject key under a new master key, while servers run.
    ///
    /// Procedure: generate the new key (`openssl rand -hex 32`); configure
    /// every server with keys.master_key = the new key and the old one in
    /// keys.previous_master_keys, and restart them; run this; then remove
    /// the old key from keys.previous_master_keys.
    Rotate {
        /// File holding the new master key (64 hex digits or base64 of 32 bytes).
        #[arg(long)]
        new_master_key_file: PathBuf,
    },
}

/// Runs a `carfin keys` command on the built app.
pub async fn run(app: &App, command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Rotate {
            new_master_key_file,
        } => rotate(app, &new_master_key_file).await,
    }
}

fn read_master(path: &Path) -> Result<MasterKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    MasterKey::parse(&text).with_context(|| {
        format!(
            "{} does not hold a 256-bit key (64 hex digits or base64)",
            path.display()
        )
    })
}

async fn rotate(app: &App, new_file: &Path) -> Result<()> {
    let new = read_master(new_file)?;
    let keys = app.keys();
    let pending = keys.count_not_wrapped_by(&new).await?;
    eprintln!(
        "rotating {pending} subject keys to master key {} in batches of {ROTATE_BATCH}",
        new.id()
    );
    let current = keys.master_ids().first().cloned().unwrap_or_default();
    if current != new.id() {
        eprintln!(
            "warning: the configured keys.master_key ({current}) is not the new key: servers \
             that do not know the new key cannot read re-wrapped subject keys until they are \
             switched to it"
        );
    }
    let mut total = 0usize;
    loop {
        let now = app.clock().now().timestamp();
        let done = keys.rotate_batch(&new, ROTATE_BATCH, now).await.context(
            "rotation stopped (run it again to resume; keys already re-wrapped are skipped)",
        )?;
        if done == 0 {
            break;
        }
        total += done;
    }
    println!(
        "re-wrapped {total} subject keys under master key {}",
        new.id()
    );
    if current != new.id() {
        println!(
            "now set keys.master_key to the new key on every server and keep the old key \
             (id {current}) in keys.previous_master_keys until every server runs with the new \
             one and this rotation has finished; then run `carfin keys rotate` once more to \
             re-wrap keys created meanwhile, and remove the old key"
        );
    } else {
        println!(
            "the rotation has finished: remove the old key from keys.previous_master_keys \
             on every server"
        );
    }
    Ok(())
}
