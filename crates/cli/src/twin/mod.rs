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
    /// Find the bottleneck by experiment: with demand scaled up so supply limits output, add
    /// one line, batching station, AGV or lab analyst in turn and measure the output gain over
    /// the same seeds.
    ///
    /// Example: lodestone twin bottleneck examples/plant/baotou-50kt.toml --days 180
    Bottleneck(BottleneckArgs),
}

/// Arguments of `lodestone twin bottleneck`.
#[derive(Args)]
pub struct BottleneckArgs {
    /// Plant file.
    plant: PathBuf,
    /// Days to simulate per run (default: the file's).
    #[arg(long)]
    days: Option<f64>,
    /// Replications per configuration (1 or more).
    #[arg(long, default_value_t = 5, value_parser = at_least_one)]
    replications: usize,
    /// Demand multiplier so that the plant, not the order book, limits output.
    #[arg(long, default_value_t = 2.0)]
    demand_scale: f64,
    /// Logistics only: ignore the heats' metallurgy (optimiser charges, lots, melt loss,
    /// casting, lab verdicts); every heat makes heat_kg × flake_yield and passes. Much faster:
    /// for quick capacity studies and the SimPy comparison.
    #[arg(long)]
    logistics_only: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// A count of replications: a whole number, at least 1 (0 would silently run one).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "'{text}' is not allowed; expected a whole number of replications, 1 or more (2 or more for confidence intervals)"
        )),
    }
}

/// Arguments of `lodestone twin run`.
#[derive(Args)]
pub struct RunArgs {
    /// Plant file (example: examples/plant/baotou-50kt.toml).
    plant: PathBuf,
    /// Days to simulate after the warm-up (default: the file's).
    #[arg(long)]
    days: Option<f64>,
    /// Replications with seeds seed, seed+1, … (1 or more; ≥ 2 for confidence intervals).
    #[arg(long, default_value_t = 10, value_parser = at_least_one)]
    replications: usize,
    /// First seed (default: the file's).
    #[arg(long)]
    seed: Option<u64>,
    /// Print JSON (every replication and the estimates).
    #[arg(long)]
    json: bool,
    /// Record the first replication in a new MES database (SQLite file or postgres:// URL):
    /// raw lots, heats as orders, drums and residues, lab reports, nonconformances for
    /// out-of-spec heats, a signed daily QA release of the passing drums, line states. The
    /// administrator is `twin`, password from LODESTONE_PASSWORD. Time 0 is --epoch.
    #[arg(long)]
    mes: Option<String>,
    /// Calendar time of the simulation's start, for --mes.
    #[arg(long, default_value = "2026-01-01T00:00:00Z")]
    epoch: String,
    /// Write SVG charts into this directory: utilisation.svg (per resource) and
    /// throughput.svg (output per month, every replication).
    #[arg(long)]
    svg_dir: Option<PathBuf>,
    /// Logistics only: ignore the heats' metallurgy (optimiser charges, lots, melt loss,
    /// casting, lab verdicts); every heat makes heat_kg × flake_yield and passes. Much faster:
    /// for quick capacity studies and the SimPy comparison.
    #[arg(long)]
    logistics_only: bool,
}

/// Runs a twin subcommand.
pub fn run(cmd: TwinCommand) -> Result<ExitCode> {
    match cmd {
        TwinCommand::Run(args) => run_plant(args),
        TwinCommand::Bottleneck(args) => bottleneck(args),
    }
}

fn load(path: &PathBuf, days: Option<f64>, logistics_only: bool) -> Result<Plant> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut plant = Plant::from_toml(&path.display().to_string(), &text)?;
    if let Some(days) = days {
        plant.simulation.days = days;
    }
    if logistics_only {
        plant.logistics_only();
    }
    plant.check()?;
    Ok(plant)
}

fn bar(len: usize, hidden: bool, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix("simulating");
    bar.set_message(what.to_string());
    if hidden {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

fn bottleneck(args: BottleneckArgs) -> Result<ExitCode> {
    if !(args.demand_scale > 0.0 && args.demand_scale.is_finite()) {
        anyhow::bail!(
            "--demand-scale: {} is not allowed; expected a factor > 0",
            args.demand_scale
        );
    }
    let plant = load(&args.plant, args.days, args.logistics_only)?;
    let progress = bar(args.replications * 5, args.json, "runs");
    let report = lodestone_twin::study::find_bottleneck(
        &plant,
        args.replications,
        args.demand_scale,
        |done, _| progress.set_position(done as u64),
    );
    progress.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} with demand × {}: base output {:.0} ± {:.0} t/yr ({} days × {} replications per configuration)",
        plant.name, report.demand_scale, report.base_output_t_per_yr.0, report.base_output_t_per_yr.1,
        plant.simulation.days, args.replications
    );
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "add one",
        "capacity",
        "output t/yr",
        "gain t/yr",
        "± 95 %",
    ]);
    for e in &report.experiments {
        t.add_row(vec![
            Cell::new(e.resource.name()),
            Cell::new(format!("{} → {}", e.from, e.to)),
            Cell::new(format!("{:.0}", e.output_t_per_yr)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:+.0}", e.gain_t_per_yr)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.0}", e.gain_ci95)).set_alignment(CellAlignment::Right),
        ]);
    }
    println!("{t}");
    match report.bottleneck {
        Some(b) => println!(
            "bottleneck: {} (one more raises output most, beyond noise)",
            b.name()
        ),
        None => println!("no single added unit raises output beyond noise"),
    }
    Ok(ExitCode::SUCCESS)
}

fn run_plant(args: RunArgs) -> Result<ExitCode> {
    let mut plant = load(&args.plant, args.days, args.logistics_only)?;
    if let Some(seed) = args.seed {
        plant.simulation.seed = seed;
    }
    if let Some(url) = &args.mes {
        record_in_mes(&plant, url, &args.epoch, args.json)?;
    }
    let bar = bar(args.replications.max(1), args.json, "replications");
    let started = std::time::Instant::now();
    let study = run_study(&plant, args.replications, |done| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    if let Some(dir) = &args.svg_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let util = dir.join("utilisation.svg");
        std::fs::write(&util, utilisation_svg(&study))
            .with_context(|| format!("writing {}", util.display()))?;
        let mut chart = crate::plot::LineChart::new(
            format!("{} — output per month", study.plant),
            "month",
            "flake released, t",
        );
        for r in &study.replications {
            chart.series.push(crate::plot::Series {
                label: format!("#{}", r.seed),
                points: r
                    .output_t_by_month
                    .iter()
                    .enumerate()
                    .map(|(m, t)| ((m + 1) as f64, *t))
                    .collect(),
            });
        }
        let through = dir.join("throughput.svg");
        std::fs::write(&through, chart.to_svg())
            .with_context(|| format!("writing {}", through.display()))?;
        if !args.json {
            eprintln!("wrote {} and {}", util.display(), through.display());
        }
    }
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
        } else if e.unit == "mm" {
            (format!("{:.3}", e.mean), format!("{:.3}", e.ci95))
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
        "rejected",
        "wash",
        "producing h",
        "washing h",
        "starved h",
        "down h",
        "maint. h",
        "no orders h",
        "utilisation",
        "A",
        "P",
        "Q",
        "OEE",
    ]);
    let pct = |x: f64| Cell::new(format!("{:.1} %", 100.0 * x)).set_alignment(CellAlignment::Right);
    for (i, l) in first.lines.iter().enumerate() {
        let h = |s: lodestone_twin::model::LineState| format!("{:.0}", l.hours[&s]);
        use lodestone_twin::model::LineState as S;
        t.add_row(vec![
            Cell::new(i + 1),
            Cell::new(l.heats).set_alignment(CellAlignment::Right),
            Cell::new(l.rejected_heats).set_alignment(CellAlignment::Right),
            Cell::new(l.wash_heats).set_alignment(CellAlignment::Right),
            Cell::new(h(S::Producing)).set_alignment(CellAlignment::Right),
            Cell::new(h(S::Washing)).set_alignment(CellAlignment::Right),
            Cell::new(h(S::Starved)).set_alignment(CellAlignment::Right),
            Cell::new(h(S::Down)).set_alignment(CellAlignment::Right),
            Cell::new(h(S::Maintenance)).set_alignment(CellAlignment::Right),
            Cell::new(h(S::NoOrders)).set_alignment(CellAlignment::Right),
            pct(l.utilisation),
            pct(l.availability),
            pct(l.performance),
            pct(l.quality),
            pct(l.oee),
        ]);
    }
    println!(
        "lines in replication 1 (seed {}; OEE as in docs/mes.md: no-orders time and maintenance are outside planned production time, a wash heat is a changeover, the lab's rejects are quality loss, ideal cycle {:.0} s):",
        first.seed,
        lodestone_twin::model::ideal_cycle_s(&plant)
    );
    println!("{t}");
    for (i, l) in first.lines.iter().enumerate() {
        for w in &l.warnings {
            println!("warning: line {}: {w}", i + 1);
        }
    }
    if first.heats_analysed > 0 && (first.charges.optimised > 0 || first.heats_out_of_spec > 0) {
        let reasons: Vec<String> = first
            .out_of_spec_by_reason
            .iter()
            .map(|(why, n)| format!("{why} {n}"))
            .collect();
        println!(
            "heats in replication 1: {} analysed, {} out of specification ({:.2} %){}; charges: {} optimised, {} re-solved on the basis, {} kept for new lots, {} fallbacks; {} weighings corrected",
            first.heats_analysed,
            first.heats_out_of_spec,
            100.0 * first.heats_out_of_spec as f64 / first.heats_analysed as f64,
            if reasons.is_empty() {
                String::new()
            } else {
                format!(" — first failed item: {}", reasons.join(", "))
            },
            first.charges.optimised,
            first.charges.resolved,
            first.charges.reused,
            first.charges.fallbacks,
            first.weighings_corrected
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Horizontal bars: mean utilisation of each resource over the replications.
fn utilisation_svg(study: &lodestone_twin::study::Study) -> String {
    let n = study.replications.len().max(1) as f64;
    let mean = |f: &dyn Fn(&lodestone_twin::model::Replication) -> f64| {
        study.replications.iter().map(f).sum::<f64>() / n
    };
    let mut bars: Vec<(String, f64)> = vec![
        (
            "batching stations".into(),
            mean(&|r| r.batching.utilisation),
        ),
        ("AGVs".into(), mean(&|r| r.agv.utilisation)),
        ("lab".into(), mean(&|r| r.lab.utilisation)),
    ];
    if study
        .replications
        .first()
        .is_some_and(|r| r.hydrogen_decrepitation.is_some())
    {
        bars.push((
            "HD furnaces".into(),
            mean(&|r| {
                r.hydrogen_decrepitation
                    .as_ref()
                    .map_or(0.0, |h| h.utilisation)
            }),
        ));
    }
    let lines = study
        .replications
        .first()
        .map(|r| r.lines.len())
        .unwrap_or(0);
    for i in 0..lines {
        bars.push((
            format!("line {}", i + 1),
            mean(&|r| r.lines[i].availability),
        ));
    }
    let (row, left, width) = (22.0, 150.0, 420.0);
    let height = 50.0 + row * bars.len() as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">Utilisation (lines: share of time melting)</text>\n",
        w = left + width + 70.0
    );
    for (i, (name, u)) in bars.iter().enumerate() {
        let y = 35.0 + row * i as f64;
        let colour = if *u > 0.85 {
            "#c0392b"
        } else if *u > 0.7 {
            "#e67e22"
        } else {
            "#2e86c1"
        };
        svg.push_str(&format!(
            "<text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{name}</text><rect x=\"{left}\" y=\"{y}\" width=\"{bw:.1}\" height=\"16\" fill=\"{colour}\"/><text x=\"{vx:.1}\" y=\"{ty}\">{pct:.1} %</text>\n",
            tx = left - 8.0,
            ty = y + 12.5,
            bw = width * u.clamp(0.0, 1.0),
            vx = left + width * u.clamp(0.0, 1.0) + 6.0,
            pct = 100.0 * u
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

/// Runs the first replication with the MES attached.
fn record_in_mes(plant: &Plant, url: &str, epoch: &str, quiet: bool) -> Result<()> {
    use lodestone_mes::twin_recorder::{plant_commands, MesRecorder};
    let epoch = chrono::DateTime::parse_from_rfc3339(epoch)
        .map_err(|_| anyhow::anyhow!("--epoch: '{epoch}' is not an RFC 3339 time"))?
        .with_timezone(&chrono::Utc);
    let password = std::env::var("LODESTONE_PASSWORD")
        .context("--mes needs the new administrator's password in LODESTONE_PASSWORD")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let started = std::time::Instant::now();
    let mes = runtime.block_on(lodestone_mes::Mes::create(url))?;
    let admin = runtime.block_on(mes.bootstrap_admin("twin", "Plant twin", &password))?;
    let setup: Vec<lodestone_mes::Envelope> = plant_commands(plant)
        .into_iter()
        .map(lodestone_mes::Envelope::from)
        .collect();
    runtime.block_on(mes.execute_batch(&admin, &setup))?;
    // The twin's QA reviews the previous day's heats each day and signs their release as
    // `twin` (each signature costs an argon2 re-authentication).
    let mut recorder =
        MesRecorder::new(&runtime, &mes, &admin, plant, epoch).with_qa_signature(&password, 24.0);
    lodestone_twin::model::run_replication_with(plant, plant.simulation.seed, &mut recorder);
    let events = recorder.finish()?;
    runtime.block_on(mes.close());
    if !quiet {
        eprintln!(
            "recorded {events} MES events in {url} in {:.1} s (replication 1, {} + {} days)",
            started.elapsed().as_secs_f64(),
            plant.simulation.warmup_days,
            plant.simulation.days
        );
    }
    Ok(())
}
