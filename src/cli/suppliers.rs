//! `supplywatch suppliers`: the registry as the database holds it.

use supplywatch::report::{Format, suppliers_csv, suppliers_table};

use super::{Globals, Outcome, open_existing, print_json};

pub async fn run(globals: &Globals) -> anyhow::Result<Outcome> {
    let store = open_existing(globals).await?;
    let suppliers = store.suppliers().await?;
    store.close().await;
    match globals.format {
        Format::Json => print_json(&suppliers)?,
        Format::Csv => out!("{}", suppliers_csv(&suppliers)),
        Format::Table => out!("{}", suppliers_table(&suppliers)),
    }
    Ok(Outcome::Ok)
}
