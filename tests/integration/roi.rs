//! `supplywatch export roi`: the DORA Register of Information of the
//! fictitious bank (`tests/fixtures/roi/bank.toml`) compared byte for byte
//! with committed golden files, the ZIP the binary writes read back by a
//! reader written here (its own CSV parser, its own table of primary and
//! foreign keys), one registry per rule a supervisor applies, and the
//! `register.incomplete` finding of the obligations run.
//!
//! `SUPPLYWATCH_BLESS=1 cargo test --test integration roi::golden` rewrites
//! the golden files; read the diff before committing it.

#![allow(
    clippy::doc_markdown,
    reason = "template ids (B_02.01) and column codes (c0010) are words of the ITS here, not code"
)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, TimeZone as _, Utc};
use serde_json::Value;
use supplywatch::config::Config;
use supplywatch::register::package::{Package, assemble};
use supplywatch::register::rules::{Problem, check, filing_indicators, indicators};
use supplywatch::register::templates::{Tables, build};

use crate::support::{Run, Scratch, arg};

/// The package's name for a creation time of 2027-01-15T09:30:00.123Z.
const STEM: &str = "529900MUSTERBANK0030.CON_DE_DORA010100_DORA_2026-12-31_20270115093000123";
const BANK_LEI: &str = "529900MUSTERBANK0030";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/roi/bank.toml")
}

fn golden_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/roi/golden")
}

fn bank_text() -> String {
    std::fs::read_to_string(fixture()).unwrap()
}

fn reference() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
}

/// `text` with the first `from` after `anchor` replaced by `to`; fails when
/// either is missing, so that a changed fixture breaks the test loudly
/// rather than testing an unbroken registry.
#[track_caller]
fn edit(text: &str, anchor: &str, from: &str, to: &str) -> String {
    let at = text
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor:?} is not in the fixture"));
    let offset = text[at..]
        .find(from)
        .unwrap_or_else(|| panic!("{from:?} is not in the fixture after {anchor:?}"));
    let start = at + offset;
    format!("{}{to}{}", &text[..start], &text[start + from.len()..])
}

/// The bank's config and its tables as of 2026-12-31, reported on
/// 2027-01-15.
fn bank_tables() -> (Config, Tables) {
    let config = Config::load(&fixture()).unwrap();
    let tables = build(
        &config.suppliers,
        &config.register,
        reference(),
        NaiveDate::from_ymd_opt(2027, 1, 15).unwrap(),
    );
    (config, tables)
}

fn golden_package() -> Package {
    let (config, tables) = bank_tables();
    let created = Utc
        .with_ymd_and_hms(2027, 1, 15, 9, 30, 0)
        .unwrap()
        .checked_add_signed(chrono::Duration::milliseconds(123))
        .unwrap();
    let entity = config.register.entity.as_ref().unwrap();
    assemble(&tables, entity, reference(), created)
}

/// Every file under `dir`, by path relative to it (with `/`).
fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let name = path.strip_prefix(root).unwrap().to_str().unwrap();
                out.insert(name.replace('\\', "/"), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The 19 files every package holds, under its root folder.
fn expected_files() -> BTreeSet<String> {
    let mut out: BTreeSet<String> = [
        "META-INF/reportPackage.json",
        "reports/report.json",
        "reports/parameters.csv",
        "reports/FilingIndicators.csv",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for (file, _) in KEYS {
        out.insert(format!("reports/{file}"));
    }
    out
}

// ---------------------------------------------------------------------------
// 1. The golden package.

#[test]
fn golden_package_matches_the_committed_files() {
    let package = golden_package();
    assert_eq!(package.stem, STEM);
    assert_eq!(package.zip_name(), format!("{STEM}.zip"));
    let names: BTreeSet<String> = package.files.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, expected_files());

    let dir = golden_root().join(STEM);
    if std::env::var("SUPPLYWATCH_BLESS").as_deref() == Ok("1") {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        package.write_folder(&golden_root()).unwrap();
    }
    let golden = files_under(&dir);
    let golden_names: BTreeSet<String> = golden.keys().cloned().collect();
    assert_eq!(
        golden_names,
        names,
        "the golden folder {} holds other files than the package",
        dir.display()
    );
    for (name, bytes) in &package.files {
        let want = &golden[name];
        assert!(
            bytes == want,
            "{name} differs from its golden file (SUPPLYWATCH_BLESS=1 rewrites it)\n--- written ---\n{}\n--- golden ---\n{}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(want)
        );
    }
}

/// What the golden files say, read by the independent reader: one row per
/// what the README's table lists, and the package passes every rule.
#[test]
fn golden_package_has_the_rows_the_readme_lists() {
    let files = golden_package()
        .files
        .into_iter()
        .collect::<BTreeMap<_, _>>();
    let report = Report::from_files(&files);
    assert!(report.violations().is_empty(), "{:#?}", report.violations());
    let rows: BTreeMap<&str, usize> = report
        .tables
        .iter()
        .map(|(file, t)| (file.as_str(), t.rows.len()))
        .collect();
    let want: BTreeMap<&str, usize> = [
        ("b_01.01.csv", 1),  // the bank
        ("b_01.02.csv", 3),  // the bank and its two members
        ("b_01.03.csv", 1),  // Paris
        ("b_02.01.csv", 12), // one contract per supplier
        // per contract × service × (function, its entity) × storage ×
        // processing: acme 3 functions × 2 storage, mailhub 2 storage,
        // ledgerly 2 services, secops/mb-it/hw-vendor/riskwise 2 functions
        ("b_02.02.csv", 23),
        ("b_02.03.csv", 1),  // MB-IG-001 → MB-2023-001
        ("b_03.01.csv", 12), // signed by the bank
        ("b_03.02.csv", 11), // every contract but the intra-group one
        ("b_03.03.csv", 1),  // the intra-group one
        ("b_04.01.csv", 16), // 12 + acme and riskwise's leasing + 2 Paris
        ("b_05.01.csv", 15), // 12 suppliers, Acme's parent, 2 subcontractors
        ("b_05.02.csv", 15), // 13 services at rank 1, ranks 2 and 3
        ("b_06.01.csv", 4),
        ("b_07.01.csv", 10), // services supporting F1, F2 or F4
        ("b_99.01.csv", 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(rows, want);
    assert_eq!(rows.values().sum::<usize>(), 126);
    let parameters = &report.parameters;
    assert_eq!(parameters["entityID"], format!("rs:{BANK_LEI}.CON"));
    assert_eq!(parameters["refPeriod"], "2026-12-31");
    assert_eq!(parameters["baseCurrency"], "iso4217:EUR");
    let b0101 = &report.tables["b_01.01.csv"];
    assert_eq!(
        b0101.rows[0],
        [
            BANK_LEI,
            "Musterbank AG",
            "eba_GA:DE",
            "eba_CT:x12",
            "BaFin",
            "2027-01-15"
        ]
    );
}

// ---------------------------------------------------------------------------
// 2. A package reader of its own.

/// Per template file, its primary key, as the ITS's data model lists them
/// (B_99.01 has none).
const KEYS: &[(&str, &[&str])] = &[
    ("b_01.01.csv", &["c0010"]),
    ("b_01.02.csv", &["c0010"]),
    ("b_01.03.csv", &["c0010", "c0020"]),
    ("b_02.01.csv", &["c0010"]),
    (
        "b_02.02.csv",
        &[
            "c0010", "c0020", "c0030", "c0050", "c0060", "c0130", "c0150", "c0160",
        ],
    ),
    ("b_02.03.csv", &["c0010", "c0020"]),
    ("b_03.01.csv", &["c0010", "c0020"]),
    ("b_03.02.csv", &["c0010", "c0020", "c0030"]),
    ("b_03.03.csv", &["c0010", "c0020"]),
    ("b_04.01.csv", &["c0010", "c0020", "c0030", "c0040"]),
    ("b_05.01.csv", &["c0010", "c0020"]),
    (
        "b_05.02.csv",
        &[
            "c0010", "c0020", "c0030", "c0040", "c0050", "c0060", "c0070",
        ],
    ),
    ("b_06.01.csv", &["c0010", "c0040"]),
    ("b_07.01.csv", &["c0010", "c0020", "c0030", "c0040"]),
    ("b_99.01.csv", &[]),
];

/// A reference: (file, columns) → (file, columns), from the README's rule
/// 807: contracts to B_02.01, providers and parents to B_05.01, entity LEIs
/// to B_01.02, (function, entity) to B_06.01, branches to B_01.03.
type Reference = (
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static [&'static str],
);

const CONTRACTS: &str = "b_02.01.csv";
const ENTITIES: &str = "b_01.02.csv";
const PROVIDERS: &str = "b_05.01.csv";
const ID: &[&str] = &["c0010"];
const PROVIDER_KEY: &[&str] = &["c0010", "c0020"];

const REFERENCES: &[Reference] = &[
    // Contracts.
    ("b_02.02.csv", &["c0010"], CONTRACTS, ID),
    ("b_02.03.csv", &["c0010"], CONTRACTS, ID),
    ("b_02.03.csv", &["c0020"], CONTRACTS, ID),
    ("b_03.01.csv", &["c0010"], CONTRACTS, ID),
    ("b_03.02.csv", &["c0010"], CONTRACTS, ID),
    ("b_03.03.csv", &["c0010"], CONTRACTS, ID),
    ("b_04.01.csv", &["c0010"], CONTRACTS, ID),
    ("b_05.02.csv", &["c0010"], CONTRACTS, ID),
    ("b_07.01.csv", &["c0010"], CONTRACTS, ID),
    // Providers and ultimate parents.
    ("b_02.02.csv", &["c0030", "c0040"], PROVIDERS, PROVIDER_KEY),
    ("b_03.02.csv", &["c0020", "c0030"], PROVIDERS, PROVIDER_KEY),
    ("b_05.01.csv", &["c0110", "c0120"], PROVIDERS, PROVIDER_KEY),
    ("b_05.02.csv", &["c0030", "c0040"], PROVIDERS, PROVIDER_KEY),
    ("b_05.02.csv", &["c0060", "c0070"], PROVIDERS, PROVIDER_KEY),
    ("b_07.01.csv", &["c0020", "c0030"], PROVIDERS, PROVIDER_KEY),
    // Entities in scope.
    ("b_01.01.csv", &["c0010"], ENTITIES, ID),
    ("b_01.03.csv", &["c0020"], ENTITIES, ID),
    ("b_02.02.csv", &["c0020"], ENTITIES, ID),
    ("b_03.01.csv", &["c0020"], ENTITIES, ID),
    ("b_03.03.csv", &["c0020"], ENTITIES, ID),
    ("b_04.01.csv", &["c0020"], ENTITIES, ID),
    ("b_06.01.csv", &["c0040"], ENTITIES, ID),
    // Functions of their entity.
    (
        "b_02.02.csv",
        &["c0050", "c0020"],
        "b_06.01.csv",
        &["c0010", "c0040"],
    ),
    // Branches.
    ("b_04.01.csv", &["c0040"], "b_01.03.csv", ID),
];

/// RFC 4180: records ended by CRLF, fields separated by commas, a quoted
/// field doubling its quotes and free to hold commas and line breaks.
/// Refuses a bare LF or CR outside quotes and a record not ended by CRLF.
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => {
                    quoted = false;
                    if !matches!(chars.peek(), Some(',' | '\r') | None) {
                        return Err(format!("text after a closing quote in {field:?}"));
                    }
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            '"' => return Err(format!("a quote inside the unquoted field {field:?}")),
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' => {
                if chars.next() != Some('\n') {
                    return Err("a CR not followed by LF".to_owned());
                }
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                at_field_start = true;
            }
            '\n' => return Err("a bare LF ends a record (CRLF expected)".to_owned()),
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err("an unclosed quote".to_owned());
    }
    if !field.is_empty() || !record.is_empty() {
        return Err("the last record is not ended by CRLF".to_owned());
    }
    Ok(records)
}

#[test]
fn the_csv_parser_reads_rfc_4180() {
    assert_eq!(
        parse_csv("a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n,\r\n").unwrap(),
        [vec!["a", "b"], vec!["x,y", "say \"hi\""], vec!["", ""]]
    );
    assert_eq!(
        parse_csv("\"two\r\nlines\"\r\n").unwrap(),
        [vec!["two\r\nlines"]]
    );
    assert!(parse_csv("a,b\n").is_err());
    assert!(parse_csv("a,b").is_err());
    assert!(parse_csv("a\"b\r\n").is_err());
}

/// One template as read back: its header and rows.
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    fn column(&self, code: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == code)
            .unwrap_or_else(|| panic!("no column {code} in {:?}", self.header))
    }

    fn cells(&self, row: &[String], columns: &[&str]) -> Vec<String> {
        columns
            .iter()
            .map(|c| row[self.column(c)].clone())
            .collect()
    }
}

/// A package read back from its files (paths under the root folder).
struct Report {
    tables: BTreeMap<String, Csv>,
    parameters: HashMap<String, String>,
    /// templateID → the values given.
    indicators: BTreeMap<String, Vec<String>>,
}

impl Report {
    fn from_files(files: &BTreeMap<String, Vec<u8>>) -> Self {
        let names: BTreeSet<String> = files.keys().cloned().collect();
        assert_eq!(names, expected_files(), "the package's files");
        let csv = |name: &str| -> Vec<Vec<String>> {
            let text = std::str::from_utf8(&files[name])
                .unwrap_or_else(|e| panic!("{name} is not UTF-8: {e}"));
            assert!(!text.starts_with('\u{feff}'), "{name} starts with a BOM");
            parse_csv(text).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let mut tables = BTreeMap::new();
        for (file, _) in KEYS {
            let mut records = csv(&format!("reports/{file}")).into_iter();
            let header = records.next().unwrap_or_else(|| panic!("{file} is empty"));
            assert!(
                header.first().map(String::as_str) == Some("c0010")
                    && header.iter().all(|h| h.len() == 5
                        && h.starts_with('c')
                        && h[1..].bytes().all(|b| b.is_ascii_digit())),
                "{file}: header {header:?}"
            );
            let rows: Vec<Vec<String>> = records.collect();
            for row in &rows {
                assert_eq!(row.len(), header.len(), "{file}: row {row:?}");
            }
            tables.insert((*file).to_owned(), Csv { header, rows });
        }
        let mut parameters = HashMap::new();
        let mut records = csv("reports/parameters.csv").into_iter();
        assert_eq!(records.next().unwrap(), ["name", "value"]);
        for r in records {
            assert_eq!(r.len(), 2, "parameters.csv: {r:?}");
            parameters.insert(r[0].clone(), r[1].clone());
        }
        let mut indicators: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut records = csv("reports/FilingIndicators.csv").into_iter();
        assert_eq!(records.next().unwrap(), ["templateID", "reported"]);
        for r in records {
            assert_eq!(r.len(), 2, "FilingIndicators.csv: {r:?}");
            indicators
                .entry(r[0].clone())
                .or_default()
                .push(r[1].clone());
        }
        for name in ["META-INF/reportPackage.json", "reports/report.json"] {
            serde_json::from_slice::<Value>(&files[name])
                .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        }
        Self {
            tables,
            parameters,
            indicators,
        }
    }

    /// Rules 805, 806, 807 and 808, each violation in words.
    fn violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (file, keys) in KEYS {
            let t = &self.tables[*file];
            let mut seen = HashSet::new();
            for (n, row) in t.rows.iter().enumerate() {
                let key = t.cells(row, keys);
                for (column, cell) in keys.iter().zip(&key) {
                    if cell.is_empty() {
                        out.push(format!("805 {file} row {} {column} is empty", n + 1));
                    }
                }
                if !keys.is_empty() && !seen.insert(key.clone()) {
                    out.push(format!("806 {file} row {} repeats {key:?}", n + 1));
                }
            }
        }
        for (from, columns, to, to_columns) in REFERENCES {
            let target = &self.tables[*to];
            let present: HashSet<Vec<String>> = target
                .rows
                .iter()
                .map(|r| target.cells(r, to_columns))
                .collect();
            let source = &self.tables[*from];
            for (n, row) in source.rows.iter().enumerate() {
                let key = source.cells(row, columns);
                // Nothing to follow: an optional reference left empty, or
                // "Not Applicable" where the key needs a value.
                if key.iter().all(|c| c.is_empty() || c == "Not Applicable") {
                    continue;
                }
                if !present.contains(&key) {
                    out.push(format!(
                        "807 {from} row {} {columns:?} = {key:?} is not a row of {to}",
                        n + 1
                    ));
                }
            }
        }
        for (file, _) in KEYS {
            let id = file.trim_end_matches(".csv").to_ascii_uppercase();
            let has_rows = !self.tables[*file].rows.is_empty();
            let want = if has_rows { "true" } else { "false" };
            match self.indicators.get(&id).map(Vec::as_slice) {
                Some([said]) if said == want => {}
                other => out.push(format!(
                    "808 {id}: indicator {other:?}, the table has rows: {has_rows}"
                )),
            }
        }
        for id in self.indicators.keys() {
            let file = format!("{}.csv", id.to_ascii_lowercase());
            if !self.tables.contains_key(&file) {
                out.push(format!("808 an indicator for {id}, which is no template"));
            }
        }
        out
    }
}

/// The ZIP at `path`: its root folder (checked to be its name without
/// `.zip`, and the only one) and its files under it.
fn read_zip(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let stem = path
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .strip_suffix(".zip")
        .unwrap()
        .to_owned();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut roots = BTreeSet::new();
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().into_owned();
        assert!(
            !name.starts_with('/') && !name.contains(".."),
            "unsafe entry {name}"
        );
        let (root, rest) = name.split_once('/').unwrap_or((name.as_str(), ""));
        roots.insert(root.to_owned());
        if entry.is_dir() {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        assert!(
            files.insert(rest.to_owned(), bytes).is_none(),
            "{name} twice"
        );
    }
    assert_eq!(
        roots,
        BTreeSet::from([stem]),
        "one root folder, named as the ZIP"
    );
    files
}

/// `export roi --out DIR` with the bank's registry: exit 0, one ZIP and
/// nothing else in DIR, every rule kept, the same files as the golden ones
/// but the reporting date.
#[test]
fn the_written_zip_passes_an_independent_reader() {
    let scratch = Scratch::new();
    let out = scratch.path("roi");
    let run = scratch.run(&[
        "--config",
        arg(&fixture()),
        "export",
        "roi",
        "--out",
        arg(&out),
    ]);
    run.expect_code(0);
    let entries: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries.len(), 1, "one file, no leftovers: {entries:?}");
    let zip_name = &entries[0];
    assert!(
        zip_name.starts_with(&STEM[..STEM.len() - 17])
            && Path::new(zip_name).extension().is_some_and(|e| e == "zip"),
        "{zip_name}"
    );
    let stamp = &zip_name[STEM.len() - 17..zip_name.len() - 4];
    assert!(
        stamp.len() == 17 && stamp.bytes().all(|b| b.is_ascii_digit()),
        "the creation time yyyymmddhhmmssfff: {stamp}"
    );
    assert!(run.stdout.contains(zip_name.as_str()), "{}", run.stdout);

    let files = read_zip(&out.join(zip_name));
    let report = Report::from_files(&files);
    assert_eq!(report.violations(), Vec::<String>::new());

    let golden = files_under(&golden_root().join(STEM));
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        golden.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &files {
        if name == "reports/b_01.01.csv" {
            continue;
        }
        assert!(
            bytes == &golden[name],
            "{name} differs from the golden file\n--- written ---\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
    // B_01.01: the same, but c0060, the day it was reported.
    let without_date = |bytes: &[u8]| {
        let mut records = parse_csv(std::str::from_utf8(bytes).unwrap()).unwrap();
        let date = std::mem::take(&mut records[1][5]);
        (records, date)
    };
    let (written, date) = without_date(&files["reports/b_01.01.csv"]);
    let (want, _) = without_date(&golden["reports/b_01.01.csv"]);
    assert_eq!(written, want);
    assert_eq!(written[0][5], "c0060");
    NaiveDate::parse_from_str(&date, "%Y-%m-%d").unwrap();
}

// ---------------------------------------------------------------------------
// 3. One registry per rule.

/// Writes `text` as `bank.toml` in the scratch folder; returns its path.
fn write_bank(scratch: &Scratch, text: &str) -> PathBuf {
    scratch.write("bank.toml", text)
}

/// `export roi --check` of `text`, refused as the config loads: exit 2.
#[track_caller]
fn refused_at_load(text: &str) -> Run {
    let scratch = Scratch::new();
    let config = write_bank(&scratch, text);
    let run = scratch.run(&["--config", arg(&config), "export", "roi", "--check"]);
    run.expect_code(2);
    run
}

/// `export roi --check` of `text`: exit 1; then `export roi --out DIR`:
/// exit 1 and DIR left empty. Returns the `--check` run.
#[track_caller]
fn rejected(text: &str) -> Run {
    let scratch = Scratch::new();
    let config = write_bank(&scratch, text);
    let run = scratch.run(&["--config", arg(&config), "export", "roi", "--check"]);
    run.expect_code(1);
    assert!(
        run.stdout
            .contains("a supervisor would reject this register; nothing written"),
        "{}",
        run.stdout
    );
    let out = scratch.path("out");
    std::fs::create_dir(&out).unwrap();
    let export = scratch.run(&[
        "--config",
        arg(&config),
        "export",
        "roi",
        "--out",
        arg(&out),
    ]);
    export.expect_code(1);
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert!(
        left.is_empty(),
        "written despite a blocking problem: {left:?}"
    );
    run
}

/// Asserts a line `error {template} [{row}] {column} ({rule}): …`.
#[track_caller]
fn names(run: &Run, template: &str, row: &str, column: &str, rule: &str) {
    let rule = if rule.bytes().all(|b| b.is_ascii_digit()) {
        format!("(rule {rule})")
    } else {
        format!("({rule})")
    };
    let want = format!("error {template} [{row}] {column} {rule}: ");
    assert!(
        run.stdout.lines().any(|l| l.starts_with(&want)),
        "no line starting {want:?}:\n{}",
        run.stdout
    );
}

#[test]
fn a_contract_without_lei_or_euid_has_no_provider() {
    let text = edit(
        &bank_text(),
        "id = \"helpdesk-pro\"",
        "euid = \"NLNHR.81234567\"\n",
        "",
    );
    let run = rejected(&text);
    names(&run, "B_02.01", "MB-2025-009", "c0010", "no-provider");
    names(&run, "B_02.02", "MB-2025-009", "c0030", "no-provider");
    assert!(
        run.stdout
            .contains("supplier helpdesk-pro, has neither an LEI nor an EUID")
    );
}

#[test]
fn a_service_without_functions_has_an_empty_key() {
    let text = edit(
        &bank_text(),
        "type = \"data-analysis\"",
        "functions = [\"F3\"]\n",
        "",
    );
    let run = rejected(&text);
    names(
        &run,
        "B_02.02",
        "MB-2025-004 / 529900MUSTERBANK0030 / 213800DATAVIZ0000017 /  / eba_TA:S06 / eba_GA:GB / eba_GA:qx2007 / eba_GA:qx2007",
        "c0050",
        "805",
    );
    names(&run, "B_02.01", "MB-2025-004", "c0010", "no-function");
    assert!(run.stdout.contains("2 blocking problems"), "{}", run.stdout);
}

#[test]
fn a_critical_function_needs_its_rto() {
    let text = edit(&bank_text(), "id = \"F2\"", "rto_hours = 24\n", "");
    let run = rejected(&text);
    names(
        &run,
        "B_06.01",
        "F2 / 529900MUSTERBANK0030",
        "c0080",
        "rto-rpo",
    );
    assert!(run.stdout.contains("without its RTO"), "{}", run.stdout);
    assert!(run.stdout.contains("1 blocking problem,"), "{}", run.stdout);
}

#[test]
fn a_rank_3_subcontractor_needs_a_rank_2() {
    // Acme's chain without DC Ireland: GridNet at rank 3 serves Acme itself.
    let bank = bank_text();
    let start = bank
        .find("[[supplier.contract.service.subcontractor]]\nrank = 2")
        .unwrap();
    let end = bank.find("serves = \"635400DCIRELAND00077\"").unwrap();
    let text = format!(
        "{}[[supplier.contract.service.subcontractor]]\nrank = 3\nlei = \"635400GRIDNET0000016\"\n\
         name = \"GridNet Fibre Ltd\"\ncountry = \"IE\"\nserves = \"5493ACMECLOUD0000018\"{}",
        &bank[..start],
        &bank[end + "serves = \"635400DCIRELAND00077\"".len()..]
    );
    let run = rejected(&text);
    names(
        &run,
        "B_05.02",
        "MB-2023-001 / eba_TA:S17 / 635400GRIDNET0000016 / eba_qCO:qx2000 / 3 / 5493ACMECLOUD0000018 / eba_qCO:qx2000",
        "c0050",
        "rank-gap",
    );
    assert!(run.stdout.contains("1 blocking problem,"), "{}", run.stdout);
}

#[test]
fn an_ended_contract_needs_its_termination_reason() {
    let text = edit(
        &bank_text(),
        "id = \"consultco\"",
        "termination = \"expired\"\n",
        "",
    );
    let run = rejected(&text);
    names(
        &run,
        "B_02.02",
        "MB-2023-015 / 529900MUSTERBANK0030 / 529900CONSULTCO00028 / F2 / eba_TA:S15 / eba_GA:DE / eba_GA:qx2007 / eba_GA:qx2007",
        "c0090",
        "ended",
    );
    assert!(run.stdout.contains("ended on 2026-06-30"), "{}", run.stdout);
    assert!(run.stdout.contains("1 blocking problem,"), "{}", run.stdout);
}

#[test]
fn two_contracts_with_one_reference_are_refused_at_load() {
    // A contract reference is B_02.01's key: with a register declared, the
    // config refuses a second contract under the same reference, at its place.
    let text = edit(
        &bank_text(),
        "id = \"riskwise\"",
        "reference = \"MB-2025-012\"",
        "reference = \"MB-2025-009\"",
    );
    let run = refused_at_load(&text);
    assert!(
        run.stderr.contains("supplier[riskwise].contract.reference")
            && run
                .stderr
                .contains("\"MB-2025-009\" is supplier helpdesk-pro's too"),
        "{}",
        run.stderr
    );
}

/// The problems as (blocking, template, row, column, rule), for exact
/// comparison.
fn summary(
    problems: &[Problem],
) -> BTreeSet<(bool, &'static str, String, &'static str, &'static str)> {
    problems
        .iter()
        .map(|p| (p.blocking, p.template, p.row.clone(), p.column, p.rule))
        .collect()
}

fn table_mut<'a>(
    tables: &'a mut Tables,
    id: &str,
) -> &'a mut supplywatch::register::templates::Table {
    tables.tables.iter_mut().find(|t| t.shape.id == id).unwrap()
}

/// Sets `column` of the rows of `template` whose `key_column` is `key`.
fn set(
    tables: &mut Tables,
    template: &str,
    key_column: &str,
    key: &str,
    column: &str,
    value: &str,
) {
    let table = table_mut(tables, template);
    let k = table.shape.index(key_column).unwrap();
    let c = table.shape.index(column).unwrap();
    let mut changed = 0;
    for row in &mut table.rows {
        if row[k] == key {
            value.clone_into(&mut row[c]);
            changed += 1;
        }
    }
    assert!(changed > 0, "no {template} row with {key_column} = {key}");
}

#[test]
fn the_bank_has_no_problem() {
    let (_, tables) = bank_tables();
    assert_eq!(check(&tables, reference()), []);
}

#[test]
fn a_duplicated_row_breaks_806() {
    let (_, mut tables) = bank_tables();
    let general = table_mut(&mut tables, "B_02.01");
    let second = general.rows[1].clone();
    general.rows.push(second.clone());
    let n = general.rows.len();
    let problems = check(&tables, reference());
    assert_eq!(
        summary(&problems),
        BTreeSet::from([(true, "B_02.01", second[0].clone(), "c0010", "806")])
    );
    assert_eq!(
        problems[0].reason,
        format!("rows 2 and {n} share this primary key")
    );
}

#[test]
fn a_provider_missing_from_b_05_01_breaks_807() {
    let (_, mut tables) = bank_tables();
    let paycore = "391200PAYCORE0000091";
    table_mut(&mut tables, "B_05.01")
        .rows
        .retain(|r| r[0] != paycore);
    let problems = check(&tables, reference());
    let b0202 = format!(
        "MB-2024-007 / {BANK_LEI} / {paycore} / F1 / eba_TA:S19 / eba_GA:LU / eba_GA:LU / eba_GA:LU"
    );
    let b0502 = format!(
        "MB-2024-007 / eba_TA:S19 / {paycore} / eba_qCO:qx2000 / 1 / {paycore} / eba_qCO:qx2000"
    );
    let b0701 = format!("MB-2024-007 / {paycore} / eba_qCO:qx2000 / eba_TA:S19");
    assert_eq!(
        summary(&problems),
        BTreeSet::from([
            (true, "B_02.02", b0202, "c0030", "807"),
            (
                true,
                "B_03.02",
                format!("MB-2024-007 / {paycore} / eba_qCO:qx2000"),
                "c0020",
                "807"
            ),
            (true, "B_05.02", b0502.clone(), "c0030", "807"),
            (true, "B_05.02", b0502, "c0060", "807"),
            (true, "B_07.01", b0701, "c0020", "807"),
        ])
    );
    assert!(
        problems.iter().all(|p| p.reason.contains("B_05.01")),
        "{problems:#?}"
    );
}

#[test]
fn a_contract_missing_from_b_02_01_breaks_807() {
    let (_, mut tables) = bank_tables();
    table_mut(&mut tables, "B_02.01")
        .rows
        .retain(|r| r[0] != "MB-2021-002");
    let problems = check(&tables, reference());
    let templates: BTreeSet<_> = problems
        .iter()
        .map(|p| (p.template, p.column, p.rule))
        .collect();
    assert_eq!(
        templates,
        BTreeSet::from([
            ("B_02.02", "c0010", "807"),
            ("B_03.01", "c0010", "807"),
            ("B_03.02", "c0010", "807"),
            ("B_04.01", "c0010", "807"),
            ("B_05.02", "c0010", "807"),
            ("B_07.01", "c0010", "807"),
        ])
    );
    assert!(
        problems
            .iter()
            .all(|p| p.blocking && p.row.starts_with("MB-2021-002"))
    );
}

#[test]
fn a_filing_indicator_that_disagrees_breaks_808() {
    let (_, tables) = bank_tables();
    let right = filing_indicators(&tables);
    assert!(right.iter().all(|(_, reported)| *reported), "{right:?}");
    let mut none = Vec::new();
    indicators(&tables, &right, &mut none);
    assert_eq!(none, []);

    let wrong: Vec<(&str, bool)> = right
        .iter()
        .map(|(id, r)| (*id, if *id == "B_02.03" { false } else { *r }))
        .collect();
    let mut out = Vec::new();
    indicators(&tables, &wrong, &mut out);
    assert_eq!(
        summary(&out),
        BTreeSet::from([(
            true,
            "B_02.03",
            "(filing indicator)".to_owned(),
            "reported",
            "808"
        )])
    );
    assert!(
        out[0]
            .reason
            .contains("says false but the table has 1 rows"),
        "{out:?}"
    );

    let missing: Vec<(&str, bool)> = right
        .iter()
        .copied()
        .filter(|(id, _)| *id != "B_99.01")
        .collect();
    let mut out = Vec::new();
    indicators(&tables, &missing, &mut out);
    assert_eq!(
        summary(&out),
        BTreeSet::from([(
            true,
            "B_99.01",
            "(filing indicator)".to_owned(),
            "reported",
            "808"
        )])
    );
}

#[test]
fn invalid_codes_break_the_code_rule() {
    for (template, key_column, key, column, value, row) in [
        (
            "B_05.01",
            "c0010",
            "391200PAYCORE0000091",
            "c0080",
            "eba_GA:XX",
            "391200PAYCORE0000091 / eba_qCO:qx2000",
        ),
        (
            "B_01.01",
            "c0010",
            BANK_LEI,
            "c0010",
            "529900MUSTERBANK0031",
            "529900MUSTERBANK0031",
        ),
        (
            "B_02.01",
            "c0010",
            "MB-2024-007",
            "c0040",
            "eba_CU:XYZ",
            "MB-2024-007",
        ),
        (
            "B_02.01",
            "c0010",
            "MB-2024-007",
            "c0050",
            "1,150,000.50",
            "MB-2024-007",
        ),
        (
            "B_06.01",
            "c0010",
            "F3",
            "c0070",
            "2026-02-30",
            "F3 / 529900MUSTERBANK0030",
        ),
    ] {
        let (_, mut tables) = bank_tables();
        set(&mut tables, template, key_column, key, column, value);
        let problems = check(&tables, reference());
        assert_eq!(
            summary(&problems),
            BTreeSet::from([(true, template, row.to_owned(), column, "code")]),
            "{value:?} in {template} {column}"
        );
        assert!(problems[0].reason.contains(value), "{problems:?}");
    }
}

#[test]
fn an_end_before_the_start_breaks_the_dates_rule() {
    // ConsultCo's arrangement has its termination reason, so only the
    // dates are wrong (swapped on another contract, the end would also
    // fall before the reference date: `ended` as well).
    let (_, mut tables) = bank_tables();
    set(
        &mut tables,
        "B_02.02",
        "c0010",
        "MB-2023-015",
        "c0070",
        "2026-06-30",
    );
    set(
        &mut tables,
        "B_02.02",
        "c0010",
        "MB-2023-015",
        "c0080",
        "2023-07-01",
    );
    let problems = check(&tables, reference());
    assert_eq!(
        summary(&problems),
        BTreeSet::from([(
            true,
            "B_02.02",
            format!(
                "MB-2023-015 / {BANK_LEI} / 529900CONSULTCO00028 / F2 / eba_TA:S15 / eba_GA:DE / eba_GA:qx2007 / eba_GA:qx2007"
            ),
            "c0080",
            "dates"
        )])
    );
}

// ---------------------------------------------------------------------------
// 4. Warnings do not block.

#[test]
fn warnings_alone_do_not_block() {
    // SecOps supports F1 and F2 (critical) without its substitutability;
    // PayCore is not substitutable and says not why.
    let text = edit(
        &bank_text(),
        "id = \"secops\"",
        "substitutability = \"easy\"\n",
        "",
    );
    let text = edit(
        &text,
        "id = \"paycore\"",
        "substitutability_reason = \"no-alternatives\"\n",
        "",
    );
    let scratch = Scratch::new();
    let config = write_bank(&scratch, &text);
    let out = scratch.path("out");
    let run = scratch.run(&[
        "--config",
        arg(&config),
        "export",
        "roi",
        "--out",
        arg(&out),
    ]);
    run.expect_code(0);
    let warnings: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("warning "))
        .collect();
    assert_eq!(warnings.len(), 2, "{}", run.stdout);
    assert!(warnings.iter().any(|l| l.starts_with(
        "warning B_07.01 [MB-2024-011 / 529900SECOPS00000069 / eba_qCO:qx2000 / eba_TA:S04] c0050 (mandatory)"
    )), "{}", run.stdout);
    assert!(warnings.iter().any(|l| l.starts_with(
        "warning B_07.01 [MB-2024-007 / 391200PAYCORE0000091 / eba_qCO:qx2000 / eba_TA:S19] c0060 (substitutability)"
    )), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("0 blocking problems, 2 warnings; written"),
        "{}",
        run.stdout
    );
    let zips: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert_eq!(zips.len(), 1);
}

// ---------------------------------------------------------------------------
// 5. --unzipped and --format json.

#[test]
fn unzipped_leaves_the_folder_beside_the_zip() {
    let scratch = Scratch::new();
    let out = scratch.path("out");
    let run = scratch.run(&[
        "--config",
        arg(&fixture()),
        "export",
        "roi",
        "--out",
        arg(&out),
        "--unzipped",
    ]);
    run.expect_code(0);
    let mut entries: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let (folder, zip) = (&entries[0], &entries[1]);
    assert_eq!(format!("{folder}.zip"), *zip);
    assert!(out.join(folder).is_dir());
    assert_eq!(files_under(&out.join(folder)), read_zip(&out.join(zip)));
    assert!(run.stdout.contains("unzipped into"), "{}", run.stdout);
}

#[test]
fn json_says_what_was_written() {
    let scratch = Scratch::new();
    let out = scratch.path("out");
    let run = scratch.run(&[
        "--config",
        arg(&fixture()),
        "--format",
        "json",
        "export",
        "roi",
        "--out",
        arg(&out),
    ]);
    run.expect_code(0);
    let json = run.json();
    let package = json["package"].as_str().unwrap();
    assert!(
        package.starts_with("529900MUSTERBANK0030.CON_DE_DORA010100_DORA_2026-12-31_"),
        "{package}"
    );
    assert!(Path::new(package).extension().is_some_and(|e| e == "zip"));
    let zip = PathBuf::from(json["zip"].as_str().unwrap());
    assert_eq!(zip.file_name().unwrap().to_str().unwrap(), package);
    assert!(zip.is_file() || out.join(package).is_file());
    let templates = json["templates"].as_array().unwrap();
    assert_eq!(templates.len(), 15);
    assert_eq!(templates[0]["template"], "B_01.01");
    assert_eq!(templates[14]["template"], "B_99.01");
    let rows: u64 = templates.iter().map(|t| t["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 126);
    assert!(templates.iter().all(|t| t["reported"] == true));
    assert_eq!(json["problems"], serde_json::json!([]));
    assert_eq!(json["blocking"], 0);
    assert_eq!(json["warnings"], 0);
    assert_eq!(json["reference_date"], "2026-12-31");
}

#[test]
fn json_lists_the_problems_of_a_rejected_register() {
    let text = edit(&bank_text(), "id = \"F2\"", "rto_hours = 24\n", "");
    let scratch = Scratch::new();
    let config = write_bank(&scratch, &text);
    let run = scratch.run(&[
        "--config",
        arg(&config),
        "--format",
        "json",
        "export",
        "roi",
        "--check",
    ]);
    run.expect_code(1);
    let json = run.json();
    assert_eq!(json["blocking"], 1);
    assert_eq!(json["warnings"], 1);
    assert_eq!(json["zip"], Value::Null);
    let first = &json["problems"][0];
    assert_eq!(first["blocking"], true);
    assert_eq!(first["template"], "B_06.01");
    assert_eq!(first["column"], "c0080");
    assert_eq!(first["rule"], "rto-rpo");
}

// ---------------------------------------------------------------------------
// 6. Bad input.

#[test]
fn an_invalid_lei_is_refused_at_its_place() {
    let bank = bank_text();
    let text = edit(
        &bank,
        "id = \"paycore\"",
        "lei = \"391200PAYCORE0000091\"",
        "lei = \"391200PAYCORE0000092\"",
    );
    let line = text
        .lines()
        .position(|l| l == "lei = \"391200PAYCORE0000092\"")
        .unwrap()
        + 1;
    let run = refused_at_load(&text);
    assert!(
        run.stderr.contains(&format!("bank.toml:{line}:7:")),
        "no bank.toml:{line}:7 in:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("391200PAYCORE0000092"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_register_needs_an_entity() {
    // A registry that declares a reference date and nothing else.
    let scratch = Scratch::new();
    let config = write_bank(
        &scratch,
        "[register]\nreference_date = 2026-12-31\n\n[[supplier]]\nid = \"acme\"\nname = \"Acme\"\n\
         criticality = \"critical\"\ncontract = { reference = \"C-1\", start = 2024-01-01 }\n",
    );
    let run = scratch.run(&["--config", arg(&config), "export", "roi", "--check"]);
    run.expect_code(2);
    assert!(run.stderr.contains("[entity]"), "{}", run.stderr);

    // The bank without its [entity]: its register data is refused.
    let bank = bank_text();
    let start = bank.find("[entity]").unwrap();
    let end = bank.find("[[function]]").unwrap();
    let text = format!("{}{}", &bank[..start], &bank[end..]);
    let config = write_bank(&scratch, &text);
    let run = scratch.run(&["--config", arg(&config), "export", "roi", "--check"]);
    run.expect_code(2);
    assert!(run.stderr.contains("[entity]"), "{}", run.stderr);
    assert!(run.stderr.contains("bank.toml:"), "{}", run.stderr);
}

#[test]
fn the_register_needs_a_reference_date() {
    let text = edit(
        &bank_text(),
        "[register]",
        "reference_date = 2026-12-31\n",
        "",
    );
    let scratch = Scratch::new();
    let config = write_bank(&scratch, &text);
    let run = scratch.run(&["--config", arg(&config), "export", "roi", "--check"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--reference-date"), "{}", run.stderr);
    // Given on the command line, it is enough.
    let run = scratch.run(&[
        "--config",
        arg(&config),
        "export",
        "roi",
        "--check",
        "--reference-date",
        "2026-12-31",
    ]);
    run.expect_code(0);
}

// ---------------------------------------------------------------------------
// 7. register.incomplete.

/// The `register.incomplete` findings of `obligations --dry-run --as-of`,
/// by supplier.
fn incomplete(config: &Path, scratch: &Scratch, as_of: &str) -> BTreeMap<String, Value> {
    let run = scratch.run(&[
        "--config",
        arg(config),
        "--database",
        arg(&scratch.path("supplywatch.db")),
        "--format",
        "json",
        "obligations",
        "--dry-run",
        "--as-of",
        as_of,
    ]);
    run.expect_code(0);
    let mut out = BTreeMap::new();
    for supplier in run.json()["suppliers"].as_array().unwrap() {
        for finding in supplier["findings"].as_array().unwrap() {
            if finding["check"] == "register.incomplete" {
                out.insert(supplier["id"].as_str().unwrap().to_owned(), finding.clone());
            }
        }
    }
    out
}

#[test]
fn register_gaps_become_findings() {
    let scratch = Scratch::new();
    for as_of in ["2026-06-01", "2026-11-15"] {
        assert_eq!(
            incomplete(&fixture(), &scratch, as_of),
            BTreeMap::new(),
            "{as_of}"
        );
    }

    // PayCore (critical) without its expense, currency and governing law.
    let text = edit(
        &bank_text(),
        "id = \"paycore\"",
        "governing_law = \"LU\"\nannual_expense = 1150000.50\ncurrency = \"EUR\"\n",
        "",
    );
    let config = write_bank(&scratch, &text);
    let missing = [
        "B_02.01 c0040 currency",
        "B_02.01 c0050 annual expense",
        "B_02.02 c0120 governing law",
    ];

    let early = incomplete(&config, &scratch, "2026-06-01");
    assert_eq!(early.keys().collect::<Vec<_>>(), ["paycore"]);
    let finding = &early["paycore"];
    assert_eq!(finding["severity"], "medium");
    assert_eq!(finding["target"], "paycore");
    assert_eq!(finding["evidence"]["missing"], serde_json::json!(missing));
    assert_eq!(finding["evidence"]["days_left"], 213);
    let summary = finding["summary"].as_str().unwrap();
    for item in missing {
        assert!(summary.contains(item), "{summary}");
    }

    let late = incomplete(&config, &scratch, "2026-11-15");
    assert_eq!(late.keys().collect::<Vec<_>>(), ["paycore"]);
    assert_eq!(late["paycore"]["severity"], "high");
    assert_eq!(late["paycore"]["evidence"]["days_left"], 46);
}
