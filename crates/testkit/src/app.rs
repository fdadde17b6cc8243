//! The whole application, started for one test.

use crate::client::Client;
use carfin_app::config::Secret;
use carfin_app::{App, Config, ManualClock};
use carfin_store::crypto::generate_key_hex;
use carfin_store::Engine;
use chrono::{TimeZone, Utc};
use rand::RngCore;
use sqlx::{Connection, Executor};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The environment variable holding an administrative PostgreSQL URL; when
/// set, every test gets a fresh database created through it.
pub const POSTGRES_ENV: &str = "CARFIN_TEST_POSTGRES";

/// Which data a test app starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Demo {
    /// The full demo: entities, brands, dealers and generated customers.
    #[default]
    Full,
    /// Only the entities, brands and dealers (faster).
    Reference,
    /// An empty, migrated database.
    Empty,
}

/// A running carfin for one test: fresh keys, a fresh database, a manual
/// clock, the web app on `127.0.0.1:<random port>`. Stopped and cleaned up
/// on drop (or explicitly with [`TestApp::cleanup`]).
pub struct TestApp {
    /// The application (for calling use cases directly).
    pub app: App,
    /// The clock the application reads; move it to test deadlines.
    pub clock: Arc<ManualClock>,
    /// Where the web app listens.
    pub address: SocketAddr,
    /// The database engine in use.
    pub engine: Engine,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    postgres: Option<PostgresDb>,
    // Dropped last: holds the SQLite files and key store.
    _data_dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("address", &self.address)
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

/// Options for [`TestApp`].
pub struct TestAppBuilder {
    configure: Box<dyn FnOnce(&mut Config) + Send>,
    demo: Demo,
}

impl std::fmt::Debug for TestAppBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAppBuilder")
            .field("demo", &self.demo)
            .finish_non_exhaustive()
    }
}

impl TestAppBuilder {
    /// Tweaks the configuration before the app is built.
    pub fn config(mut self, configure: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.configure = Box::new(configure);
        self
    }

    /// Chooses the starting data.
    pub fn demo(mut self, demo: Demo) -> Self {
        self.demo = demo;
        self
    }

    /// Starts the app; panics with the reason if it cannot.
    pub async fn spawn(self) -> TestApp {
        match self.try_spawn().await {
            Ok(app) => app,
            Err(message) => panic!("cannot start the test app: {message}"),
        }
    }

    /// Starts the app.
    pub async fn try_spawn(self) -> Result<TestApp, String> {
        let data_dir = tempfile::Builder::new()
            .prefix("carfin-test-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let address = listener
            .local_addr()
            .map_err(|e| format!("local address: {e}"))?;

        let postgres = match std::env::var(POSTGRES_ENV) {
            Ok(url) if !url.trim().is_empty() => Some(PostgresDb::create(url.trim()).await?),
            _ => None,
        };

        let mut config = Config {
            data_dir: Some(data_dir.path().to_path_buf()),
            ..Config::default()
        };
        config.keys.master_key = Some(Secret::new(generate_key_hex()));
        config.keys.blind_index_key = Some(Secret::new(generate_key_hex()));
        config.server.listen = address.to_string();
        config.server.public_url = format!("http://{address}");
        config.server.shutdown_grace_secs = 2;
        config.database.max_connections = 4;
        // A test database need not survive a power cut.
        config.database.sqlite_synchronous = "normal".into();
        if let Some(pg) = &postgres {
            config.database.url = Some(Secret::new(pg.url.clone()));
        }
        (self.configure)(&mut config);
        let problems = config.validate();
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(format!("configuration: {}", list.join("; ")));
        }

        let start = Utc
            .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .single()
            .ok_or("start time")?;
        let clock = Arc::new(ManualClock::new(start));
        let engine = Engine::from_url(&config.database_url()).map_err(|e| e.to_string())?;
        let app = App::build(config, clock.clone())
            .await
            .map_err(|e| format!("build: {e}"))?;
        match self.demo {
            Demo::Full => {
                carfin_app::demo::install(&app)
                    .await
                    .map_err(|e| format!("demo: {e}"))?;
            }
            Demo::Reference => {
                carfin_app::demo::install_reference_data(&app)
                    .await
                    .map_err(|e| format!("reference data: {e}"))?;
            }
            Demo::Empty => {}
        }

        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(carfin_web::serve(app.clone(), listener, async move {
            let _ = shutdown_rx.await;
        }));
        Ok(TestApp {
            app,
            clock,
            address,
            engine,
            shutdown: Some(shutdown_tx),
            server: Some(server),
            postgres,
            _data_dir: data_dir,
        })
    }
}

impl TestApp {
    /// Options: `TestApp::builder().demo(Demo::Reference).config(|c| …).spawn()`.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            configure: Box::new(|_| {}),
            demo: Demo::Full,
        }
    }

    /// The app with the demo data and the test configuration.
    pub async fn spawn() -> TestApp {
        TestApp::builder().spawn().await
    }

    /// The app with the demo data, after `configure` tweaked the configuration.
    pub async fn spawn_with(configure: impl FnOnce(&mut Config) + Send + 'static) -> TestApp {
        TestApp::builder().config(configure).spawn().await
    }

    /// `http://127.0.0.1:<port>` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// A fresh browser-like client (empty cookie jar) for this app.
    pub fn client(&self) -> Client {
        Client::new(&self.url(""))
    }

    /// Stops the server (graceful shutdown), closes the pools and drops the
    /// PostgreSQL database.
    pub async fn cleanup(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), server).await;
        }
        self.app.close().await;
        if let Some(pg) = self.postgres.take() {
            pg.drop_database().await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(pg) = self.postgres.take() {
            // Drop cannot await: a helper thread with its own runtime does it.
            let _ = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    runtime.block_on(pg.drop_database());
                }
            })
            .join();
        }
    }
}

/// A database created for one test on the configured PostgreSQL server.
struct PostgresDb {
    admin_url: String,
    name: String,
    url: String,
}

impl PostgresDb {
    async fn create(admin_url: &str) -> Result<PostgresDb, String> {
        let mut bytes = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let name = format!("carfin_test_{}", hex::encode(bytes));
        let mut conn = sqlx::postgres::PgConnection::connect(admin_url)
            .await
            .map_err(|e| format!("{POSTGRES_ENV}: cannot connect: {e}"))?;
        // The name is generated (hex), never input: safe to splice in.
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .map_err(|e| format!("CREATE DATABASE: {e}"))?;
        let _ = conn.close().await;
        let url = with_database(admin_url, &name).ok_or("not a postgres:// URL")?;
        Ok(PostgresDb {
            admin_url: admin_url.to_string(),
            name,
            url,
        })
    }

    /// Best effort: a test's failure to clean up must not fail the test.
    async fn drop_database(self) {
        if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&self.admin_url).await {
            let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            if let Err(error) = conn.execute(statement.as_str()).await {
                tracing::warn!(%error, "could not drop test database");
            }
            let _ = conn.close().await;
        }
    }
}

/// `url` with its database (path) replaced by `name`, query kept.
fn with_database(url: &str, name: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (rest, String::new()),
    };
    let authority = before_query.split('/').next()?;
    Some(format!("{scheme}://{authority}/{name}{query}"))
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x").as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/x")
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "x").as_deref(),
            Some("postgresql://u:p@h/x?sslmode=disable")
        );
        assert_eq!(
            with_database("postgres://h", "x").as_deref(),
            Some("postgres://h/x")
        );
    }
}
