//! `lodestone alloy campaign CAMPAIGN.toml`: many heats from one inventory.

use anyhow::{Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use indicatif::{ProgressBar, ProgressStyle};
use lodestone_alloy::{parse_campaign, run_campaign, HeatOutcome};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `alloy campaign`.
#[derive(Args)]
pub struct CampaignArgs {
    /// The campaign (TOML): lots in stock and heats to charge in order.
    pub campaign: PathBuf,
    /// Print the full result (every heat's charge) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write every heat's weigh list as CSV (heat, lot, kg, pieces, cost).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

/// Runs the command; exit code 1 when some heat could not be charged.
pub fn run(args: CampaignArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.campaign)
        .with_context(|| format!("cannot read {}", args.campaign.display()))?;
    let c = parse_campaign(&text)
        .with_context(|| format!("in campaign file {}", args.campaign.display()))?;
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(c.heats.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} charging heats {bar:40} {pos}/{len} ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let result = run_campaign(&c.lots, &c.heats, &c.recovery, c.min_returns_kg, |done| {
        if done % 16 == 0 || done == c.heats.len() {
            bar.set_position(done as u64);
        }
    })
    .with_context(|| format!("running {}", args.campaign.display()))?;
    bar.finish_and_clear();
    if let Some(path) = &args.csv {
        let mut out = String::from("heat,grade,lot,kg,pieces,cost\n");
        for h in &result.heats {
            if let HeatOutcome::Charged { id, grade, charge } = h {
                for l in &charge.lines {
                    out.push_str(&format!(
                        "{id},\"{grade}\",{},{:.3},{},{:.2}\n",
                        l.lot,
                        l.kg,
                        l.pieces.map_or(String::new(), |p| p.to_string()),
                        l.cost
                    ));
                }
            }
        }
        std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!(
            "{} heats: {} charged, {} failed · {:.0} kg melt · cost {:.2} ({:.2} per kg)",
            result.heats.len(),
            result.charged,
            result.failed,
            result.melt_kg,
            result.cost,
            if result.melt_kg > 0.0 {
                result.cost / result.melt_kg
            } else {
                0.0
            }
        );
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(vec!["lot", "consumed kg", "remaining kg"]);
        for (lot, kg) in &result.consumed_kg {
            t.add_row(vec![
                Cell::new(lot),
                Cell::new(format!("{kg:.1}")).set_alignment(CellAlignment::Right),
                Cell::new(format!(
                    "{:.1}",
                    result.remaining_kg.get(lot).copied().unwrap_or(0.0)
                ))
                .set_alignment(CellAlignment::Right),
            ]);
        }
        println!("{t}");
        let mut first_failures: BTreeMap<&str, (&str, usize, &Vec<String>)> = BTreeMap::new();
        for h in &result.heats {
            if let HeatOutcome::Failed { id, grade, reasons } = h {
                first_failures
                    .entry(grade.as_str())
                    .and_modify(|e| e.1 += 1)
                    .or_insert((id.as_str(), 1, reasons));
            }
        }
        for (grade, (id, count, reasons)) in first_failures {
            println!("{count} heat(s) of {grade} could not be charged; the first, {id}:");
            for r in reasons {
                println!("  - {r}");
            }
        }
    }
    Ok(if result.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
