//! A local test world for supplywatch: everything a probe can meet on the
//! internet, served on 127.0.0.1 with ports bound to 0, no network needed.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use supplywatch_testworld::{TlsCase, World};
//! let world = World::start().await?;
//! let target = world.endpoint(TlsCase::Expired); // "expired.tls.test:PORT"
//! let dns = world.dns; // resolves every case host to 127.0.0.1
//! let roots = &world.roots_pem; // trust these (not the Rogue root)
//! # let _ = (target, dns, roots); Ok(()) }
//! ```
//!
//! Modules, in dependency order (each uses only those above it):
//! - [`task`]: spawning servers that stop with the world's token;
//! - [`raw`]: hand-built TLS records for what rustls will not send;
//! - [`pki`]: the rcgen test CAs, leaf issuing and the openssl fixtures;
//! - [`tls`]: [`TlsCase`] and one server per case;
//! - [`http`]: HTTPS and plain-HTTP sites with canned replies per path;
//! - [`signed`]: DNSSEC keys and signatures for a signed `test.` and child zones;
//! - [`dns`]: the authoritative server for `test.`, extensible records;
//! - [`smtp`]: [`SmtpSink`], an SMTP server that keeps what it is sent;
//! - [`world`]: [`World`] and [`WorldBuilder`], which wire the rest.
//!
//! Test infrastructure: errors are `anyhow`, and nothing here is used by
//! the product itself.

// The world is built around the real clock: certificates and records
// valid from now.
#![allow(clippy::disallowed_methods)]

pub mod dns;
pub mod http;
pub mod pki;
pub mod raw;
pub mod signed;
pub mod smtp;
pub mod task;
pub mod tls;
pub mod world;
pub mod zone;

pub use dns::DnsRecord;
pub use http::{Canary, Reply, SiteCert, SiteEndpoint, SiteSpec};
pub use pki::{Authority, Leaf, LeafKey, LeafSpec, Pki};
pub use signed::{SignedFault, SignedZone, ZoneKey};
pub use smtp::{ReceivedMail, SinkOptions, SmtpSink};
pub use tls::TlsCase;
pub use world::{World, WorldBuilder};
pub use zone::MailDomain;

/// hickory's protocol types (`rr::RData`, `rr::rdata::*`), for building
/// [`DnsRecord`]s without depending on hickory directly.
pub use hickory_server::proto;
/// The `time` crate, for [`WorldBuilder::now`].
pub use time;
