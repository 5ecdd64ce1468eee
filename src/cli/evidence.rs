//! `supplywatch report supplier ID --out DIR`: one supplier's evidence
//! pack for auditors (see `supplywatch::report::evidence`).

use std::path::Path;

use serde_json::json;
use supplywatch::clock::{Clock as _, SystemClock};
use supplywatch::report::Format;
use supplywatch::report::evidence::{EvidenceError, gather, write};

use super::{Globals, Outcome, UsageError, open_for_reading, print_json};

pub async fn run(globals: &Globals, id: &str, out: &Path, force: bool) -> anyhow::Result<Outcome> {
    let now = SystemClock.now();
    let (store, config) = open_for_reading(globals).await?;
    // Today in the daemon's time zone, as `supplier show` and `status` count it.
    let today = config.as_ref().map_or(now.date_naive(), |c| {
        supplywatch::pipeline::local_day(c, now)
    });
    let cadence = config.map(|c| c.questionnaires).unwrap_or_default();
    let gathered = gather(&store, id, &cadence, now, today).await;
    // The known ids only for an unknown one.
    let known = match &gathered {
        Ok(None) => Some(store.suppliers().await),
        _ => None,
    };
    store.close().await;
    let Some(pack) = gathered? else {
        let known = known.transpose()?.unwrap_or_default();
        return Err(super::unknown_supplier(id, known.iter().map(|s| s.id.as_str())).into());
    };
    let documents = pack
        .questionnaires
        .iter()
        .filter(|q| q.document.is_some())
        .count();
    let written = match write(pack, out, force) {
        Ok(written) => written,
        Err(e @ (EvidenceError::NotEmpty { .. } | EvidenceError::NotAFolder { .. })) => {
            return Err(UsageError(e.to_string()).into());
        }
        Err(e) => return Err(e.into()),
    };
    match globals.format {
        Format::Json => print_json(&json!({
            "supplier": id,
            "folder": written.folder,
            "files": written.files.iter().map(|(name, sha256)| json!({"file": name, "sha256": sha256})).collect::<Vec<_>>(),
        }))?,
        Format::Table | Format::Csv => {
            outln!(
                "evidence pack of {id} written to {}: {} files ({documents} questionnaire document{}), listed with their SHA-256 in MANIFEST.sha256 (check: cd {} && sha256sum -c MANIFEST.sha256)",
                written.folder.display(),
                written.files.len() + 1,
                if documents == 1 { "" } else { "s" },
                written.folder.display()
            );
        }
    }
    Ok(Outcome::Ok)
}
