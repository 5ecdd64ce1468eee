//! The xBRL-CSV report package as the EBA's plain-csv guidance lays it out:
//! a ZIP named `{LEI}.{CON|IND}_{CC}_DORA010100_DORA_{reference date}_{creation
//! timestamp}.zip` whose single root folder has the same name and holds
//! `META-INF/reportPackage.json`, `reports/report.json`,
//! `reports/parameters.csv`, `reports/FilingIndicators.csv` and one
//! `b_XX.XX.csv` per template.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike as _, NaiveDate, Timelike as _, Utc};

use super::model::Entity;
use super::rules::filing_indicators;
use super::templates::Tables;

/// The taxonomy entry point the report extends.
pub const TAXONOMY: &str = "http://www.eba.europa.eu/eu/fr/xbrl/crr/fws/dora/4.0/mod/dora.json";
/// The framework and module version in the file name.
pub const MODULE: &str = "DORA010100";

/// Why the package could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the ZIP {path}: {source}")]
    Zip {
        path: PathBuf,
        source: zip::result::ZipError,
    },
    #[error("{path} already exists")]
    Exists { path: PathBuf },
}

/// The package in memory: its name and its files (paths under the root
/// folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The root folder's name, and the ZIP's without `.zip`.
    pub stem: String,
    pub files: Vec<(String, Vec<u8>)>,
    /// When it was made (the name's timestamp, the ZIP entries' times).
    pub created: DateTime<Utc>,
}

/// One CSV line: RFC 4180, quoting only what needs it, ended by CRLF.
fn csv_line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = cells
        .iter()
        .map(|c| {
            let c = c.as_ref();
            if c.contains([',', '"', '\r', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// Lays out the package of `tables` for `entity` as of `reference`.
#[must_use]
pub fn assemble(
    tables: &Tables,
    entity: &Entity,
    reference: NaiveDate,
    created: DateTime<Utc>,
) -> Package {
    let scope = if entity.consolidated { "CON" } else { "IND" };
    let stamp = format!(
        "{}{:03}",
        created.format("%Y%m%d%H%M%S"),
        created.timestamp_subsec_millis().min(999)
    );
    let stem = format!(
        "{}.{scope}_{}_{MODULE}_DORA_{reference}_{stamp}",
        entity.lei, entity.country
    );
    let mut files = Vec::new();
    files.push((
        "META-INF/reportPackage.json".to_owned(),
        b"{\n  \"documentInfo\": {\n    \"documentType\": \"https://xbrl.org/report-package/2023\"\n  }\n}\n"
            .to_vec(),
    ));
    files.push((
        "reports/report.json".to_owned(),
        format!(
            "{{\n  \"documentInfo\": {{\n    \"documentType\": \"https://xbrl.org/2021/xbrl-csv\",\n    \"extends\": [\n      \"{TAXONOMY}\"\n    ]\n  }}\n}}\n"
        )
        .into_bytes(),
    ));
    let base = entity.currency.as_deref().unwrap_or("EUR");
    let mut parameters = csv_line(&["name", "value"]);
    for (name, value) in [
        ("entityID", format!("rs:{}.{scope}", entity.lei)),
        ("refPeriod", reference.to_string()),
        ("baseCurrency", format!("iso4217:{base}")),
        ("decimalsInteger", "0".to_owned()),
        ("decimalsMonetary", "-3".to_owned()),
    ] {
        parameters.push_str(&csv_line(&[name, value.as_str()]));
    }
    files.push(("reports/parameters.csv".to_owned(), parameters.into_bytes()));
    let mut indicators = csv_line(&["templateID", "reported"]);
    for (id, reported) in filing_indicators(tables) {
        indicators.push_str(&csv_line(&[id, if reported { "true" } else { "false" }]));
    }
    files.push((
        "reports/FilingIndicators.csv".to_owned(),
        indicators.into_bytes(),
    ));
    for table in &tables.tables {
        let header: Vec<&str> = table.shape.columns.iter().map(|(c, _)| *c).collect();
        let mut text = csv_line(&header);
        for row in &table.rows {
            text.push_str(&csv_line(row));
        }
        files.push((format!("reports/{}", table.shape.file()), text.into_bytes()));
    }
    Package {
        stem,
        files,
        created,
    }
}

impl Package {
    /// The ZIP's file name.
    #[must_use]
    pub fn zip_name(&self) -> String {
        format!("{}.zip", self.stem)
    }

    /// Writes the ZIP into `dir` (through a temporary file, renamed when
    /// complete, so that a failed write leaves nothing that looks like a
    /// package); returns its path.
    ///
    /// # Errors
    /// When `dir` cannot be written, or the package is there already.
    pub fn write_zip(&self, dir: &Path) -> Result<PathBuf, PackageError> {
        let path = dir.join(self.zip_name());
        if path.exists() {
            return Err(PackageError::Exists { path });
        }
        let io = |source| PackageError::Io {
            path: path.clone(),
            source,
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".roi-")
            .suffix(".zip.part")
            .tempfile_in(dir)
            .map_err(io)?;
        let zip_err = |source| PackageError::Zip {
            path: path.clone(),
            source,
        };
        let created = self.created;
        let when = zip::DateTime::from_date_and_time(
            u16::try_from(created.year().clamp(1980, 2107)).unwrap_or(1980),
            u8::try_from(created.month()).unwrap_or(1),
            u8::try_from(created.day()).unwrap_or(1),
            u8::try_from(created.hour()).unwrap_or(0),
            u8::try_from(created.minute()).unwrap_or(0),
            u8::try_from(created.second()).unwrap_or(0),
        )
        .unwrap_or_default();
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(when)
            .unix_permissions(0o644);
        {
            let mut writer = zip::ZipWriter::new(tmp.as_file_mut());
            for folder in ["", "META-INF/", "reports/"] {
                writer
                    .add_directory(format!("{}/{folder}", self.stem), options)
                    .map_err(zip_err)?;
            }
            for (name, bytes) in &self.files {
                writer
                    .start_file(format!("{}/{name}", self.stem), options)
                    .map_err(zip_err)?;
                writer.write_all(bytes).map_err(io)?;
            }
            writer.finish().map_err(zip_err)?;
        }
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist_noclobber(&path).map_err(|e| io(e.error))?;
        Ok(path)
    }

    /// Writes the root folder with its files into `dir`; returns its path.
    ///
    /// # Errors
    /// When `dir` cannot be written, or the folder is there already.
    pub fn write_folder(&self, dir: &Path) -> Result<PathBuf, PackageError> {
        let root = dir.join(&self.stem);
        if root.exists() {
            return Err(PackageError::Exists { path: root });
        }
        for (name, bytes) in &self.files {
            let path = root.join(name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|source| PackageError::Io {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            fs::write(&path, bytes).map_err(|source| PackageError::Io { path, source })?;
        }
        Ok(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_needs_it() {
        assert_eq!(csv_line(&["a", "b c"]), "a,b c\r\n");
        assert_eq!(
            csv_line(&["x,y", "say \"hi\"", "two\nlines"]),
            "\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
        );
    }
}
