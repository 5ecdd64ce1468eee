//! Bad configs through `Config::parse`: each problem is reported as
//! `ConfigError::Invalid` with the key, the line and a useful message.

use std::path::Path;

use supplywatch::config::{Config, ConfigError};

use crate::support::{Scratch, config_with, diagnostics, parse, supplier};

/// One bad config and the diagnostic it must produce.
struct Case {
    name: &'static str,
    toml: String,
    key: &'static str,
    line: usize,
    fragment: &'static str,
}

fn case(
    name: &'static str,
    toml: &str,
    key: &'static str,
    line: usize,
    fragment: &'static str,
) -> Case {
    Case {
        name,
        toml: toml.to_owned(),
        key,
        line,
        fragment,
    }
}

/// `[[supplier]]` on line 1, id/name/criticality on lines 2-4, `extra` from line 5.
fn acme(extra: &str) -> String {
    supplier("acme", "Acme", extra)
}

#[expect(
    clippy::too_many_lines,
    reason = "one row per case reads best as one table"
)]
fn cases() -> Vec<Case> {
    vec![
        // Unknown keys, with a suggestion when one is close.
        case(
            "unknown top-level key",
            "[contact]\nciso = \"ciso@bank.example\"\n",
            "contact",
            1,
            "did you mean `contacts`?",
        ),
        case(
            "unknown daemon key, close",
            "[daemon]\ntimezone = \"UTC\"\nprobe_schedul = \"0 0 * * * *\"\n",
            "daemon.probe_schedul",
            3,
            "did you mean `probe_schedule`?",
        ),
        case(
            "unknown daemon key, far",
            "[daemon]\nflux_capacitor = 1\n",
            "daemon.flux_capacitor",
            2,
            "known keys here: database, probe_schedule",
        ),
        case(
            "unknown supplier key",
            "[[supplier]]\nid = \"acme\"\nname = \"Acme\"\ncriticallity = \"critical\"\n",
            "supplier[acme].criticallity",
            4,
            "did you mean `criticality`?",
        ),
        // Required supplier keys.
        case(
            "supplier id missing",
            "[[supplier]]\nname = \"Acme\"\ncriticality = \"critical\"\n",
            "supplier[0].id",
            1,
            "required key is missing",
        ),
        case(
            "supplier name missing",
            "[[supplier]]\nid = \"acme\"\ncriticality = \"critical\"\n",
            "supplier[acme].name",
            1,
            "required key is missing",
        ),
        case(
            "supplier criticality missing",
            "[[supplier]]\nid = \"acme\"\nname = \"Acme\"\n",
            "supplier[acme].criticality",
            1,
            "required key is missing",
        ),
        case(
            "criticality misspelt by user",
            "[[supplier]]\nid = \"acme\"\nname = \"Acme\"\ncriticallity = \"critical\"\n",
            "supplier[acme].criticality",
            1,
            "required key is missing",
        ),
        case(
            "bad supplier id",
            "[[supplier]]\nid = \"Acme Corp\"\nname = \"Acme\"\ncriticality = \"critical\"\n",
            "supplier[0].id",
            2,
            "malformed supplier id",
        ),
        // Fixed vocabularies.
        case(
            "bad criticality",
            "[[supplier]]\nid = \"acme\"\nname = \"Acme\"\ncriticality = \"critcal\"\n",
            "supplier[acme].criticality",
            4,
            "\"critcal\" is not one of critical | important | standard; did you mean \"critical\"?",
        ),
        case(
            "bad status",
            &acme("status = \"retired\""),
            "supplier[acme].status",
            5,
            "\"retired\" is not one of onboarding | active | offboarding | exited",
        ),
        // Duplicate ids name the line of the first.
        case(
            "duplicate supplier id",
            &format!("{}{}", acme(""), supplier("acme", "Acme again", "")),
            "supplier[acme].id",
            7,
            "duplicate supplier id \"acme\"; it is already used on line 2",
        ),
        // Domains.
        case(
            "domain with a space",
            &acme("domains = [\"acme.example\", \"exa mple.com\"]"),
            "supplier[acme].domains[1]",
            5,
            "' ' cannot appear in a DNS name",
        ),
        case(
            "domain with one label",
            &acme("domains = [\"localhost\"]"),
            "supplier[acme].domains[0]",
            5,
            "a single label",
        ),
        case(
            "domain with a leading hyphen",
            &acme("domains = [\"-acme.example\"]"),
            "supplier[acme].domains[0]",
            5,
            "malformed domain \"-acme.example\"",
        ),
        case(
            "domain that is an IP address",
            &acme("domains = [\"192.0.2.1\"]"),
            "supplier[acme].domains[0]",
            5,
            "an IP address is not a domain name",
        ),
        case(
            "domain with a scheme",
            &acme("domains = [\"https://acme.example\"]"),
            "supplier[acme].domains[0]",
            5,
            "without a scheme",
        ),
        case(
            "duplicate domain after normalisation",
            &acme("domains = [\"acme.example\", \"ACME.Example.\"]"),
            "supplier[acme].domains[1]",
            5,
            "acme.example is listed twice",
        ),
        // Endpoints.
        case(
            "endpoint with a scheme",
            &acme("endpoints = [\"https://portal.acme.example\"]"),
            "supplier[acme].endpoints[0]",
            5,
            "without a scheme",
        ),
        case(
            "endpoint port 0",
            &acme("endpoints = [\"portal.acme.example:0\"]"),
            "supplier[acme].endpoints[0]",
            5,
            "\"0\" is not a port (1 to 65535)",
        ),
        case(
            "endpoint port 70000",
            &acme("endpoints = [\"portal.acme.example:70000\"]"),
            "supplier[acme].endpoints[0]",
            5,
            "\"70000\" is not a port (1 to 65535)",
        ),
        case(
            "endpoint bare IPv6",
            &acme("endpoints = [\"2001:db8::1\"]"),
            "supplier[acme].endpoints[0]",
            5,
            "must be written in brackets",
        ),
        case(
            "endpoint with a path",
            &acme("endpoints = [\"portal.acme.example/login\"]"),
            "supplier[acme].endpoints[0]",
            5,
            "without a path",
        ),
        // Schedules and time zones.
        case(
            "cron with 5 fields",
            "[daemon]\nprobe_schedule = \"0 */6 * * *\"\n",
            "daemon.probe_schedule",
            2,
            "seconds field",
        ),
        case(
            "cron that is nonsense",
            "[daemon]\n\ndigest_schedule = \"every monday\"\n",
            "daemon.digest_schedule",
            3,
            "expected 6 or 7 fields",
        ),
        case(
            "unknown time zone",
            "[daemon]\ntimezone = \"Mars/Olympus_Mons\"\n",
            "daemon.timezone",
            2,
            "unknown time zone \"Mars/Olympus_Mons\"",
        ),
        // Contracts.
        case(
            "contract ends before it starts",
            &acme("contract = { reference = \"C-1\", start = 2025-01-01, end = 2024-12-31 }"),
            "supplier[acme].contract.end",
            5,
            "the contract ends (2024-12-31) before it starts (2025-01-01)",
        ),
        case(
            "contract start missing",
            &acme("\ncontract = { reference = \"C-1\", end = 2027-01-01 }"),
            "supplier[acme].contract.start",
            6,
            "required key is missing",
        ),
        case(
            "contract date not a date",
            &acme("contract = { reference = \"C-1\", start = \"2025-02-30\" }"),
            "supplier[acme].contract.start",
            5,
            "not a valid date",
        ),
        // E-mail addresses.
        case(
            "owner without @",
            &acme("owner = \"jane.doe\""),
            "supplier[acme].owner",
            5,
            "malformed e-mail address \"jane.doe\": an e-mail address needs an '@'",
        ),
        case(
            "security contact with bad domain",
            &acme("security_contact = \"psirt@acme\""),
            "supplier[acme].security_contact",
            5,
            "after the '@': a single label",
        ),
        case(
            "contacts list entry",
            "[contacts]\nrisk_manager = [\"risk@bank.example\"]\nciso = [\"ciso@bank.example\", \"ciso at bank\"]\n",
            "contacts.ciso[1]",
            3,
            "malformed e-mail address \"ciso at bank\"",
        ),
        case(
            "contacts lone string",
            "[contacts]\nboard = \"board@@bank.example\"\n",
            "contacts.board",
            2,
            "malformed e-mail address",
        ),
        case(
            "email.from",
            "[email]\ntransport = \"file\"\nfrom = \"watch@bank example\"\n",
            "email.from",
            3,
            "malformed e-mail address",
        ),
        // Secrets.
        case(
            "inline password names password_file",
            "[email]\nsmtp_host = \"mail.bank.example\"\npassword = \"hunter2\"\n",
            "email.password",
            3,
            "`password_file`",
        ),
        case(
            "inline password names the env var",
            "[email]\nsmtp_host = \"mail.bank.example\"\npassword = \"hunter2\"\n",
            "email.password",
            3,
            "SUPPLYWATCH_SMTP_PASSWORD",
        ),
        case(
            "password_file missing",
            "[email]\nsmtp_host = \"mail.bank.example\"\npassword_file = \"/nonexistent-supplywatch-test/smtp-password\"\n",
            "email.password_file",
            3,
            "cannot read /nonexistent-supplywatch-test/smtp-password",
        ),
        // Files named in the config: regular files only, never read whole
        // from a device.
        case(
            "extra_roots is a device",
            "[probe]\nextra_roots = [\"/dev/zero\"]\n",
            "probe.extra_roots[0]",
            2,
            "/dev/zero is not a regular file (a character device); give the path of a PEM file",
        ),
        case(
            "password_file is a device",
            "[email]\nsmtp_host = \"mail.bank.example\"\npassword_file = \"/dev/zero\"\n",
            "email.password_file",
            3,
            "/dev/zero is not a regular file (a character device); give the path of a file holding only the password",
        ),
        case(
            "extra_roots is a directory",
            "[probe]\nextra_roots = [\"/\"]\n",
            "probe.extra_roots[0]",
            2,
            "/ is not a regular file (a directory)",
        ),
        case(
            "password_file is a directory",
            "[email]\nsmtp_host = \"mail.bank.example\"\npassword_file = \"/\"\n",
            "email.password_file",
            3,
            "/ is not a regular file (a directory)",
        ),
        case(
            "smtp transport without host",
            "[email]\ntransport = \"smtp\"\n",
            "email.smtp_host",
            2,
            "needs smtp_host",
        ),
        case(
            "bad tls word",
            "[email]\ntls = \"ssl\"\n",
            "email.tls",
            2,
            "\"ssl\" is not one of none | starttls | tls",
        ),
        // Ranges and types.
        case(
            "timeout_secs 0",
            "[probe]\ntimeout_secs = 0\n",
            "probe.timeout_secs",
            2,
            "0 is out of range (1 to 300)",
        ),
        case(
            "timeout_secs 301",
            "[probe]\ntimeout_secs = 301\n",
            "probe.timeout_secs",
            2,
            "301 is out of range (1 to 300)",
        ),
        case(
            "smtp_port 70000",
            "[email]\nsmtp_port = 70000\n",
            "email.smtp_port",
            2,
            "out of range (1 to 65535)",
        ),
        case(
            "string for an integer",
            "[probe]\ntimeout_secs = \"10\"\n",
            "probe.timeout_secs",
            2,
            "expected an integer, found a string",
        ),
        case(
            "integer for a string",
            "[[supplier]]\nid = \"acme\"\nname = 42\ncriticality = \"critical\"\n",
            "supplier[acme].name",
            3,
            "expected a string, found an integer",
        ),
        case(
            "string for a boolean",
            "[probe]\nallow_private_targets = \"yes\"\n",
            "probe.allow_private_targets",
            2,
            "expected true or false, found a string",
        ),
        case(
            "metadata targets without private targets",
            "[probe]\nallow_metadata_targets = true\n",
            "probe.allow_metadata_targets",
            2,
            "needs allow_private_targets = true as well",
        ),
        case(
            "an endpoint that spells an IPv4 address in hex",
            &acme("endpoints = [\"0xa9.0xfe.0xa9.0xfe:80\"]"),
            "supplier[acme].endpoints[0]",
            5,
            "URL parsers read the name as an IPv4 address",
        ),
        case(
            "table where a section is expected",
            "daemon = 5\n",
            "daemon",
            1,
            "expected a table, found an integer",
        ),
        case(
            "single [supplier] table",
            "[supplier]\nid = \"acme\"\n",
            "supplier",
            1,
            "expected [[supplier]] tables",
        ),
        case(
            "bad nameserver",
            "[probe]\nnameservers = [\"dns.example\"]\n",
            "probe.nameservers[0]",
            2,
            "malformed nameserver \"dns.example\"",
        ),
        // Identifiers.
        case(
            "bad LEI check digits",
            &acme("lei = \"506700GE1G29325QX364\""),
            "supplier[acme].lei",
            5,
            "malformed LEI \"506700GE1G29325QX364\"",
        ),
        case(
            "bad LEI shape",
            &acme("lei = \"12345\""),
            "supplier[acme].lei",
            5,
            "ISO 17442",
        ),
        case(
            "lower-case country",
            &acme("country = \"nl\""),
            "supplier[acme].country",
            5,
            "malformed country \"nl\"",
        ),
        case(
            "three-letter country",
            &acme("country = \"NLD\""),
            "supplier[acme].country",
            5,
            "ISO 3166-1 alpha-2",
        ),
        // The file as a whole.
        case(
            "TOML syntax error",
            "[daemon]\ntimezone = \"UTC\"\nretention_days = = 5\n",
            "",
            3,
            "TOML syntax error",
        ),
        case(
            "unclosed string",
            "[daemon]\n\n\ntimezone = \"UTC\n",
            "",
            4,
            "TOML syntax error",
        ),
        case("empty file", "", "", 1, "the file is empty"),
        case(
            "whitespace-only file",
            "  \n\n\t\n",
            "",
            1,
            "the file is empty",
        ),
        // Severity overrides and accepted risks.
        case(
            "override of an unknown check",
            "[findings]\nseverity = { \"tls.no_tls1.3\" = \"info\" }\n",
            "findings.severity.tls.no_tls1.3",
            2,
            "did you mean `tls.no_tls13`?",
        ),
        case(
            "override to an unknown severity",
            "[findings]\nseverity = { \"tls.no_tls13\" = \"minor\" }\n",
            "findings.severity.tls.no_tls13",
            2,
            "is not a severity",
        ),
        case(
            "damping of zero runs",
            "[findings]\ndamping_runs = 0\n",
            "findings.damping_runs",
            2,
            "out of range",
        ),
        case(
            "supplier override of an unknown check",
            &acme("severity = { \"tls.nope\" = \"low\" }"),
            "supplier[acme].severity.tls.nope",
            5,
            "unknown check id",
        ),
        case(
            "acceptance of an unknown supplier",
            &format!(
                "{}[[accept]]\nsupplier = \"nobody\"\ncheck = \"tls.no_tls13\"\nuntil = 2027-01-01\nreason = \"r\"\napproved_by = \"ciso@bank.example\"\n",
                acme("")
            ),
            "accept[0].supplier",
            7,
            "no [[supplier]] has id \"nobody\"",
        ),
        case(
            "acceptance of an unknown check",
            &format!(
                "{}[[accept]]\nsupplier = \"acme\"\ncheck = \"tls.no_tls_13\"\nuntil = 2027-01-01\nreason = \"r\"\napproved_by = \"ciso@bank.example\"\n",
                acme("")
            ),
            "accept[0].check",
            8,
            "did you mean `tls.no_tls13`?",
        ),
        case(
            "acceptance of a target the supplier does not have",
            &format!(
                "{}[[accept]]\nsupplier = \"acme\"\ncheck = \"tls.no_tls13\"\ntarget = \"other.example:443\"\nuntil = 2027-01-01\nreason = \"r\"\napproved_by = \"ciso@bank.example\"\n",
                acme("endpoints = [\"portal.acme.example\"]")
            ),
            "accept[0].target",
            9,
            "is not one of acme's targets",
        ),
        case(
            "acceptance without an approver",
            &format!(
                "{}[[accept]]\nsupplier = \"acme\"\ncheck = \"tls.no_tls13\"\nuntil = 2027-01-01\nreason = \"r\"\n",
                acme("")
            ),
            "accept[0].approved_by",
            6,
            "required key is missing",
        ),
        case(
            "acceptance without a reason",
            &format!(
                "{}[[accept]]\nsupplier = \"acme\"\ncheck = \"tls.no_tls13\"\nuntil = 2027-01-01\napproved_by = \"ciso@bank.example\"\n",
                acme("")
            ),
            "accept[0].reason",
            6,
            "required key is missing",
        ),
        case(
            "acceptance without an end",
            &format!(
                "{}[[accept]]\nsupplier = \"acme\"\ncheck = \"tls.no_tls13\"\nreason = \"r\"\napproved_by = \"ciso@bank.example\"\n",
                acme("")
            ),
            "accept[0].until",
            6,
            "required key is missing",
        ),
        case(
            "acceptance for longer than a year",
            &format!(
                "{}[[accept]]\nsupplier = \"acme\"\ncheck = \"tls.no_tls13\"\nuntil = 2099-01-01\nreason = \"r\"\napproved_by = \"ciso@bank.example\"\n",
                acme("")
            ),
            "accept[0].until",
            9,
            "is more than 365 days ahead",
        ),
        case(
            "acceptance for longer than max_acceptance_days",
            &format!(
                "[findings]\nmax_acceptance_days = 30\n{}[[accept]]\nsupplier = \"acme\"\ncheck = \"tls.no_tls13\"\nuntil = {}\nreason = \"r\"\napproved_by = \"ciso@bank.example\"\n",
                acme(""),
                chrono::Utc::now().date_naive() + chrono::Days::new(60)
            ),
            "accept[0].until",
            11,
            "is more than 30 days ahead",
        ),
        case(
            "max_acceptance_days out of range",
            &format!("[findings]\nmax_acceptance_days = 0\n{}", acme("")),
            "findings.max_acceptance_days",
            2,
            "",
        ),
    ]
}

#[test]
fn bad_configs_are_refused_with_key_line_and_message() {
    let mut failures = Vec::new();
    for c in cases() {
        let found = match parse(&c.toml) {
            Err(ConfigError::Invalid { diagnostics, .. }) => diagnostics,
            Err(other) => {
                failures.push(format!(
                    "{}: expected ConfigError::Invalid, got {other:?}",
                    c.name
                ));
                continue;
            }
            Ok(_) => {
                failures.push(format!("{}: the config was accepted", c.name));
                continue;
            }
        };
        let hit = found
            .iter()
            .any(|d| d.key == c.key && d.line == c.line && d.message.contains(c.fragment));
        if !hit {
            let shown: Vec<String> = found
                .iter()
                .map(|d| format!("    line {} key {:?}: {}", d.line, d.key, d.message))
                .collect();
            failures.push(format!(
                "{}: expected key {:?} on line {} containing {:?}; got:\n{}",
                c.name,
                c.key,
                c.line,
                c.fragment,
                shown.join("\n")
            ));
        }
        // Every diagnostic names the file it came from.
        assert!(
            found
                .iter()
                .all(|d| d.file == Path::new("bad.toml") && d.column >= 1),
            "{}: {found:?}",
            c.name
        );
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn several_errors_are_all_reported_sorted_by_line() {
    let toml = "\
[daemon]
timezone = \"Nowhere/Special\"
probe_schedule = \"*/5 * * * *\"

[probe]
timeout_secs = 0

[[supplier]]
id = \"acme\"
name = \"Acme\"
criticality = \"vital\"
domains = [\"acme .example\"]
endpoints = [\"acme.example:0\"]
country = \"nl\"

[[supplier]]
id = \"acme\"
name = \"Acme twice\"
criticality = \"standard\"

[contact]
ciso = \"ciso@bank.example\"
";
    let found = diagnostics(toml);
    let lines: Vec<usize> = found.iter().map(|d| d.line).collect();
    let keys: Vec<&str> = found.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "daemon.timezone",
            "daemon.probe_schedule",
            "probe.timeout_secs",
            "supplier[acme].criticality",
            "supplier[acme].domains[0]",
            "supplier[acme].endpoints[0]",
            "supplier[acme].country",
            "supplier[acme].id",
            "contact",
        ],
        "{found:#?}"
    );
    assert_eq!(lines, [2, 3, 6, 11, 12, 13, 14, 17, 21], "{found:#?}");
    assert!(lines.windows(2).all(|w| w[0] <= w[1]));

    // The error's own text lists every one and the count.
    let err = parse(toml).unwrap_err().to_string();
    assert!(
        err.contains("bad.toml:2:12: daemon.timezone: unknown time zone"),
        "{err}"
    );
    assert!(err.ends_with("bad.toml is invalid: 9 errors"), "{err}");
}

#[test]
fn international_domains_are_accepted_as_punycode() {
    let config = parse(&config_with(&acme(
        "domains = [\"bücher.example\"]\nendpoints = [\"Shop.Bücher.Example:8443\"]\nowner = \"jane@bücher.example\"",
    )))
    .unwrap();
    let acme = &config.suppliers[0];
    assert_eq!(acme.domains[0].as_str(), "xn--bcher-kva.example");
    assert_eq!(
        acme.endpoints[0].to_string(),
        "shop.xn--bcher-kva.example:8443"
    );
    assert_eq!(
        acme.owner.as_ref().unwrap().to_string(),
        "jane@xn--bcher-kva.example"
    );
}

#[test]
fn the_example_config_loads_cleanly() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/supplywatch.example.toml");
    let config = match Config::load(&path) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    let ids: Vec<&str> = config.suppliers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["acme", "globex-mail", "initech"]);
    assert_eq!(config.target_counts(), (4, 4));
    assert_eq!(config.daemon.timezone, chrono_tz::Europe::Amsterdam);
    assert_eq!(config.probe.nameservers.len(), 2);
    assert!(!config.probe.allow_private_targets);
    assert!(!config.probe.allow_metadata_targets);
    assert_eq!(config.contacts.risk_manager.len(), 1);
}

/// `allow_metadata_targets` defaults to false — `allow_private_targets`
/// alone leaves metadata addresses refused — and is accepted together
/// with it.
#[test]
fn metadata_targets_need_their_own_key() {
    let config = parse("[probe]\nallow_private_targets = true\n").unwrap();
    assert!(config.probe.allow_private_targets);
    assert!(!config.probe.allow_metadata_targets);
    let config =
        parse("[probe]\nallow_private_targets = true\nallow_metadata_targets = true\n").unwrap();
    assert!(config.probe.allow_metadata_targets);
}

#[test]
fn password_file_is_read_and_never_shown() {
    let scratch = Scratch::new();
    let secret = scratch.write("smtp-password", "s3cret\n");
    let toml = format!(
        "[email]\nsmtp_host = \"mail.bank.example\"\nusername = \"watch\"\npassword_file = \"{}\"\n",
        secret.display()
    );
    // The file wins over the environment.
    let config = Config::parse(
        &toml,
        &scratch.path("supplywatch.toml"),
        Some("from-env".into()),
    )
    .unwrap();
    let password = config.email.password.clone().unwrap();
    assert_eq!(password.expose(), "s3cret");
    let shown = format!("{:?}", config.email);
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
    assert!(!format!("{config:?}").contains("s3cret"));
}

#[test]
fn password_file_is_resolved_against_the_config_folder() {
    let scratch = Scratch::new();
    scratch.write("smtp-password", "relative\r\n");
    let toml = "[email]\nsmtp_host = \"mail.bank.example\"\npassword_file = \"smtp-password\"\n";
    let config = Config::parse(toml, &scratch.path("supplywatch.toml"), None).unwrap();
    assert_eq!(config.email.password.unwrap().expose(), "relative");
}

#[test]
fn env_password_is_used_without_password_file() {
    let toml = "[email]\nsmtp_host = \"mail.bank.example\"\n";
    let config = Config::parse(toml, Path::new("bad.toml"), Some("from-env".into())).unwrap();
    assert_eq!(config.email.password.as_ref().unwrap().expose(), "from-env");
    assert!(!format!("{:?}", config.email).contains("from-env"));

    let config = Config::parse(toml, Path::new("bad.toml"), None).unwrap();
    assert!(config.email.password.is_none());
}

#[test]
fn extra_roots_that_are_not_pem_name_the_file() {
    let scratch = Scratch::new();
    let not_pem = scratch.write("corporate-ca.pem", "this is not a certificate\n");
    let toml = format!("[probe]\nextra_roots = [\"{}\"]\n", not_pem.display());
    let found = diagnostics(&toml);
    assert_eq!(found.len(), 1, "{found:#?}");
    let d = &found[0];
    assert_eq!(d.key, "probe.extra_roots[0]");
    assert_eq!(d.line, 2);
    assert!(
        d.message.contains(&not_pem.display().to_string()),
        "{}",
        d.message
    );
    assert!(
        d.message.contains("no PEM CERTIFICATE block"),
        "{}",
        d.message
    );

    let missing = scratch.path("absent.pem");
    let toml = format!("[probe]\nextra_roots = [\"{}\"]\n", missing.display());
    let found = diagnostics(&toml);
    assert!(
        found
            .iter()
            .any(|d| d.message.contains(&missing.display().to_string())
                && d.message.contains("cannot read")),
        "{found:#?}"
    );
}

/// The one diagnostic of `toml` (read as `folder/supplywatch.toml`), on a
/// thread of its own so that a blocking read fails the test instead of
/// hanging it.
fn only_diagnostic_within(toml: String, folder: &Path) -> supplywatch::config::Diagnostic {
    let (tx, rx) = std::sync::mpsc::channel();
    let file = folder.join("supplywatch.toml");
    std::thread::spawn(move || {
        let _ = tx.send(Config::parse(&toml, &file, None));
    });
    let parsed = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("loading the config blocked for 10 s");
    match parsed {
        Err(ConfigError::Invalid { diagnostics, .. }) => {
            assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
            diagnostics.into_iter().next().unwrap()
        }
        other => panic!("expected one diagnostic, got {other:?}"),
    }
}

#[test]
fn fifos_named_in_the_config_are_refused_without_waiting() {
    let scratch = Scratch::new();
    let fifo = scratch.path("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let shown = fifo.display();

    let d = only_diagnostic_within(
        format!("[probe]\nextra_roots = [\"{shown}\"]\n"),
        scratch.dir.path(),
    );
    assert_eq!(
        (d.key.as_str(), d.line, d.column),
        ("probe.extra_roots[0]", 2, 16)
    );
    assert_eq!(
        d.message,
        format!("{shown} is not a regular file (a FIFO); give the path of a PEM file")
    );

    let d = only_diagnostic_within(
        format!("[email]\nsmtp_host = \"mail.bank.example\"\npassword_file = \"{shown}\"\n"),
        scratch.dir.path(),
    );
    assert_eq!((d.key.as_str(), d.line), ("email.password_file", 3));
    assert!(d.message.contains("(a FIFO)"), "{}", d.message);
}

#[test]
fn files_named_in_the_config_are_read_up_to_a_cap() {
    use supplywatch::config::{MAX_PASSWORD_BYTES, MAX_ROOTS_BYTES};
    let scratch = Scratch::new();
    let cap = usize::try_from(MAX_ROOTS_BYTES).unwrap();
    let bundle = scratch.write("bundle.pem", vec![b'A'; cap + 1]);
    let d = only_diagnostic_within(
        format!("[probe]\nextra_roots = [\"{}\"]\n", bundle.display()),
        scratch.dir.path(),
    );
    assert_eq!((d.key.as_str(), d.line), ("probe.extra_roots[0]", 2));
    assert_eq!(
        d.message,
        format!(
            "{} is {} bytes, more than the 1 MiB this file may have; is it the right file?",
            bundle.display(),
            cap + 1
        )
    );

    let cap = usize::try_from(MAX_PASSWORD_BYTES).unwrap();
    let secret = scratch.write("smtp-password", vec![b'p'; cap + 1]);
    let d = only_diagnostic_within(
        format!(
            "[email]\nsmtp_host = \"mail.bank.example\"\npassword_file = \"{}\"\n",
            secret.display()
        ),
        scratch.dir.path(),
    );
    assert_eq!((d.key.as_str(), d.line), ("email.password_file", 3));
    assert!(d.message.contains("more than the 4 KiB"), "{}", d.message);

    // At the cap exactly is fine.
    let secret = scratch.write("smtp-password", vec![b'p'; cap]);
    let toml = format!(
        "[email]\nsmtp_host = \"mail.bank.example\"\npassword_file = \"{}\"\n",
        secret.display()
    );
    let config = Config::parse(&toml, &scratch.path("supplywatch.toml"), None).unwrap();
    assert_eq!(config.email.password.unwrap().expose().len(), cap);
}

/// A password file its group or others can read loads, with a warning at
/// its key; `validate` prints it on stderr and still exits 0.
#[test]
fn a_password_file_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt as _;
    let scratch = Scratch::new();
    let secret = scratch.write("smtp-password", "s3cret\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o640)).unwrap();
    let toml = config_with("").replace(
        "transport = \"file\"\n",
        "transport = \"file\"\npassword_file = \"smtp-password\"\n",
    );
    scratch.write("supplywatch.toml", &toml);
    let config = Config::parse(&toml, &scratch.path("supplywatch.toml"), None).unwrap();
    assert_eq!(config.warnings.len(), 1, "{:#?}", config.warnings);
    let w = &config.warnings[0];
    assert_eq!(
        (w.key.as_str(), w.line, w.column),
        ("email.password_file", 6, 17)
    );
    assert_eq!(
        w.message,
        format!(
            "{0} holds a secret but its group or others have access (mode 0640); run `chmod 600 {0}`",
            secret.display()
        )
    );

    // Relative paths, as given: the binary runs in the scratch folder.
    let run = scratch.run(&["--config", "supplywatch.toml", "validate"]);
    run.expect_code(0);
    assert_eq!(
        run.stderr,
        "warning: supplywatch.toml:6:17: email.password_file: smtp-password holds a secret but its group or others have access (mode 0640); run `chmod 600 smtp-password`\n"
    );
    assert!(run.stdout.contains("valid"), "{}", run.stdout);
    // Other commands show it on loading too.
    let run = scratch.run(&["--config", "supplywatch.toml", "sync"]);
    run.expect_code(0);
    assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);

    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = Config::parse(&toml, &scratch.path("supplywatch.toml"), None).unwrap();
    assert!(config.warnings.is_empty(), "{:#?}", config.warnings);
    let run = scratch.run(&["--config", "supplywatch.toml", "validate"]);
    run.expect_code(0);
    assert_eq!(run.stderr, "");
}

#[test]
fn defaults_fill_absent_sections() {
    let config = parse(&acme("")).unwrap();
    assert_eq!(config.suppliers.len(), 1);
    assert_eq!(config.probe.timeout.as_secs(), 10);
    assert_eq!(config.daemon.retention_days, 400);
    assert_eq!(config.email.smtp_port, 587);
    assert!(config.email.password.is_none());
    assert_eq!(config.database_path(), Path::new("supplywatch.db"));
}

#[test]
fn overrides_and_acceptances_are_read() {
    let config = parse(&format!(
        "[findings]\ndamping_runs = 3\nseverity = {{ \"tls.no_tls13\" = \"info\" }}\n{}[[accept]]\nsupplier = \"acme\"\ncheck = \"tls.no_tls13\"\ntarget = \"Portal.Acme.Example\"\nuntil = 2027-01-31\nreason = \"migration planned\"\napproved_by = \"ciso@bank.example\"\n",
        acme("endpoints = [\"portal.acme.example\"]\nseverity = { \"tls.long_validity\" = \"info\" }")
    ))
    .unwrap();
    assert_eq!(config.findings.damping_runs, 3);
    assert_eq!(
        config
            .findings
            .severity
            .get(&supplywatch::registry::CheckId::TlsNoTls13),
        Some(&supplywatch::registry::Severity::Info)
    );
    assert_eq!(
        config.suppliers[0]
            .severity
            .get(&supplywatch::registry::CheckId::TlsLongValidity),
        Some(&supplywatch::registry::Severity::Info)
    );
    let accepted = &config.acceptances[0];
    assert_eq!(
        accepted.target.as_deref(),
        Some("portal.acme.example:443"),
        "targets are normalised like findings' targets"
    );
    assert_eq!(accepted.until.to_string(), "2027-01-31");
    assert_eq!(config.acceptances.len(), 1);
}

/// A complete, valid Register of Information: the reporting entity, a
/// member, a branch, two functions, one provider with a contract, a
/// service and a subcontractor, and a supplier without register keys.
const REGISTER: &str = r#"[register]
reference_date = 2026-12-31
definitions = { "c0010" = "Critical as defined in our ICT policy" }

[entity]
lei = "529900BANKAG000DE013"
name = "Bank AG"
country = "DE"
type = "credit-institution"
competent_authority = "BaFin"
currency = "EUR"
total_assets = 12500000000
consolidated = true

[[entity.member]]
lei = "529900MEMBERFR000046"
name = "Bank France SA"
country = "FR"
type = "x12"
hierarchy = "subsidiary"
parent_lei = "529900BANKAG000DE013"

[[entity.branch]]
id = "FR-PARIS"
name = "Paris branch"
country = "FR"

[[function]]
id = "F1"
name = "Payments"
activity = "payment-services"
critical = true
rto_hours = 4
rpo_hours = 1
impact = "high"

[[function]]
id = "F2"
name = "Lending"
activity = "eba_TA:x163"
entity = "529900MEMBERFR000046"
critical = "not-assessed"

[[supplier]]
id = "cloudco"
name = "CloudCo"
criticality = "critical"
lei = "549300CLOUDPROVIDR29"
country = "IE"
person = "legal"
parent = { lei = "549300PARENTCORP0036", name = "Parent Corp", country = "US" }

[supplier.contract]
reference = "C-1"
start = 2024-01-01
arrangement = "standalone"
governing_law = "DE"
annual_expense = 1200000.50
currency = "EUR"
used_by = ["529900BANKAG000DE013", "529900MEMBERFR000046"]
branches = ["FR-PARIS"]

[[supplier.contract.service]]
type = "cloud-saas"
functions = ["F1", "F2"]
country = "IE"
stores_data = true
storage = ["DE", "IE"]
sensitiveness = "high"
alternatives = false

[[supplier.contract.service.subcontractor]]
rank = 2
euid = "NLNHR.12345678"
name = "Sub BV"
country = "NL"

[[supplier]]
id = "plain"
name = "Plain"
criticality = "standard"
"#;

/// The register config with each `(from, to)` replaced once.
fn register_with(changes: &[(&str, &str)]) -> String {
    let mut text = config_with(REGISTER);
    for (from, to) in changes {
        assert_eq!(text.matches(from).count(), 1, "{from:?} must occur once");
        text = text.replacen(from, to, 1);
    }
    text
}

/// The 1-based line and column of the first `needle` (after `after`).
fn position(source: &str, after: &str, needle: &str) -> (usize, usize) {
    let from = source.find(after).unwrap();
    let offset = from + source[from..].find(needle).unwrap();
    let line = source[..offset].matches('\n').count() + 1;
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    (line, source[line_start..offset].chars().count() + 1)
}

/// Asserts one diagnostic, on `key`, at `needle` (first found after
/// `after`), its message containing `fragment`.
#[track_caller]
fn only_register_error(source: &str, key: &str, after: &str, needle: &str, fragment: &str) {
    let found = diagnostics(source);
    assert_eq!(found.len(), 1, "{found:#?}");
    let d = &found[0];
    assert_eq!(d.key, key, "{d:?}");
    assert_eq!((d.line, d.column), position(source, after, needle), "{d:?}");
    assert!(d.message.contains(fragment), "{d:?}");
}

#[test]
fn register_lei_with_bad_check_digits_is_refused() {
    let source = register_with(&[(
        "lei = \"549300CLOUDPROVIDR29\"",
        "lei = \"549300CLOUDPROVIDR28\"",
    )]);
    only_register_error(
        &source,
        "supplier[cloudco].lei",
        "id = \"cloudco\"",
        "\"549300CLOUDPROVIDR28\"",
        "the check digits do not match",
    );
}

#[test]
fn register_unknown_country_is_refused() {
    let source = register_with(&[("country = \"IE\"\nperson", "country = \"XX\"\nperson")]);
    only_register_error(
        &source,
        "supplier[cloudco].country",
        "id = \"cloudco\"",
        "\"XX\"",
        "unknown country \"XX\"",
    );
}

#[test]
fn register_unknown_service_code_is_refused() {
    let source = register_with(&[("type = \"cloud-saas\"", "type = \"S20\"")]);
    only_register_error(
        &source,
        "supplier[cloudco].contract.service[0].type",
        "type = \"S20\"",
        "\"S20\"",
        "\"S20\" is not one of project-management | development",
    );
}

#[test]
fn register_function_supported_by_no_service_is_refused() {
    let source = register_with(&[("functions = [\"F1\", \"F2\"]", "functions = [\"F1\"]")]);
    only_register_error(
        &source,
        "function[F2].id",
        "id = \"F2\"",
        "\"F2\"",
        "function F2 is supported by no contract's service",
    );
}

#[test]
fn register_duplicate_function_ids_are_refused() {
    let source = register_with(&[
        ("id = \"F2\"", "id = \"F1\""),
        ("functions = [\"F1\", \"F2\"]", "functions = [\"F1\"]"),
    ]);
    let (first_line, _) = position(&source, "[[function]]", "id = \"F1\"");
    let found = diagnostics(&source);
    assert_eq!(found.len(), 1, "{found:#?}");
    let d = &found[0];
    assert_eq!(d.key, "function[F1].id");
    assert_eq!(
        (d.line, d.column),
        position(&source, "id = \"F1\"\nname = \"Lending\"", "\"F1\"")
    );
    assert!(
        d.message.contains(&format!(
            "duplicate function id \"F1\"; it is already used on line {first_line}"
        )),
        "{d:?}"
    );
}

#[test]
fn register_currency_without_an_amount_is_refused() {
    let source = register_with(&[("annual_expense = 1200000.50\n", "")]);
    only_register_error(
        &source,
        "supplier[cloudco].contract.currency",
        "[supplier.contract]",
        "\"EUR\"",
        "a currency without an amount",
    );
}

#[test]
fn register_reference_date_before_a_contract_start_is_refused() {
    let source = register_with(&[("reference_date = 2026-12-31", "reference_date = 2023-06-30")]);
    only_register_error(
        &source,
        "supplier[cloudco].contract.start",
        "reference = \"C-1\"",
        "2024-01-01",
        "the contract starts (2024-01-01) after the register's reference date (2023-06-30)",
    );
}

#[test]
fn register_keys_without_an_entity_are_refused() {
    let found = diagnostics(&acme("person = \"legal\""));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].key, "supplier[acme].person");
    assert!(
        found[0]
            .message
            .contains("register data needs an [entity] section")
    );
}

#[test]
fn a_complete_register_is_read_into_the_model() {
    use supplywatch::register::{Amount, PartyId, codes};
    let config = parse(&config_with(REGISTER)).unwrap();
    let register = &config.register;
    assert!(register.is_declared());
    assert_eq!(register.reference_date.unwrap().to_string(), "2026-12-31");
    assert_eq!(register.definitions.len(), 1);

    let entity = register.entity.as_ref().unwrap();
    assert_eq!(entity.lei, "529900BANKAG000DE013");
    assert_eq!(entity.kind, "eba_CT:x12");
    assert_eq!(entity.hierarchy, "eba_RP:x53", "ultimate parent by default");
    assert_eq!(entity.competent_authority.as_deref(), Some("BaFin"));
    assert_eq!(
        entity.total_assets,
        Some(Amount {
            cents: 1_250_000_000_000
        })
    );
    assert!(entity.consolidated);
    let member = &entity.members[0];
    assert_eq!(
        (member.kind.as_str(), member.hierarchy.as_str()),
        ("eba_CT:x12", "eba_RP:x56")
    );
    assert_eq!(member.competent_authority, None);
    assert!(!member.consolidated && member.members.is_empty() && member.branches.is_empty());
    assert_eq!(entity.branches[0].head_office, "529900BANKAG000DE013");

    let [f1, f2] = register.functions.as_slice() else {
        panic!("{:?}", register.functions)
    };
    assert_eq!(
        (f1.activity.as_str(), f1.critical.as_str()),
        ("eba_TA:x28", codes::YES)
    );
    assert_eq!(f1.entity, "529900BANKAG000DE013");
    assert_eq!(f1.impact.as_deref(), Some("eba_ZZ:x793"));
    assert_eq!(
        (f2.activity.as_str(), f2.critical.as_str()),
        ("eba_TA:x163", codes::NOT_ASSESSED)
    );
    assert_eq!(f2.entity, "529900MEMBERFR000046");

    assert_eq!(register.providers.keys().collect::<Vec<_>>(), ["cloudco"]);
    let provider = &register.providers["cloudco"];
    assert_eq!(provider.person.as_deref(), Some("eba_CT:x212"));
    let parent = provider.parent.as_ref().unwrap();
    assert_eq!(parent.id.kind, codes::ID_LEI);
    assert_eq!(parent.person, "eba_CT:x212", "legal person by default");
    let contract = provider.contract.as_ref().unwrap();
    assert_eq!(contract.arrangement.as_deref(), Some("eba_CO:x1"));
    assert_eq!(contract.annual_expense, Some(Amount { cents: 120_000_050 }));
    assert_eq!(
        contract.annual_expense.as_ref().unwrap().to_plain(),
        "1200000.5"
    );
    assert_eq!(
        contract.signed_by,
        ["529900BANKAG000DE013"],
        "the entity by default"
    );
    assert_eq!(contract.used_by.len(), 2);
    assert_eq!(contract.branches, ["FR-PARIS"]);
    let service = &contract.services[0];
    assert_eq!(service.kind, "eba_TA:S19");
    assert_eq!(service.functions, ["F1", "F2"]);
    assert_eq!(service.storage, ["DE", "IE"]);
    assert_eq!(service.sensitiveness.as_deref(), Some("eba_ZZ:x793"));
    assert_eq!(service.alternatives.as_deref(), Some(codes::NO));
    let sub = &service.subcontractors[0];
    assert_eq!(sub.rank, 2);
    assert_eq!(sub.party.id.kind, codes::ID_EUID);
    assert_eq!(
        sub.serves,
        Some(PartyId {
            code: "549300CLOUDPROVIDR29".to_owned(),
            kind: codes::ID_LEI.to_owned(),
        }),
        "a rank-2 subcontractor serves the provider by default"
    );
}

#[test]
fn a_config_without_register_keys_has_an_empty_register() {
    let config = parse(&acme("lei = \"506700GE1G29325QX363\"\ncountry = \"NL\"")).unwrap();
    assert_eq!(config.register, supplywatch::register::Register::default());
    assert!(!config.register.is_declared());
}

#[test]
fn register_cross_checks_name_the_offending_value() {
    // (from, to, key, the offending value, message fragment)
    let cases: [(&str, &str, &str, &str, &str); 4] = [
        (
            "arrangement = \"standalone\"",
            "arrangement = \"subsequent\"",
            "supplier[cloudco].contract.overarching",
            "\"subsequent\"",
            "a subsequent arrangement needs `overarching`",
        ),
        (
            "branches = [\"FR-PARIS\"]",
            "branches = [\"FR-LYON\"]",
            "supplier[cloudco].contract.branches[0]",
            "\"FR-LYON\"",
            "unknown branch \"FR-LYON\"",
        ),
        (
            "person = \"legal\"",
            "person = \"legal\"\nintra_group = true",
            "supplier[cloudco].lei",
            "\"549300CLOUDPROVIDR29\"",
            "an intra-group provider's LEI must be entity.lei",
        ),
        (
            "country = \"IE\"\nstores_data",
            "country = \"S19\"\nstores_data",
            "supplier[cloudco].contract.service[0].country",
            "\"S19\"",
            "malformed country \"S19\"",
        ),
    ];
    for (from, to, key, needle, fragment) in cases {
        let source = register_with(&[(from, to)]);
        only_register_error(&source, key, "id = \"cloudco\"", needle, fragment);
    }
}
