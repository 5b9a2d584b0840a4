//! `lodestone alloy advise`: caster setpoints for a target flake.

use anyhow::{Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use lodestone_alloy::casting::{Hold, SetpointRequest};
use lodestone_alloy::StripCaster;
use std::process::ExitCode;

/// Arguments of `alloy advise`.
#[derive(Args)]
pub struct AdviseArgs {
    /// Hold the pour rate per metre of contact width (kg/(s·m)); the advisor sets the wheel speed.
    #[arg(
        long = "hold-pour-rate",
        value_name = "KG_PER_S_PER_M",
        conflicts_with = "hold_wheel_speed",
        required_unless_present = "hold_wheel_speed"
    )]
    pub hold_pour_rate: Option<f64>,
    /// Hold the wheel speed (m/s); the advisor sets the pour rate.
    #[arg(long = "hold-wheel-speed", value_name = "M_PER_S")]
    pub hold_wheel_speed: Option<f64>,
    /// Flake thickness wanted, mm (default: the middle of the widest acceptable range).
    #[arg(long = "target-thickness", value_name = "MM")]
    pub target_thickness_mm: Option<f64>,
    /// Equipment limits on the wheel speed, m/s.
    #[arg(long = "wheel-speed-limits", value_name = "MIN,MAX", value_delimiter = ',', num_args = 2, default_values_t = [0.5, 4.0])]
    pub wheel_speed_limits: Vec<f64>,
    /// Equipment limits on the pour rate, kg/(s·m).
    #[arg(long = "pour-rate-limits", value_name = "MIN,MAX", value_delimiter = ',', num_args = 2, default_values_t = [1.0, 8.0])]
    pub pour_rate_limits: Vec<f64>,
    /// Interfacial heat-transfer coefficient melt–wheel, W/(m²·K).
    #[arg(long = "h", value_name = "W_PER_M2K", default_value_t = 5000.0)]
    pub h_w_per_m2k: f64,
    /// Print the advice as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command; exit code 1 when no setpoint meets the window within the limits.
pub fn run(args: AdviseArgs) -> Result<ExitCode> {
    let hold = match (args.hold_pour_rate, args.hold_wheel_speed) {
        (Some(p), _) => Hold::PourRate { kg_per_s_per_m: p },
        (None, Some(v)) => Hold::WheelSpeed { m_per_s: v },
        (None, None) => anyhow::bail!("give --hold-pour-rate or --hold-wheel-speed"),
    };
    let limits = |v: &[f64]| [v[0], v[1]];
    let mut request = SetpointRequest::new(
        hold,
        limits(&args.wheel_speed_limits),
        limits(&args.pour_rate_limits),
    );
    request.target_thickness_mm = args.target_thickness_mm;
    let caster = StripCaster::indicative(args.h_w_per_m2k);
    let advice = caster.advise(&request).context("advising setpoints")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&advice)?);
    } else {
        let m = &advice.prediction.microstructure;
        println!(
            "Advice: wheel speed {:.3} m/s, pour rate {:.3} kg/(s·m) → flake {:.3} mm, columnar {:.0} %, spacing {:.1} µm, α-Fe risk {:?}",
            advice.wheel_speed_m_per_s,
            advice.pour_rate_kg_per_s_per_m,
            advice.thickness_mm,
            100.0 * m.columnar_fraction,
            m.lamellar_spacing_um,
            m.alpha_fe_risk
        );
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(vec![
            "acceptable thickness (mm)",
            "wheel speed (m/s)",
            "pour rate (kg/(s·m))",
        ]);
        for r in &advice.acceptable {
            t.add_row(vec![
                Cell::new(format!("{:.2}–{:.2}", r.thickness_mm[0], r.thickness_mm[1])),
                Cell::new(format!(
                    "{:.3}–{:.3}",
                    r.wheel_speed_m_per_s[0], r.wheel_speed_m_per_s[1]
                ))
                .set_alignment(CellAlignment::Right),
                Cell::new(format!(
                    "{:.3}–{:.3}",
                    r.pour_rate_kg_per_s_per_m[0], r.pour_rate_kg_per_s_per_m[1]
                ))
                .set_alignment(CellAlignment::Right),
            ]);
        }
        println!("{t}");
        for r in &advice.reasons {
            println!("- {r}");
        }
    }
    Ok(if advice.in_window && advice.within_limits {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
