//! `supplywatch validate`: check a config file, list every problem.

use serde_json::json;
use supplywatch::config::{Config, ConfigError};
use supplywatch::report::Format;

use super::{Globals, Outcome, print_config_warnings, print_json};

pub fn run(globals: &Globals) -> anyhow::Result<Outcome> {
    let path = globals.config_path()?;
    let config = match Config::load(&path) {
        Ok(config) => config,
        Err(error @ ConfigError::Invalid { .. }) if globals.format == Format::Json => {
            print_json(&json!({
                "file": path,
                "valid": false,
                "errors": error.diagnostics(),
                "errors_not_shown": error.not_shown(),
            }))?;
            return Err(error.into());
        }
        Err(error) => return Err(error.into()),
    };
    print_config_warnings(&config);
    let (domains, endpoints) = config.target_counts();
    let suppliers = config.suppliers.len();
    match globals.format {
        Format::Json => print_json(&json!({
            "file": path,
            "valid": true,
            "suppliers": suppliers,
            "domains": domains,
            "endpoints": endpoints,
            "warnings": config.warnings,
        }))?,
        // CSV is refused before this command runs (`Command::without_csv`).
        Format::Table | Format::Csv => outln!(
            "{}: valid — {suppliers} supplier{}, {domains} domain{}, {endpoints} endpoint{}",
            path.display(),
            plural(suppliers),
            plural(domains),
            plural(endpoints)
        ),
    }
    Ok(Outcome::Ok)
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
