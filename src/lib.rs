//! supplywatch keeps an organisation's ICT third-party suppliers under watch.
//!
//! Modules, in dependency order (arrows point down only):
//! - [`clock`]: time as a parameter (a leaf).
//! - [`registry`]: suppliers, domains, endpoints, e-mail addresses — valid by construction.
//! - [`config`]: the TOML file → a validated [`config::Config`], with located errors.
//! - [`store`]: SQLite — migrations, registry sync, the append-only audit log. Only it knows SQL.
//! - [`report`]: pure renderers (table, JSON) of what the store and the probes return.

pub mod clock;
pub mod config;
pub mod registry;
pub mod report;
pub mod store;
