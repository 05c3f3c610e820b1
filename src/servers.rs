//! The server URLs of a client, in one place: one [`Transport`] per URL (in list order, so
//! that indexes match the policy's) and the [`Failover`] policy that chooses among them and
//! says when the connection is old enough to be replaced. The engine calls
//! [`Servers::send`] under its send lock, so one report is in flight across all servers.
//!
//! The rules are `failover.rs`'s (the table in `docs/resilience.md`, "Several servers"); this
//! file carries them out and logs the policy's events: a WARN once per URL per outage, an INFO
//! when reports move to another URL and when they return to the first.

use std::sync::Arc;

use bytes::Bytes;
use reqwest::Url;
use tokio::time::Instant;

use crate::answer::Answer;
use crate::config::HeartbeatConfig;
use crate::error::{ConfigError, ReporterError};
use crate::failover::{Event, Failover, Fault};
use crate::transport::Transport;

/// One server URL: how to send to it, and how to show it.
#[derive(Debug)]
struct Target {
    transport: Transport,
    /// The base URL as configured, without userinfo: the status and the metrics show it.
    shown: String,
}

/// A failed attempt: the error that decides what comes next, and the text that says what
/// each URL answered (the error's own text when one URL was tried).
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) error: ReporterError,
    pub(crate) shown: String,
}

impl Failed {
    /// A failure before anything was sent.
    pub(crate) fn alone(error: ReporterError) -> Self {
        Failed {
            shown: error.to_string(),
            error,
        }
    }

    fn new(error: ReporterError, answers: Vec<String>) -> Self {
        let shown = match answers.len() {
            0 | 1 => error.to_string(),
            _ => format!("every server URL failed: {}", answers.join("; ")),
        };
        Failed { error, shown }
    }
}

/// The URL that accepted a report.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answered<'a> {
    /// Its place in the list (0: the preferred one).
    pub(crate) index: usize,
    /// Its heartbeat URL, without userinfo (for logs).
    pub(crate) url: &'a str,
    /// Its base URL as configured, without userinfo (for the status and the metrics).
    pub(crate) shown: &'a str,
}

/// Every server URL of a client and the policy over them.
#[derive(Debug)]
pub(crate) struct Servers {
    targets: Vec<Target>,
    failover: Failover,
}

impl Servers {
    /// Sets up a transport for each parsed server URL (at least one, in preference order).
    pub(crate) fn connect(config: &HeartbeatConfig, urls: Vec<Url>) -> Result<Self, ConfigError> {
        let count = urls.len();
        let config = Arc::new(config.clone());
        let targets = urls
            .into_iter()
            .map(|url| {
                let shown = shown(&url);
                Ok(Target {
                    transport: Transport::connect(&config, url)?,
                    shown,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        if targets.is_empty() {
            return Err(ConfigError::MissingField("server_url"));
        }
        Ok(Servers {
            targets,
            failover: Failover::new(count, config.connection_max_age),
        })
    }

    /// Where the route to the preferred URL starts (see [`Transport::first_hop`]), to find
    /// the local address from.
    pub(crate) fn first_hop(&self) -> Option<&Url> {
        self.targets.first().map(|t| t.transport.first_hop())
    }

    /// The preferred URL's heartbeat URL, without userinfo.
    pub(crate) fn first_redacted(&self) -> &str {
        self.targets
            .first()
            .map_or("", |t| t.transport.redacted_url())
    }

    /// Every base URL as shown (without userinfo), in list order: the metrics' labels.
    pub(crate) fn shown(&self) -> impl Iterator<Item = &str> {
        self.targets.iter().map(|t| t.shown.as_str())
    }

    /// One attempt: the report goes to the current URL, and on to the next ones while they
    /// fail with a fault that another server may not have, each URL at most once. Fails with
    /// the error that decides the backoff when every URL failed (or at once when the report
    /// itself is the problem), and what each URL answered.
    pub(crate) async fn send(&mut self, body: Bytes) -> Result<(Answer, Answered<'_>), Failed> {
        let start = self.failover.begin(Instant::now());
        if start.back_to_first {
            tracing::debug!("a connection max age epoch ended: trying the first server URL again");
        }
        let (mut index, mut kept, mut answers) = (start.url, None::<ReporterError>, Vec::new());
        loop {
            // The policy hands out indexes of this list only.
            let error = match self.targets[index].transport.send(body.clone()).await {
                Ok(answer) => {
                    let events = self.failover.delivered();
                    self.log(events, None);
                    let target = &self.targets[index];
                    let url = target.transport.redacted_url();
                    let shown = target.shown.as_str();
                    return Ok((answer, Answered { index, url, shown }));
                }
                Err(error) => error,
            };
            let after = self.failover.failed(Fault::of(&error), Instant::now());
            self.log(after.events, Some(&error));
            answers.push(error.to_string());
            let decides = match kept.take() {
                Some(before) if !after.keep_error => before,
                _ => error,
            };
            match after.next {
                Some(next) => (index, kept) = (next, Some(decides)),
                None => return Err(Failed::new(decides, answers)),
            }
        }
    }

    fn url(&self, index: usize) -> &str {
        self.targets[index].transport.redacted_url()
    }

    /// Logs what the policy reported (nothing on the steady path, and nothing with one URL).
    fn log(&self, events: Vec<Event>, error: Option<&ReporterError>) {
        for event in events {
            match event {
                Event::Down { url, problem } => {
                    let error = error.map(ToString::to_string).unwrap_or_default();
                    tracing::warn!(url = %self.url(url), %error, "server URL failed; {}", problem.next_step());
                }
                Event::Recovered { url } => {
                    tracing::debug!(url = %self.url(url), "server URL answers again");
                }
                Event::Moved { from, to } => {
                    tracing::info!(from = %self.url(from), to = %self.url(to), "heartbeats moved to another server URL");
                }
                Event::Returned { from } => {
                    tracing::info!(from = %self.url(from), to = %self.url(0), "heartbeats returned to the first server URL");
                }
            }
        }
    }
}

/// A base URL as the status and the metrics show it: without userinfo, and without the `/`
/// that parsing adds to a bare host (`http://host:8888`, as users write it).
fn shown(url: &Url) -> String {
    let mut bare = url.clone();
    // Both fail only for URLs that cannot carry userinfo, which then have none.
    let _ = bare.set_username("");
    let _ = bare.set_password(None);
    let text = bare.as_str();
    match text.strip_suffix('/') {
        Some(host_only) if bare.path() == "/" => host_only.to_owned(),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_as_written_without_its_userinfo() {
        for (url, expected) in [
            ("http://h:8888", "http://h:8888"),
            ("http://user:s3cret@h:8888", "http://h:8888"),
            (
                "https://user@gw.example/config/",
                "https://gw.example/config/",
            ),
            ("http://[::1]:1/gw", "http://[::1]:1/gw"),
        ] {
            let parsed = Url::parse(url).unwrap();
            assert_eq!(shown(&parsed), expected, "{url}");
        }
    }
}
