//! The blocking client's thread: a current-thread runtime hosting an async client, started
//! with a handshake (so build errors reach the caller) and stopped within a bound.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::config::HeartbeatConfig;
use crate::error::ConfigError;

/// The name of the client's thread.
const THREAD_NAME: &str = "vortex-heartbeat";

/// How long the runtime's shutdown waits for its blocking tasks (e.g. a DNS lookup).
const RUNTIME_SHUTDOWN: Duration = Duration::from_millis(100);

/// The caller's end of the thread: how to stop it and learn that it finished.
pub(super) struct Thread {
    shutdown: oneshot::Sender<()>,
    finished: mpsc::Receiver<()>,
    join: JoinHandle<()>,
}

impl Thread {
    /// Starts the thread and waits for its handshake (no network involved): the thread, and
    /// the async client and runtime on it.
    pub(super) fn start(
        config: HeartbeatConfig,
    ) -> Result<(Thread, crate::HeartbeatClient, Handle), ConfigError> {
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (shutdown, shutdown_rx) = oneshot::channel();
        let (finished_tx, finished) = mpsc::sync_channel(1);
        let join = thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || run(config, ready_tx, shutdown_rx, finished_tx))
            .map_err(|e| ConfigError::Runtime(format!("cannot spawn a thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok((client, runtime))) => Ok((
                Thread {
                    shutdown,
                    finished,
                    join,
                },
                client,
                runtime,
            )),
            Ok(Err(error)) => {
                let _ = join.join();
                Err(error)
            }
            Err(_) => {
                let _ = join.join();
                Err(ConfigError::Runtime(
                    "the heartbeat thread exited during start-up".into(),
                ))
            }
        }
    }

    pub(super) fn id(&self) -> ThreadId {
        self.join.thread().id()
    }

    /// Tells the thread to stop; unless called on that very thread (which cannot wait for
    /// itself), waits up to `bound` for it to finish and joins it.
    pub(super) fn stop(self, bound: Duration) {
        let own_thread = thread::current().id() == self.id();
        let _ = self.shutdown.send(());
        if own_thread {
            return;
        }
        match self.finished.recv_timeout(bound) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                let _ = self.join.join();
            }
            Err(RecvTimeoutError::Timeout) => {
                tracing::warn!(
                    bound = ?bound,
                    "the heartbeat thread did not finish in time; leaving it to exit on its own"
                );
            }
        }
    }
}

/// The thread's body: build the runtime and the async client, answer the handshake, then
/// drive the runtime until shutdown; stop the worker within its grace and shut the runtime
/// down within a bound.
fn run(
    config: HeartbeatConfig,
    ready: mpsc::SyncSender<Result<(crate::HeartbeatClient, Handle), ConfigError>>,
    shutdown: oneshot::Receiver<()>,
    finished: mpsc::SyncSender<()>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(ConfigError::Runtime(format!(
                "cannot build a tokio runtime: {e}"
            ))));
            return;
        }
    };
    // Built within this runtime, so that nothing binds to a runtime of the caller's.
    let client = {
        let _entered = runtime.enter();
        crate::HeartbeatClient::new(config)
    };
    let client = match client {
        Ok(client) => client,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready
        .send(Ok((client.clone(), runtime.handle().clone())))
        .is_err()
    {
        return;
    }
    runtime.block_on(async {
        // A dropped sender means shutdown too.
        let _ = shutdown.await;
        client.stop().await;
    });
    drop(client);
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    let _ = finished.send(());
}
