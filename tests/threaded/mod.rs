//! A loopback receiver that runs on a runtime of its own thread, so that tests can use it from
//! plain threads and from inside any runtime (even one whose thread the test blocks).
//!
//! Include with `mod support; mod threaded;`.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use crate::support::{Receiver, Report};

/// A receiver plus the runtime that serves it.
pub struct Server {
    pub receiver: Receiver,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Server {
    /// Starts a receiver on 127.0.0.1:0, served by a one-worker runtime. Callable anywhere.
    pub fn start() -> Server {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            let receiver = runtime.block_on(Receiver::start());
            Server {
                receiver,
                runtime: Some(runtime),
            }
        })
        .join()
        .expect("server thread")
    }

    pub fn url(&self) -> String {
        self.receiver.url()
    }

    /// Polls until `done` holds for the reports (bounded by `within`, then panics).
    pub fn wait_until(&self, within: Duration, done: impl Fn(&[Report]) -> bool) -> Vec<Report> {
        let deadline = Instant::now() + within;
        loop {
            let reports = self.receiver.reports();
            if done(&reports) {
                return reports;
            }
            assert!(
                Instant::now() < deadline,
                "condition not met within {within:?}; reports: {:?}",
                reports
                    .iter()
                    .map(|r| (r.version().to_owned(), r.body["health"].clone()))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for a report with this version.
    pub fn wait_for_version(&self, version: &str) -> Report {
        let reports = self.wait_until(Duration::from_secs(10), |r| {
            r.iter().any(|r| r.version() == version)
        });
        reports
            .into_iter()
            .find(|r| r.version() == version)
            .expect("found")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Never blocks, so a test may drop its server inside async code.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
