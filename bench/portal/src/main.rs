//! The portal under load (the targets): seed N customers on SQLite,
//! sign in a sample of them, and drive `GET /my` (the dashboard) and
//! `GET /my/invoices` (the invoice list) of a `carfin serve` child process
//! with wrk at 64 connections; in the same run a bare axum handler in this
//! process serves a page of the same size as the ceiling. Prints req/s, p50
//! and p99 latency (median of the repeats), the ratio to the ceiling and
//! the server's peak RSS per scale, the p99 scaling ratio between the
//! smallest and the largest scale, and each target with PASS or MISS.
//!
//! `bench/portal/run.sh [SCALE …]` builds and runs it; see
//! bench/portal/README.md.

mod load;
mod prepare;
mod server;

use anyhow::{bail, Context, Result};
use axum::body::Bytes;
use clap::Parser;
use load::{median, Load, Run};
use std::path::{Path, PathBuf};

/// Measures the customer portal against a bare axum handler.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// Scales: numbers of customers to seed (one data directory each).
    #[arg(default_values_t = [10_000u64, 1_000_000])]
    scales: Vec<u64>,
    /// The release `carfin` binary.
    #[arg(long, default_value = "target/release/carfin")]
    carfin: PathBuf,
    /// Where the seeded data directories (DIR/N/) and run files live.
    #[arg(long, default_value = "target/bench-portal")]
    data_root: PathBuf,
    /// The wrk binary.
    #[arg(long, default_value = "wrk")]
    wrk: String,
    /// Signed-in customers whose cookies the load rotates over.
    #[arg(long, default_value_t = 256)]
    sessions: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Seconds of warm-up per target (not measured).
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Seconds of each measured run.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Measured runs per target (the median is reported).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Seed of the customer sample.
    #[arg(long, default_value_t = 20_261_121)]
    sample_seed: u64,
}

/// Session idle limit of the bench's server (the default is 15 minutes; a
/// scale's run takes about 5).
const IDLE_MINUTES: i64 = 60;
/// The targets.
const TARGET_RATIO: f64 = 0.35;
const TARGET_P99_MS: f64 = 20.0;
const TARGET_SCALING: f64 = 1.5;
const TARGET_RSS_BYTES: f64 = 200e6;

const DASHBOARD: &str = "/my";
const INVOICES: &str = "/my/invoices";

/// Median figures of one target at one scale.
#[derive(Debug, Clone)]
struct Figures {
    runs: Vec<Run>,
    /// CPU time the serving process used per request, per run, in µs.
    cpu_us: Vec<f64>,
}

impl Figures {
    fn rps(&self) -> f64 {
        median(self.runs.iter().map(Run::per_sec).collect())
    }
    fn p50(&self) -> f64 {
        median(self.runs.iter().map(|r| r.p50_ms).collect())
    }
    fn p99(&self) -> f64 {
        median(self.runs.iter().map(|r| r.p99_ms).collect())
    }
    fn cpu(&self) -> f64 {
        median(self.cpu_us.clone())
    }
}

/// Everything measured at one scale.
#[derive(Debug, Clone)]
struct Scale {
    customers: u64,
    ceiling: Figures,
    ceiling_bytes: usize,
    dashboard: Figures,
    /// `None`: the route is not there yet (404).
    invoices: Option<Figures>,
    peak_rss: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.scales.is_empty() || args.repeats == 0 || args.sessions == 0 {
        bail!("need at least one scale, one repeat and one session");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    std::fs::create_dir_all(&args.data_root)
        .with_context(|| format!("cannot create {}", args.data_root.display()))?;
    if !args.carfin.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p carfin`",
            args.carfin.display()
        );
    }
    println!("machine: {}", machine());
    println!(
        "load: wrk, {} threads, {} connections, on the same machine: wrk shares the {} cores \
         with the server under test",
        args.threads,
        args.connections,
        cores()
    );
    println!(
        "method: {} signed-in customers' cookies rotated per request; per target {} s warm-up, \
         then {} runs of {} s, targets interleaved; medians reported",
        args.sessions, args.warmup, args.repeats, args.duration
    );
    let mut results = Vec::new();
    for &customers in &args.scales {
        println!();
        println!("=== {} customers ===", thousands(customers as f64));
        let scale = measure_scale(&args, customers).await?;
        print_scale(&scale, &args);
        results.push(scale);
    }
    print_targets(&results);
    Ok(())
}

async fn measure_scale(args: &Args, customers: u64) -> Result<Scale> {
    let dir = args.data_root.join(customers.to_string());
    prepare::ensure_seeded(&args.carfin, &dir, customers, IDLE_MINUTES).await?;
    let app = prepare::open(&dir, IDLE_MINUTES).await?;
    prepare::run_due_jobs(&app).await?;
    let signed = prepare::signed_in_sample(&app, args.sessions, args.sample_seed).await?;
    app.close().await;

    let csrf = prepare::csrf_token(args.sample_seed);
    let cookies: Vec<String> = signed
        .iter()
        .map(|s| format!("carfin-session={}; carfin-csrf={csrf}", s.token))
        .collect();

    let port = server::free_port()?;
    let config = args.data_root.join(format!("serve-{customers}.toml"));
    server::write_config(&config, port, IDLE_MINUTES)?;
    let log = args.data_root.join(format!("serve-{customers}.log"));
    let mut carfin = server::Carfin::start(&args.carfin, &dir, &config, &log, port)?;
    let http = server::http_client()?;
    carfin.wait_ready(&http).await?;
    println!(
        "server: carfin serve (pid {}) on {}, log {}",
        carfin.pid(),
        carfin.base,
        log.display()
    );

    // Every session must show its own dashboard before any load.
    let dashboard_pages = check_dashboards(&http, &carfin.base, &signed, &cookies).await?;
    let sizes: Vec<usize> = dashboard_pages.iter().map(Bytes::len).collect();
    let min_dashboard = sizes.iter().copied().min().unwrap_or(0);
    let mut by_size: Vec<&Bytes> = dashboard_pages.iter().collect();
    by_size.sort_by_key(|b| b.len());
    let ceiling_body = by_size[by_size.len() / 2].clone();
    println!(
        "pages: GET {DASHBOARD} answers 200 for all {} sessions, {}–{} bytes (median {})",
        signed.len(),
        thousands(min_dashboard as f64),
        thousands(sizes.iter().copied().max().unwrap_or(0) as f64),
        thousands(ceiling_body.len() as f64)
    );
    let invoices_min = check_invoices(&http, &carfin.base, &cookies).await?;
    match invoices_min {
        Some(min) => println!(
            "pages: GET {INVOICES} answers 200 for all sessions, at least {} bytes",
            thousands(min as f64)
        ),
        None => println!("pages: GET {INVOICES} answers 404: not available, not measured"),
    }

    let (ceiling_base, ceiling_task) = server::start_ceiling(ceiling_body.clone()).await?;
    let page = server::fetch(&http, &format!("{ceiling_base}{DASHBOARD}"), &cookies[0]).await?;
    if page.status != 200 || page.body.len() != ceiling_body.len() {
        bail!(
            "the ceiling answered {} with {} bytes",
            page.status,
            page.body.len()
        );
    }
    println!(
        "ceiling: bare axum handler on {ceiling_base}, a static page of {} bytes",
        thousands(ceiling_body.len() as f64)
    );

    let loader = Load {
        wrk: args.wrk.clone(),
        threads: args.threads,
        connections: args.connections,
    };
    struct Target {
        label: String,
        url: String,
        script: PathBuf,
        min_page: usize,
        /// The process that serves it (for its CPU time).
        pid: u32,
        runs: Vec<Run>,
        cpu_us: Vec<f64>,
    }
    let mut targets = vec![Target {
        label: "ceiling (bare axum)".into(),
        url: format!("{ceiling_base}{DASHBOARD}"),
        script: write_script(&args.data_root, "ceiling", DASHBOARD, &cookies)?,
        min_page: ceiling_body.len(),
        pid: std::process::id(),
        runs: Vec::new(),
        cpu_us: Vec::new(),
    }];
    targets.push(Target {
        label: format!("GET {DASHBOARD}"),
        url: format!("{}{DASHBOARD}", carfin.base),
        script: write_script(&args.data_root, "dashboard", DASHBOARD, &cookies)?,
        min_page: min_dashboard,
        pid: carfin.pid(),
        runs: Vec::new(),
        cpu_us: Vec::new(),
    });
    if let Some(min) = invoices_min {
        targets.push(Target {
            label: format!("GET {INVOICES}"),
            url: format!("{}{INVOICES}", carfin.base),
            script: write_script(&args.data_root, "invoices", INVOICES, &cookies)?,
            min_page: min,
            pid: carfin.pid(),
            runs: Vec::new(),
            cpu_us: Vec::new(),
        });
    }

    for target in &targets {
        let run = wrk(&loader, &target.url, &target.script, args.warmup).await?;
        check_run(&target.label, &run, target.min_page, "warm-up")?;
        println!(
            "warm-up {:<22} {:>9} req/s",
            target.label,
            thousands(run.per_sec())
        );
    }
    for round in 1..=args.repeats {
        for target in &mut targets {
            let cpu_before = server::cpu_secs(target.pid)?;
            let run = wrk(&loader, &target.url, &target.script, args.duration).await?;
            let cpu = server::cpu_secs(target.pid)? - cpu_before;
            check_run(
                &target.label,
                &run,
                target.min_page,
                &format!("run {round}"),
            )?;
            let cpu_us = cpu * 1e6 / run.requests;
            println!(
                "run {round}/{} {:<22} {:>9} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  \
                 CPU {:>5.0} µs/req  server RSS {:.1} MB",
                args.repeats,
                target.label,
                thousands(run.per_sec()),
                run.p50_ms,
                run.p99_ms,
                cpu_us,
                carfin.rss_bytes()? as f64 / 1e6
            );
            target.runs.push(run);
            target.cpu_us.push(cpu_us);
        }
    }
    // The sessions must still be signed in after the load: a session that
    // had ended would have been measured as a redirect to /login.
    check_dashboards(&http, &carfin.base, &signed, &cookies).await?;
    let peak_rss = carfin.peak_rss_bytes()?;
    carfin.stop()?;
    ceiling_task.abort();

    let mut figures = targets.into_iter().map(|t| Figures {
        runs: t.runs,
        cpu_us: t.cpu_us,
    });
    let ceiling = figures.next().context("no ceiling figures")?;
    let dashboard = figures.next().context("no dashboard figures")?;
    let invoices = figures.next();
    Ok(Scale {
        customers,
        ceiling,
        ceiling_bytes: ceiling_body.len(),
        dashboard,
        invoices,
        peak_rss,
    })
}

/// GET /my for every session: 200, HTML, and the customer's own contracts.
async fn check_dashboards(
    http: &reqwest::Client,
    base: &str,
    signed: &[prepare::Signed],
    cookies: &[String],
) -> Result<Vec<Bytes>> {
    let mut pages = Vec::with_capacity(signed.len());
    for (s, cookie) in signed.iter().zip(cookies) {
        let page = server::fetch(http, &format!("{base}{DASHBOARD}"), cookie).await?;
        if page.status != 200 || !page.content_type.starts_with("text/html") {
            bail!(
                "GET {DASHBOARD} for customer {} answered {} ({}), not the dashboard",
                s.customer_id,
                page.status,
                page.content_type
            );
        }
        let text = String::from_utf8_lossy(&page.body);
        if let Some(missing) = s
            .contract_numbers
            .iter()
            .find(|n| !text.contains(n.as_str()))
        {
            bail!(
                "GET {DASHBOARD} for customer {} does not show their contract {missing}",
                s.customer_id
            );
        }
        pages.push(page.body);
    }
    Ok(pages)
}

/// GET /my/invoices for every session: `None` when the route answers 404
/// (not there yet), else the smallest page; anything but 200 HTML fails.
async fn check_invoices(
    http: &reqwest::Client,
    base: &str,
    cookies: &[String],
) -> Result<Option<usize>> {
    let mut min = usize::MAX;
    for (i, cookie) in cookies.iter().enumerate() {
        let page = server::fetch(http, &format!("{base}{INVOICES}"), cookie).await?;
        if page.status == 404 && i == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&page.body);
        if page.status != 200
            || !page.content_type.starts_with("text/html")
            || !text.contains("</html>")
        {
            bail!(
                "GET {INVOICES} (session {i}) answered {} ({}), not an invoice list",
                page.status,
                page.content_type
            );
        }
        min = min.min(page.body.len());
    }
    Ok(Some(min))
}

fn write_script(root: &Path, name: &str, path: &str, cookies: &[String]) -> Result<PathBuf> {
    let file = root.join(format!("wrk-{name}.lua"));
    std::fs::write(&file, load::script(path, cookies))
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(file)
}

/// Runs wrk on a blocking thread, so the ceiling's runtime keeps both workers.
async fn wrk(loader: &Load, url: &str, script: &Path, secs: u64) -> Result<Run> {
    let (loader, url, script) = (loader.clone(), url.to_string(), script.to_path_buf());
    tokio::task::spawn_blocking(move || loader.run(&url, &script, secs)).await?
}

/// Fails loudly on any error response or socket error, and on responses
/// smaller than the smallest real page (a redirect to /login, say).
fn check_run(label: &str, run: &Run, min_page: usize, which: &str) -> Result<()> {
    if let Some(problems) = run.problems() {
        bail!("{label} {which}: {problems}");
    }
    if run.requests == 0.0 {
        bail!("{label} {which}: no requests completed");
    }
    if run.bytes_per_request() < min_page as f64 {
        bail!(
            "{label} {which}: {:.0} bytes per response, less than the smallest page ({min_page}): \
             some responses were not the page",
            run.bytes_per_request()
        );
    }
    Ok(())
}

fn print_scale(scale: &Scale, args: &Args) {
    let ceiling = scale.ceiling.rps();
    println!();
    println!(
        "{} customers: median of {} × {} s, {} connections, {} sessions",
        thousands(scale.customers as f64),
        args.repeats,
        args.duration,
        args.connections,
        args.sessions
    );
    println!(
        "{:<22} {:>10} {:>9} {:>9} {:>11} {:>12}  runs (req/s)",
        "target", "req/s", "p50 ms", "p99 ms", "vs ceiling", "CPU µs/req"
    );
    let row = |label: &str, f: &Figures| {
        let runs: Vec<String> = f.runs.iter().map(|r| thousands(r.per_sec())).collect();
        println!(
            "{:<22} {:>10} {:>9.2} {:>9.2} {:>10.1}% {:>12.0}  {}",
            label,
            thousands(f.rps()),
            f.p50(),
            f.p99(),
            100.0 * f.rps() / ceiling,
            f.cpu(),
            runs.join(" / ")
        );
    };
    row(
        &format!("ceiling ({} B)", thousands(scale.ceiling_bytes as f64)),
        &scale.ceiling,
    );
    row(&format!("GET {DASHBOARD}"), &scale.dashboard);
    match &scale.invoices {
        Some(f) => row(&format!("GET {INVOICES}"), f),
        None => println!("{:<22} not available (404)", format!("GET {INVOICES}")),
    }
    println!(
        "server peak RSS (VmHWM of carfin serve): {:.1} MB ({:.1} MiB)",
        scale.peak_rss as f64 / 1e6,
        scale.peak_rss as f64 / (1024.0 * 1024.0)
    );
    println!(
        "CPU µs/req: CPU time (user + system) of the serving process per request \
         (carfin serve; for the ceiling, this bench process), not counting wrk"
    );
    println!("load average now: {}", load_average());
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

fn print_targets(results: &[Scale]) {
    println!();
    println!("=== targets ===");
    println!(
        "dashboard throughput ≥ {:.0} % of the bare handler's:",
        TARGET_RATIO * 100.0
    );
    for s in results {
        let ratio = s.dashboard.rps() / s.ceiling.rps();
        println!(
            "  {:>9} customers: {:5.1} %  {} ({:+.1} points)",
            thousands(s.customers as f64),
            ratio * 100.0,
            verdict(ratio >= TARGET_RATIO),
            (ratio - TARGET_RATIO) * 100.0
        );
    }
    println!("p99 ≤ {TARGET_P99_MS:.0} ms:");
    for s in results {
        for (path, figures) in [
            (DASHBOARD, Some(&s.dashboard)),
            (INVOICES, s.invoices.as_ref()),
        ] {
            match figures {
                Some(f) => println!(
                    "  {:>9} customers GET {:<12} {:6.2} ms  {} ({:+.2} ms)",
                    thousands(s.customers as f64),
                    path,
                    f.p99(),
                    verdict(f.p99() <= TARGET_P99_MS),
                    TARGET_P99_MS - f.p99()
                ),
                None => println!(
                    "  {:>9} customers GET {:<12} not available",
                    thousands(s.customers as f64),
                    path
                ),
            }
        }
    }
    let small = results.iter().min_by_key(|s| s.customers);
    let large = results.iter().max_by_key(|s| s.customers);
    println!("p99 at the large scale ≤ {TARGET_SCALING} × p99 at the small scale:");
    match (small, large) {
        (Some(small), Some(large)) if large.customers > small.customers => {
            for (path, a, b) in [
                (DASHBOARD, Some(&small.dashboard), Some(&large.dashboard)),
                (INVOICES, small.invoices.as_ref(), large.invoices.as_ref()),
            ] {
                match (a, b) {
                    (Some(a), Some(b)) => {
                        let ratio = b.p99() / a.p99();
                        println!(
                            "  GET {:<12} p99 {} / {} customers: {:.2} ms / {:.2} ms = {:.2} ×  {} ({:+.2} ×)",
                            path,
                            thousands(large.customers as f64),
                            thousands(small.customers as f64),
                            b.p99(),
                            a.p99(),
                            ratio,
                            verdict(ratio <= TARGET_SCALING),
                            TARGET_SCALING - ratio
                        );
                    }
                    _ => println!("  GET {path:<12} not available"),
                }
            }
        }
        _ => println!("  not measured: run two scales (e.g. 10000 1000000)"),
    }
    println!("server peak RSS ≤ {:.0} MB:", TARGET_RSS_BYTES / 1e6);
    for s in results {
        println!(
            "  {:>9} customers: {:6.1} MB  {} ({:+.1} MB)",
            thousands(s.customers as f64),
            s.peak_rss as f64 / 1e6,
            verdict(s.peak_rss as f64 <= TARGET_RSS_BYTES),
            (TARGET_RSS_BYTES - s.peak_rss as f64) / 1e6
        );
    }
}

/// `12,345` (rounded to a whole number).
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kib| format!(", {:.1} GiB RAM", kib / (1024.0 * 1024.0)))
        .unwrap_or_default();
    format!(
        "{} CPUs (nproc), {model}{memory}, load average {} at start",
        cores(),
        load_average()
    )
}

/// The 1, 5 and 15 minute load averages (other work on the machine shows here).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}
