//! `lodestone twin …`: simulate the alloy plant.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use indicatif::{ProgressBar, ProgressStyle};
use lodestone_twin::plant::Plant;
use lodestone_twin::study::run_study;
use std::path::PathBuf;
use std::process::ExitCode;

/// Twin subcommands.
#[derive(Subcommand)]
pub enum TwinCommand {
    /// Simulate the plant for a period, over several replications: output by grade with 95 %
    /// confidence intervals, line availability and OEE, utilisation of batching, AGVs and lab,
    /// lead time, WIP and backlog.
    ///
    /// Example: lodestone twin run examples/plant/baotou-50kt.toml --replications 10
    Run(RunArgs),
}

/// Arguments of `lodestone twin run`.
#[derive(Args)]
pub struct RunArgs {
    /// Plant file (example: examples/plant/baotou-50kt.toml).
    plant: PathBuf,
    /// Days to simulate after the warm-up (default: the file's).
    #[arg(long)]
    days: Option<f64>,
    /// Replications with seeds seed, seed+1, … (≥ 2 for confidence intervals).
    #[arg(long, default_value_t = 10)]
    replications: usize,
    /// First seed (default: the file's).
    #[arg(long)]
    seed: Option<u64>,
    /// Print JSON (every replication and the estimates).
    #[arg(long)]
    json: bool,
}

/// Runs a twin subcommand.
pub fn run(cmd: TwinCommand) -> Result<ExitCode> {
    match cmd {
        TwinCommand::Run(args) => run_plant(args),
    }
}

fn run_plant(args: RunArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.plant)
        .with_context(|| format!("reading {}", args.plant.display()))?;
    let mut plant = Plant::from_toml(&args.plant.display().to_string(), &text)?;
    if let Some(days) = args.days {
        plant.simulation.days = days;
    }
    if let Some(seed) = args.seed {
        plant.simulation.seed = seed;
    }
    plant.check()?;
    let bar = ProgressBar::new(args.replications.max(1) as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} replications ({elapsed})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix("simulating");
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let started = std::time::Instant::now();
    let study = run_study(&plant, args.replications, |done| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&study)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} — {} days × {} replications (after {} warm-up days) in {:.2} s",
        study.plant,
        plant.simulation.days,
        study.replications.len(),
        plant.simulation.warmup_days,
        seconds
    );
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(["result", "mean", "± 95 %", "unit"]);
    for e in &study.estimates {
        let (mean, ci) = if e.unit.is_empty() {
            (
                format!("{:.1} %", 100.0 * e.mean),
                format!("{:.1} %", 100.0 * e.ci95),
            )
        } else {
            (format!("{:.1}", e.mean), format!("{:.1}", e.ci95))
        };
        t.add_row(vec![
            Cell::new(&e.name),
            Cell::new(mean).set_alignment(CellAlignment::Right),
            Cell::new(ci).set_alignment(CellAlignment::Right),
            Cell::new(&e.unit),
        ]);
    }
    println!("{t}");
    let first = &study.replications[0];
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "line",
        "heats",
        "wash",
        "producing h",
        "starved h",
        "down h",
        "maint. h",
        "OEE",
    ]);
    for (i, l) in first.lines.iter().enumerate() {
        let h = |s: lodestone_twin::model::LineState| format!("{:.0}", l.hours[&s]);
        use lodestone_twin::model::LineState as S;
        t.add_row(vec![
            Cell::new(i + 1),
            Cell::new(l.heats).set_alignment(CellAlignment::Right),
            Cell::new(l.wash_heats).set_alignment(CellAlignment::Right),
            Cell::new(h(S::Producing)).set_alignment(CellAlignment::Right),
            Cell::new(h(S::Starved)).set_alignment(CellAlignment::Right),
            Cell::new(h(S::Down)).set_alignment(CellAlignment::Right),
            Cell::new(h(S::Maintenance)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.1} %", 100.0 * l.oee)).set_alignment(CellAlignment::Right),
        ]);
    }
    println!("lines in replication 1 (seed {}):", first.seed);
    println!("{t}");
    Ok(ExitCode::SUCCESS)
}
