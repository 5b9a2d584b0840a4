//! `lodestone alloy batch PLAN.toml`.

use anyhow::{Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use lodestone_alloy::{charge, check_assay, correct, parse_plan, AlloyError};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `alloy batch`.
#[derive(Args)]
pub struct BatchArgs {
    /// The batch plan (TOML): grade, output mass, lots in stock.
    pub plan: PathBuf,
    /// Print the charge as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the weigh list for the batching station as CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

/// Runs the command (a charge, or with `trim` a correction of the heel); exit code 1 when the
/// grade cannot be met.
pub fn run(args: BatchArgs, trim: bool) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.plan)
        .with_context(|| format!("cannot read {}", args.plan.display()))?;
    let request =
        parse_plan(&text).with_context(|| format!("in plan file {}", args.plan.display()))?;
    let result = if trim {
        correct(&request)
    } else {
        charge(&request)
    };
    let c = match result {
        Ok(c) => c,
        Err(AlloyError::Infeasible { reasons }) => {
            eprintln!(
                "error: {} cannot be charged to grade \"{}\":",
                args.plan.display(),
                request.grade.name
            );
            for r in reasons {
                eprintln!("  - {r}");
            }
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e).with_context(|| format!("charging {}", args.plan.display())),
    };
    if let Some(path) = &args.csv {
        let mut out = String::from("lot,material,kg,pieces,cost\n");
        for l in &c.lines {
            out.push_str(&format!(
                "{},{},{:.3},{},{:.2}\n",
                csv(&l.lot),
                csv(&l.material),
                l.kg,
                l.pieces.map_or(String::new(), |p| p.to_string()),
                l.cost
            ));
        }
        std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} — {:.1} kg melt, charge {:.3} kg, cost {:.2}",
        request.grade.name, c.output_kg, c.charged_kg, c.cost
    );
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec!["lot", "material", "kg", "pieces", "cost"]);
    for l in &c.lines {
        t.add_row(vec![
            Cell::new(&l.lot),
            Cell::new(&l.material),
            Cell::new(format!("{:.3}", l.kg)).set_alignment(CellAlignment::Right),
            Cell::new(l.pieces.map_or("-".into(), |p| p.to_string()))
                .set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.2}", l.cost)).set_alignment(CellAlignment::Right),
        ]);
    }
    println!("{t}");
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "element / rule",
        "predicted",
        "aim",
        "allowed",
        "verdict",
    ]);
    for line in check_assay(&request.grade, &c.predicted_wt_pct) {
        t.add_row(vec![
            Cell::new(&line.item),
            Cell::new(format!("{:.4}", line.measured)).set_alignment(CellAlignment::Right),
            Cell::new(line.aim.map_or("-".into(), |a| format!("{a:.3}")))
                .set_alignment(CellAlignment::Right),
            Cell::new(&line.allowed),
            Cell::new(if line.pass { "ok" } else { "OUT" }),
        ]);
    }
    println!("{t}");
    if !c.on_aim {
        println!("The aim cannot be hit exactly with this stock (whole pieces, impurity limits or rules hold it back); the charge is the closest inside the band.");
    }
    Ok(ExitCode::SUCCESS)
}

fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
