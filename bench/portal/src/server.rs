//! The two servers under load: `carfin serve` as a child process, and the
//! ceiling, a bare axum handler in this process that serves a fixed page.

use anyhow::{bail, Context, Result};
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::Router;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// How long `carfin serve` may take to answer `/healthz`.
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// A port that was free a moment ago on the loopback interface.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The configuration file `carfin serve` runs with: plain-HTTP cookies on
/// loopback and a session idle limit that outlasts the run.
pub fn write_config(path: &Path, port: u16, idle_minutes: i64) -> Result<()> {
    let text = format!(
        "# Written by carfin-bench-portal for one run.\n\
         [server]\n\
         listen = \"127.0.0.1:{port}\"\n\
         public_url = \"http://127.0.0.1:{port}\"\n\
         secure_cookies = false\n\
         \n\
         [auth]\n\
         session_idle_minutes = {idle_minutes}\n"
    );
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// `carfin serve`, running.
pub struct Carfin {
    child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Carfin {
    /// Starts `carfin serve` on `dir` with `config`; its log goes to `log`.
    pub fn start(
        carfin: &Path,
        dir: &Path,
        config: &Path,
        log: &Path,
        port: u16,
    ) -> Result<Carfin> {
        let log_file = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let child = crate::prepare::carfin_command(carfin)
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(dir)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {}", carfin.display()))?;
        Ok(Carfin {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `/healthz` answers 200.
    pub async fn wait_ready(&mut self, http: &reqwest::Client) -> Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "carfin serve exited ({status}) before it was ready; see {}",
                    self.log.display()
                );
            }
            if let Ok(response) = http.get(format!("{}/healthz", self.base)).send().await {
                if response.status() == reqwest::StatusCode::OK {
                    return Ok(());
                }
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!(
                    "carfin serve did not answer /healthz within {} s; see {}",
                    READY_TIMEOUT.as_secs(),
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Peak resident set size so far (`VmHWM`), in bytes.
    pub fn peak_rss_bytes(&self) -> Result<u64> {
        status_kib(self.pid(), "VmHWM:").map(|kib| kib * 1024)
    }

    /// Current resident set size (`VmRSS`), in bytes.
    pub fn rss_bytes(&self) -> Result<u64> {
        status_kib(self.pid(), "VmRSS:").map(|kib| kib * 1024)
    }

    /// Stops the server the way an operator would (SIGTERM), waiting for
    /// its graceful shutdown; kills it if it does not go.
    pub fn stop(mut self) -> Result<()> {
        let pid = self.pid().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(40) {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill()?;
        self.child.wait()?;
        bail!("carfin serve did not stop within 40 s of SIGTERM; killed");
    }
}

impl Drop for Carfin {
    fn drop(&mut self) {
        // Never leave a server behind when the bench fails half-way.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// CPU time a process has used so far (user plus system), in seconds.
/// Assumes the kernel's usual 100 clock ticks per second.
pub fn cpu_secs(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // After the command name in parentheses: state, ppid, … utime is the
    // 14th field of the line, stime the 15th.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("unexpected /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .with_context(|| format!("unexpected /proc/{pid}/stat"))
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// The ceiling: a bare axum router on its own port, no middleware, that
/// answers every GET with `body` as HTML. Returns its base URL and task.
pub async fn start_ceiling(body: Bytes) -> Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let router = Router::new().fallback(move || {
        let body = body.clone();
        async move { ([(CONTENT_TYPE, "text/html; charset=utf-8")], body) }
    });
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            eprintln!("ceiling server stopped: {error}");
        }
    });
    Ok((format!("http://{address}"), task))
}

/// One page fetched with a session cookie.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

/// A client that never follows redirects (a redirect to `/login` must show).
pub fn http_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// GET `url` with the `Cookie` header `cookie`.
pub async fn fetch(http: &reqwest::Client, url: &str, cookie: &str) -> Result<Page> {
    let response = http
        .get(url)
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response.bytes().await?;
    Ok(Page {
        status,
        content_type,
        body,
    })
}
