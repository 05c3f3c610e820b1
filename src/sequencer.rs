//! The one sender of a client: every report, from the worker or from `report_now()`, goes
//! through [`Sequencer::send`], one at a time.
//!
//! The send lock is taken before the body is read and held until the answer is recorded, so
//! the bodies leave in the order of the changes, an older version is never sent after a newer
//! one was accepted, and answers are recorded (status, drift view, the schedule's last outcome)
//! in send order: neither view can go back.
//!
//! The network is the servers': the sequencer only hands them a body and reads back an answer
//! (and which URL gave it) or an error. The send lock is held for the whole round over the
//! server URLs, so the one-sender order holds across servers too.

use std::sync::Arc;

use tokio::sync::{Mutex, OnceCell};

use crate::answer::HeartbeatResponse;
use crate::changes::{Changes, Snapshot};
use crate::config::HeartbeatConfig;
use crate::error::ReporterError;
use crate::health_check::Monitor;
use crate::metadata::{self, InstanceMetadata};
use crate::plan::{Origin, Outcome};
use crate::recorder::{Recorded, Recorder, Tally};
use crate::servers::Servers;

/// What every handle and the worker share: the configuration, the changes, the recorder, and
/// the one way to the server.
pub(crate) struct Sequencer {
    config: HeartbeatConfig,
    changes: Changes,
    recorder: Recorder,
    /// Where the route to the preferred server starts (a proxy, or the server), to find the
    /// local address from.
    route_url: Option<reqwest::Url>,
    /// The preferred server's heartbeat URL, without userinfo.
    redacted_url: String,
    /// Held from reading the body to recording the answer: one report in flight.
    turn: Mutex<Turn>,
    metadata: OnceCell<Arc<InstanceMetadata>>,
    /// The application's health check, if any.
    health: Option<Monitor>,
}

/// What the holder of the send lock keeps across reports.
struct Turn {
    /// The number of the last recorded outcome.
    seq: u64,
    tally: Tally,
    /// The server URLs, their connections and the failover policy.
    servers: Servers,
}

impl Turn {
    /// Numbers `outcome`: the next in send order.
    fn number(&mut self, outcome: Outcome) -> Recorded {
        self.seq += 1;
        Recorded::new(self.seq, outcome)
    }
}

impl Sequencer {
    pub(crate) fn new(config: HeartbeatConfig, servers: Servers) -> Self {
        let shown: Vec<&str> = servers.shown().collect();
        let tally = Tally::new(&config.app, &config.profile, &shown);
        Self {
            changes: Changes::new(&config.config_version, config.health),
            recorder: Recorder::new(),
            route_url: servers.first_hop().cloned(),
            redacted_url: servers.first_redacted().to_owned(),
            turn: Mutex::new(Turn {
                seq: 0,
                tally,
                servers,
            }),
            health: config
                .health_check
                .clone()
                .map(|check| Monitor::new(check, config.health_check_timeout)),
            config,
            metadata: OnceCell::new(),
        }
    }

    /// Asks the application's health check, if any, beside the reports: its answer is set
    /// as the health (a change, reported promptly) whenever it comes.
    pub(crate) fn ask_health(self: &Arc<Self>) {
        if let Some(monitor) = &self.health {
            // Weak: a check that never returns must not keep a dropped client alive.
            let sequencer = Arc::downgrade(self);
            monitor.ask(move |health| {
                if let Some(sequencer) = sequencer.upgrade() {
                    sequencer.changes.set_health(health);
                }
            });
        }
    }

    /// The configuration in use.
    pub(crate) fn config(&self) -> &HeartbeatConfig {
        &self.config
    }

    /// The version and health users set.
    pub(crate) fn changes(&self) -> &Changes {
        &self.changes
    }

    /// What the reports taught: status, drift, outcomes.
    pub(crate) fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The preferred server's heartbeat URL, without userinfo.
    pub(crate) fn redacted_url(&self) -> &str {
        &self.redacted_url
    }

    /// The span around the worker and `report_now()`: which client is speaking. Names only,
    /// never the URL or credentials.
    pub(crate) fn span(&self) -> tracing::Span {
        let c = &self.config;
        tracing::info_span!(
            "heartbeat",
            app = %c.app,
            profile = %c.profile,
            instance = %c.instance_id
        )
    }

    /// The metadata: detected once (on the first report), then cached.
    pub(crate) async fn metadata(&self) -> Arc<InstanceMetadata> {
        self.metadata
            .get_or_init(|| async {
                let mut meta = self.config.metadata.clone();
                if self.config.auto_detect_metadata {
                    let detected = metadata::detect(
                        &self.config.environment,
                        // An explicit IP makes the route lookup (and its DNS query) moot.
                        meta.ip_address
                            .is_none()
                            .then_some(self.route_url.as_ref())
                            .flatten(),
                    )
                    .await;
                    meta.fill_from(detected);
                }
                tracing::debug!(metadata = ?meta, "instance metadata");
                Arc::new(meta)
            })
            .await
            .clone()
    }

    /// Sends one report with the current state and records its outcome, after any report in
    /// flight. Returns the answer and the outcome as recorded.
    pub(crate) async fn send(
        &self,
        origin: Origin,
    ) -> (Result<HeartbeatResponse, ReporterError>, Recorded) {
        let metadata = self.metadata().await;
        let mut turn = self.turn.lock().await;
        let Turn { tally, servers, .. } = &mut *turn;
        let (result, outcome) = match self.changes.snapshot(&self.config.instance_id, &metadata) {
            Ok(snapshot) => self.deliver(tally, servers, &snapshot, origin).await,
            // Nothing was sent, but the report failed all the same: count it and log it.
            Err(error) => {
                let shown = error.to_string();
                self.failed(tally, error, shown, origin)
            }
        };
        let recorded = turn.number(outcome);
        self.recorder.publish(recorded);
        (result, recorded)
    }

    /// One attempt with `snapshot` (a round over the server URLs), recorded.
    async fn deliver(
        &self,
        tally: &mut Tally,
        servers: &mut Servers,
        snapshot: &Snapshot,
        origin: Origin,
    ) -> (Result<HeartbeatResponse, ReporterError>, Outcome) {
        let timer = tally.attempt_started();
        let result = servers.send(snapshot.bytes()).await;
        tally.attempt_finished(timer);
        match result {
            Ok((answer, answered)) => {
                self.changes.delivered(snapshot);
                let (response, outcome) =
                    self.recorder
                        .accepted(tally, answer, snapshot.version(), origin, answered);
                (Ok(response), outcome)
            }
            Err(failed) => self.failed(tally, failed.error, failed.shown, origin),
        }
    }

    fn failed(
        &self,
        tally: &mut Tally,
        error: ReporterError,
        shown: String,
        origin: Origin,
    ) -> (Result<HeartbeatResponse, ReporterError>, Outcome) {
        let outcome = self.recorder.failed(tally, &error, shown, origin);
        (Err(error), outcome)
    }
}
