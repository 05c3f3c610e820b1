//! The integration tests, linked as one binary: each module is what used to be a file of its
//! own, and `support` holds what they share.
//!
//! Two kinds of test keep a process of their own, because they depend on process-wide state:
//! the tests in `tests/logs/` (every one of them installs the global log subscriber before it
//! runs) and `tests/soak.rs` (it measures the process's memory). Their top docs say why.
//!
//! `cargo test --test it MODULE::` runs one module, e.g. `cargo test --test it faults::`.

#[macro_use]
mod support;

mod balancer;
mod blocking;
mod drift;
mod env_config;
mod failover;
mod faults;
mod health;
mod http_client;
mod lifecycle;
mod metadata;
mod metrics;
mod nginx;
mod ordering;
mod properties;
mod proxy;
mod quickstart;
mod service;
mod status;
mod story_code;
mod testing;
mod timing;
mod tls_features;
