//! `lodestone mes spc` and `lodestone mes oee`: control charts with qcc semantics and OEE,
//! from the MES record or (for SPC) from a CSV file.

use anyhow::{bail, Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use lodestone_mes::spc::{
    self, individuals_capability, rules::Rules, xbar_capability, CapabilityOptions, ChartOptions,
    ChartPair, SpecLimits,
};
use lodestone_mes::Mes;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `lodestone mes spc`.
#[derive(Args)]
pub struct SpcArgs {
    /// Material definition whose lab results to chart (with --property).
    #[arg(long, requires = "property")]
    definition: Option<String>,
    /// Property to chart (element symbol or named property).
    #[arg(long)]
    property: Option<String>,
    /// Chart values from a CSV file instead: one subgroup per row, numbers only (a first row
    /// that is not numeric is taken as a header).
    #[arg(long, conflicts_with = "definition")]
    csv: Option<PathBuf>,
    /// Values per subgroup when charting MES results (1 = individuals, I-MR).
    #[arg(long, default_value_t = 1)]
    subgroup_size: usize,
    /// Number of leading subgroups that set the limits (phase I); the rest are monitored
    /// against them (phase II). Default: all.
    #[arg(long)]
    phase1: Option<usize>,
    /// Chart: auto (I-MR for single values, X̄-R otherwise), i-mr, xbar-r, xbar-s.
    #[arg(long, default_value = "auto")]
    chart: String,
    /// Run rules: western-electric (1–4) or nelson (1–8).
    #[arg(long, default_value = "western-electric")]
    rules: String,
    /// Lower specification limit (default: from the specification in force).
    #[arg(long)]
    lsl: Option<f64>,
    /// Upper specification limit (default: from the specification in force).
    #[arg(long)]
    usl: Option<f64>,
    /// Target for Cpm (default: the spec target, or the midpoint).
    #[arg(long)]
    target: Option<f64>,
    /// Write the location chart (X̄ or I) as SVG.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Print JSON (charts and capability).
    #[arg(long)]
    json: bool,
}

/// Arguments of `lodestone mes oee`.
#[derive(Args)]
pub struct OeeArgs {
    /// Unit.
    equipment: String,
    /// Window start, RFC 3339.
    #[arg(long)]
    from: String,
    /// Window end, RFC 3339.
    #[arg(long)]
    to: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl SpcArgs {
    /// True when the data come from a file, not the database.
    pub fn is_offline(&self) -> bool {
        self.csv.is_some()
    }
}

/// Columns of a header that label a subgroup rather than hold a value.
const LABEL_COLUMNS: &[&str] = &[
    "sample", "subgroup", "phase", "lot", "id", "date", "time", "at",
];

fn read_csv_subgroups(path: &PathBuf) -> Result<Vec<Vec<f64>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut groups = Vec::new();
    // With a header, only value columns are read; without one, every cell is a value.
    let mut value_columns: Option<Vec<usize>> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if groups.is_empty()
            && value_columns.is_none()
            && cells.iter().any(|c| c.parse::<f64>().is_err())
        {
            value_columns = Some(
                cells
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| !LABEL_COLUMNS.contains(&h.to_ascii_lowercase().as_str()))
                    .map(|(j, _)| j)
                    .collect(),
            );
            continue;
        }
        let picked: Vec<&str> = match &value_columns {
            Some(columns) => columns
                .iter()
                .filter_map(|&j| cells.get(j).copied())
                .collect(),
            None => cells.clone(),
        };
        let mut values = Vec::new();
        for cell in picked.into_iter().filter(|c| !c.is_empty()) {
            values.push(cell.parse::<f64>().map_err(|_| {
                anyhow::anyhow!(
                    "{}: line {}: '{cell}' is not a number",
                    path.display(),
                    i + 1
                )
            })?);
        }
        groups.push(values);
    }
    if groups.is_empty() {
        bail!("{}: no data rows", path.display());
    }
    Ok(groups)
}

/// Runs `lodestone mes spc`.
pub async fn run_spc(mes: Option<&Mes>, args: &SpcArgs) -> Result<ExitCode> {
    let (groups, mut spec, label) = match (&args.csv, &args.definition, &args.property) {
        (Some(path), _, _) => (
            read_csv_subgroups(path)?,
            SpecLimits {
                lsl: None,
                usl: None,
                target: None,
            },
            path.display().to_string(),
        ),
        (None, Some(definition), Some(property)) => {
            let mes = mes.context("charting MES results needs the database")?;
            let series = mes.measurements(definition, property).await?;
            if series.is_empty() {
                bail!("no results of '{property}' for lots of '{definition}'");
            }
            let n = args.subgroup_size.max(1);
            let groups: Vec<Vec<f64>> = series
                .chunks(n)
                .filter(|c| c.len() == n)
                .map(|c| c.iter().map(|m| m.value).collect())
                .collect();
            let limit = mes
                .specification(definition)
                .await?
                .and_then(|s| s.limits.into_iter().find(|l| &l.property == property));
            let spec = match limit {
                Some(l) => SpecLimits {
                    lsl: l.min,
                    usl: l.max,
                    target: l.target,
                },
                None => SpecLimits {
                    lsl: None,
                    usl: None,
                    target: None,
                },
            };
            (
                groups,
                spec,
                format!("{definition} {property} ({})", series[0].unit),
            )
        }
        _ => bail!("give --definition and --property (MES results) or --csv FILE"),
    };
    if args.lsl.is_some() || args.usl.is_some() {
        spec = SpecLimits {
            lsl: args.lsl.or(spec.lsl),
            usl: args.usl.or(spec.usl),
            target: spec.target,
        };
    }
    if let Some(t) = args.target {
        spec.target = Some(t);
    }
    let phase1 = args.phase1.unwrap_or(groups.len()).min(groups.len());
    let (p1, p2) = groups.split_at(phase1);
    let rules = match args.rules.as_str() {
        "western-electric" => Rules::western_electric(),
        "nelson" => Rules::nelson(),
        other => bail!("--rules: '{other}' is not allowed; expected western-electric or nelson"),
    };
    let opts = ChartOptions {
        rules,
        ..ChartOptions::default()
    };
    let size = groups.iter().map(Vec::len).max().unwrap_or(1);
    let chart = match (args.chart.as_str(), size) {
        ("auto", 1) | ("i-mr", _) => "i-mr",
        ("auto", _) | ("xbar-r", _) => "xbar-r",
        ("xbar-s", _) => "xbar-s",
        (other, _) => {
            bail!("--chart: '{other}' is not allowed; expected auto, i-mr, xbar-r or xbar-s")
        }
    };
    let (pair, capability): (ChartPair, _) = match chart {
        "i-mr" => {
            let flat1: Vec<f64> = p1.iter().flatten().copied().collect();
            let flat2: Vec<f64> = p2.iter().flatten().copied().collect();
            let pair = spc::i_mr(&flat1, &flat2, &opts)?;
            let cap = (spec.lsl.is_some() || spec.usl.is_some())
                .then(|| {
                    individuals_capability(
                        &pair.location,
                        &flat1,
                        &spec,
                        &CapabilityOptions::default(),
                    )
                })
                .transpose()?;
            (pair, cap)
        }
        _ => {
            let pair = if chart == "xbar-r" {
                spc::xbar_r(p1, p2, &opts)?
            } else {
                spc::xbar_s(p1, p2, &opts)?
            };
            let cap = (spec.lsl.is_some() || spec.usl.is_some())
                .then(|| xbar_capability(&pair.location, p1, &spec, &CapabilityOptions::default()))
                .transpose()?;
            (pair, cap)
        }
    };
    if let Some(path) = &args.svg {
        let svg_opts = spc::svg::SvgOptions {
            title: Some(format!("{label} — {chart}")),
            ..Default::default()
        };
        std::fs::write(path, spc::svg::render_svg(&pair.location, &svg_opts))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "charts": pair, "capability": capability })
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{label}: {} subgroups ({} phase I, {} phase II), chart {chart}",
        groups.len(),
        p1.len(),
        p2.len()
    );
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "chart",
        "centre",
        "σ",
        "LCL",
        "UCL",
        "violations (subgroup: rule)",
    ]);
    for c in [&pair.location, &pair.dispersion] {
        let first = c.points.first();
        let violations: Vec<String> = c
            .points
            .iter()
            .filter_map(|p| p.violation.map(|r| format!("{}: {r}", p.index + 1)))
            .collect();
        t.add_row(vec![
            Cell::new(format!("{:?}", c.kind)),
            Cell::new(format!("{:.6}", c.center)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.6}", c.std_dev)).set_alignment(CellAlignment::Right),
            Cell::new(first.map(|p| format!("{:.6}", p.lcl)).unwrap_or_default())
                .set_alignment(CellAlignment::Right),
            Cell::new(first.map(|p| format!("{:.6}", p.ucl)).unwrap_or_default())
                .set_alignment(CellAlignment::Right),
            Cell::new(if violations.is_empty() {
                "none".to_string()
            } else {
                violations.join(", ")
            }),
        ]);
    }
    println!("{t}");
    if let Some(cap) = capability {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_header(["index", "value", "95 % interval"]);
        let mut row = |name: &str, e: Option<&lodestone_mes::spc::IndexEstimate>| {
            if let Some(e) = e {
                t.add_row(vec![
                    Cell::new(name),
                    Cell::new(format!("{:.3}", e.value)).set_alignment(CellAlignment::Right),
                    Cell::new(format!("[{:.3}, {:.3}]", e.lower, e.upper)),
                ]);
            }
        };
        row("Cp", cap.cp.as_ref());
        row("Cpl", cap.cpl.as_ref());
        row("Cpu", cap.cpu.as_ref());
        row("Cpk", Some(&cap.cpk));
        row("Cpm", cap.cpm.as_ref());
        row("Pp", cap.pp.as_ref());
        row("Ppk", Some(&cap.ppk));
        println!(
            "capability (n = {}, centre {:.6}, σ within {:.6}, σ overall {:.6}):",
            cap.n, cap.center, cap.std_dev, cap.overall_std_dev
        );
        println!("{t}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `lodestone mes oee`.
pub async fn run_oee(mes: &Mes, args: &OeeArgs) -> Result<ExitCode> {
    let r = mes.oee(&args.equipment, &args.from, &args.to).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    let o = &r.oee;
    println!("OEE of {} from {} to {}", r.equipment, r.from, r.to);
    let h = |s: f64| s / 3600.0;
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(["factor", "value", "from"]);
    t.add_row(vec![
        Cell::new("utilisation"),
        Cell::new(format!("{:.2} %", 100.0 * o.utilisation)),
        Cell::new(format!(
            "planned {:.1} h of {:.1} h ({:.1} h no orders, {:.1} h planned down)",
            h(o.planned_production_time_s),
            h(o.total_time_s),
            h(o.not_scheduled_s),
            h(o.planned_downtime_s)
        )),
    ]);
    t.add_row(vec![
        Cell::new("availability"),
        Cell::new(format!("{:.2} %", 100.0 * o.availability)),
        Cell::new(format!(
            "run {:.0} s of planned {:.0} s",
            o.run_time_s, o.planned_production_time_s
        )),
    ]);
    t.add_row(vec![
        Cell::new("performance"),
        Cell::new(format!("{:.2} %", 100.0 * o.performance)),
        Cell::new(format!(
            "{} units × {} s ideal / run time",
            o.total_count, o.ideal_cycle_time_s
        )),
    ]);
    t.add_row(vec![
        Cell::new("quality"),
        Cell::new(format!("{:.2} %", 100.0 * o.quality)),
        Cell::new(format!(
            "{} good of {} ({} rejected in the record, {} by lab results)",
            o.good_count, o.total_count, r.rejected_by_record, r.rejected_by_results
        )),
    ]);
    t.add_row(vec![
        Cell::new("OEE"),
        Cell::new(format!("{:.2} %", 100.0 * o.oee)),
        Cell::new("A × P × Q"),
    ]);
    t.add_row(vec![
        Cell::new("TEEP"),
        Cell::new(format!("{:.2} %", 100.0 * o.teep)),
        Cell::new("utilisation × OEE"),
    ]);
    println!("{t}");
    for w in &o.warnings {
        println!("warning: {w}");
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(["availability loss", "s"]);
    for l in &o.losses.availability_by_state {
        t.add_row(vec![
            Cell::new(l.state.to_string()),
            Cell::new(format!("{:.0}", l.duration_s)).set_alignment(CellAlignment::Right),
        ]);
    }
    println!("{t}");
    if r.unrecorded_s > 0.0 {
        println!(
            "note: {:.0} s at the start had no recorded state and count as idle",
            r.unrecorded_s
        );
    }
    Ok(ExitCode::SUCCESS)
}
