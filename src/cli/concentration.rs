//! `supplywatch concentration`: the providers many suppliers depend on, as
//! the stored observations show them (see [`supplywatch::concentration`]).
//! Read-only; needs a database that has seen `check --save` or the daemon.

use clap::Args;
use supplywatch::concentration::{self, ProviderKind};
use supplywatch::report::{Format, concentration_csv, concentration_table};

use super::{Globals, Outcome, open_for_reading, print_json};

#[derive(Debug, Args)]
pub struct ConcentrationArgs {
    /// Only providers of this kind
    #[arg(long, value_name = "dns|mail|ca|asn|subcontractor")]
    kind: Option<ProviderKind>,
    /// Only providers at least N suppliers depend on
    #[arg(long, value_name = "N", default_value_t = 1)]
    min: usize,
}

pub async fn run(globals: &Globals, args: &ConcentrationArgs) -> anyhow::Result<Outcome> {
    let kind = args.kind;
    let (store, config) = open_for_reading(globals).await?;
    // Read before the store: a broken table is said before anything else.
    let asn = super::asn_table(config.as_ref())?;
    let runs = store.recent_runs(1).await?;
    let register = config.map(|c| c.register).unwrap_or_default();
    let judged = concentration::from_store(&store, &register, asn.as_ref()).await;
    store.close().await;
    let mut judged = judged?;
    judged.retain(kind, args.min);
    if runs.is_empty() {
        // JSON and CSV still print their (empty) document: a script reads it.
        if globals.format == Format::Table {
            outln!("no runs yet: run `supplywatch check --save` or the daemon");
            return Ok(Outcome::Ok);
        }
        errln!("no runs yet");
    }
    match globals.format {
        Format::Json => print_json(&judged)?,
        Format::Csv => out!("{}", concentration_csv(&judged)),
        Format::Table => out!(
            "{}",
            concentration_table(&judged, kind.is_none_or(|k| k == ProviderKind::Asn))
        ),
    }
    Ok(Outcome::Ok)
}
