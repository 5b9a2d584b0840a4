//! `lodestone mes spc` and `lodestone mes oee`: control charts with qcc semantics and OEE,
//! from the MES record or (for SPC) from a CSV file.

use anyhow::{bail, Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use lodestone_mes::spc::{
    self, individuals_capability, rules::Rules, table, xbar_capability, CapabilityOptions,
    ChartOptions, ChartPair, ControlChart, CusumChart, CusumOptions, EwmaOptions, SpecLimits,
    Standard, StdDevMethod, TableOptions,
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
    /// Chart values from a CSV file instead: one sample per row. The label column (the first
    /// column named batch, sample, lot or id, a first column of non-numbers or of consecutive
    /// integers, or --label-column) labels the samples; a `phase` (I/II) or `trial`
    /// (TRUE/FALSE) column sets phase I; every other column holds values.
    #[arg(long, conflicts_with = "definition")]
    csv: Option<PathBuf>,
    /// The CSV column that labels the samples.
    #[arg(long, requires = "csv")]
    label_column: Option<String>,
    /// Values per subgroup when charting MES results (1 = individuals); a subgroup is
    /// labelled by its first lot.
    #[arg(long, default_value_t = 1)]
    subgroup_size: usize,
    /// Number of leading samples that set the limits (phase I); the rest are monitored
    /// against them (phase II). Default: the CSV's phase column; else none when --center and
    /// --std-dev are both given; else all.
    #[arg(long)]
    phase1: Option<usize>,
    /// Chart: auto (I-MR for single values, X̄-R otherwise), i-mr, xbar-r, xbar-s, ewma,
    /// cusum.
    #[arg(long, default_value = "auto")]
    chart: String,
    /// Run rules of Shewhart charts: western-electric (1–4, default) or nelson (1–8).
    #[arg(long)]
    rules: Option<String>,
    /// Width of the control limits in σ of the statistic (default 3; not for CUSUM).
    #[arg(long, allow_hyphen_values = true)]
    nsigmas: Option<f64>,
    /// Known centre (phase II): the limits use it instead of the phase-I mean.
    #[arg(long, allow_hyphen_values = true)]
    center: Option<f64>,
    /// Known process σ (phase II): the limits use it instead of the phase-I estimate.
    #[arg(long, allow_hyphen_values = true)]
    std_dev: Option<f64>,
    /// σ estimate, as qcc names it: UWAVE-R, UWAVE-SD, MVLUE-R, MVLUE-SD, RMSDF (subgroups);
    /// MR, SD (individual values). Default: qcc's for the chart.
    #[arg(long)]
    std_dev_method: Option<String>,
    /// Phase-I samples to leave out of the limits, by label (e.g. --exclude 3,7); they are
    /// still charted and listed, marked excluded.
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
    /// EWMA smoothing constant λ in (0, 1] (default 0.2).
    #[arg(long, allow_hyphen_values = true)]
    lambda: Option<f64>,
    /// CUSUM decision interval h in standard errors (default 5).
    #[arg(long, allow_hyphen_values = true)]
    decision_interval: Option<f64>,
    /// CUSUM shift to detect in standard errors (default 1).
    #[arg(long, allow_hyphen_values = true)]
    se_shift: Option<f64>,
    /// CUSUM head start (fast initial response), in [0, h) (default 0).
    #[arg(long, allow_hyphen_values = true)]
    head_start: Option<f64>,
    /// Lower specification limit (default: from the specification in force).
    #[arg(long, allow_hyphen_values = true)]
    lsl: Option<f64>,
    /// Upper specification limit (default: from the specification in force).
    #[arg(long, allow_hyphen_values = true)]
    usl: Option<f64>,
    /// Target for Cpm (default: the spec target, or the midpoint).
    #[arg(long, allow_hyphen_values = true)]
    target: Option<f64>,
    /// Write the chart (X̄, I, EWMA or CUSUM) as SVG.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Print JSON (charts, labels, violations and capability).
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

/// The samples to chart, with their labels.
struct Samples {
    labels: Vec<String>,
    groups: Vec<Vec<f64>>,
    /// Phase-I count given by the data (the CSV's phase column).
    phase1: Option<usize>,
    spec: SpecLimits,
    title: String,
    /// Where the labels come from, for the header line.
    label_source: String,
}

async fn samples(mes: Option<&Mes>, args: &SpcArgs) -> Result<Samples> {
    let no_spec = SpecLimits {
        lsl: None,
        usl: None,
        target: None,
    };
    match (&args.csv, &args.definition, &args.property) {
        (Some(path), _, _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let t = table::parse_csv(
                &text,
                &path.display().to_string(),
                &TableOptions {
                    label_column: args.label_column.clone(),
                },
            )?;
            let phase1 = t.phase_one_count()?;
            Ok(Samples {
                label_source: match &t.label_column {
                    Some(c) => format!("labels from column '{c}'"),
                    None => "labels are row numbers".to_string(),
                },
                labels: t.labels,
                groups: t.groups,
                phase1,
                spec: no_spec,
                title: path.display().to_string(),
            })
        }
        (None, Some(definition), Some(property)) => {
            let mes = mes.context("charting MES results needs the database")?;
            let series = mes.measurements(definition, property).await?;
            if series.is_empty() {
                bail!("no results of '{property}' for lots of '{definition}'");
            }
            let n = args.subgroup_size;
            if n == 0 {
                bail!("--subgroup-size: 0 is not allowed; give 1 (individuals) or more");
            }
            let chunks: Vec<_> = series.chunks(n).filter(|c| c.len() == n).collect();
            let limit = mes
                .specification(definition)
                .await?
                .and_then(|s| s.limits.into_iter().find(|l| &l.property == property));
            Ok(Samples {
                labels: chunks.iter().map(|c| c[0].lot.clone()).collect(),
                groups: chunks
                    .iter()
                    .map(|c| c.iter().map(|m| m.value).collect())
                    .collect(),
                phase1: None,
                spec: limit.map_or(no_spec, |l| SpecLimits {
                    lsl: l.min,
                    usl: l.max,
                    target: l.target,
                }),
                title: format!("{definition} {property} ({})", series[0].unit),
                label_source: if n == 1 {
                    "labels are lot ids".to_string()
                } else {
                    format!("labels are the first lot of each {n}")
                },
            })
        }
        _ => bail!("give --definition and --property (MES results) or --csv FILE"),
    }
}

/// The chart asked for, after `auto` is resolved.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    IMr,
    XbarR,
    XbarS,
    Ewma,
    Cusum,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::IMr => "i-mr",
            Kind::XbarR => "xbar-r",
            Kind::XbarS => "xbar-s",
            Kind::Ewma => "ewma",
            Kind::Cusum => "cusum",
        }
    }
}

/// Refuses options that the chart does not use, naming them.
fn check_applicable(kind: Kind, args: &SpcArgs) -> Result<()> {
    let only = |given: bool, option: &str, charts: &str| -> Result<()> {
        if given {
            bail!(
                "{option} does not apply to a {} chart; it is for {charts}",
                kind.name()
            );
        }
        Ok(())
    };
    if kind != Kind::Ewma {
        only(args.lambda.is_some(), "--lambda", "--chart ewma")?;
    }
    if kind != Kind::Cusum {
        only(
            args.decision_interval.is_some(),
            "--decision-interval",
            "--chart cusum",
        )?;
        only(args.se_shift.is_some(), "--se-shift", "--chart cusum")?;
        only(args.head_start.is_some(), "--head-start", "--chart cusum")?;
    } else {
        only(
            args.nsigmas.is_some(),
            "--nsigmas",
            "Shewhart and EWMA charts (CUSUM signals at --decision-interval)",
        )?;
    }
    if matches!(kind, Kind::Ewma | Kind::Cusum) {
        only(
            args.rules.is_some(),
            "--rules",
            "Shewhart charts (EWMA and CUSUM signal beyond their limits only, as qcc)",
        )?;
    }
    Ok(())
}

/// One line of the violation list: the sample's label and what it broke.
#[derive(serde::Serialize)]
struct Violation {
    /// The sample's label (CSV label column, lot id, or row number).
    label: String,
    /// Chart the point is on.
    chart: String,
    /// 0-based position on the chart.
    index: usize,
    /// Rule number (Shewhart, EWMA) — EWMA has only rule 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<u8>,
    /// CUSUM: the sum that crossed ("upper" or "lower").
    #[serde(skip_serializing_if = "Option::is_none")]
    side: Option<&'static str>,
}

fn chart_violations(c: &ControlChart, labels: &[String]) -> Vec<Violation> {
    c.violations()
        .into_iter()
        .map(|(index, rule)| Violation {
            label: labels
                .get(index)
                .cloned()
                .unwrap_or_else(|| (index + 1).to_string()),
            chart: format!("{:?}", c.kind),
            index,
            rule: Some(rule),
            side: None,
        })
        .collect()
}

fn cusum_violations(c: &CusumChart, labels: &[String]) -> Vec<Violation> {
    let mut out = Vec::new();
    for p in &c.points {
        for (crossed, side) in [(p.upper_violation, "upper"), (p.lower_violation, "lower")] {
            if crossed {
                out.push(Violation {
                    label: labels[p.index].clone(),
                    chart: "Cusum".to_string(),
                    index: p.index,
                    rule: None,
                    side: Some(side),
                });
            }
        }
    }
    out
}

fn list(violations: &[Violation], chart: &str) -> String {
    let items: Vec<String> = violations
        .iter()
        .filter(|v| v.chart == chart)
        .map(|v| match (v.rule, v.side) {
            (_, Some(side)) => format!("{}: {side}", v.label),
            (Some(rule), None) => format!("{}: {rule}", v.label),
            (None, None) => v.label.clone(),
        })
        .collect();
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn right(text: String) -> Cell {
    Cell::new(text).set_alignment(CellAlignment::Right)
}

/// Runs `lodestone mes spc`.
pub async fn run_spc(mes: Option<&Mes>, args: &SpcArgs) -> Result<ExitCode> {
    let Samples {
        labels,
        groups,
        phase1: data_phase1,
        mut spec,
        title,
        label_source,
    } = samples(mes, args).await?;
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
    let phase1 = match (args.phase1, data_phase1) {
        (Some(n), _) if n > groups.len() => bail!(
            "--phase1: {n} is more than the {} samples; give at most {}",
            groups.len(),
            groups.len()
        ),
        (Some(n), _) => n,
        (None, Some(n)) => n,
        // A known centre and σ leave nothing to estimate: every sample is monitored (phase II).
        (None, None) if args.center.is_some() && args.std_dev.is_some() => 0,
        (None, None) => groups.len(),
    };
    let (p1, p2) = groups.split_at(phase1);
    let size = groups.iter().map(Vec::len).max().unwrap_or(1);
    let kind = match (args.chart.as_str(), size) {
        ("auto", 1) | ("i-mr", _) => Kind::IMr,
        ("auto", _) | ("xbar-r", _) => Kind::XbarR,
        ("xbar-s", _) => Kind::XbarS,
        ("ewma", _) => Kind::Ewma,
        ("cusum", _) => Kind::Cusum,
        (other, _) => bail!(
            "--chart: '{other}' is not allowed; expected auto, i-mr, xbar-r, xbar-s, ewma or cusum"
        ),
    };
    check_applicable(kind, args)?;
    let rules = match args.rules.as_deref() {
        None | Some("western-electric") => Rules::western_electric(),
        Some("nelson") => Rules::nelson(),
        Some(other) => {
            bail!("--rules: '{other}' is not allowed; expected western-electric or nelson")
        }
    };
    let std_dev_method = args
        .std_dev_method
        .as_deref()
        .map(str::parse::<StdDevMethod>)
        .transpose()
        .context("--std-dev-method")?;
    let exclude = table::resolve_labels(&labels, phase1, &args.exclude).context("--exclude")?;
    let opts = ChartOptions {
        rules,
        nsigmas: args.nsigmas.unwrap_or(3.0),
        exclude: exclude.clone(),
        standard: Standard {
            center: args.center,
            std_dev: args.std_dev,
        },
        std_dev_method,
        ..ChartOptions::default()
    };
    let svg_opts = spc::svg::SvgOptions {
        title: Some(format!("{title} — {}", kind.name())),
        labels: labels.clone(),
        ..Default::default()
    };
    let individual = |what: &str| -> Result<(Vec<f64>, Vec<f64>)> {
        if let Some((i, g)) = groups.iter().enumerate().find(|(_, g)| g.len() != 1) {
            bail!(
                "{what} charts one value per sample; sample '{}' has {} — use --chart xbar-r, \
                 xbar-s, ewma or cusum{}",
                labels[i],
                g.len(),
                if args.csv.is_some() {
                    ""
                } else {
                    ", or --subgroup-size 1"
                }
            );
        }
        Ok((
            p1.iter().flatten().copied().collect(),
            p2.iter().flatten().copied().collect(),
        ))
    };

    let header = format!(
        "{title}: {} samples ({} phase I, {} phase II), chart {}; {label_source}",
        groups.len(),
        p1.len(),
        p2.len(),
        kind.name()
    );
    let mut notes = Vec::new();
    if !exclude.is_empty() {
        let names: Vec<&str> = exclude.iter().map(|&i| labels[i].as_str()).collect();
        notes.push(format!(
            "excluded from the limits (still charted): {}",
            names.join(", ")
        ));
    }
    if args.center.is_some() || args.std_dev.is_some() {
        notes.push(format!(
            "known {} given: limits are not estimated from phase I for {}",
            match (args.center, args.std_dev) {
                (Some(_), Some(_)) => "centre and σ",
                (Some(_), None) => "centre",
                _ => "σ",
            },
            if args.center.is_some() && args.std_dev.is_some() {
                "either"
            } else {
                "it"
            }
        ));
    }

    match kind {
        Kind::Ewma => {
            let ewma = EwmaOptions {
                lambda: args.lambda.unwrap_or(0.2),
            };
            let c = spc::ewma_chart(p1, p2, &ewma, &opts)?;
            let violations = chart_violations(&c, &labels);
            write_svg(args, &spc::render_svg(&c, &svg_opts))?;
            if args.json {
                print_json(kind, &labels, &c, &violations)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!("{header}");
            notes.iter().for_each(|n| println!("{n}"));
            let last = c.points.last();
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED).set_header([
                "chart",
                "centre",
                "σ",
                "λ",
                "LCL (last)",
                "UCL (last)",
                "violations (sample: rule)",
            ]);
            t.add_row(vec![
                Cell::new("EWMA"),
                right(format!("{:.6}", c.center)),
                right(format!("{:.6}", c.std_dev)),
                right(format!("{}", ewma.lambda)),
                right(last.map(|p| format!("{:.6}", p.lcl)).unwrap_or_default()),
                right(last.map(|p| format!("{:.6}", p.ucl)).unwrap_or_default()),
                Cell::new(list(&violations, &format!("{:?}", c.kind))),
            ]);
            println!("{t}");
            Ok(ExitCode::SUCCESS)
        }
        Kind::Cusum => {
            let defaults = CusumOptions::default();
            let cusum = CusumOptions {
                decision_interval: args.decision_interval.unwrap_or(defaults.decision_interval),
                se_shift: args.se_shift.unwrap_or(defaults.se_shift),
                head_start: args.head_start.unwrap_or(defaults.head_start),
            };
            let c = spc::cusum_chart(p1, p2, &cusum, &opts)?;
            let violations = cusum_violations(&c, &labels);
            write_svg(args, &spc::render_cusum_svg(&c, &svg_opts))?;
            if args.json {
                print_json(kind, &labels, &c, &violations)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!("{header}");
            notes.iter().for_each(|n| println!("{n}"));
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED).set_header([
                "chart",
                "centre",
                "σ",
                "h",
                "shift",
                "head start",
                "signals (sample: sum)",
            ]);
            t.add_row(vec![
                Cell::new("CUSUM"),
                right(format!("{:.6}", c.center)),
                right(format!("{:.6}", c.std_dev)),
                right(format!("{}", c.decision_interval)),
                right(format!("{}", c.se_shift)),
                right(format!("{}", c.head_start)),
                Cell::new(list(&violations, "Cusum")),
            ]);
            println!("{t}");
            Ok(ExitCode::SUCCESS)
        }
        Kind::IMr | Kind::XbarR | Kind::XbarS => {
            let (pair, capability): (ChartPair, _) = if kind == Kind::IMr {
                let (flat1, flat2) = individual("an I-MR chart")?;
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
            } else {
                let pair = if kind == Kind::XbarR {
                    spc::xbar_r(p1, p2, &opts)?
                } else {
                    spc::xbar_s(p1, p2, &opts)?
                };
                let cap = (spec.lsl.is_some() || spec.usl.is_some())
                    .then(|| {
                        xbar_capability(&pair.location, p1, &spec, &CapabilityOptions::default())
                    })
                    .transpose()?;
                (pair, cap)
            };
            write_svg(args, &spc::render_svg(&pair.location, &svg_opts))?;
            let mut violations = chart_violations(&pair.location, &labels);
            violations.extend(chart_violations(&pair.dispersion, &labels));
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "chart": kind.name(),
                        "labels": labels,
                        "charts": pair,
                        "violations": violations,
                        "capability": capability,
                    }))?
                );
                return Ok(ExitCode::SUCCESS);
            }
            println!("{header}");
            for n in &notes {
                println!("{n}");
            }
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED).set_header([
                "chart",
                "centre",
                "σ",
                "LCL",
                "UCL",
                "violations (sample: rule)",
            ]);
            for c in [&pair.location, &pair.dispersion] {
                let first = c.points.first();
                t.add_row(vec![
                    Cell::new(format!("{:?}", c.kind)),
                    right(format!("{:.6}", c.center)),
                    right(format!("{:.6}", c.std_dev)),
                    right(first.map(|p| format!("{:.6}", p.lcl)).unwrap_or_default()),
                    right(first.map(|p| format!("{:.6}", p.ucl)).unwrap_or_default()),
                    Cell::new(list(&violations, &format!("{:?}", c.kind))),
                ]);
            }
            println!("{t}");
            if let Some(cap) = capability {
                print_capability(&cap);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_json(
    kind: Kind,
    labels: &[String],
    chart: &impl serde::Serialize,
    violations: &[Violation],
) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "chart": kind.name(),
            "labels": labels,
            "result": chart,
            "violations": violations,
        }))?
    );
    Ok(())
}

fn write_svg(args: &SpcArgs, svg: &str) -> Result<()> {
    if let Some(path) = &args.svg {
        std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn print_capability(cap: &spc::Capability) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(["index", "value", "95 % interval"]);
    let mut row = |name: &str, e: Option<&spc::IndexEstimate>| {
        if let Some(e) = e {
            t.add_row(vec![
                Cell::new(name),
                right(format!("{:.3}", e.value)),
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
