//! A small hand-written Prometheus registry (OPS-04): request counters by
//! method, route pattern and status, a latency histogram by route pattern,
//! build information and the process start time. Labels hold route
//! patterns (`/brands/{slug}`), never raw paths, so there is no personal
//! data in them and their number stays bounded.

use axum::http::Method;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Upper bounds of the latency histogram's buckets, in seconds.
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

type RequestKey = (&'static str, String, u16);

/// The registry. Look-ups take a short lock; counting is atomic.
pub struct Metrics {
    version: String,
    start_time: f64,
    requests: Mutex<BTreeMap<RequestKey, Arc<AtomicU64>>>,
    durations: Mutex<BTreeMap<String, Arc<Histogram>>>,
}

#[derive(Default)]
struct Histogram {
    /// Non-cumulative counts per bucket; the last one is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// When this process started (first use of the registry), in Unix seconds.
fn process_start_time() -> f64 {
    static START: OnceLock<f64> = OnceLock::new();
    *START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default()
    })
}

/// A bounded method label.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// An empty registry for this build's version.
    pub fn new(version: &str) -> Metrics {
        Metrics {
            version: version.to_string(),
            start_time: process_start_time(),
            requests: Mutex::new(BTreeMap::new()),
            durations: Mutex::new(BTreeMap::new()),
        }
    }

    /// Counts one answered request.
    pub fn record(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        let key = (method_label(method), route.to_string(), status);
        let counter = lock(&self.requests).entry(key).or_default().clone();
        counter.fetch_add(1, Ordering::Relaxed);

        let histogram = lock(&self.durations)
            .entry(route.to_string())
            .or_default()
            .clone();
        let seconds = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        histogram.buckets[slot].fetch_add(1, Ordering::Relaxed);
        histogram.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        histogram.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The number of requests counted for these labels.
    pub fn requests(&self, method: &Method, route: &str, status: u16) -> u64 {
        lock(&self.requests)
            .get(&(method_label(method), route.to_string(), status))
            .map(|c| c.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// The registry in Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP carfin_build_info Build information.");
        let _ = writeln!(out, "# TYPE carfin_build_info gauge");
        let _ = writeln!(
            out,
            "carfin_build_info{{version=\"{}\"}} 1",
            escape(&self.version)
        );
        let _ = writeln!(out, "# HELP process_start_time_seconds Start time of the process since the Unix epoch in seconds.");
        let _ = writeln!(out, "# TYPE process_start_time_seconds gauge");
        let _ = writeln!(out, "process_start_time_seconds {}", self.start_time);

        let _ = writeln!(out, "# HELP carfin_http_requests_total HTTP requests answered, by method, route pattern and status.");
        let _ = writeln!(out, "# TYPE carfin_http_requests_total counter");
        for ((method, route, status), counter) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "carfin_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                counter.load(Ordering::Relaxed)
            );
        }

        let _ = writeln!(out, "# HELP carfin_http_request_duration_seconds Time to answer HTTP requests, by route pattern.");
        let _ = writeln!(out, "# TYPE carfin_http_request_duration_seconds histogram");
        for (route, histogram) in lock(&self.durations).iter() {
            let route = escape(route);
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += histogram.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "carfin_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += histogram.buckets[BUCKETS.len()].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "carfin_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {cumulative}"
            );
            let sum = histogram.sum_micros.load(Ordering::Relaxed) as f64 / 1_000_000.0;
            let _ = writeln!(
                out,
                "carfin_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "carfin_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                histogram.count.load(Ordering::Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // OPS-04: counters and a cumulative histogram in the text format.
    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::new("1.2.3");
        m.record(&Method::GET, "/", 200, Duration::from_millis(3));
        m.record(&Method::GET, "/", 200, Duration::from_millis(300));
        m.record(&Method::POST, "/language", 303, Duration::from_secs(20));
        assert_eq!(m.requests(&Method::GET, "/", 200), 2);
        let text = m.render();
        assert!(
            text.contains("carfin_build_info{version=\"1.2.3\"} 1"),
            "{text}"
        );
        assert!(text
            .contains("carfin_http_requests_total{method=\"GET\",route=\"/\",status=\"200\"} 2"));
        assert!(text
            .contains("carfin_http_request_duration_seconds_bucket{route=\"/\",le=\"0.005\"} 1"));
        assert!(
            text.contains("carfin_http_request_duration_seconds_bucket{route=\"/\",le=\"0.5\"} 2")
        );
        assert!(text.contains(
            "carfin_http_request_duration_seconds_bucket{route=\"/language\",le=\"10\"} 0"
        ));
        assert!(text.contains(
            "carfin_http_request_duration_seconds_bucket{route=\"/language\",le=\"+Inf\"} 1"
        ));
        assert!(text.contains("carfin_http_request_duration_seconds_count{route=\"/\"} 2"));
        assert!(text.contains("process_start_time_seconds "));
    }
}
