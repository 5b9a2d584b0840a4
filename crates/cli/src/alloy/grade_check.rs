//! `lodestone alloy grade-check ASSAY.toml`: an assay against its grade.

use anyhow::{bail, Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use lodestone_alloy::{best_quality_grade, check_assay, grades, Grade};
use lodestone_chem::Element;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `alloy grade-check`.
#[derive(Args)]
pub struct GradeCheckArgs {
    /// The assay file (TOML): `grade = "N52"` (a library grade) or a `[grade]` table, and
    /// `[assay_wt_pct]`.
    pub assay: PathBuf,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssayFile {
    #[serde(default)]
    heat: Option<String>,
    grade: GradeRef,
    assay_wt_pct: BTreeMap<Element, f64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum GradeRef {
    Library(String),
    Inline(Box<Grade>),
}

/// Runs the command; exit code 1 when the assay fails its grade.
pub fn run(args: GradeCheckArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.assay)
        .with_context(|| format!("cannot read {}", args.assay.display()))?;
    let file: AssayFile =
        toml::from_str(&text).with_context(|| format!("in assay file {}", args.assay.display()))?;
    let grade = match file.grade {
        GradeRef::Inline(g) => *g,
        GradeRef::Library(name) => match grades::by_name(&name) {
            Some(g) => g,
            None => bail!(
                "in assay file {}: grade: \"{name}\" is not a library grade; expected one of {} or a [grade] table",
                args.assay.display(),
                grades::names().join(", ")
            ),
        },
    };
    grade
        .validate()
        .with_context(|| format!("in assay file {}", args.assay.display()))?;
    for (e, v) in &file.assay_wt_pct {
        if !(v.is_finite() && (0.0..=100.0).contains(v)) {
            bail!("in assay file {}: assay_wt_pct.{e}: {v} is not allowed; expected a wt% from 0 to 100", args.assay.display());
        }
    }
    let lines = check_assay(&grade, &file.assay_wt_pct);
    let pass = lines.iter().all(|l| l.pass);
    let best = best_quality_grade(&grade, &file.assay_wt_pct);
    if args.json {
        let value = serde_json::json!({
            "heat": file.heat, "grade": grade.name, "pass": pass,
            "quality_grade": best.map(|q| q.code()), "lines": lines,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "{} against {} (GB/T 29655 {}): {}",
            file.heat.as_deref().unwrap_or("assay"),
            grade.name,
            grade.quality.code(),
            if pass { "PASS" } else { "FAIL" }
        );
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(vec![
            "element / rule",
            "measured",
            "aim",
            "allowed",
            "verdict",
        ]);
        for l in &lines {
            t.add_row(vec![
                Cell::new(&l.item),
                Cell::new(format!("{:.4}", l.measured)).set_alignment(CellAlignment::Right),
                Cell::new(l.aim.map_or("-".into(), |a| format!("{a:.3}")))
                    .set_alignment(CellAlignment::Right),
                Cell::new(&l.allowed),
                Cell::new(if l.pass { "ok" } else { "OUT" }),
            ]);
        }
        println!("{t}");
        match best {
            Some(q) => println!("Best GB/T 29655 quality grade met: {}", q.code()),
            None => {
                println!("The assay meets none of the GB/T 29655 quality grades 045001–045004.")
            }
        }
    }
    Ok(if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
