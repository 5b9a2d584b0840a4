//! `lodestone alloy fit-recovery HISTORY.toml`: per-furnace recovery factors from heat history.

use anyhow::{Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use lodestone_alloy::{fit_recovery, HeatRecord, Pooling, RecoveryModel};
use serde::Deserialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `alloy fit-recovery`.
#[derive(Args)]
pub struct FitArgs {
    /// Heat history (TOML): `[[heat]]` with heat, furnace, charged_kg and the assayed output.
    pub history: PathBuf,
    /// Also fit a fixed loss per heat (y = η·c − L; needs ≥ 3 heats with different charges).
    #[arg(long)]
    pub fixed_loss: bool,
    /// Pool all furnaces into one fit instead of one per furnace.
    #[arg(long)]
    pub pooled: bool,
    /// Print the fits as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct History {
    #[serde(rename = "heat")]
    heats: Vec<HeatRecord>,
}

/// Runs the command.
pub fn run(args: FitArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.history)
        .with_context(|| format!("cannot read {}", args.history.display()))?;
    let history: History = toml::from_str(&text)
        .with_context(|| format!("in history file {}", args.history.display()))?;
    let model = if args.fixed_loss {
        RecoveryModel::FixedLoss
    } else {
        RecoveryModel::Proportional
    };
    let pooling = if args.pooled {
        Pooling::AllFurnaces
    } else {
        Pooling::PerFurnace
    };
    let fits = fit_recovery(&history.heats, model, pooling)
        .with_context(|| format!("fitting {}", args.history.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&fits)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "furnace",
        "element",
        "heats",
        "recovery η",
        "± s.e.",
        "fixed loss kg",
        "residual s.d. kg",
    ]);
    for f in &fits.fits {
        t.add_row(vec![
            Cell::new(f.furnace.as_deref().unwrap_or("all")),
            Cell::new(f.element.symbol()),
            Cell::new(f.residuals.len()).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.5}", f.recovery)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.5}", f.recovery_se)).set_alignment(CellAlignment::Right),
            Cell::new(if args.fixed_loss {
                format!("{:.3}", f.fixed_loss_kg)
            } else {
                "-".into()
            })
            .set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.3}", f.residual_sd_kg)).set_alignment(CellAlignment::Right),
        ]);
    }
    println!("{t}");
    let mut furnaces: Vec<Option<&str>> = fits.fits.iter().map(|f| f.furnace.as_deref()).collect();
    furnaces.dedup();
    for furnace in furnaces {
        println!(
            "# [recovery] for batch plans on furnace {}:",
            furnace.unwrap_or("any")
        );
        for f in fits
            .fits
            .iter()
            .filter(|f| f.furnace.as_deref() == furnace && !args.fixed_loss)
        {
            println!("{} = {:.5}", f.element.symbol(), f.recovery.clamp(0.0, 1.0));
        }
    }
    Ok(ExitCode::SUCCESS)
}
