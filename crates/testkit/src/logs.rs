//! Capturing the logs of a test as JSON lines, so privacy tests can assert
//! what the logs do (request ids, route patterns) and do not (personal
//! data, query strings) contain.
//!
//! The capture is the current thread's default subscriber while the guard
//! lives. `#[tokio::test]` runs the test and every task it spawns — the
//! test app's server included — on one thread, so everything the app logs
//! during the test is captured. (With a multi-threaded runtime, events on
//! other worker threads are not.)
//!
//! Tests run in parallel threads of one process, and `tracing` caches per
//! call site whether anyone listens. While only one dispatcher is registered,
//! it decides that from the *registering thread's* default — on another
//! test's thread, nobody — and the capture would miss those call sites. A
//! second dispatcher kept alive for the whole process (`ANCHOR`) makes
//! `tracing` ask every registered dispatcher instead.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Logs captured while this lives.
pub struct LogCapture {
    buffer: Buffer,
    _guard: DefaultGuard,
}

impl std::fmt::Debug for LogCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogCapture").finish_non_exhaustive()
    }
}

impl LogCapture {
    /// Captures everything at DEBUG and above, as the production JSON
    /// format writes it (with the current span and the span list).
    pub fn start() -> LogCapture {
        LogCapture::start_at(tracing::Level::DEBUG)
    }

    /// Captures everything at `level` and above.
    pub fn start_at(level: tracing::Level) -> LogCapture {
        static ANCHOR: OnceLock<tracing::Dispatch> = OnceLock::new();
        ANCHOR.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(level)
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(buffer.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        LogCapture {
            buffer,
            _guard: guard,
        }
    }

    /// Everything captured so far, one JSON object per line.
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock()).into_owned()
    }

    /// The captured lines.
    pub fn lines(&self) -> Vec<String> {
        self.contents().lines().map(String::from).collect()
    }
}
