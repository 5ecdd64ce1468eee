//! supplywatch keeps an organisation's ICT third-party suppliers under watch.
//!
//! Modules, in dependency order (arrows point down only):
//! - [`clock`]: time as a parameter (a leaf).
//! - [`registry`]: suppliers, domains, endpoints, e-mail addresses — valid by construction.
//! - [`config`]: the TOML file → a validated [`config::Config`], with located errors.
//! - [`probe`]: network I/O (hickory, rustls, raw TLS hellos, SMTP to mail servers) → observations, failures as data.
//! - [`checks`]: pure rules, observation + now + policy → findings with catalogue ids.
//! - [`lifecycle`]: the findings lifecycle, pure — stored state + a run + now → transitions.
//! - [`store`]: SQLite — migrations, registry sync, the append-only, hash-chained audit log. Only it knows SQL.
//! - [`concentration`]: providers many suppliers depend on, from the stored observations (pure).
//! - [`pipeline`]: one probe run end to end — probe, checks, scores, and the store when asked.
//! - [`report`]: pure renderers (table, JSON) of what the store and the probes return.

pub mod checks;
pub mod clock;
pub mod concentration;
pub mod config;
pub mod daemon;
pub mod digest;
pub mod escalate;
pub mod lifecycle;
pub mod mail;
pub mod pipeline;
pub mod probe;
pub mod register;
pub mod registry;
pub mod report;
pub mod store;
