//! The integration tests: one binary (STYLE.md rule 13), its modules by
//! subject, shared helpers in `support`.

// Tests read the real clock to build the world and its dates.
#![allow(clippy::disallowed_methods)]
// Test code: a failed unwrap or an out-of-range index is a failed test,
// which is what we want; clippy.toml allows these in `#[test]` functions but
// not in the helpers they call.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

mod audit_chain;
mod board;
mod catalogue;
mod check;
mod cli;
mod concentration;
mod config_errors;
mod csv;
mod daemon;
mod digest;
mod dns;
mod dnssec;
mod escalation;
mod evidence;
mod faults;
mod fuzz;
mod history;
mod hostile;
mod http;
mod lifecycle;
mod mail_e2e;
mod mx;
mod paperwork;
mod posture;
mod record;
mod revocation;
mod roi;
mod simulated;
mod standards;
mod store;
mod streaming;
