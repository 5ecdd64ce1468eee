//! `supplywatch export roi`: the DORA Register of Information as an
//! xBRL-CSV report package, checked before anything is written.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use serde_json::json;
use supplywatch::clock::{Clock as _, SystemClock};
use supplywatch::register::package::assemble;
use supplywatch::register::rules::{Problem, check, filing_indicators};
use supplywatch::register::templates::build;
use supplywatch::report::Format;

use super::{Globals, Outcome, UsageError, print_json};

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    what: ExportCommand,
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// The DORA Register of Information (ITS 2024/2956) as an xBRL-CSV
    /// report package for the competent authority; checked first, never
    /// written when a rule that rejects a submission fails
    Roi(RoiArgs),
}

#[derive(Debug, Args)]
struct RoiArgs {
    /// The date the register is reported as of [default: `[register] reference_date`]
    #[arg(long, value_name = "YYYY-MM-DD")]
    reference_date: Option<NaiveDate>,
    /// Folder the package is written to
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// Only check the register: list every problem, write nothing
    #[arg(long)]
    check: bool,
    /// Also leave the package's folder beside the ZIP, for inspection
    #[arg(long, conflicts_with = "check")]
    unzipped: bool,
}

pub fn run(globals: &Globals, args: &ExportArgs) -> anyhow::Result<Outcome> {
    match &args.what {
        ExportCommand::Roi(roi) => run_roi(globals, roi),
    }
}

fn run_roi(globals: &Globals, args: &RoiArgs) -> anyhow::Result<Outcome> {
    let config = globals.load_config()?;
    let register = &config.register;
    let Some(entity) = &register.entity else {
        return Err(UsageError(format!(
            "{}: the register needs an [entity] section (the LEI, name, country, type and competent authority of the entity maintaining it); see README, \"DORA Register of Information\"",
            config.path.display()
        ))
        .into());
    };
    let Some(reference) = args.reference_date.or(register.reference_date) else {
        return Err(UsageError(format!(
            "no reference date: give --reference-date YYYY-MM-DD, or `reference_date` in the [register] section of {}",
            config.path.display()
        ))
        .into());
    };
    let now = SystemClock.now();
    let tables = build(&config.suppliers, register, reference, now.date_naive());
    let problems = check(&tables, reference);
    let blocking = problems.iter().filter(|p| p.blocking).count();
    let warnings = problems.len() - blocking;
    let package = assemble(&tables, entity, reference, now);

    let mut zip = None;
    let mut folder = None;
    if !args.check && blocking == 0 {
        std::fs::create_dir_all(&args.out)
            .map_err(|e| anyhow::anyhow!("cannot create the folder {}: {e}", args.out.display()))?;
        zip = Some(package.write_zip(&args.out)?);
        if args.unzipped {
            folder = Some(package.write_folder(&args.out)?);
        }
    }

    let templates: Vec<_> = tables
        .tables
        .iter()
        .zip(filing_indicators(&tables))
        .map(|(t, (_, reported))| {
            json!({
                "template": t.shape.id,
                "file": t.shape.file(),
                "rows": t.rows.len(),
                "reported": reported,
            })
        })
        .collect();
    match globals.format {
        Format::Json => print_json(&json!({
            "reference_date": reference,
            "package": package.zip_name(),
            "zip": zip,
            "folder": folder,
            "templates": templates,
            "problems": problems,
            "blocking": blocking,
            "warnings": warnings,
        }))?,
        // CSV is refused before this command runs (`Command::without_csv`).
        Format::Table | Format::Csv => {
            let rows: usize = tables.tables.iter().map(|t| t.rows.len()).sum();
            if !globals.quiet {
                outln!(
                    "Register of Information of {} ({}) as of {reference}: {} templates, {rows} rows",
                    supplywatch::report::terminal_text(&entity.name),
                    entity.lei,
                    tables.tables.len()
                );
                for t in &tables.tables {
                    outln!(
                        "  {}  {:>5} rows  {}",
                        t.shape.id,
                        t.rows.len(),
                        t.shape.title
                    );
                }
            }
            print_problems(&problems);
            summary(args, blocking, warnings, zip.as_ref(), folder.as_ref());
        }
    }
    Ok(if blocking > 0 {
        Outcome::RegisterRejected
    } else {
        Outcome::Ok
    })
}

fn print_problems(problems: &[Problem]) {
    for p in problems {
        outln!("{}", supplywatch::report::terminal_text(&p.to_string()));
    }
}

fn summary(
    args: &RoiArgs,
    blocking: usize,
    warnings: usize,
    zip: Option<&PathBuf>,
    folder: Option<&PathBuf>,
) {
    let counts = format!(
        "{blocking} blocking problem{}, {warnings} warning{}",
        if blocking == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" }
    );
    if blocking > 0 {
        outln!("{counts}: a supervisor would reject this register; nothing written");
    } else if args.check {
        outln!("{counts}: the register passes the rules that reject a submission");
    }
    if let Some(zip) = zip {
        outln!("{counts}; written {}", zip.display());
    }
    if let Some(folder) = folder {
        outln!("unzipped into {}", folder.display());
    }
}
