//! The `supplywatch` binary end to end: exit codes, messages, and what
//! `sync` leaves in the database and its audit log.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use serde_json::Value;

use crate::support::{Scratch, arg, config_with, run_in, supplier, three_suppliers};

/// Writes `supplywatch.toml` in the scratch folder.
fn write_config(scratch: &Scratch, text: &str) {
    scratch.write("supplywatch.toml", text);
}

/// `audit --format json` entries (all, or one supplier's).
fn audit(scratch: &Scratch, supplier: Option<&str>) -> Vec<Value> {
    let mut args = vec!["audit", "--format", "json"];
    if let Some(id) = supplier {
        args.extend(["--supplier", id]);
    }
    let run = scratch.run(&args);
    run.expect_code(0);
    run.json().as_array().unwrap().clone()
}

/// `suppliers --format json`, by id.
fn suppliers(scratch: &Scratch) -> Vec<Value> {
    let run = scratch.run(&["suppliers", "--format", "json"]);
    run.expect_code(0);
    run.json().as_array().unwrap().clone()
}

fn find<'a>(suppliers: &'a [Value], id: &str) -> &'a Value {
    suppliers
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed: {suppliers:#?}"))
}

fn actions(entries: &[Value]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| {
            (
                e["supplier"].as_str().unwrap_or_default().to_owned(),
                e["action"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The cells of a table row, cut at the columns of the header.
fn cells(header: &str, line: &str) -> Vec<String> {
    let starts: Vec<usize> = [
        "ID",
        "NAME",
        "CRITICALITY",
        "STATUS",
        "CONTRACT END",
        "DOMAINS",
        "ENDPOINTS",
    ]
    .iter()
    .map(|h| header.find(h).unwrap())
    .collect();
    let chars: Vec<char> = line.chars().collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, start)| {
            let end = starts
                .get(i + 1)
                .copied()
                .unwrap_or(chars.len())
                .min(chars.len());
            chars[(*start).min(end)..end]
                .iter()
                .collect::<String>()
                .trim()
                .to_owned()
        })
        .collect()
}

fn no_sidecar_files(db: &Path) {
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut sidecar = db.as_os_str().to_owned();
        sidecar.push(suffix);
        assert!(
            !Path::new(&sidecar).exists(),
            "{} was created",
            Path::new(&sidecar).display()
        );
    }
}

#[test]
fn validate_prints_a_one_line_summary() {
    let scratch = Scratch::new();
    write_config(&scratch, &three_suppliers());
    let run = scratch.run(&["validate", "--config", "supplywatch.toml"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout,
        "supplywatch.toml: valid — 3 suppliers, 3 domains, 4 endpoints\n"
    );

    // Found by its default name in the working directory, too.
    let run = scratch.run(&["validate", "--format", "json"]);
    run.expect_code(0);
    let json = run.json();
    assert_eq!(json["valid"], true);
    assert_eq!(json["suppliers"], 3);
    assert_eq!(json["domains"], 3);
    assert_eq!(json["endpoints"], 4);
}

#[test]
fn validate_singular_counts() {
    let scratch = Scratch::new();
    write_config(
        &scratch,
        &config_with(&supplier(
            "acme",
            "Acme",
            "domains = [\"acme.example\"]\nendpoints = [\"acme.example\"]",
        )),
    );
    let run = scratch.run(&["validate", "--config", "supplywatch.toml"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .ends_with("valid — 1 supplier, 1 domain, 1 endpoint\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn validate_lists_every_error_with_file_line_column() {
    let scratch = Scratch::new();
    write_config(
        &scratch,
        "[daemon]\ntimezone = \"Nowhere\"\n\n[[supplier]]\nid = \"acme\"\nname = \"Acme\"\ncriticality = \"vital\"\ncountry = \"nl\"\n",
    );
    let run = scratch.run(&["validate", "--config", "supplywatch.toml"]);
    run.expect_code(2);
    assert_eq!(run.stdout, "");
    let expected = [
        "error: supplywatch.toml:2:12: daemon.timezone: unknown time zone \"Nowhere\"",
        "error: supplywatch.toml:7:15: supplier[acme].criticality: \"vital\" is not one of",
        "error: supplywatch.toml:8:11: supplier[acme].country: malformed country \"nl\"",
        "supplywatch.toml: invalid, 3 errors",
    ];
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{}", run.stderr);
    for (line, want) in lines.iter().zip(expected) {
        assert!(
            line.starts_with(want),
            "{line:?} should start with {want:?}"
        );
    }
}

#[test]
fn validate_json_reports_errors() {
    let scratch = Scratch::new();
    write_config(
        &scratch,
        &format!(
            "[contact]\nciso = \"c@bank.example\"\n{}",
            supplier("acme", "Acme", "endpoints = [\"a.example:0\"]")
        ),
    );
    let run = scratch.run(&[
        "validate",
        "--config",
        "supplywatch.toml",
        "--format",
        "json",
    ]);
    run.expect_code(2);
    let json = run.json();
    assert_eq!(json["valid"], false);
    assert_eq!(json["file"], "supplywatch.toml");
    let errors = json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{json:#}");
    assert_eq!(errors[0]["line"], 1);
    assert_eq!(errors[0]["column"], 2);
    assert_eq!(errors[0]["key"], "contact");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `contacts`?")
    );
    assert_eq!(errors[1]["line"], 7);
    assert_eq!(errors[1]["key"], "supplier[acme].endpoints[0]");
    assert_eq!(errors[1]["file"], "supplywatch.toml");
}

#[test]
fn non_utf8_config_is_refused_cleanly() {
    let scratch = Scratch::new();
    scratch.write(
        "supplywatch.toml",
        b"[daemon]\ntimezone = \"\xff\xfeUTC\"\n",
    );
    let run = scratch.run(&["validate", "--config", "supplywatch.toml"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(
            "supplywatch.toml:2:13: the file is not UTF-8 text (invalid byte at offset 21)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn empty_config_is_refused_cleanly() {
    let scratch = Scratch::new();
    scratch.write("supplywatch.toml", "");
    let run = scratch.run(&["validate", "--config", "supplywatch.toml"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("supplywatch.toml:1:1: the file is empty"),
        "{}",
        run.stderr
    );
}

#[test]
fn megabytes_of_junk_are_refused_cleanly() {
    // Deterministic pseudo-random base64, 76 characters a line, ~5 MB.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut junk = Vec::with_capacity(5 * 1024 * 1024 + 80);
    while junk.len() < 5 * 1024 * 1024 {
        for _ in 0..76 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            junk.push(ALPHABET[(state % 64) as usize]);
        }
        junk.push(b'\n');
    }
    let scratch = Scratch::new();
    scratch.write("junk.toml", &junk);
    let started = std::time::Instant::now();
    let run = scratch.run(&["validate", "--config", "junk.toml"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("junk.toml:1:"),
        "{}",
        &run.stderr[..run.stderr.len().min(2000)]
    );
    assert!(run.stderr.contains("TOML syntax error"));
    assert!(
        run.stderr
            .contains("more syntax errors not shown; is this the right file?"),
        "{}",
        run.stderr
    );
    // A bounded report, not one line per bad line of junk.
    assert!(
        run.stderr.lines().count() <= 25,
        "{} lines",
        run.stderr.lines().count()
    );
    assert!(
        started.elapsed().as_secs() < 60,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_hundred_thousand_unknown_keys_are_capped_and_counted() {
    // Each unknown key used to be located by a scan from the start of the
    // file: quadratic (500,000 keys took minutes). Speed is not asserted
    // here; the bounded, counted report is.
    // Top-level keys go before the first table header.
    let mut text = String::new();
    for i in 0..100_000 {
        let _ = writeln!(text, "zz_unknown_{i} = 1");
    }
    text.push_str(&config_with(&supplier("acme", "Acme", "")));
    let scratch = Scratch::new();
    write_config(&scratch, &text);
    let run = scratch.run(&["validate", "--config", "supplywatch.toml"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("supplywatch.toml: invalid, 100,000 errors"),
        "{}",
        &run.stderr[run.stderr.len().saturating_sub(2000)..]
    );
    assert!(
        run.stderr
            .contains("error: … and 99,800 more errors not shown"),
        "{}",
        &run.stderr[run.stderr.len().saturating_sub(2000)..]
    );
    // The first errors in the file are the ones shown, in order.
    let shown: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("unknown key"))
        .collect();
    assert_eq!(shown.len(), supplywatch::config::MAX_SHOWN_ERRORS);
    assert!(
        shown[0].starts_with("error: supplywatch.toml:1:1: zz_unknown_0: unknown key"),
        "{}",
        shown[0]
    );
    assert!(
        shown[199].starts_with("error: supplywatch.toml:200:1: zz_unknown_199:"),
        "{}",
        shown[199]
    );

    let json = scratch.run(&[
        "validate",
        "--config",
        "supplywatch.toml",
        "--format",
        "json",
    ]);
    json.expect_code(2);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["errors"].as_array().unwrap().len(), 200);
    assert_eq!(v["errors_not_shown"], 99_800);
}

#[test]
fn oversized_config_is_refused_before_parsing() {
    let scratch = Scratch::new();
    let path = scratch.path("huge.toml");
    // Sparse: no 16 MB written to disk.
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(supplywatch::config::MAX_CONFIG_BYTES + 1)
        .unwrap();
    drop(file);
    let run = scratch.run(&["validate", "--config", "huge.toml"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("huge.toml is larger than 16777216 bytes"),
        "{}",
        run.stderr
    );
}

#[test]
fn config_that_is_a_folder_is_a_usage_error() {
    let scratch = Scratch::new();
    std::fs::create_dir(scratch.path("conf.d")).unwrap();
    let run = scratch.run(&["validate", "--config", "conf.d"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("cannot read config file conf.d"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_config_file_is_a_usage_error() {
    let scratch = Scratch::new();
    let run = scratch.run(&["validate", "--config", "nope.toml"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("cannot read config file nope.toml"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("No such file"), "{}", run.stderr);
}

#[test]
fn config_from_the_environment_variable() {
    let scratch = Scratch::new();
    scratch.write("elsewhere.toml", three_suppliers());
    let run = scratch.run_env(&["validate"], &[("SUPPLYWATCH_CONFIG", "elsewhere.toml")]);
    run.expect_code(0);
    assert!(
        run.stdout.starts_with("elsewhere.toml: valid"),
        "{}",
        run.stdout
    );
}

#[test]
fn no_config_anywhere_names_both_candidates() {
    if Path::new("/etc/supplywatch/supplywatch.toml").exists() {
        eprintln!("skipped: /etc/supplywatch/supplywatch.toml exists on this machine");
        return;
    }
    let scratch = Scratch::new();
    let run = scratch.run(&["validate"]);
    run.expect_code(2);
    assert!(run.stderr.contains("./supplywatch.toml"), "{}", run.stderr);
    assert!(
        run.stderr.contains("/etc/supplywatch/supplywatch.toml"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--config"), "{}", run.stderr);

    let run = scratch.run(&["sync"]);
    run.expect_code(2);
    assert!(!scratch.path("supplywatch.db").exists());
}

#[test]
fn sync_twice_is_idempotent() {
    let scratch = Scratch::new();
    write_config(&scratch, &three_suppliers());
    let first = scratch.run(&["sync", "--config", "supplywatch.toml"]);
    first.expect_code(0);
    assert!(
        first.stdout.contains("onboarded  acme\n"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("onboarded  globex\n"));
    assert!(first.stdout.contains("onboarded  initech\n"));
    assert!(
        first
            .stdout
            .ends_with("supplywatch.db: 3 onboarded, 0 updated, 0 exited, 0 unchanged\n"),
        "{}",
        first.stdout
    );
    assert!(scratch.path("supplywatch.db").is_file());
    let after_first = audit(&scratch, None);
    assert_eq!(after_first.len(), 3);
    assert!(after_first.iter().all(|e| e["action"] == "onboard"));
    let source = after_first[0]["source"].as_str().unwrap();
    assert!(
        source.starts_with("sync /") && source.ends_with("supplywatch.toml"),
        "{source}"
    );

    let second = scratch.run(&["sync", "--config", "supplywatch.toml"]);
    second.expect_code(0);
    assert_eq!(
        second.stdout,
        "supplywatch.db: 0 onboarded, 0 updated, 0 exited, 3 unchanged — already in sync\n"
    );
    let after_second = audit(&scratch, None);
    assert_eq!(after_second, after_first);
}

#[test]
fn sync_json_report() {
    let scratch = Scratch::new();
    write_config(&scratch, &three_suppliers());
    let run = scratch.run(&["sync", "--format", "json"]);
    run.expect_code(0);
    let json = run.json();
    assert_eq!(
        json["onboarded"],
        serde_json::json!(["acme", "globex", "initech"])
    );
    assert_eq!(json["unchanged"], 0);
    let run = scratch.run(&["sync", "--format", "json", "--quiet"]);
    run.expect_code(0);
    assert_eq!(run.json()["unchanged"], 3);
}

#[test]
fn removed_supplier_is_exited_then_reentered() {
    let scratch = Scratch::new();
    write_config(&scratch, &three_suppliers());
    scratch.run(&["sync"]).expect_code(0);

    // globex leaves the config.
    let without_globex = config_with(&format!(
        "{}{}",
        supplier(
            "acme",
            "Acme Cloud",
            "domains = [\"acme.example\"]\nendpoints = [\"portal.acme.example\", \"api.acme.example:8443\"]\n\
             contract = { reference = \"C-1\", start = 2024-01-01, end = 2027-06-30 }"
        ),
        supplier(
            "initech",
            "Initech Payroll",
            "endpoints = [\"payroll.initech.example\"]"
        ),
    ));
    write_config(&scratch, &without_globex);
    let run = scratch.run(&["sync"]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("exited     globex (no longer in the config; kept with its history)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(": 0 onboarded, 0 updated, 1 exited, 2 unchanged\n"),
        "{}",
        run.stdout
    );

    let listed = suppliers(&scratch);
    assert_eq!(listed.len(), 3, "an exited supplier is kept");
    let globex = find(&listed, "globex");
    assert_eq!(globex["status"], "exited");
    assert_eq!(globex["in_registry"], false);
    assert_eq!(globex["name"], "Globex Mail");
    assert_eq!(find(&listed, "acme")["in_registry"], true);

    let entries = audit(&scratch, Some("globex"));
    let exit = entries.last().unwrap();
    assert_eq!(exit["action"], "exit");
    assert_eq!(exit["field"], "status");
    assert_eq!(exit["old"], "onboarding");
    assert_eq!(exit["new"], "exited");

    // A second sync without it changes nothing more.
    scratch.run(&["sync"]).expect_code(0);
    assert_eq!(audit(&scratch, Some("globex")).len(), 2);

    // It comes back, with the status the config gives it.
    write_config(&scratch, &three_suppliers());
    let run = scratch.run(&["sync"]);
    run.expect_code(0);
    assert!(run.stdout.contains("re-entered globex\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains("updated    globex: status\n"),
        "{}",
        run.stdout
    );
    let globex = find(&suppliers(&scratch), "globex").clone();
    assert_eq!(globex["status"], "onboarding");
    assert_eq!(globex["in_registry"], true);

    let entries = audit(&scratch, Some("globex"));
    let tail: Vec<_> = actions(&entries).into_iter().map(|(_, a)| a).collect();
    assert_eq!(tail, ["onboard", "exit", "reenter", "update"]);
    let update = &entries[3];
    assert_eq!(update["field"], "status");
    assert_eq!(update["old"], "exited");
    assert_eq!(update["new"], "onboarding");
}

#[test]
fn changed_field_writes_an_update_row() {
    let scratch = Scratch::new();
    write_config(&scratch, &three_suppliers());
    scratch.run(&["sync"]).expect_code(0);

    write_config(
        &scratch,
        &three_suppliers().replace("\"Acme Cloud\"", "\"Acme Cloud B.V.\""),
    );
    let run = scratch.run(&["sync"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("updated    acme: name\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(": 0 onboarded, 1 updated, 0 exited, 2 unchanged\n"),
        "{}",
        run.stdout
    );

    let entries = audit(&scratch, Some("acme"));
    assert_eq!(entries.len(), 2);
    let update = &entries[1];
    assert_eq!(update["action"], "update");
    assert_eq!(update["field"], "name");
    assert_eq!(update["old"], "Acme Cloud");
    assert_eq!(update["new"], "Acme Cloud B.V.");
    assert_eq!(
        find(&suppliers(&scratch), "acme")["name"],
        "Acme Cloud B.V."
    );
}

#[test]
fn audit_filters() {
    let scratch = Scratch::new();
    write_config(&scratch, &three_suppliers());
    scratch.run(&["sync"]).expect_code(0);

    let acme = audit(&scratch, Some("acme"));
    assert_eq!(actions(&acme), [("acme".to_owned(), "onboard".to_owned())]);
    // The onboard row carries a snapshot of the supplier.
    let snapshot: Value = serde_json::from_str(acme[0]["new"].as_str().unwrap()).unwrap();
    assert_eq!(snapshot["name"], "Acme Cloud");
    assert_eq!(
        snapshot["endpoints"],
        serde_json::json!(["portal.acme.example:443", "api.acme.example:8443"])
    );

    assert!(audit(&scratch, Some("nobody")).is_empty());

    let run = scratch.run(&["audit", "--since", "2999-01-01", "--format", "json"]);
    run.expect_code(0);
    assert_eq!(run.json(), serde_json::json!([]));
    let run = scratch.run(&["audit", "--since", "2999-01-01"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("no audit entries match"),
        "{}",
        run.stderr
    );

    let run = scratch.run(&["audit", "--since", "2000-01-01", "--format", "json"]);
    run.expect_code(0);
    assert_eq!(run.json().as_array().unwrap().len(), 3);

    let run = scratch.run(&["audit", "--since", "yesterday"]);
    run.expect_code(2);

    let run = scratch.run(&["audit"]);
    run.expect_code(0);
    let header = run.stdout.lines().next().unwrap();
    for column in ["WHEN", "SUPPLIER", "ACTION", "FIELD", "OLD → NEW", "SOURCE"] {
        assert!(header.contains(column), "{header}");
    }
    assert_eq!(run.stdout.lines().count(), 4);
}

#[test]
fn suppliers_table_has_the_documented_columns() {
    let scratch = Scratch::new();
    write_config(&scratch, &three_suppliers());
    scratch.run(&["sync"]).expect_code(0);
    let run = scratch.run(&["suppliers"]);
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    let words: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        words,
        [
            "ID",
            "NAME",
            "CRITICALITY",
            "STATUS",
            "CONTRACT",
            "END",
            "DOMAINS",
            "ENDPOINTS"
        ]
    );
    assert!(lines[0].contains("CONTRACT END"));
    let rows: Vec<Vec<String>> = lines[1..].iter().map(|l| cells(lines[0], l)).collect();
    assert_eq!(
        rows[0],
        [
            "acme",
            "Acme Cloud",
            "critical",
            "active",
            "2027-06-30",
            "acme.example",
            "portal.acme.example:443, api.acme.example:8443"
        ]
    );
    assert_eq!(
        rows[1],
        [
            "globex",
            "Globex Mail",
            "critical",
            "onboarding",
            "-",
            "globex.example, mail.globex.example",
            "smtp.globex.example:443"
        ]
    );
    // No contract, no domains: dashes.
    assert_eq!(
        rows[2],
        [
            "initech",
            "Initech Payroll",
            "critical",
            "active",
            "-",
            "-",
            "payroll.initech.example:443"
        ]
    );
}

#[test]
fn database_path_is_relative_to_the_config_file() {
    let scratch = Scratch::new();
    std::fs::create_dir(scratch.path("conf")).unwrap();
    std::fs::create_dir(scratch.path("elsewhere")).unwrap();
    scratch.write(
        "conf/supplywatch.toml",
        format!("{}\n", three_suppliers()).replacen(
            "[daemon]\n",
            "[daemon]\ndatabase = \"state.db\"\n",
            1,
        ),
    );
    let config = scratch.path("conf/supplywatch.toml");
    let run = run_in(
        &scratch.path("elsewhere"),
        &["sync", "--config", arg(&config)],
        &[],
    );
    run.expect_code(0);
    assert!(scratch.path("conf/state.db").is_file());
    assert!(!scratch.path("elsewhere/state.db").exists());
    assert!(!scratch.path("elsewhere/supplywatch.db").exists());
}

#[test]
fn help_lists_the_commands() {
    let scratch = Scratch::new();
    let run = scratch.run(&["--help"]);
    run.expect_code(0);
    for command in [
        "validate",
        "sync",
        "suppliers",
        "audit",
        "check",
        "run",
        "status",
        "findings",
        "questionnaire",
        "digest",
    ] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(command)),
            "{command} missing from --help:\n{}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("Exit codes"), "{}", run.stdout);

    let run = scratch.run(&["frobnicate"]);
    run.expect_code(2);
}

#[test]
fn database_in_a_missing_folder() {
    let scratch = Scratch::new();
    write_config(&scratch, &three_suppliers());
    let folder = scratch.path("no-such-folder");
    let db = folder.join("watch.db");
    let run = scratch.run(&["sync", "--database", arg(&db)]);
    run.expect_code(3);
    assert!(
        run.stderr
            .contains(&format!("the folder {} does not exist", folder.display())),
        "{}",
        run.stderr
    );
    assert!(!folder.exists());
}

#[test]
fn database_that_is_not_sqlite_is_left_untouched() {
    let scratch = Scratch::new();
    write_config(&scratch, &three_suppliers());
    let text = b"these are my notes, not a database\n".repeat(200);
    let db = scratch.write("notes.db", &text);
    for command in ["sync", "suppliers", "audit"] {
        let run = scratch.run(&[command, "--database", arg(&db)]);
        run.expect_code(3);
        assert!(
            run.stderr.contains("is not an SQLite database"),
            "{command}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("left untouched"),
            "{command}: {}",
            run.stderr
        );
        assert_eq!(
            std::fs::read(&db).unwrap(),
            text,
            "{command} changed the file"
        );
        no_sidecar_files(&db);
    }

    // Too short to hold a header.
    let short = scratch.write("short.db", "hi\n");
    let run = scratch.run(&["sync", "--database", arg(&short)]);
    run.expect_code(3);
    assert!(run.stderr.contains("too short"), "{}", run.stderr);
    assert_eq!(std::fs::read(&short).unwrap(), b"hi\n");
    no_sidecar_files(&short);

    // A folder.
    std::fs::create_dir(scratch.path("a-folder.db")).unwrap();
    let run = scratch.run(&["sync", "--database", "a-folder.db"]);
    run.expect_code(3);
    assert!(run.stderr.contains("it is a directory"), "{}", run.stderr);
}

#[test]
fn read_only_database() {
    let scratch = Scratch::new();
    write_config(&scratch, &three_suppliers());
    let db = scratch.path("watch.db");
    scratch
        .run(&["sync", "--database", arg(&db)])
        .expect_code(0);
    let before = std::fs::read(&db).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();

    write_config(
        &scratch,
        &three_suppliers().replace("\"Acme Cloud\"", "\"Acme Renamed\""),
    );
    let run = scratch.run(&["sync", "--database", arg(&db)]);
    run.expect_code(3);
    assert!(run.stderr.contains("read-only"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&db.display().to_string()),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn reading_commands_do_not_create_a_database() {
    let scratch = Scratch::new();
    let db = scratch.path("never.db");
    for command in ["suppliers", "audit"] {
        let run = scratch.run(&[command, "--database", arg(&db)]);
        run.expect_code(3);
        assert!(run.stderr.contains("does not exist yet"), "{}", run.stderr);
        assert!(
            run.stderr.contains("run `supplywatch sync`"),
            "{}",
            run.stderr
        );
        assert!(!db.exists());
        no_sidecar_files(&db);
    }
    // Without --database and without a config: the default name, not created.
    let run = scratch.run(&["suppliers"]);
    run.expect_code(3);
    assert!(
        run.stderr.contains("supplywatch.db does not exist yet"),
        "{}",
        run.stderr
    );
    assert!(!scratch.path("supplywatch.db").exists());
}

#[test]
fn invalid_config_stops_sync_before_the_database() {
    let scratch = Scratch::new();
    write_config(
        &scratch,
        &format!("{}country = \"xx\"\n", supplier("acme", "Acme", "")),
    );
    let run = scratch.run(&["sync"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("supplywatch.toml:6:11: supplier[acme].country"),
        "{}",
        run.stderr
    );
    assert!(!scratch.path("supplywatch.db").exists());
}

/// Runs the binary with stdout and stderr on `/dev/full`: every write fails.
fn run_on_full_disk(scratch: &Scratch, args: &[&str]) -> std::process::ExitStatus {
    let full = || {
        std::process::Stdio::from(
            std::fs::File::options()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
    };
    std::process::Command::new(env!("CARGO_BIN_EXE_supplywatch"))
        .args(args)
        .current_dir(scratch.path("."))
        .env_remove("SUPPLYWATCH_CONFIG")
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .stdout(full())
        .stderr(full())
        .status()
        .unwrap()
}

#[test]
fn a_full_disk_under_stdout_and_stderr_is_never_a_panic() {
    let scratch = Scratch::new();
    // A bad config: exit 2, as with a terminal.
    write_config(&scratch, "bogus = 1\n");
    let status = run_on_full_disk(&scratch, &["validate", "--config", "supplywatch.toml"]);
    assert_eq!(status.code(), Some(2), "{status:?}");

    // A good config whose answer is lost: a runtime failure, not success.
    write_config(&scratch, &config_with(&supplier("acme", "Acme", "")));
    let status = run_on_full_disk(&scratch, &["validate", "--config", "supplywatch.toml"]);
    assert_eq!(status.code(), Some(3), "{status:?}");
    let status = run_on_full_disk(
        &scratch,
        &[
            "validate",
            "--config",
            "supplywatch.toml",
            "--format",
            "json",
        ],
    );
    assert_eq!(status.code(), Some(3), "{status:?}");

    // No database: the store error, with warnings logged through tracing.
    let status = run_on_full_disk(
        &scratch,
        &[
            "status",
            "--config",
            "supplywatch.toml",
            "--database",
            "missing/none.db",
            "-v",
        ],
    );
    assert_eq!(status.code(), Some(3), "{status:?}");
}
