//! Log capture: what the SDK logs while a test runs on the current thread.

use std::sync::Arc;

use parking_lot::Mutex;

/// Captures log lines emitted on the current thread; returns the buffer and a guard that ends
/// the capture. Use with current-thread runtimes so that every event lands on this thread.
///
/// One global subscriber (installed once per test binary) routes each event to the capturing
/// buffer of the thread it is emitted on. A per-thread `set_default` subscriber would race with
/// tracing's per-call-site interest cache when tests run in parallel, and lose events.
pub fn capture_logs() -> (LogBuffer, CaptureGuard) {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(|| ThreadSink)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
    let buffer = LogBuffer::default();
    let previous = SINK.with(|sink| sink.borrow_mut().replace(buffer.clone()));
    (buffer, CaptureGuard(previous))
}

thread_local! {
    static SINK: std::cell::RefCell<Option<LogBuffer>> = const { std::cell::RefCell::new(None) };
}

/// Ends a capture started by [`capture_logs`] when dropped.
pub struct CaptureGuard(Option<LogBuffer>);

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        SINK.with(|sink| *sink.borrow_mut() = previous);
    }
}

/// Writes to the current thread's capture buffer, or nowhere.
struct ThreadSink;

impl std::io::Write for ThreadSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        SINK.with(|sink| {
            if let Some(buffer) = sink.borrow().as_ref() {
                buffer.0.lock().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captured log output.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock()).into_owned()
    }

    /// Lines at a level (`WARN`, `INFO`, ...) that mention `needle`.
    pub fn lines(&self, level: &str, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(level) && l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
