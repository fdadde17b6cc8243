//! `carfin`: one binary for the web server, its workers and its operations.

use anyhow::{bail, Context, Result};
use carfin_app::config::Config;
use carfin_app::{App, Clock, SystemClock};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod audit;
mod import;
mod keys;
mod payments;
mod seed;

/// mimalloc instead of the system allocator: the bulk paths (seed, imports)
/// allocate and free millions of small values (see docs/architecture.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// carfin: the self-service portal and back office of a car lease and car
/// financing company.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML); the environment (CARFIN_…) overrides it.
    #[arg(long, global = true, env = "CARFIN_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory: the embedded database is DIR/carfin.db, the key store DIR/keys.db.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL (sqlite://… or postgres://…) instead of the data directory.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the website, portal and back office, and run the background jobs.
    Serve {
        /// Address to listen on (overrides server.listen).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a demo database if absent, load demo data, and serve it.
    Demo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Generate fake customers with contracts, vehicles and invoices.
    Seed {
        /// How many customers to generate.
        #[arg(long)]
        customers: u64,
        /// Customers per transaction.
        #[arg(long, default_value_t = 2000)]
        batch: usize,
        /// Generator seed (the same seed gives the same data).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Key management: master-key rotation.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// The audit log (PRV-15): verify its hash chain.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Import customers, contracts, vehicles and invoices from the core
    /// system (CSV or JSON; BOF-04): idempotent, bad rows reported.
    Import {
        /// The file (`.csv` or `.json`; see docs/import-format.md).
        file: PathBuf,
    },
    /// Create each running contract's instalment invoice for a month, once
    /// per contract and period (BOF-04).
    InvoiceRun {
        /// The month, `YYYY-MM`.
        #[arg(long)]
        period: String,
    },
    /// Payments: the provider's settlement reports and reconciliation (PAY-06).
    Payments {
        #[command(subcommand)]
        command: payments::PaymentsCommand,
    },
    /// Privacy: the processing register (needs no database).
    Privacy {
        #[command(subcommand)]
        command: PrivacyCommand,
    },
}

#[derive(Subcommand, Debug)]
enum PrivacyCommand {
    /// Export the processing register: the GDPR Art. 30 record (PRV-01).
    Register {
        /// Output format.
        #[arg(long, value_enum, default_value_t = RegisterFormat::Json)]
        format: RegisterFormat,
        /// Only this legal entity (its slug, e.g. carfin-belgique).
        #[arg(long)]
        entity: Option<String>,
        /// Language of names and texts: nl, fr or en.
        #[arg(long, default_value = "en")]
        lang: String,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum RegisterFormat {
    Json,
    Csv,
}

/// Demo key files, generated in the data directory on first use.
const DEMO_MASTER_KEY: &str = "demo-master.key";
const DEMO_BLIND_INDEX_KEY: &str = "demo-blind-index.key";
/// The demo's notification HMAC key for the payment simulator, unless
/// `CARFIN_ADYEN_HMAC_KEY` gives one (PAY-05).
const DEMO_ADYEN_HMAC_KEY: &str = "demo-adyen-hmac.key";

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Command::Privacy { command } = &cli.command {
        // Reads only the register compiled into the binary: no configuration,
        // database or keys.
        return privacy(command);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
    let demo = matches!(cli.command, Command::Demo { .. } | Command::Seed { .. });
    let seeding = matches!(cli.command, Command::Seed { .. });
    let serving_demo = matches!(cli.command, Command::Demo { .. });
    let data_dir = cli.data_dir.clone().or_else(|| {
        (cli.database_url.is_none() && std::env::var_os("CARFIN_DATABASE_URL").is_none())
            .then(|| PathBuf::from("data"))
    });
    if let Some(dir) = &data_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        if demo {
            ensure_demo_keys(dir)?;
        }
    }
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        Command::Demo { listen } => Some(listen.clone()),
        _ => None,
    };
    let mut used_demo_keys = false;
    let config = Config::layered(cli.config.as_deref(), std::env::vars(), |c| {
        if let Some(dir) = &data_dir {
            c.data_dir = Some(dir.clone());
        }
        if let Some(url) = &cli.database_url {
            c.database.url = Some(carfin_app::config::Secret::new(url.clone()));
        }
        if let Some(listen) = listen {
            c.server.public_url = format!("http://{listen}");
            c.server.listen = listen;
        }
        // A bulk load keeps its indexes in memory.
        if seeding {
            c.database.sqlite_cache_mib = c.database.sqlite_cache_mib.max(512);
        }
        // The demo shows its e-mail and SMS at /dev/outbox (OPS-05).
        if serving_demo {
            c.dev.outbox = true;
        }
        // The demo pays through the built-in Adyen simulator (PAY-05),
        // unless a provider is configured.
        if serving_demo && !c.payments.enabled() {
            c.payments.provider = "simulator".into();
            if c.payments.api_key.expose().is_empty() {
                c.payments.api_key = carfin_app::config::Secret::new("demo-api-key");
            }
            if c.payments.merchant_account.is_empty() {
                c.payments.merchant_account = "CarfinDemo".into();
            }
            if c.payments.hmac_key.expose().is_empty() {
                if let Some(dir) = &c.data_dir {
                    if let Ok(key) = std::fs::read_to_string(dir.join(DEMO_ADYEN_HMAC_KEY)) {
                        c.payments.hmac_key = carfin_app::config::Secret::new(key.trim());
                    }
                }
            }
        }
        // Keys not configured: use the demo keys of the data directory, if any.
        if let Some(dir) = c.data_dir.clone() {
            let none = c.keys.master_key.is_none() && c.keys.master_key_file.is_none();
            let master = dir.join(DEMO_MASTER_KEY);
            if none && master.exists() {
                c.keys.master_key_file = Some(master);
                c.keys.blind_index_key_file = Some(dir.join(DEMO_BLIND_INDEX_KEY));
                used_demo_keys = true;
            }
        }
    })
    .map_err(|problems| anyhow::anyhow!("{problems}"))?;
    init_logging(&config);
    if used_demo_keys {
        let dir = config.data_dir.clone().unwrap_or_default();
        eprintln!(
            "demo keys: using {} and {} (generated for demonstration; configure keys.master_key in production)",
            dir.join(DEMO_MASTER_KEY).display(),
            dir.join(DEMO_BLIND_INDEX_KEY).display()
        );
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match cli.command {
        Command::Migrate => {
            let app = App::build(config, clock).await?;
            println!("migrations applied; database is current");
            app.close().await;
            Ok(())
        }
        Command::Serve { .. } => {
            let app = App::build(config, clock).await?;
            serve(app).await
        }
        Command::Demo { .. } => {
            let app = App::build(config, clock).await?;
            let report = carfin_app::demo::install(&app).await?;
            if report.loaded {
                println!(
                    "demo data loaded: {} customers, {} contracts",
                    report.customers, report.contracts
                );
            } else {
                println!("demo data already present");
            }
            for line in carfin_app::demo::login_lines(&app).await? {
                println!("{line}");
            }
            // One staff account per role (BOF-01); the TOTP secret makes the
            // codes in any authenticator app.
            for (email, secret) in carfin_app::staff::auth::demo_accounts(&app).await? {
                println!(
                    "demo staff: {email} {} {secret}",
                    carfin_app::staff::auth::DEMO_STAFF_PASSWORD
                );
            }
            println!(
                "demo outbox (every e-mail and SMS): http://{}/dev/outbox",
                app.config().server.listen
            );
            if app.config().payments.simulator() {
                println!(
                    "demo payments: Adyen simulator at http://{}/simulator/adyen, notifications signed with {}",
                    app.config().server.listen,
                    if std::env::var_os("CARFIN_ADYEN_HMAC_KEY").is_some() {
                        "CARFIN_ADYEN_HMAC_KEY".to_string()
                    } else {
                        format!("the key in {DEMO_ADYEN_HMAC_KEY} of the data directory")
                    }
                );
            }
            println!("carfin demo: http://{}", app.config().server.listen);
            serve(app).await
        }
        Command::Seed {
            customers,
            batch,
            seed,
        } => {
            let app = App::build(config, clock).await?;
            if batch == 0 {
                bail!("--batch must be at least 1");
            }
            let result = seed::run(&app, customers, batch, seed).await;
            app.close().await;
            result
        }
        Command::Keys { command } => {
            let app = App::build(config, clock).await?;
            let result = keys::run(&app, command).await;
            app.close().await;
            result
        }
        Command::Audit { command } => audit::run(App::build(config, clock).await?, command).await,
        Command::Import { file } => {
            let app = App::build(config, clock).await?;
            let result = import::import(&app, &file).await;
            app.close().await;
            result
        }
        Command::InvoiceRun { period } => {
            let app = App::build(config, clock).await?;
            let result = import::invoice_run(&app, &period).await;
            app.close().await;
            result
        }
        Command::Payments { command } => {
            let app = App::build(config, clock).await?;
            let result = payments::run(&app, command).await;
            app.close().await;
            result
        }
        Command::Privacy { command } => privacy(&command),
    }
}

/// `carfin privacy register`: the Art. 30 record as JSON or CSV on stdout.
fn privacy(command: &PrivacyCommand) -> Result<()> {
    use std::io::Write;
    let register = carfin_app::privacy::register()?;
    match command {
        PrivacyCommand::Register {
            format,
            entity,
            lang,
        } => {
            let language = lang
                .parse()
                .map_err(|_| anyhow::anyhow!("--lang must be nl, fr or en"))?;
            let record = register.art30(entity.as_deref(), language)?;
            let text = match format {
                RegisterFormat::Json => record.to_json()? + "\n",
                RegisterFormat::Csv => record.to_csv(),
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

/// Serves until SIGTERM or Ctrl-C, then shuts down gracefully: stops
/// accepting, lets requests in flight finish, stops the jobs, closes the pools.
async fn serve(app: App) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(app.config().listen_addr())
        .await
        .with_context(|| format!("cannot listen on {}", app.config().server.listen))?;
    tracing::info!(address = %listener.local_addr()?, engine = app.db().engine().name(), "listening");
    let (stop_jobs, jobs_stopped) = tokio::sync::watch::channel(false);
    // The outbox worker stops on the same signal as the jobs (OPS-05).
    let outbox = carfin_app::outbox::spawn_worker(app.clone(), jobs_stopped.clone());
    // Payment notifications left behind by a crash or an error (PAY-02).
    let notifications =
        carfin_app::payments::notifications::spawn_worker(app.clone(), jobs_stopped.clone());
    let jobs = carfin_jobs::spawn(app.clone(), jobs_stopped);
    carfin_web::serve(app.clone(), listener, shutdown_signal()).await?;
    tracing::info!("http server stopped; stopping jobs");
    let _ = stop_jobs.send(true);
    let _ = jobs.await;
    let _ = outbox.await;
    let _ = notifications.await;
    app.close().await;
    tracing::info!("shutdown complete");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&config.log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log.format == "pretty" {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    };
}

/// Generates the demo keys in the data directory if they are not there.
fn ensure_demo_keys(dir: &Path) -> Result<()> {
    for name in [DEMO_MASTER_KEY, DEMO_BLIND_INDEX_KEY, DEMO_ADYEN_HMAC_KEY] {
        let path = dir.join(name);
        if !path.exists() {
            write_private(&path, &carfin_store::crypto::generate_key_hex())?;
        }
    }
    Ok(())
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}
