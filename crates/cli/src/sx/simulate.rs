//! `lodestone sx simulate CASE.toml`.

use crate::plot::{LineChart, Series, YScale};
use anyhow::{Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use lodestone_sx::result::{Product, StageResult};
use lodestone_sx::{Case, SimulationResult};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sx simulate`.
#[derive(Args)]
pub struct SimulateArgs {
    /// The case file (TOML).
    pub case: PathBuf,
    /// Print the full result as JSON (docs/sx-json.md) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Write stage profiles as CSV files into this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,
    /// Draw the stage profiles as an SVG chart.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// What the SVG plots per element: REE mole fraction in a phase, or log concentration.
    #[arg(long, value_enum, default_value = "aqueous-fraction")]
    pub plot: PlotKind,
    /// Show every stage in the terminal profile instead of a summary.
    #[arg(long)]
    pub all_stages: bool,
}

/// Quantity drawn against stage number.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum PlotKind {
    /// REE mole fraction of each element in the aqueous phase.
    AqueousFraction,
    /// REE mole fraction of each element in the organic phase.
    OrganicFraction,
    /// Aqueous concentration of each element on a log scale.
    LogAqueous,
    /// Organic concentration of each element on a log scale.
    LogOrganic,
}

/// Runs the command; exit code 1 when the solver did not converge.
pub fn run(args: SimulateArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.case)
        .with_context(|| format!("cannot read {}", args.case.display()))?;
    let case =
        Case::from_toml(&text).with_context(|| format!("in case file {}", args.case.display()))?;
    let result = case
        .simulate()
        .with_context(|| format!("simulating {}", args.case.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print_tables(&case, &result, args.all_stages);
    }
    if let Some(dir) = &args.csv {
        write_csv(dir, &result).with_context(|| format!("writing CSV into {}", dir.display()))?;
    }
    if let Some(file) = &args.svg {
        let svg = profile_chart(&case, &result, args.plot);
        std::fs::write(file, svg).with_context(|| format!("writing {}", file.display()))?;
    }
    if !result.converged {
        let c = &result.convergence;
        eprintln!(
            "error: not converged after {} iterations: largest residual {:.3e} in the {} at stage {}.\n\
             Check that feeds, flows and model parameters are realistic (acid and extractant in sensible \
             ranges, every stage with both phases), or raise [solver] max_iterations.",
            c.iterations, c.max_residual, c.worst_equation, c.worst_stage
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn rare_earths(p: &Product) -> Vec<(&String, f64)> {
    let mut v: Vec<(&String, f64)> = p.ree_mole_fraction.iter().map(|(k, v)| (k, *v)).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v
}

fn print_tables(case: &Case, r: &SimulationResult, all_stages: bool) {
    println!("{}", case.title);
    println!(
        "model {} · {} stages · {} · {} iterations ({} pseudo-transient), max residual {:.1e}, worst element closure {:.1e}",
        r.model,
        r.stages.len(),
        if r.converged { "converged" } else { "NOT CONVERGED" },
        r.iterations,
        r.convergence.transient_iterations,
        r.max_residual,
        r.balance.max_relative_error
    );
    println!();
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "product",
        "phase",
        "stage",
        "flow",
        "main REE",
        "purity",
        "recovery",
        "REE composition (mole fraction)",
    ]);
    for p in &r.products {
        let ree = rare_earths(p);
        let (main, purity) = ree
            .first()
            .map(|(k, v)| (k.as_str(), *v))
            .unwrap_or(("-", 0.0));
        let recovery = p.recovery.get(main).copied().unwrap_or(0.0);
        let composition = ree
            .iter()
            .filter(|(_, v)| *v >= 1e-4)
            .take(6)
            .map(|(k, v)| format!("{k} {v:.4}"))
            .collect::<Vec<_>>()
            .join(", ");
        t.add_row(vec![
            Cell::new(&p.name),
            Cell::new(p.phase),
            Cell::new(p.stage).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.4} {}", p.flow, p.flow_unit)).set_alignment(CellAlignment::Right),
            Cell::new(main),
            Cell::new(format!("{:.6}", purity)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.6}", recovery)).set_alignment(CellAlignment::Right),
            Cell::new(composition),
        ]);
    }
    println!("{t}");
    println!();
    println!(
        "Stage profile ({}):",
        r.products
            .first()
            .map_or("", |p| p.concentration_unit.label())
    );
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    let elements: Vec<String> = r
        .stages
        .first()
        .map(|s| s.distribution_ratio.keys().cloned().collect())
        .unwrap_or_default();
    let show_ph = r.stages.iter().any(|s| s.ph.is_some());
    let show_loading = r.stages.iter().any(|s| s.loading.is_some());
    let mut header = vec!["stage".to_string(), "section".to_string()];
    if show_ph {
        header.push("pH".into());
    }
    if show_loading {
        header.push("loading".into());
    }
    header.push("main aqueous REE".into());
    header.push("main organic REE".into());
    header.push("largest D".into());
    t.set_header(header);
    for s in stages_to_show(case, r, all_stages) {
        let st = &r.stages[s - 1];
        let section = case
            .cascade
            .sections
            .iter()
            .find(|sec| (sec.first..=sec.last).contains(&s))
            .map_or("", |sec| sec.name.as_str());
        let mut row = vec![
            Cell::new(s).set_alignment(CellAlignment::Right),
            Cell::new(section),
        ];
        if show_ph {
            row.push(
                Cell::new(st.ph.map_or("-".into(), |p| format!("{p:.3}")))
                    .set_alignment(CellAlignment::Right),
            );
        }
        if show_loading {
            row.push(
                Cell::new(
                    st.loading
                        .map_or("-".into(), |l| format!("{:.1} %", 100.0 * l)),
                )
                .set_alignment(CellAlignment::Right),
            );
        }
        row.push(Cell::new(main_fraction(st, true, &elements)));
        row.push(Cell::new(main_fraction(st, false, &elements)));
        let d = st
            .distribution_ratio
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1));
        row.push(Cell::new(
            d.map_or("-".into(), |(k, v)| format!("{k} {v:.3}")),
        ));
        t.add_row(row);
    }
    println!("{t}");
}

/// Stages for the terminal summary: ends of each section, feed and draw stages, and a few in between.
fn stages_to_show(case: &Case, r: &SimulationResult, all: bool) -> Vec<usize> {
    let n = r.stages.len();
    if all || n <= 12 {
        return (1..=n).collect();
    }
    let mut s: Vec<usize> = vec![1, n];
    for sec in &case.cascade.sections {
        s.extend([sec.first, sec.last]);
    }
    s.extend(case.cascade.feeds().iter().map(|f| f.stage));
    s.extend(case.cascade.draws().iter().map(|d| d.stage));
    let step = n.div_ceil(8);
    s.extend((1..=n).step_by(step));
    s.sort_unstable();
    s.dedup();
    s
}

fn main_fraction(st: &StageResult, aqueous: bool, elements: &[String]) -> String {
    let phase = if aqueous { &st.aqueous } else { &st.organic };
    let total: f64 = elements.iter().filter_map(|e| phase.get(e)).sum();
    elements
        .iter()
        .filter_map(|e| phase.get(e).map(|c| (e, c / total)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or("-".into(), |(e, f)| format!("{e} {f:.4}"))
}

fn write_csv(dir: &std::path::Path, r: &SimulationResult) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for (file, aqueous) in [("aqueous.csv", true), ("organic.csv", false)] {
        let species: Vec<&String> = r.stages.first().map_or(vec![], |s| {
            (if aqueous { &s.aqueous } else { &s.organic })
                .keys()
                .collect()
        });
        let mut out = String::from("stage");
        for sp in &species {
            out.push(',');
            out.push_str(sp);
        }
        out.push('\n');
        for st in &r.stages {
            out.push_str(&st.stage.to_string());
            let phase = if aqueous { &st.aqueous } else { &st.organic };
            for sp in &species {
                out.push_str(&format!(",{:e}", phase[*sp]));
            }
            out.push('\n');
        }
        std::fs::write(dir.join(file), out)?;
    }
    let mut out = String::from("stage,ph,loading,free_extractant_mol_per_l");
    let elements: Vec<&String> = r
        .stages
        .first()
        .map_or(vec![], |s| s.distribution_ratio.keys().collect());
    for e in &elements {
        out.push_str(&format!(",D_{e}"));
    }
    out.push('\n');
    for st in &r.stages {
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:e}"));
        out.push_str(&format!(
            "{},{},{},{}",
            st.stage,
            opt(st.ph),
            opt(st.loading),
            opt(st.free_extractant_mol_per_l)
        ));
        for e in &elements {
            out.push_str(&format!(",{:e}", st.distribution_ratio[*e]));
        }
        out.push('\n');
    }
    std::fs::write(dir.join("stages.csv"), out)?;
    let mut out = String::from(
        "product,phase,stage,flow,flow_unit,species,concentration,concentration_unit,recovery\n",
    );
    for p in &r.products {
        for (sp, c) in &p.concentration {
            let rec = p
                .recovery
                .get(sp)
                .map_or(String::new(), |v| format!("{v:e}"));
            out.push_str(&format!(
                "{},{},{},{:e},{},{},{:e},{},{}\n",
                csv_field(&p.name),
                p.phase,
                p.stage,
                p.flow,
                csv_field(&p.flow_unit),
                sp,
                c,
                p.concentration_unit.label(),
                rec
            ));
        }
    }
    std::fs::write(dir.join("products.csv"), out)?;
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Stage profiles per element: REE mole fraction in a phase, or log concentration.
fn profile_chart(case: &Case, r: &SimulationResult, kind: PlotKind) -> String {
    let unit = r
        .products
        .first()
        .map_or("", |p| p.concentration_unit.label());
    let (aqueous, log, y_label) = match kind {
        PlotKind::AqueousFraction => (true, false, "REE mole fraction, aqueous".to_string()),
        PlotKind::OrganicFraction => (false, false, "REE mole fraction, organic".to_string()),
        PlotKind::LogAqueous => (true, true, format!("aqueous concentration ({unit})")),
        PlotKind::LogOrganic => (false, true, format!("organic concentration ({unit})")),
    };
    let elements: Vec<String> = r
        .stages
        .first()
        .map(|s| s.distribution_ratio.keys().cloned().collect())
        .unwrap_or_default();
    let mut chart = LineChart::new(case.title.clone(), "stage", y_label);
    chart.y_scale = if log { YScale::Log10 } else { YScale::Linear };
    chart.x_bands = case
        .cascade
        .sections
        .iter()
        .map(|s| (s.first as f64 - 0.5, s.last as f64 + 0.5, s.name.clone()))
        .collect();
    for e in &elements {
        let points = r
            .stages
            .iter()
            .map(|st| {
                let phase = if aqueous { &st.aqueous } else { &st.organic };
                let value = phase[e];
                let y = if log {
                    value
                } else {
                    let total: f64 = elements.iter().map(|x| phase[x]).sum();
                    value / total
                };
                (st.stage as f64, y)
            })
            .collect();
        chart.series.push(Series {
            label: e.clone(),
            points,
        });
    }
    chart.to_svg()
}
