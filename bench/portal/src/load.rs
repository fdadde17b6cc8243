//! Load from wrk: a Lua script that rotates the sampled customers' cookies
//! over the requests and prints wrk's own summary in one parsable line.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    pub requests: f64,
    pub secs: f64,
    pub bytes: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub connect_errors: f64,
    pub read_errors: f64,
    pub write_errors: f64,
    /// Responses with a status of 400 or above.
    pub status_errors: f64,
    pub timeouts: f64,
}

impl Run {
    pub fn per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.requests / self.secs
        } else {
            0.0
        }
    }

    pub fn bytes_per_request(&self) -> f64 {
        if self.requests > 0.0 {
            self.bytes / self.requests
        } else {
            0.0
        }
    }

    /// Every way a request can have gone wrong, or `None`.
    pub fn problems(&self) -> Option<String> {
        let list: Vec<String> = [
            ("non-2xx or 3xx responses", self.status_errors),
            ("connect errors", self.connect_errors),
            ("read errors", self.read_errors),
            ("write errors", self.write_errors),
            ("timeouts", self.timeouts),
        ]
        .iter()
        .filter(|(_, n)| *n > 0.0)
        .map(|(what, n)| format!("{n:.0} {what}"))
        .collect();
        (!list.is_empty()).then(|| list.join(", "))
    }
}

/// Lua string literal.
fn lua_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            c => out.push_str(&format!("\\{}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// The wrk script for GET `path` with one `Cookie` header per customer,
/// rotated request by request; each wrk thread starts at another offset.
/// Requests are formatted once per thread, so the script costs wrk no more
/// than a fixed request would.
pub fn script(path: &str, cookies: &[String]) -> String {
    let list: Vec<String> = cookies.iter().map(|c| lua_string(c)).collect();
    format!(
        r#"-- Written by carfin-bench-portal.
local path = {path}
local cookies = {{
{cookies}
}}
local thread_count = 0
function setup(thread)
  thread:set("offset", thread_count * 37)
  thread_count = thread_count + 1
end
local requests = {{}}
local i = 0
function init(args)
  for k, cookie in ipairs(cookies) do
    requests[k] = wrk.format("GET", path, {{ ["Cookie"] = cookie, ["Accept"] = "text/html" }})
  end
  i = offset or 0
end
function request()
  i = i + 1
  return requests[(i % #requests) + 1]
end
function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%.0f duration_us=%.0f bytes=%.0f p50_us=%.1f p99_us=%.1f connect=%.0f read=%.0f write=%.0f status=%.0f timeout=%.0f\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99),
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
"#,
        path = lua_string(path),
        cookies = list.join(",\n"),
    )
}

/// Load settings.
#[derive(Debug, Clone)]
pub struct Load {
    pub wrk: String,
    pub threads: u32,
    pub connections: u32,
}

impl Load {
    /// Runs wrk for `secs` seconds against `url` with `script` (blocking).
    pub fn run(&self, url: &str, script: &Path, secs: u64) -> Result<Run> {
        let output = Command::new(&self.wrk)
            .arg("-t")
            .arg(self.threads.to_string())
            .arg("-c")
            .arg(self.connections.to_string())
            .arg("-d")
            .arg(format!("{secs}s"))
            .args(["--timeout", "10s", "--latency", "-s"])
            .arg(script)
            .arg(url)
            .output()
            .with_context(|| format!("cannot run {}", self.wrk))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "wrk failed ({}): {}{}",
                output.status,
                stdout,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("BENCH "))
            .with_context(|| format!("wrk printed no summary line:\n{stdout}"))?;
        let mut run = Run::default();
        for pair in line.split_whitespace() {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            let value: f64 = value
                .parse()
                .with_context(|| format!("wrk summary: {pair}"))?;
            match key {
                "requests" => run.requests = value,
                "duration_us" => run.secs = value / 1e6,
                "bytes" => run.bytes = value,
                "p50_us" => run.p50_ms = value / 1e3,
                "p99_us" => run.p99_ms = value / 1e3,
                "connect" => run.connect_errors = value,
                "read" => run.read_errors = value,
                "write" => run.write_errors = value,
                "status" => run.status_errors = value,
                "timeout" => run.timeouts = value,
                _ => {}
            }
        }
        Ok(run)
    }
}

/// The median of some figures.
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
