//! `lodestone alloy cast`: flake thickness, cooling and microstructure for caster setpoints.

use crate::plot::{LineChart, Series, YScale};
use anyhow::{Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use lodestone_alloy::StripCaster;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `alloy cast`.
#[derive(Args)]
pub struct CastArgs {
    /// Wheel surface speed, m/s.
    #[arg(long = "wheel-speed", value_name = "M_PER_S")]
    pub wheel_speed_m_per_s: f64,
    /// Pour rate per metre of contact width, kg/(s·m) (or give --pour-rate-kg-per-s with --width-m).
    #[arg(
        long = "pour-rate",
        value_name = "KG_PER_S_PER_M",
        required_unless_present = "pour_rate_kg_per_s"
    )]
    pub pour_rate_kg_per_s_per_m: Option<f64>,
    /// Total pour rate, kg/s (with --width-m).
    #[arg(long = "pour-rate-kg-per-s", requires = "width_m")]
    pub pour_rate_kg_per_s: Option<f64>,
    /// Contact width of the melt on the wheel, m.
    #[arg(long = "width-m")]
    pub width_m: Option<f64>,
    /// Interfacial heat-transfer coefficient melt–wheel, W/(m²·K). Strip casting sits around
    /// 0.6–11 kW/m²K (research notes alloy.md §0.4), not the 1e5 of melt spinning.
    #[arg(long = "h", value_name = "W_PER_M2K", default_value_t = 5000.0)]
    pub h_w_per_m2k: f64,
    /// Caster description (TOML: properties, conditions, solver, microstructure); overrides --h.
    #[arg(long, value_name = "FILE")]
    pub caster: Option<PathBuf>,
    /// Draw the temperature history (wheel side, mean, free side) as SVG.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Print the prediction as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: CastArgs) -> Result<ExitCode> {
    let caster = match &args.caster {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            toml::from_str::<StripCaster>(&text)
                .with_context(|| format!("in caster file {}", path.display()))?
        }
        None => StripCaster::indicative(args.h_w_per_m2k),
    };
    let pour = match (
        args.pour_rate_kg_per_s_per_m,
        args.pour_rate_kg_per_s,
        args.width_m,
    ) {
        (Some(p), _, _) => p,
        (None, Some(total), Some(width)) => {
            lodestone_alloy::casting::pour_rate_per_width_kg_per_s_per_m(total, width)?
        }
        _ => anyhow::bail!("give --pour-rate (kg/(s·m)) or --pour-rate-kg-per-s with --width-m"),
    };
    let thickness_mm = caster.thickness_mm(pour, args.wheel_speed_m_per_s)?;
    let p = caster
        .predict(thickness_mm)
        .context("predicting the flake")?;
    if let Some(path) = &args.svg {
        let mut chart = LineChart::new(
            format!(
                "Flake {thickness_mm:.3} mm, h = {:.0} W/m²K",
                caster.conditions.h_w_per_m2k
            ),
            "time on the wheel (ms)",
            "temperature (°C)",
        );
        chart.y_scale = YScale::Linear;
        let series =
            |label: &str, f: &dyn Fn(&lodestone_alloy::casting::TemperaturePoint) -> f64| Series {
                label: label.into(),
                points: p
                    .cooling
                    .history
                    .iter()
                    .map(|t| (t.time_s * 1e3, f(t)))
                    .collect(),
            };
        chart.series.push(series("wheel side", &|t| t.wheel_side_c));
        chart.series.push(series("mean", &|t| t.mean_c));
        chart.series.push(series("free side", &|t| t.free_side_c));
        std::fs::write(path, chart.to_svg())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&p)?);
        return Ok(ExitCode::SUCCESS);
    }
    let c = &p.cooling;
    let m = &p.microstructure;
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec!["quantity", "value"]);
    let rows: Vec<(&str, String)> = vec![
        ("flake thickness", format!("{thickness_mm:.3} mm")),
        (
            "cooling model",
            format!("{:?} (Bi = {:.3})", c.model, c.biot),
        ),
        (
            "cooling rate through freezing",
            format!("{:.0} K/s", c.cooling_rate_freezing_k_per_s),
        ),
        (
            "  wheel side / free side",
            format!(
                "{:.0} / {:.0} K/s",
                c.cooling_rate_wheel_side_k_per_s, c.cooling_rate_free_side_k_per_s
            ),
        ),
        (
            "time to solidify",
            format!("{:.2} ms", c.time_to_solidify_s * 1e3),
        ),
        (
            "solid before leaving the wheel",
            if c.solidified_on_wheel {
                "yes".into()
            } else {
                "NO".into()
            },
        ),
        (
            "columnar fraction",
            format!("{:.0} %", 100.0 * m.columnar_fraction),
        ),
        (
            "chill (equiaxed) fraction",
            format!("{:.0} %", 100.0 * m.chill_fraction),
        ),
        (
            "Nd-rich lamellar spacing",
            format!("{:.1} µm", m.lamellar_spacing_um),
        ),
        ("α-Fe risk", format!("{:?}", m.alpha_fe_risk)),
        ("regime", format!("{:?}", m.regime)),
    ];
    for (q, v) in rows {
        t.add_row(vec![
            Cell::new(q),
            Cell::new(v).set_alignment(CellAlignment::Right),
        ]);
    }
    println!("{t}");
    for note in &m.notes {
        println!("- {note}");
    }
    Ok(ExitCode::SUCCESS)
}
