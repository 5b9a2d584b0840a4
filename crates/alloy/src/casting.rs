//! Strip casting (SC, 速凝铸片) of NdFeB alloy and flake QC.
//!
//! * Flake thickness from mass conservation, `t = ṁ′/(ρ·v)`, and its inverses.
//! * Cooling of the flake on the wheel: the lumped (Newtonian) model when the Biot number
//!   `Bi = h·t/k` is small, else 1-D transient conduction through the flake thickness
//!   (implicit finite volumes, enthalpy method with latent heat released linearly between
//!   liquidus and solidus). Both report Bi, the time to solidify, the cooling rate through the
//!   freezing range, the temperature history and an energy balance whose closure is computed.
//! * Microstructure from thickness and cooling rate: chill, columnar and free-side fractions,
//!   Nd-rich lamellar spacing and α-Fe risk, with adjustable thresholds.
//! * A setpoint advisor (wheel speed and pour rate for a thickness and microstructure window).
//! * Flake QC against GB/T 29655-2013: thickness distribution, composition, impurities and
//!   columnar fraction → one grade verdict with reasons.
//!
//! Sources are the research notes `alloy.md` §2 and §4 (tags \[S\] sourced, \[D\] derived,
//! \[U\] indicative); every equation and parameter is listed in `docs/alloy-casting.md`.
//! Indicative values are parameters with defaults, never constants. The interface heat-transfer
//! coefficient `h` has no default: it must be chosen (1–10 kW/m²K for SC, alloy.md §0.4, §2.3).
//!
//! Pure computation: no I/O, no clocks, no global state; no input makes it panic.

use crate::spec::QualityGrade;
use lodestone_chem::Element;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// Stefan–Boltzmann constant σ, W/(m²·K⁴) (CODATA 2018, exact in the SI).
pub const STEFAN_BOLTZMANN_W_PER_M2K4: f64 = 5.670_374_419e-8;

/// Santoku cooling-rate window for SC flakes, K/s: "> 500 and ≤ 10 000 °C/s"
/// [S: Santoku EP0632471, alloy.md §2.1].
pub const SANTOKU_COOLING_RATE_K_PER_S: [f64; 2] = [500.0, 10_000.0];

const KELVIN_OFFSET: f64 = 273.15;
/// Hard cap on time steps of one cooling run (accepted and rejected).
const MAX_STEPS: usize = 1_000_000;

// ───────────────────────────────────────── errors ─────────────────────────────────────────

/// An error of the strip-casting model. Messages name the parameter, the value and what is
/// allowed.
#[derive(Debug, Error, Clone, PartialEq, Serialize)]
pub enum CastingError {
    /// A number is outside its allowed range (NaN and infinities included).
    #[error("{parameter} = {value} is not allowed; expected {allowed}")]
    OutOfRange {
        /// Parameter name with its unit, e.g. `wheel_speed_m_per_s`.
        parameter: String,
        /// The value given.
        value: f64,
        /// What would be accepted.
        allowed: String,
    },
    /// Two parameters contradict each other, e.g. solidus above liquidus.
    #[error("{parameter}: {reason}")]
    Inconsistent {
        /// The parameter to change.
        parameter: String,
        /// Why it does not fit the others.
        reason: String,
    },
    /// A list that must hold values is empty or too short.
    #[error("{parameter} has {found} value(s); expected at least {min}")]
    TooFew {
        /// The list.
        parameter: String,
        /// How many values it has.
        found: usize,
        /// How many are needed.
        min: usize,
    },
    /// The flake is not solid at the end of the simulated time.
    #[error(
        "the flake is not solid after {max_time_s} s (hottest point {hottest_c:.1} °C, solidus \
         {solidus_c} °C); raise h_w_per_m2k or solver.max_time_s, or lower wheel_surface_c"
    )]
    NotSolidified {
        /// Simulated time, s.
        max_time_s: f64,
        /// Hottest point of the flake at that time, °C.
        hottest_c: f64,
        /// Solidus, °C.
        solidus_c: f64,
    },
    /// The cooling model needed more steps than allowed.
    #[error("the cooling model stopped after {steps} time steps at t = {time_s} s without solidifying; lower solver.cells or raise solver.max_step_change_k")]
    StepLimit {
        /// Steps taken.
        steps: usize,
        /// Simulated time reached, s.
        time_s: f64,
    },
}

fn out_of_range(parameter: &str, value: f64, allowed: &str) -> CastingError {
    CastingError::OutOfRange {
        parameter: parameter.to_string(),
        value,
        allowed: allowed.to_string(),
    }
}

/// `value` finite and in the closed range [lo, hi].
fn within(parameter: &str, value: f64, lo: f64, hi: f64, unit: &str) -> Result<f64, CastingError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(value)
    } else {
        Err(out_of_range(
            parameter,
            value,
            &format!("a finite number from {lo:e} to {hi:e} {unit}"),
        ))
    }
}

/// `value` finite, > 0 and ≤ hi.
fn positive(parameter: &str, value: f64, hi: f64, unit: &str) -> Result<f64, CastingError> {
    if value.is_finite() && value > 0.0 && value <= hi {
        Ok(value)
    } else {
        Err(out_of_range(
            parameter,
            value,
            &format!("a finite number > 0 and ≤ {hi:e} {unit}"),
        ))
    }
}

/// A fraction in [0, 1].
fn fraction(parameter: &str, value: f64) -> Result<f64, CastingError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(out_of_range(parameter, value, "a fraction from 0 to 1"))
    }
}

/// A temperature above absolute zero and at most 5000 °C.
fn temperature(parameter: &str, value: f64) -> Result<f64, CastingError> {
    if value.is_finite() && value > -KELVIN_OFFSET && value <= 5000.0 {
        Ok(value)
    } else {
        Err(out_of_range(
            parameter,
            value,
            "a finite temperature above −273.15 °C and ≤ 5000 °C",
        ))
    }
}

// Validation ranges of the mass-conservation relations: wide enough for any caster, narrow
// enough that every result stays finite.
const SPEED_MAX_M_PER_S: f64 = 1.0e3;
const SPEED_MIN_M_PER_S: f64 = 1.0e-6;
const POUR_MAX_KG_PER_S_PER_M: f64 = 1.0e4;
const POUR_MIN_KG_PER_S_PER_M: f64 = 1.0e-9;
const THICKNESS_MAX_MM: f64 = 1.0e3;
const THICKNESS_MIN_MM: f64 = 1.0e-6;
const DENSITY_RANGE_KG_PER_M3: [f64; 2] = [100.0, 1.0e5];

fn wheel_speed(value: f64) -> Result<f64, CastingError> {
    within(
        "wheel_speed_m_per_s",
        value,
        SPEED_MIN_M_PER_S,
        SPEED_MAX_M_PER_S,
        "m/s",
    )
}

fn pour_rate(value: f64) -> Result<f64, CastingError> {
    within(
        "pour_rate_kg_per_s_per_m",
        value,
        POUR_MIN_KG_PER_S_PER_M,
        POUR_MAX_KG_PER_S_PER_M,
        "kg/(s·m)",
    )
}

fn thickness(parameter: &str, value: f64) -> Result<f64, CastingError> {
    within(parameter, value, THICKNESS_MIN_MM, THICKNESS_MAX_MM, "mm")
}

fn density(value: f64) -> Result<f64, CastingError> {
    within(
        "density_kg_per_m3",
        value,
        DENSITY_RANGE_KG_PER_M3[0],
        DENSITY_RANGE_KG_PER_M3[1],
        "kg/m³",
    )
}

// ───────────────────────────────── mass conservation ─────────────────────────────────────

/// Flake thickness from mass conservation, mm:
/// `t = ṁ′ / (ρ_s · v)` with ṁ′ the pour rate per unit contact width (kg/(s·m)), ρ_s the
/// solid density and v the wheel surface speed [D: alloy.md §2.3 item 1; exact, independent
/// of heat transfer]. Validation case B1: 3.375 kg/(s·m) at 1.5 m/s, ρ = 7500 → 0.300 mm.
pub fn flake_thickness_mm(
    pour_rate_kg_per_s_per_m: f64,
    wheel_speed_m_per_s: f64,
    density_kg_per_m3: f64,
) -> Result<f64, CastingError> {
    let m = pour_rate(pour_rate_kg_per_s_per_m)?;
    let v = wheel_speed(wheel_speed_m_per_s)?;
    let rho = density(density_kg_per_m3)?;
    Ok(1.0e3 * m / (rho * v))
}

/// Pour rate per unit contact width for a target thickness, kg/(s·m): `ṁ′ = ρ_s · v · t`
/// (inverse of [`flake_thickness_mm`]).
pub fn pour_rate_for_thickness_kg_per_s_per_m(
    thickness_mm: f64,
    wheel_speed_m_per_s: f64,
    density_kg_per_m3: f64,
) -> Result<f64, CastingError> {
    let t = thickness("thickness_mm", thickness_mm)?;
    let v = wheel_speed(wheel_speed_m_per_s)?;
    let rho = density(density_kg_per_m3)?;
    Ok(rho * v * t * 1.0e-3)
}

/// Wheel surface speed for a target thickness, m/s: `v = ṁ′ / (ρ_s · t)` (inverse of
/// [`flake_thickness_mm`]).
pub fn wheel_speed_for_thickness_m_per_s(
    thickness_mm: f64,
    pour_rate_kg_per_s_per_m: f64,
    density_kg_per_m3: f64,
) -> Result<f64, CastingError> {
    let t = thickness("thickness_mm", thickness_mm)?;
    let m = pour_rate(pour_rate_kg_per_s_per_m)?;
    let rho = density(density_kg_per_m3)?;
    Ok(m / (rho * t * 1.0e-3))
}

/// Pour rate per unit contact width, kg/(s·m): `ṁ′ = ṁ / W` (total pour rate over the
/// width of melt on the wheel).
pub fn pour_rate_per_width_kg_per_s_per_m(
    pour_rate_kg_per_s: f64,
    contact_width_m: f64,
) -> Result<f64, CastingError> {
    let m = positive("pour_rate_kg_per_s", pour_rate_kg_per_s, 1.0e4, "kg/s")?;
    let w = within("contact_width_m", contact_width_m, 1.0e-4, 1.0e2, "m")?;
    Ok(m / w)
}

/// Melt-temperature correction for roll wear, °C:
/// `Δt = −7 · √(|ΔRa|·|ΔSm|) / α` with ΔRa and ΔSm the changes of roll roughness and of mean
/// spacing of profile irregularities (µm) and α a correlation coefficient fitted per plant
/// [S: patent <http://www.xitu17.com/mobile/down/show-42491.html>, alloy.md §2.1]. Negative means
/// lower the melt temperature. Validation case B7: ΔRa = 1, ΔSm = 16, α = 1 → −28 °C.
pub fn roll_wear_melt_temperature_correction_c(
    delta_ra_um: f64,
    delta_sm_um: f64,
    alpha: f64,
) -> Result<f64, CastingError> {
    let ra = within("delta_ra_um", delta_ra_um, -1.0e3, 1.0e3, "µm")?;
    let sm = within("delta_sm_um", delta_sm_um, -1.0e4, 1.0e4, "µm")?;
    let a = within("alpha", alpha, 1.0e-6, 1.0e6, "(dimensionless)")?;
    Ok(-7.0 * (ra.abs() * sm.abs()).sqrt() / a)
}

// ──────────────────────────────── properties and conditions ──────────────────────────────

/// Thermophysical properties of the alloy used by the cooling model. One value per property
/// for solid and liquid (high-temperature and liquid data were not found, alloy.md §2.5).
///
/// Defaults ([`AlloyThermalProperties::indicative_ndfeb`]) with their sources:
///
/// | field | default | source |
/// |---|---|---|
/// | `density_kg_per_m3` | 7500 | \[S\] stanfordmagnets, sintered, room temperature (7500–7700 couragemagnet); liquid ≈ 6900–7000 \[U\] |
/// | `conductivity_w_per_mk` | 9.0 | \[S\] 7–10 W/mK sourcemagnets; 8.95 stanfordmagnets (room temperature) |
/// | `specific_heat_j_per_kgk` | 502 | \[S\] 0.12 kcal/(kg·°C), stanfordmagnets |
/// | `latent_heat_j_per_kg` | 250 000 | \[U\] not found; Fe is 247 kJ/kg, Nd about 50 kJ/kg |
/// | `liquidus_c` | 1300 | \[U\] not found; CALPHAD (Calphad 66 (2019) 101627) or plant DSC |
/// | `solidus_c` | 1180 | \[U\] Nd₂Fe₁₄B peritectic "near 1180 °C", not verified (alloy.md §2.2) |
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlloyThermalProperties {
    /// Density ρ, kg/m³ (solid; also used for the liquid).
    pub density_kg_per_m3: f64,
    /// Thermal conductivity k, W/(m·K).
    pub conductivity_w_per_mk: f64,
    /// Specific heat c_p, J/(kg·K), solid and liquid.
    pub specific_heat_j_per_kgk: f64,
    /// Latent heat of fusion L, J/kg, released linearly between liquidus and solidus.
    pub latent_heat_j_per_kg: f64,
    /// Liquidus T_L, °C.
    pub liquidus_c: f64,
    /// Solidus T_S, °C: end of main-phase solidification (below T_L).
    pub solidus_c: f64,
}

impl Default for AlloyThermalProperties {
    fn default() -> Self {
        Self::indicative_ndfeb()
    }
}

impl AlloyThermalProperties {
    /// Indicative NdFeB values (see the table on the type): ρ 7500 \[S\], k 9.0 \[S\],
    /// c_p 502 \[S\], L 250 kJ/kg \[U\], T_L 1300 °C \[U\], T_S 1180 °C \[U\].
    pub fn indicative_ndfeb() -> Self {
        AlloyThermalProperties {
            density_kg_per_m3: 7500.0,
            conductivity_w_per_mk: 9.0,
            specific_heat_j_per_kgk: 502.0,
            latent_heat_j_per_kg: 250.0e3,
            liquidus_c: 1300.0,
            solidus_c: 1180.0,
        }
    }

    /// Checks every field: ρ 100–1e5 kg/m³, k 1e-3–1e4 W/mK, c_p 1–1e5 J/kgK, L 0–1e7 J/kg,
    /// temperatures above absolute zero and ≤ 5000 °C, solidus below liquidus.
    pub fn validate(&self) -> Result<(), CastingError> {
        density(self.density_kg_per_m3)?;
        within(
            "conductivity_w_per_mk",
            self.conductivity_w_per_mk,
            1.0e-3,
            1.0e4,
            "W/(m·K)",
        )?;
        within(
            "specific_heat_j_per_kgk",
            self.specific_heat_j_per_kgk,
            1.0,
            1.0e5,
            "J/(kg·K)",
        )?;
        within(
            "latent_heat_j_per_kg",
            self.latent_heat_j_per_kg,
            0.0,
            1.0e7,
            "J/kg",
        )?;
        temperature("liquidus_c", self.liquidus_c)?;
        temperature("solidus_c", self.solidus_c)?;
        if !(self.solidus_c < self.liquidus_c) {
            return Err(CastingError::Inconsistent {
                parameter: "solidus_c".into(),
                reason: format!(
                    "solidus {} °C must be below liquidus {} °C (the latent heat is released between them)",
                    self.solidus_c, self.liquidus_c
                ),
            });
        }
        Ok(())
    }

    /// Apparent heat capacity in the freezing range, J/(kg·K): `c_app = c_p + L/(T_L − T_S)`.
    pub fn apparent_heat_capacity_j_per_kgk(&self) -> f64 {
        self.specific_heat_j_per_kgk
            + self.latent_heat_j_per_kg / (self.liquidus_c - self.solidus_c)
    }
}

/// Process conditions of one cast: interface heat transfer, wheel and melt temperatures,
/// free-surface radiation and contact time.
///
/// `h_w_per_m2k` has no default. For SC choose 1–10 kW/m²K: the Santoku window
/// 500–10 000 °C/s at 0.3 mm inverts to 0.56–11.25 kW/m²K, and Cu-roll strip-casting flux
/// measurements (2–9 MW/m² at ΔT ≈ 1500 K) give 1.3–6 kW/m²K [D/S: alloy.md §2.3 item 4].
/// The 10⁵–10⁶ W/m²K quoted for melt spinning belongs to 20–80 µm ribbons and must not be
/// used for SC (alloy.md §0.4).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoolingConditions {
    /// Effective flake–wheel interface heat-transfer coefficient h, W/(m²·K). Required.
    pub h_w_per_m2k: f64,
    /// Wheel surface temperature T_w, °C. Default 200 \[U\]: water-cooled Cu roll, not measured.
    #[serde(default = "default_wheel_surface_c")]
    pub wheel_surface_c: f64,
    /// Pouring superheat above liquidus, K: the melt meets the wheel at T_L + superheat.
    /// Default 150 \[U\]: melt at about 1450 °C against the 1400–1500 °C operating band
    /// \[U\] and "about 1500 °C" [S: Sagami] (alloy.md §2.1).
    #[serde(default = "default_superheat_k")]
    pub superheat_k: f64,
    /// Emissivity of the free surface, 0–1; 0 makes it adiabatic. Default 0.3 \[U\].
    #[serde(default = "default_emissivity")]
    pub free_surface_emissivity: f64,
    /// Temperature of the surroundings seen by the free surface, °C. Default 25 \[U\].
    #[serde(default = "default_surroundings_c")]
    pub surroundings_c: f64,
    /// Time on the wheel before the flake leaves it, s (`t_c = L_contact / v`); afterwards
    /// both faces radiate. `None`: the flake stays on the wheel until solid.
    #[serde(default)]
    pub contact_time_s: Option<f64>,
}

fn default_wheel_surface_c() -> f64 {
    200.0
}
fn default_superheat_k() -> f64 {
    150.0
}
fn default_emissivity() -> f64 {
    0.3
}
fn default_surroundings_c() -> f64 {
    25.0
}

impl CoolingConditions {
    /// Conditions with the given `h` and the indicative defaults of the other fields
    /// (T_w 200 °C, superheat 150 K, ε 0.3, surroundings 25 °C, no detachment).
    pub fn indicative(h_w_per_m2k: f64) -> Self {
        CoolingConditions {
            h_w_per_m2k,
            wheel_surface_c: default_wheel_surface_c(),
            superheat_k: default_superheat_k(),
            free_surface_emissivity: default_emissivity(),
            surroundings_c: default_surroundings_c(),
            contact_time_s: None,
        }
    }

    /// Checks every field against the alloy: h in (0, 1e9] W/m²K, wheel and surroundings
    /// below the solidus, superheat 0–2000 K, ε 0–1, contact time > 0.
    pub fn validate(&self, properties: &AlloyThermalProperties) -> Result<(), CastingError> {
        positive("h_w_per_m2k", self.h_w_per_m2k, 1.0e9, "W/(m²·K)")?;
        temperature("wheel_surface_c", self.wheel_surface_c)?;
        temperature("surroundings_c", self.surroundings_c)?;
        within("superheat_k", self.superheat_k, 0.0, 2000.0, "K")?;
        fraction("free_surface_emissivity", self.free_surface_emissivity)?;
        if let Some(tc) = self.contact_time_s {
            positive("contact_time_s", tc, 1.0e5, "s")?;
        }
        if !(self.wheel_surface_c < properties.solidus_c) {
            return Err(CastingError::Inconsistent {
                parameter: "wheel_surface_c".into(),
                reason: format!(
                    "wheel at {} °C is not below the solidus {} °C, so the flake cannot solidify",
                    self.wheel_surface_c, properties.solidus_c
                ),
            });
        }
        if !(self.surroundings_c < properties.solidus_c) {
            return Err(CastingError::Inconsistent {
                parameter: "surroundings_c".into(),
                reason: format!(
                    "surroundings at {} °C are not below the solidus {} °C",
                    self.surroundings_c, properties.solidus_c
                ),
            });
        }
        Ok(())
    }
}

/// Which cooling model to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelChoice {
    /// Lumped when `Bi ≤ lumped_biot_max`, else conduction.
    Auto,
    /// Always the lumped (Newtonian) model.
    Lumped,
    /// Always 1-D conduction.
    Conduction,
}

/// Numerical options of the cooling model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SolverOptions {
    /// Model choice. Default `Auto`.
    pub model: ModelChoice,
    /// Largest Biot number for which `Auto` uses the lumped model. Default 0.1: the classic
    /// criterion (internal temperature differences below about 5 %; Incropera & DeWitt,
    /// *Fundamentals of Heat and Mass Transfer*, §5.2). alloy.md §2.3 item 3 uses ~0.3.
    pub lumped_biot_max: f64,
    /// Finite volumes through the flake thickness (conduction model), 1–2000. Default 40.
    pub cells: usize,
    /// Largest change of any cell per time step, expressed in K of sensible heat
    /// (`ΔH ≤ c_p·ΔT`), 1e-3–50. Controls the time step. Default 2 K.
    pub max_step_change_k: f64,
    /// Simulated time after which an unsolidified flake is an error, s. Default 30.
    pub max_time_s: f64,
    /// Points kept in the temperature history (evenly thinned; first and last kept), ≥ 2.
    /// Default 200.
    pub history_points: usize,
}

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions {
            model: ModelChoice::Auto,
            lumped_biot_max: 0.1,
            cells: 40,
            max_step_change_k: 2.0,
            max_time_s: 30.0,
            history_points: 200,
        }
    }
}

impl SolverOptions {
    /// Checks the ranges given on each field.
    pub fn validate(&self) -> Result<(), CastingError> {
        within(
            "solver.lumped_biot_max",
            self.lumped_biot_max,
            0.0,
            1.0e3,
            "",
        )?;
        if !(1..=2000).contains(&self.cells) {
            return Err(out_of_range(
                "solver.cells",
                self.cells as f64,
                "a whole number from 1 to 2000",
            ));
        }
        within(
            "solver.max_step_change_k",
            self.max_step_change_k,
            1.0e-3,
            50.0,
            "K",
        )?;
        positive("solver.max_time_s", self.max_time_s, 1.0e5, "s")?;
        if !(2..=1_000_000).contains(&self.history_points) {
            return Err(out_of_range(
                "solver.history_points",
                self.history_points as f64,
                "a whole number from 2 to 1 000 000",
            ));
        }
        Ok(())
    }
}

// ───────────────────────────────────── Newtonian relations ───────────────────────────────

/// Biot number of the flake on the wheel: `Bi = h·t/k` (t the flake thickness). The lumped
/// model is valid for Bi ≪ 1 [alloy.md §2.3 item 3; validation case B4: h = 1e4 W/m²K,
/// t = 0.3 mm, k = 9 W/mK → Bi = 0.33].
pub fn biot_number(
    h_w_per_m2k: f64,
    thickness_mm: f64,
    conductivity_w_per_mk: f64,
) -> Result<f64, CastingError> {
    let h = positive("h_w_per_m2k", h_w_per_m2k, 1.0e9, "W/(m²·K)")?;
    let t = thickness("thickness_mm", thickness_mm)?;
    let k = within(
        "conductivity_w_per_mk",
        conductivity_w_per_mk,
        1.0e-3,
        1.0e4,
        "W/(m·K)",
    )?;
    Ok(h * t * 1.0e-3 / k)
}

/// Newtonian (lumped, sensible-heat) cooling rate, K/s:
/// `dT/dt = h·(T − T_w) / (ρ·c_p·t)` [alloy.md §2.3 item 3; validation case B4: h = 1 kW/m²K,
/// ρ = 7500, c = 500, ΔT = 1000 K, t = 0.3 mm → 889 K/s]. Uses ρ and c_p of `properties`.
pub fn newtonian_cooling_rate_k_per_s(
    properties: &AlloyThermalProperties,
    h_w_per_m2k: f64,
    thickness_mm: f64,
    temperature_excess_k: f64,
) -> Result<f64, CastingError> {
    properties.validate()?;
    let h = positive("h_w_per_m2k", h_w_per_m2k, 1.0e9, "W/(m²·K)")?;
    let t = thickness("thickness_mm", thickness_mm)? * 1.0e-3;
    let dt = within(
        "temperature_excess_k",
        temperature_excess_k,
        0.0,
        5000.0,
        "K",
    )?;
    Ok(h * dt / (properties.density_kg_per_m3 * properties.specific_heat_j_per_kgk * t))
}

/// Interface heat-transfer coefficient that gives a Newtonian cooling rate, W/(m²·K):
/// `h = (dT/dt)·ρ·c_p·t / (T − T_w)` (inverse of [`newtonian_cooling_rate_k_per_s`];
/// validation case B4: the Santoku window 500–10 000 °C/s at 0.3 mm and ΔT = 1000 K ⇔
/// h = 0.56–11.25 kW/m²K).
pub fn newtonian_h_for_cooling_rate_w_per_m2k(
    properties: &AlloyThermalProperties,
    cooling_rate_k_per_s: f64,
    thickness_mm: f64,
    temperature_excess_k: f64,
) -> Result<f64, CastingError> {
    properties.validate()?;
    let r = positive("cooling_rate_k_per_s", cooling_rate_k_per_s, 1.0e12, "K/s")?;
    let t = thickness("thickness_mm", thickness_mm)? * 1.0e-3;
    let dt = positive("temperature_excess_k", temperature_excess_k, 5000.0, "K")?;
    Ok(r * properties.density_kg_per_m3 * properties.specific_heat_j_per_kgk * t / dt)
}

// ──────────────────────────────────────── cooling model ──────────────────────────────────

/// The model a cooling result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoolingModel {
    /// Lumped (Newtonian): one temperature through the thickness.
    Lumped,
    /// 1-D transient conduction through the thickness.
    Conduction,
}

/// One point of the temperature history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TemperaturePoint {
    /// Time since the melt touched the wheel, s.
    pub time_s: f64,
    /// Flake temperature at the wheel-side face, °C.
    pub wheel_side_c: f64,
    /// Temperature of the flake's mean enthalpy, °C.
    pub mean_c: f64,
    /// Flake temperature at the free face, °C.
    pub free_side_c: f64,
    /// Mean liquid fraction, 0–1.
    pub liquid_fraction: f64,
}

/// Energy balance of a cooling run, per m² of flake face. Closure is computed, not assumed:
/// `closure_relative = (E₀ − E_end − Q_wheel − Q_rad) / (E₀ − E_end)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EnergyBalance {
    /// Enthalpy of the flake at the start (reference 0 °C solid), J/m².
    pub initial_j_per_m2: f64,
    /// Enthalpy at the end, J/m².
    pub final_j_per_m2: f64,
    /// Heat into the wheel, J/m².
    pub to_wheel_j_per_m2: f64,
    /// Heat radiated, J/m².
    pub radiated_j_per_m2: f64,
    /// Relative closure error.
    pub closure_relative: f64,
}

/// Result of [`cool_flake`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoolingResult {
    /// Model used.
    pub model: CoolingModel,
    /// Biot number `h·t/k`.
    pub biot: f64,
    /// Flake thickness, mm.
    pub thickness_mm: f64,
    /// Temperature at which the melt meets the wheel, °C (`T_L + superheat`).
    pub pour_temperature_c: f64,
    /// Time from first contact until the hottest point is below the solidus, s.
    pub time_to_solidify_s: f64,
    /// Mean cooling rate through the freezing range of the flake's mean enthalpy, K/s:
    /// `(T_L − T_S)/(t_S − t_L)`. Latent heat included, so it is lower than the sensible
    /// Newtonian rate of [`newtonian_cooling_rate_k_per_s`].
    pub cooling_rate_freezing_k_per_s: f64,
    /// Same, for the volume next to the wheel, K/s.
    pub cooling_rate_wheel_side_k_per_s: f64,
    /// Same, for the volume at the free face, K/s.
    pub cooling_rate_free_side_k_per_s: f64,
    /// True if the flake was solid before it left the wheel.
    pub solidified_on_wheel: bool,
    /// Energy balance.
    pub energy: EnergyBalance,
    /// Temperature history, thinned to `solver.history_points`.
    pub history: Vec<TemperaturePoint>,
}

/// Specific enthalpy with latent heat released linearly between solidus and liquidus:
/// `H(T) = c_p·T + L·f_l(T)`, `f_l = clamp((T − T_S)/(T_L − T_S), 0, 1)`.
#[derive(Debug, Clone, Copy)]
struct Enthalpy {
    c: f64,
    l: f64,
    ts: f64,
    tl: f64,
}

impl Enthalpy {
    fn of(p: &AlloyThermalProperties) -> Self {
        Enthalpy {
            c: p.specific_heat_j_per_kgk,
            l: p.latent_heat_j_per_kg,
            ts: p.solidus_c,
            tl: p.liquidus_c,
        }
    }
    fn liquid_fraction(&self, t: f64) -> f64 {
        ((t - self.ts) / (self.tl - self.ts)).clamp(0.0, 1.0)
    }
    fn h(&self, t: f64) -> f64 {
        self.c * t + self.l * self.liquid_fraction(t)
    }
    fn temperature(&self, h: f64) -> f64 {
        let hs = self.c * self.ts;
        let hl = self.c * self.tl + self.l;
        if h <= hs {
            h / self.c
        } else if h >= hl {
            (h - self.l) / self.c
        } else {
            self.ts + (h - hs) / (hl - hs) * (self.tl - self.ts)
        }
    }
    /// dH/dT approached from above (the flake cools).
    fn slope_below(&self, t: f64) -> f64 {
        if t > self.ts && t <= self.tl {
            self.c + self.l / (self.tl - self.ts)
        } else {
            self.c
        }
    }
    fn c_app(&self) -> f64 {
        self.c + self.l / (self.tl - self.ts)
    }
}

/// Net radiative flux from a face at `t_c` to surroundings at `ta_c`, W/m², and its
/// derivative with respect to the face temperature: `q = εσ(T⁴ − T_a⁴)`, `q′ = 4εσT³`.
fn radiation(eps: f64, t_c: f64, ta_c: f64) -> (f64, f64) {
    if eps == 0.0 {
        return (0.0, 0.0);
    }
    let tk = (t_c + KELVIN_OFFSET).max(0.0);
    let ta = ta_c + KELVIN_OFFSET;
    let s = eps * STEFAN_BOLTZMANN_W_PER_M2K4;
    (s * (tk.powi(4) - ta.powi(4)), 4.0 * s * tk.powi(3))
}

/// First times a temperature falls to the liquidus and to the solidus, found from the
/// enthalpy (which, unlike the temperature, has no kink there) by linear interpolation within
/// the step.
#[derive(Debug, Clone, Copy, Default)]
struct Crossings {
    liquidus_s: Option<f64>,
    solidus_s: Option<f64>,
}

impl Crossings {
    fn start(h: f64, e: &Enthalpy) -> Self {
        let mut c = Crossings::default();
        if h <= e.h(e.tl) {
            c.liquidus_s = Some(0.0);
        }
        if h <= e.h(e.ts) {
            c.solidus_s = Some(0.0);
        }
        c
    }
    /// Records the crossings of a step from time `t0` (enthalpy `h0`) to `t1` (`h1`).
    fn update(&mut self, t0: f64, t1: f64, h0: f64, h1: f64, e: &Enthalpy) {
        let at = |x: f64| {
            if h0 > h1 {
                t0 + (t1 - t0) * ((h0 - x) / (h0 - h1)).clamp(0.0, 1.0)
            } else {
                t1
            }
        };
        let (hl, hs) = (e.h(e.tl), e.h(e.ts));
        if self.liquidus_s.is_none() && h1 <= hl {
            self.liquidus_s = Some(at(hl));
        }
        if self.solidus_s.is_none() && h1 <= hs {
            self.solidus_s = Some(at(hs));
        }
    }
    fn rate(&self, e: &Enthalpy, end_s: f64) -> f64 {
        let tl = self.liquidus_s.unwrap_or(0.0);
        let ts = self.solidus_s.unwrap_or(end_s);
        (e.tl - e.ts) / (ts - tl).max(f64::MIN_POSITIVE)
    }
}

/// Everything a cooling run needs, validated.
struct Setup {
    e: Enthalpy,
    rho: f64,
    k: f64,
    h: f64,
    tw: f64,
    ta: f64,
    eps: f64,
    t0: f64,
    thick_m: f64,
    contact_s: Option<f64>,
}

impl Setup {
    fn attached(&self, time: f64) -> bool {
        self.contact_s.is_none_or(|tc| time < tc)
    }
}

/// Output of one model before it is packaged.
struct Run {
    time_to_solidify_s: f64,
    mean: Crossings,
    wheel: Crossings,
    free: Crossings,
    initial: f64,
    final_: f64,
    q_wheel: f64,
    q_rad: f64,
    history: Vec<TemperaturePoint>,
}

/// Cools a flake of thickness `thickness_mm` from `T_L + superheat` until its hottest point
/// is below the solidus.
///
/// * Lumped model (Newtonian): `ρ·t·dH/dt = −h·(T − T_w) − εσ(T⁴ − T_a⁴)` with
///   `H(T) = c_p·T + L·f_l(T)`, integrated with classical Runge–Kutta (the apparent heat
///   capacity in the freezing range is `c_p + L/(T_L − T_S)`).
/// * Conduction model: `ρ·∂H/∂t = ∂/∂x(k·∂T/∂x)` on `cells` finite volumes; wheel face
///   `−k·∂T/∂x = h·(T − T_w)` (in series with the half-cell resistance), free face
///   `−k·∂T/∂x = εσ(T⁴ − T_a⁴)` (adiabatic for ε = 0). Backward Euler with Pham's
///   enthalpy-recovery scheme (Q. T. Pham, *Int. J. Heat Mass Transfer* 28 (1985) 2079):
///   each step solves the linear tridiagonal system with the chord heat capacity, updates
///   the enthalpy by the flux balance (so energy is conserved to rounding) and recovers the
///   temperature from the enthalpy (so no latent heat is skipped). The step is adapted so no
///   cell changes by more than `c_p·max_step_change_k`.
///
/// With `contact_time_s` set, after it both faces radiate. `Auto` picks the lumped model
/// when `Bi = h·t/k ≤ lumped_biot_max`.
pub fn cool_flake(
    properties: &AlloyThermalProperties,
    conditions: &CoolingConditions,
    thickness_mm: f64,
    solver: &SolverOptions,
) -> Result<CoolingResult, CastingError> {
    properties.validate()?;
    conditions.validate(properties)?;
    solver.validate()?;
    let t_mm = within("thickness_mm", thickness_mm, 1.0e-3, 100.0, "mm")?;
    let biot = conditions.h_w_per_m2k * t_mm * 1.0e-3 / properties.conductivity_w_per_mk;
    let model = match solver.model {
        ModelChoice::Lumped => CoolingModel::Lumped,
        ModelChoice::Conduction => CoolingModel::Conduction,
        ModelChoice::Auto if biot <= solver.lumped_biot_max => CoolingModel::Lumped,
        ModelChoice::Auto => CoolingModel::Conduction,
    };
    let e = Enthalpy::of(properties);
    let setup = Setup {
        e,
        rho: properties.density_kg_per_m3,
        k: properties.conductivity_w_per_mk,
        h: conditions.h_w_per_m2k,
        tw: conditions.wheel_surface_c,
        ta: conditions.surroundings_c,
        eps: conditions.free_surface_emissivity,
        t0: properties.liquidus_c + conditions.superheat_k,
        thick_m: t_mm * 1.0e-3,
        contact_s: conditions.contact_time_s,
    };
    let run = match model {
        CoolingModel::Lumped => run_lumped(&setup, solver)?,
        CoolingModel::Conduction => run_conduction(&setup, solver)?,
    };
    let released = run.initial - run.final_;
    let closure = (released - run.q_wheel - run.q_rad) / released.abs().max(f64::MIN_POSITIVE);
    Ok(CoolingResult {
        model,
        biot,
        thickness_mm: t_mm,
        pour_temperature_c: setup.t0,
        time_to_solidify_s: run.time_to_solidify_s,
        cooling_rate_freezing_k_per_s: run.mean.rate(&e, run.time_to_solidify_s),
        cooling_rate_wheel_side_k_per_s: run.wheel.rate(&e, run.time_to_solidify_s),
        cooling_rate_free_side_k_per_s: run.free.rate(&e, run.time_to_solidify_s),
        solidified_on_wheel: setup.attached(run.time_to_solidify_s),
        energy: EnergyBalance {
            initial_j_per_m2: run.initial,
            final_j_per_m2: run.final_,
            to_wheel_j_per_m2: run.q_wheel,
            radiated_j_per_m2: run.q_rad,
            closure_relative: closure,
        },
        history: thin(run.history, solver.history_points),
    })
}

/// Keeps at most `n` evenly spaced points, always the first and the last.
fn thin(points: Vec<TemperaturePoint>, n: usize) -> Vec<TemperaturePoint> {
    if points.len() <= n {
        return points;
    }
    let last = points.len() - 1;
    (0..n)
        .map(|i| points[(i * last + (n - 1) / 2) / (n - 1)])
        .collect()
}

fn not_solidified(s: &Setup, hottest_c: f64, solver: &SolverOptions) -> CastingError {
    CastingError::NotSolidified {
        max_time_s: solver.max_time_s,
        hottest_c,
        solidus_c: s.e.ts,
    }
}

fn run_lumped(s: &Setup, solver: &SolverOptions) -> Result<Run, CastingError> {
    let e = &s.e;
    let mass = s.rho * s.thick_m; // kg/m²
                                  // Heat fluxes (wheel, radiation) leaving the flake at enthalpy h, W/m².
    let fluxes = |h: f64, attached: bool| -> (f64, f64) {
        let t = e.temperature(h);
        let (q_r, _) = radiation(s.eps, t, s.ta);
        if attached {
            (s.h * (t - s.tw), q_r)
        } else {
            (0.0, 2.0 * q_r)
        }
    };
    let mut h = e.h(s.t0);
    let mut time = 0.0;
    let mut q_wheel = 0.0;
    let mut q_rad = 0.0;
    let mut cross = Crossings::start(h, e);
    let point = |time: f64, h: f64| {
        let t = e.temperature(h);
        TemperaturePoint {
            time_s: time,
            wheel_side_c: t,
            mean_c: t,
            free_side_c: t,
            liquid_fraction: e.liquid_fraction(t),
        }
    };
    let mut history = vec![point(0.0, h)];
    // Steps of a quarter of the conduction model's step limit keep RK4 far inside its
    // accuracy even across the kinks of H(T) at the liquidus and solidus.
    let dh_step = e.c * solver.max_step_change_k * 0.25;
    let mut steps = 0;
    while cross.solidus_s.is_none() {
        if steps >= MAX_STEPS {
            return Err(CastingError::StepLimit {
                steps,
                time_s: time,
            });
        }
        if time >= solver.max_time_s {
            return Err(not_solidified(s, e.temperature(h), solver));
        }
        steps += 1;
        let attached = s.attached(time);
        let (qw, qr) = fluxes(h, attached);
        let q = qw + qr;
        if !(q > 0.0) {
            // Nothing leaves the flake: it will never solidify.
            return Err(not_solidified(s, e.temperature(h), solver));
        }
        let mut dt = (dh_step * mass / q).min(solver.max_time_s - time);
        if let (true, Some(tc)) = (attached, s.contact_s) {
            dt = dt.min(tc - time);
        }
        let dt = dt.max(f64::MIN_POSITIVE);
        let f = |h: f64| {
            let (a, b) = fluxes(h, attached);
            (-(a + b) / mass, a, b)
        };
        let k1 = f(h);
        let k2 = f(h + 0.5 * dt * k1.0);
        let k3 = f(h + 0.5 * dt * k2.0);
        let k4 = f(h + dt * k3.0);
        let h1 = h + dt / 6.0 * (k1.0 + 2.0 * k2.0 + 2.0 * k3.0 + k4.0);
        q_wheel += dt / 6.0 * (k1.1 + 2.0 * k2.1 + 2.0 * k3.1 + k4.1);
        q_rad += dt / 6.0 * (k1.2 + 2.0 * k2.2 + 2.0 * k3.2 + k4.2);
        cross.update(time, time + dt, h, h1, e);
        h = h1;
        time += dt;
        history.push(point(time, h));
    }
    let solid_at = cross.solidus_s.unwrap_or(time);
    Ok(Run {
        time_to_solidify_s: solid_at,
        mean: cross,
        wheel: cross,
        free: cross,
        initial: mass * e.h(s.t0),
        final_: mass * h,
        q_wheel,
        q_rad,
        history,
    })
}

/// Solves a tridiagonal system (Thomas algorithm). `a` sub-, `b` main, `c` super-diagonal,
/// `d` right-hand side (overwritten with the solution). The systems here are strictly
/// diagonally dominant M-matrices, so no pivoting is needed.
fn solve_tridiagonal(a: &[f64], b: &[f64], c: &[f64], d: &mut [f64], scratch: &mut [f64]) {
    let n = d.len();
    if n == 0 {
        return;
    }
    scratch[0] = c[0] / b[0];
    d[0] /= b[0];
    for i in 1..n {
        let m = b[i] - a[i] * scratch[i - 1];
        scratch[i] = c[i] / m;
        d[i] = (d[i] - a[i] * d[i - 1]) / m;
    }
    for i in (0..n - 1).rev() {
        d[i] -= scratch[i] * d[i + 1];
    }
}

fn run_conduction(s: &Setup, solver: &SolverOptions) -> Result<Run, CastingError> {
    let e = &s.e;
    let n = solver.cells;
    let dx = s.thick_m / n as f64;
    let cap = s.rho * dx; // kg/m² per cell
    let g = s.k / dx; // W/(m²·K) between cell centres
    let half = dx / (2.0 * s.k); // half-cell resistance, m²K/W
    let u_wheel = 1.0 / (1.0 / s.h + half);
    let c_app = e.c_app();

    let mut hs = vec![e.h(s.t0); n];
    let mut ts = vec![s.t0; n];
    let mut ts_prev = ts.clone();
    let (mut a, mut b, mut c, mut d, mut scratch) = (
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
    );
    let mut ceff = vec![0.0; n];

    let surface = |ts: &[f64], attached: bool| -> (f64, f64) {
        let t_first = ts[0];
        let t_last = ts[n - 1];
        let q0 = if attached {
            u_wheel * (t_first - s.tw)
        } else {
            radiation(s.eps, t_first, s.ta).0
        };
        let qn = radiation(s.eps, t_last, s.ta).0;
        (t_first - q0 * half, t_last - qn * half)
    };
    let mean_h = |hs: &[f64]| hs.iter().sum::<f64>() / n as f64;
    let max_h = |hs: &[f64]| hs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let point = |time: f64, ts: &[f64], hs: &[f64], attached: bool| {
        let (w, f) = surface(ts, attached);
        TemperaturePoint {
            time_s: time,
            wheel_side_c: w,
            mean_c: e.temperature(mean_h(hs)),
            free_side_c: f,
            liquid_fraction: ts.iter().map(|&t| e.liquid_fraction(t)).sum::<f64>() / n as f64,
        }
    };

    let mut time = 0.0;
    let mut history = vec![point(0.0, &ts, &hs, true)];
    let h0 = e.h(s.t0);
    let mut mean = Crossings::start(h0, e);
    let mut wheel = Crossings::start(h0, e);
    let mut free = Crossings::start(h0, e);
    let mut hottest = Crossings::start(h0, e);
    let mut q_wheel = 0.0;
    let mut q_rad = 0.0;

    let dh_target = e.c * solver.max_step_change_k;
    // First step from the initial rate of the wheel-side cell.
    let rate0 = u_wheel * (s.t0 - s.tw).max(1.0) / (cap * e.c);
    let mut dt = 0.5 * solver.max_step_change_k / rate0;
    let mut dt_prev = 0.0;
    let mut steps = 0;
    let mut rejections = 0;

    while hottest.solidus_s.is_none() {
        if steps >= MAX_STEPS {
            return Err(CastingError::StepLimit {
                steps,
                time_s: time,
            });
        }
        if time >= solver.max_time_s {
            let hot = ts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            return Err(not_solidified(s, hot, solver));
        }
        steps += 1;
        let attached = s.attached(time);
        let mut step = dt.min(solver.max_time_s - time);
        if let (true, Some(tc)) = (attached, s.contact_s) {
            step = step.min(tc - time);
        }
        let step = step.max(f64::MIN_POSITIVE);

        // Chord heat capacity from an extrapolated temperature (Pham 1985).
        for i in 0..n {
            let tp = if dt_prev > 0.0 {
                ts[i] + (ts[i] - ts_prev[i]) * step / dt_prev
            } else {
                ts[i]
            };
            ceff[i] = if (tp - ts[i]).abs() > 1.0e-9 {
                ((e.h(tp) - hs[i]) / (tp - ts[i])).clamp(e.c, c_app)
            } else {
                e.slope_below(ts[i])
            };
        }
        for i in 0..n {
            let ci = cap * ceff[i] / step;
            a[i] = 0.0;
            c[i] = 0.0;
            b[i] = ci;
            d[i] = ci * ts[i];
        }
        for i in 0..n.saturating_sub(1) {
            b[i] += g;
            b[i + 1] += g;
            c[i] = -g;
            a[i + 1] = -g;
        }
        // Wheel face (cell 0).
        let (qr0, dqr0) = radiation(s.eps, ts[0], s.ta);
        if attached {
            b[0] += u_wheel;
            d[0] += u_wheel * s.tw;
        } else {
            b[0] += dqr0;
            d[0] += dqr0 * ts[0] - qr0;
        }
        // Free face (cell n−1), radiation linearised about the start of the step.
        let (qrn, dqrn) = radiation(s.eps, ts[n - 1], s.ta);
        b[n - 1] += dqrn;
        d[n - 1] += dqrn * ts[n - 1] - qrn;

        solve_tridiagonal(&a, &b, &c, &mut d, &mut scratch);
        let t_star = &d;

        let mut max_dh: f64 = 0.0;
        for i in 0..n {
            max_dh = max_dh.max((ceff[i] * (t_star[i] - ts[i])).abs());
        }
        if !max_dh.is_finite() {
            return Err(CastingError::StepLimit {
                steps,
                time_s: time,
            });
        }
        if max_dh > 2.0 * dh_target && rejections < 40 {
            rejections += 1;
            dt = step * 0.5;
            continue;
        }
        rejections = 0;

        // Fluxes as used by the linear system, so the balance closes to rounding.
        let flux_wheel = if attached {
            u_wheel * (t_star[0] - s.tw)
        } else {
            qr0 + dqr0 * (t_star[0] - ts[0])
        };
        let flux_free = qrn + dqrn * (t_star[n - 1] - ts[n - 1]);
        if attached {
            q_wheel += flux_wheel * step;
        } else {
            q_rad += flux_wheel * step;
        }
        q_rad += flux_free * step;

        let mean_before = mean_h(&hs);
        let hot_before = max_h(&hs);
        let (w_before, f_before) = (hs[0], hs[n - 1]);
        ts_prev.copy_from_slice(&ts);
        for i in 0..n {
            hs[i] += ceff[i] * (t_star[i] - ts[i]);
            ts[i] = e.temperature(hs[i]);
        }
        let t1 = time + step;
        mean.update(time, t1, mean_before, mean_h(&hs), e);
        wheel.update(time, t1, w_before, hs[0], e);
        free.update(time, t1, f_before, hs[n - 1], e);
        hottest.update(time, t1, hot_before, max_h(&hs), e);
        time = t1;
        dt_prev = step;
        history.push(point(time, &ts, &hs, s.attached(time)));

        let grow = if max_dh > 0.0 {
            (0.8 * dh_target / max_dh).clamp(0.3, 1.5)
        } else {
            1.5
        };
        dt = step * grow;
    }
    Ok(Run {
        time_to_solidify_s: hottest.solidus_s.unwrap_or(time),
        mean,
        wheel,
        free,
        initial: cap * n as f64 * e.h(s.t0),
        final_: cap * hs.iter().sum::<f64>(),
        q_wheel,
        q_rad,
        history,
    })
}

// ──────────────────────────────────────── microstructure ─────────────────────────────────

/// Nd-rich lamellar spacing relation.
///
/// No published fit for NdFeB SC exists (alloy.md §2.3 item 6); fit A and n to plant SEM data
/// with [`LamellarSpacingLaw::fit_cooling_rate`] or [`LamellarSpacingLaw::fit_thickness`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "law", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LamellarSpacingLaw {
    /// `λ = λ_ref · (t / t_ref)^m`.
    Thickness {
        /// λ_ref, µm.
        reference_spacing_um: f64,
        /// t_ref, mm.
        reference_thickness_mm: f64,
        /// m (dimensionless).
        exponent: f64,
    },
    /// `λ = A · (Ṫ / (1 K/s))^(−n)`, Ṫ the cooling rate through the freezing range.
    CoolingRate {
        /// A, µm.
        coefficient_um: f64,
        /// n (dimensionless); secondary-dendrite-arm-type values are 0.3–0.5 \[U\].
        exponent: f64,
    },
}

impl Default for LamellarSpacingLaw {
    /// `λ = 4.0 µm · (t / 0.35 mm)^1.24`, through the two anchors of the industrial study
    /// [S: alloy.md §2.2]: λ = 3–5 µm (mid 4.0) at 0.3–0.4 mm (mid 0.35) and λ ≈ 2 µm for
    /// thinner flakes (taken at 0.20 mm, the edge of the "too thin" band of §2.3 item 7);
    /// m = ln(4/2)/ln(0.35/0.20) = 1.24 \[D\]. It is the n ≈ 1.2 of §2.3 item 6 if Ṫ ∝ 1/t.
    fn default() -> Self {
        LamellarSpacingLaw::Thickness {
            reference_spacing_um: 4.0,
            reference_thickness_mm: 0.35,
            exponent: 1.24,
        }
    }
}

/// Least-squares line through (ln x, ln y): returns (mean ln x, mean ln y, slope).
fn log_fit(parameter: &str, points: &[(f64, f64)]) -> Result<(f64, f64, f64), CastingError> {
    if points.len() < 2 {
        return Err(CastingError::TooFew {
            parameter: parameter.into(),
            found: points.len(),
            min: 2,
        });
    }
    for (i, &(x, y)) in points.iter().enumerate() {
        positive(&format!("{parameter}[{i}].0"), x, 1.0e12, "")?;
        positive(&format!("{parameter}[{i}].1 (spacing_um)"), y, 1.0e6, "µm")?;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0.ln()).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1.ln()).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0.ln() - mx).powi(2)).sum();
    let sxy: f64 = points
        .iter()
        .map(|p| (p.0.ln() - mx) * (p.1.ln() - my))
        .sum();
    if !(sxx > 1.0e-12) {
        return Err(CastingError::Inconsistent {
            parameter: parameter.into(),
            reason:
                "all points have the same abscissa; a slope needs at least two different values"
                    .into(),
        });
    }
    Ok((mx, my, sxy / sxx))
}

impl LamellarSpacingLaw {
    /// Lamellar spacing λ, µm, for a flake of `thickness_mm` cooled through its freezing range
    /// at `cooling_rate_k_per_s` (each law uses one of the two).
    pub fn spacing_um(
        &self,
        thickness_mm: f64,
        cooling_rate_k_per_s: f64,
    ) -> Result<f64, CastingError> {
        self.validate()?;
        let t = thickness("thickness_mm", thickness_mm)?;
        let r = positive("cooling_rate_k_per_s", cooling_rate_k_per_s, 1.0e12, "K/s")?;
        Ok(match *self {
            LamellarSpacingLaw::Thickness {
                reference_spacing_um,
                reference_thickness_mm,
                exponent,
            } => reference_spacing_um * (t / reference_thickness_mm).powf(exponent),
            LamellarSpacingLaw::CoolingRate {
                coefficient_um,
                exponent,
            } => coefficient_um * r.powf(-exponent),
        })
    }

    /// Checks the parameters: positive spacing and thickness, exponent in [−5, 5].
    pub fn validate(&self) -> Result<(), CastingError> {
        match *self {
            LamellarSpacingLaw::Thickness {
                reference_spacing_um,
                reference_thickness_mm,
                exponent,
            } => {
                positive(
                    "lamellar_spacing.reference_spacing_um",
                    reference_spacing_um,
                    1.0e6,
                    "µm",
                )?;
                thickness(
                    "lamellar_spacing.reference_thickness_mm",
                    reference_thickness_mm,
                )?;
                within("lamellar_spacing.exponent", exponent, -5.0, 5.0, "")?;
            }
            LamellarSpacingLaw::CoolingRate {
                coefficient_um,
                exponent,
            } => {
                positive(
                    "lamellar_spacing.coefficient_um",
                    coefficient_um,
                    1.0e12,
                    "µm",
                )?;
                within("lamellar_spacing.exponent", exponent, -5.0, 5.0, "")?;
            }
        }
        Ok(())
    }

    /// Fits `λ = A·Ṫ^(−n)` by least squares on `ln λ = ln A − n·ln Ṫ` to
    /// (cooling rate K/s, spacing µm) points; needs two different cooling rates.
    pub fn fit_cooling_rate(points: &[(f64, f64)]) -> Result<Self, CastingError> {
        let (mx, my, slope) = log_fit("points (cooling_rate_k_per_s, spacing_um)", points)?;
        let law = LamellarSpacingLaw::CoolingRate {
            coefficient_um: (my - slope * mx).exp(),
            exponent: -slope,
        };
        law.validate()?;
        Ok(law)
    }

    /// Fits `λ = λ_ref·(t/t_ref)^m` by least squares on logs to (thickness mm, spacing µm)
    /// points; t_ref is the geometric mean thickness.
    pub fn fit_thickness(points: &[(f64, f64)]) -> Result<Self, CastingError> {
        let (mx, my, slope) = log_fit("points (thickness_mm, spacing_um)", points)?;
        let law = LamellarSpacingLaw::Thickness {
            reference_spacing_um: my.exp(),
            reference_thickness_mm: mx.exp(),
            exponent: slope,
        };
        law.validate()?;
        Ok(law)
    }
}

/// Risk of free α-Fe (primary Fe dendrites on the free side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlphaFeRisk {
    /// Thickness and cooling rate inside the good window.
    Low,
    /// Thicker than the target window.
    Elevated,
    /// Thicker than the α-Fe threshold or cooled slower than the minimum rate.
    High,
}

/// Regime of a flake by thickness (alloy.md §2.3 item 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlakeRegime {
    /// Thinner than `chill_below_mm`: chill/equiaxed fraction rises, λ ≤ 2 µm (too fast).
    Chill,
    /// Between `chill_below_mm` and the target window.
    ThinTransition,
    /// Inside the target window.
    Target,
    /// Between the target window and `alpha_fe_above_mm`.
    ThickTransition,
    /// Thicker than `alpha_fe_above_mm`: α-Fe on the free side (too slow).
    AlphaFe,
}

/// Empirical microstructure model: fractions from thickness (published data), α-Fe risk and
/// chill flag from thickness and cooling rate, lamellar spacing from the chosen law. Every
/// threshold is a parameter; defaults and sources:
///
/// | field | default | source |
/// |---|---|---|
/// | `columnar_vs_thickness` | (0.10, 0.10) (0.20, 0.60) (0.30, 0.91) (0.40, 0.80) (0.50, 0.60) (0.80, 0.30) | 0.30 → 0.91 \[S\] Wang et al., JMMM 396 (2015) 283; 0.10 mostly chill \[S\] USTB 2004 (value \[U\]); 0.20 and 0.50 at the GB/T 29655 minimum 60 % at the band edges \[U\]; 0.40 and 0.80 \[U\] |
/// | `lamellar_spacing` | `λ = 4.0·(t/0.35)^1.24` µm | \[S/D\] industrial study, see [`LamellarSpacingLaw::default`] |
/// | `chill_below_mm` | 0.20 | \[S\] "< 0.15–0.2 mm: chill/equiaxed rises" alloy.md §2.3 item 7 |
/// | `target_thickness_mm` | 0.25–0.40 | \[S\] alloy.md §0.3, §2.3 item 7 |
/// | `alpha_fe_elevated_above_mm` | 0.40 | \[S\] industrial study and USTB 2004 (0.4 mm: much α-Fe) |
/// | `alpha_fe_above_mm` | 0.50 | \[S\] Wang et al. 2015 (> 0.5 mm: α-Fe on the free side) |
/// | `alpha_fe_below_k_per_s` | 500 | \[S\] Santoku lower bound; which rate it means is \[U\] |
/// | `chill_above_k_per_s` | 10 000 | \[S\] Santoku upper bound |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MicrostructureModel {
    /// Columnar volume fraction versus thickness, `[thickness_mm, fraction]`, strictly
    /// increasing in thickness; linear between points, flat beyond the ends.
    pub columnar_vs_thickness: Vec<[f64; 2]>,
    /// Lamellar spacing relation.
    pub lamellar_spacing: LamellarSpacingLaw,
    /// Below this thickness the flake is in the chill regime, mm.
    pub chill_below_mm: f64,
    /// Target thickness window, mm.
    pub target_thickness_mm: [f64; 2],
    /// Above this thickness α-Fe risk is at least elevated, mm.
    pub alpha_fe_elevated_above_mm: f64,
    /// Above this thickness α-Fe risk is high, mm.
    pub alpha_fe_above_mm: f64,
    /// Below this cooling rate (through the freezing range) α-Fe risk is high, K/s.
    pub alpha_fe_below_k_per_s: f64,
    /// Above this cooling rate more chill/equiaxed grains are expected (flag only), K/s.
    pub chill_above_k_per_s: f64,
}

impl Default for MicrostructureModel {
    fn default() -> Self {
        MicrostructureModel {
            columnar_vs_thickness: vec![
                [0.10, 0.10],
                [0.20, 0.60],
                [0.30, 0.91],
                [0.40, 0.80],
                [0.50, 0.60],
                [0.80, 0.30],
            ],
            lamellar_spacing: LamellarSpacingLaw::default(),
            chill_below_mm: 0.20,
            target_thickness_mm: [0.25, 0.40],
            alpha_fe_elevated_above_mm: 0.40,
            alpha_fe_above_mm: 0.50,
            alpha_fe_below_k_per_s: SANTOKU_COOLING_RATE_K_PER_S[0],
            chill_above_k_per_s: SANTOKU_COOLING_RATE_K_PER_S[1],
        }
    }
}

/// Predicted microstructure of a flake.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Microstructure {
    /// Flake thickness, mm.
    pub thickness_mm: f64,
    /// Cooling rate through the freezing range used, K/s.
    pub cooling_rate_k_per_s: f64,
    /// Wheel-side fine equiaxed (chill) zone, volume fraction.
    pub chill_fraction: f64,
    /// Columnar 2:14:1 zone, volume fraction.
    pub columnar_fraction: f64,
    /// Free-side equiaxed / α-Fe zone, volume fraction.
    pub free_side_fraction: f64,
    /// Nd-rich lamellar spacing, µm.
    pub lamellar_spacing_um: f64,
    /// α-Fe risk.
    pub alpha_fe_risk: AlphaFeRisk,
    /// Thickness regime.
    pub regime: FlakeRegime,
    /// Why the risk and regime are what they are.
    pub notes: Vec<String>,
}

impl MicrostructureModel {
    /// Checks the table (≥ 1 point, thickness strictly increasing and valid, fractions 0–1),
    /// the spacing law and the thresholds (positive, target window ordered).
    pub fn validate(&self) -> Result<(), CastingError> {
        if self.columnar_vs_thickness.is_empty() {
            return Err(CastingError::TooFew {
                parameter: "columnar_vs_thickness".into(),
                found: 0,
                min: 1,
            });
        }
        let mut last = f64::NEG_INFINITY;
        for (i, &[t, f]) in self.columnar_vs_thickness.iter().enumerate() {
            thickness(&format!("columnar_vs_thickness[{i}] thickness_mm"), t)?;
            fraction(&format!("columnar_vs_thickness[{i}] fraction"), f)?;
            if !(t > last) {
                return Err(CastingError::Inconsistent {
                    parameter: format!("columnar_vs_thickness[{i}]"),
                    reason: format!(
                        "thickness {t} mm must be greater than the previous point's {last} mm"
                    ),
                });
            }
            last = t;
        }
        self.lamellar_spacing.validate()?;
        thickness("chill_below_mm", self.chill_below_mm)?;
        thickness("target_thickness_mm[0]", self.target_thickness_mm[0])?;
        thickness("target_thickness_mm[1]", self.target_thickness_mm[1])?;
        if !(self.target_thickness_mm[0] < self.target_thickness_mm[1]) {
            return Err(CastingError::Inconsistent {
                parameter: "target_thickness_mm".into(),
                reason: "the lower bound must be below the upper bound".into(),
            });
        }
        thickness(
            "alpha_fe_elevated_above_mm",
            self.alpha_fe_elevated_above_mm,
        )?;
        thickness("alpha_fe_above_mm", self.alpha_fe_above_mm)?;
        positive(
            "alpha_fe_below_k_per_s",
            self.alpha_fe_below_k_per_s,
            1.0e12,
            "K/s",
        )?;
        positive(
            "chill_above_k_per_s",
            self.chill_above_k_per_s,
            1.0e12,
            "K/s",
        )?;
        Ok(())
    }

    /// Columnar fraction at a thickness: linear interpolation in `columnar_vs_thickness`.
    fn columnar(&self, t: f64) -> f64 {
        let pts = &self.columnar_vs_thickness;
        let first = pts[0];
        let last = pts[pts.len() - 1];
        if t <= first[0] {
            return first[1];
        }
        if t >= last[0] {
            return last[1];
        }
        for w in pts.windows(2) {
            let ([t0, f0], [t1, f1]) = (w[0], w[1]);
            if t <= t1 {
                return f0 + (f1 - f0) * (t - t0) / (t1 - t0);
            }
        }
        last[1]
    }

    /// Predicts the microstructure of a flake of `thickness_mm` cooled through its freezing
    /// range at `cooling_rate_k_per_s`.
    ///
    /// * columnar fraction `f_col(t)` from the table;
    /// * up to the thickness of the table's peak `t_pk` all the rest is wheel-side chill;
    ///   beyond it the chill layer keeps its absolute thickness,
    ///   `f_chill = (1 − f_col(t_pk))·t_pk/t` [U: modelling assumption], and the remainder is
    ///   the free-side equiaxed/α-Fe zone (Wang 2015: both zones appear above 0.5 mm);
    /// * λ from the spacing law; α-Fe risk high above `alpha_fe_above_mm` or below
    ///   `alpha_fe_below_k_per_s`, elevated above `alpha_fe_elevated_above_mm`.
    pub fn predict(
        &self,
        thickness_mm: f64,
        cooling_rate_k_per_s: f64,
    ) -> Result<Microstructure, CastingError> {
        self.validate()?;
        let t = thickness("thickness_mm", thickness_mm)?;
        let rate = positive("cooling_rate_k_per_s", cooling_rate_k_per_s, 1.0e12, "K/s")?;
        let columnar = self.columnar(t);
        let peak = self.columnar_vs_thickness.iter().copied().fold(
            [f64::NAN, f64::NEG_INFINITY],
            |best, p| if p[1] > best[1] { p } else { best },
        );
        let (chill, free) = if t <= peak[0] {
            (1.0 - columnar, 0.0)
        } else {
            let chill = ((1.0 - peak[1]) * peak[0] / t).min(1.0 - columnar);
            (chill, (1.0 - columnar - chill).max(0.0))
        };
        let spacing = self.lamellar_spacing.spacing_um(t, rate)?;
        let mut notes = Vec::new();
        let mut risk = AlphaFeRisk::Low;
        if t > self.alpha_fe_above_mm {
            risk = AlphaFeRisk::High;
            notes.push(format!(
                "thicker than {} mm: α-Fe on the free side (Wang et al. 2015)",
                self.alpha_fe_above_mm
            ));
        } else if t > self.alpha_fe_elevated_above_mm {
            risk = AlphaFeRisk::Elevated;
            notes.push(format!(
                "thicker than {} mm: α-Fe near the free surface likely (industrial study, USTB 2004)",
                self.alpha_fe_elevated_above_mm
            ));
        }
        if rate < self.alpha_fe_below_k_per_s {
            risk = AlphaFeRisk::High;
            notes.push(format!(
                "cooling rate {rate:.0} K/s below {} K/s (Santoku window): α-Fe likely",
                self.alpha_fe_below_k_per_s
            ));
        }
        if rate > self.chill_above_k_per_s {
            notes.push(format!(
                "cooling rate {rate:.0} K/s above {} K/s (Santoku window): more chill/equiaxed grains",
                self.chill_above_k_per_s
            ));
        }
        let [lo, hi] = self.target_thickness_mm;
        let regime = if t < self.chill_below_mm {
            notes.push(format!(
                "thinner than {} mm: chill/equiaxed grains, λ ≤ 2 µm",
                self.chill_below_mm
            ));
            FlakeRegime::Chill
        } else if t < lo {
            FlakeRegime::ThinTransition
        } else if t <= hi {
            FlakeRegime::Target
        } else if t <= self.alpha_fe_above_mm {
            FlakeRegime::ThickTransition
        } else {
            FlakeRegime::AlphaFe
        };
        Ok(Microstructure {
            thickness_mm: t,
            cooling_rate_k_per_s: rate,
            chill_fraction: chill,
            columnar_fraction: columnar,
            free_side_fraction: free,
            lamellar_spacing_um: spacing,
            alpha_fe_risk: risk,
            regime,
            notes,
        })
    }
}

/// Microstructure a cast must meet.
///
/// Defaults: columnar ≥ 60 % [S: GB/T 29655-2013]; λ 3–5 µm [S: industrial study, alloy.md
/// §2.2]; α-Fe risk low; cooling rate through the freezing range 500–10 000 K/s [S: Santoku
/// EP0632471; which rate the patent means is U].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MicrostructureWindow {
    /// Minimum columnar fraction.
    pub columnar_min_fraction: f64,
    /// Allowed lamellar spacing, µm.
    pub lamellar_spacing_um: [f64; 2],
    /// Worst acceptable α-Fe risk.
    pub max_alpha_fe_risk: AlphaFeRisk,
    /// Allowed cooling rate through the freezing range, K/s.
    pub cooling_rate_k_per_s: [f64; 2],
}

impl Default for MicrostructureWindow {
    fn default() -> Self {
        MicrostructureWindow {
            columnar_min_fraction: 0.60,
            lamellar_spacing_um: [3.0, 5.0],
            max_alpha_fe_risk: AlphaFeRisk::Low,
            cooling_rate_k_per_s: SANTOKU_COOLING_RATE_K_PER_S,
        }
    }
}

impl MicrostructureWindow {
    /// Checks the fields: fraction 0–1, ordered positive ranges.
    pub fn validate(&self) -> Result<(), CastingError> {
        fraction("window.columnar_min_fraction", self.columnar_min_fraction)?;
        ordered_range(
            "window.lamellar_spacing_um",
            self.lamellar_spacing_um,
            1.0e6,
            "µm",
        )?;
        ordered_range(
            "window.cooling_rate_k_per_s",
            self.cooling_rate_k_per_s,
            1.0e12,
            "K/s",
        )?;
        Ok(())
    }

    /// What a microstructure misses, one line each; empty when it is inside the window.
    pub fn violations(&self, m: &Microstructure) -> Vec<String> {
        let mut v = Vec::new();
        if m.columnar_fraction < self.columnar_min_fraction - 1e-12 {
            v.push(format!(
                "columnar fraction {:.2} below {:.2}",
                m.columnar_fraction, self.columnar_min_fraction
            ));
        }
        let [lo, hi] = self.lamellar_spacing_um;
        if m.lamellar_spacing_um < lo - 1e-12 || m.lamellar_spacing_um > hi + 1e-12 {
            v.push(format!(
                "lamellar spacing {:.2} µm outside {lo}–{hi} µm",
                m.lamellar_spacing_um
            ));
        }
        if m.alpha_fe_risk > self.max_alpha_fe_risk {
            v.push(format!(
                "α-Fe risk {:?} worse than {:?}",
                m.alpha_fe_risk, self.max_alpha_fe_risk
            ));
        }
        let [rlo, rhi] = self.cooling_rate_k_per_s;
        if m.cooling_rate_k_per_s < rlo || m.cooling_rate_k_per_s > rhi {
            v.push(format!(
                "cooling rate {:.0} K/s outside {rlo}–{rhi} K/s",
                m.cooling_rate_k_per_s
            ));
        }
        v
    }
}

fn ordered_range(parameter: &str, r: [f64; 2], hi: f64, unit: &str) -> Result<(), CastingError> {
    positive(&format!("{parameter}[0]"), r[0], hi, unit)?;
    positive(&format!("{parameter}[1]"), r[1], hi, unit)?;
    if !(r[0] <= r[1]) {
        return Err(CastingError::Inconsistent {
            parameter: parameter.into(),
            reason: format!("lower bound {} above upper bound {}", r[0], r[1]),
        });
    }
    Ok(())
}

// ──────────────────────────────────────── setpoint advisor ───────────────────────────────

/// The whole strip-casting model: alloy, process, numerics and microstructure relations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripCaster {
    /// Alloy properties.
    #[serde(default)]
    pub properties: AlloyThermalProperties,
    /// Process conditions (h required).
    pub conditions: CoolingConditions,
    /// Numerical options.
    #[serde(default)]
    pub solver: SolverOptions,
    /// Microstructure relations.
    #[serde(default)]
    pub microstructure: MicrostructureModel,
}

/// Cooling and microstructure of one flake.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlakePrediction {
    /// Cooling result.
    pub cooling: CoolingResult,
    /// Microstructure predicted from the thickness and the freezing-range cooling rate.
    pub microstructure: Microstructure,
}

/// Which setpoint the operator holds; the advisor sets the other.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Hold {
    /// Pour rate per unit contact width fixed (tundish), kg/(s·m); the advisor sets the speed.
    PourRate {
        /// ṁ′, kg/(s·m).
        kg_per_s_per_m: f64,
    },
    /// Wheel speed fixed, m/s; the advisor sets the pour rate.
    WheelSpeed {
        /// v, m/s.
        m_per_s: f64,
    },
}

/// What the casting engineer asks of the advisor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetpointRequest {
    /// The setpoint held.
    pub hold: Hold,
    /// Thickness wanted, mm; `None`: the middle of the widest acceptable thickness range.
    #[serde(default)]
    pub target_thickness_mm: Option<f64>,
    /// Equipment limits on the wheel speed, m/s.
    pub wheel_speed_limits_m_per_s: [f64; 2],
    /// Equipment limits on the pour rate per unit width, kg/(s·m).
    pub pour_rate_limits_kg_per_s_per_m: [f64; 2],
    /// Thicknesses scanned for the acceptable range, mm. Default 0.10–0.80
    /// [S: GB/T 29655-2013 thickness range].
    #[serde(default = "default_scan")]
    pub scan_thickness_mm: [f64; 2],
    /// Microstructure window.
    #[serde(default)]
    pub window: MicrostructureWindow,
}

fn default_scan() -> [f64; 2] {
    [0.10, 0.80]
}

impl SetpointRequest {
    /// A request with the default scan range and microstructure window.
    pub fn new(
        hold: Hold,
        wheel_speed_limits_m_per_s: [f64; 2],
        pour_rate_limits_kg_per_s_per_m: [f64; 2],
    ) -> Self {
        SetpointRequest {
            hold,
            target_thickness_mm: None,
            wheel_speed_limits_m_per_s,
            pour_rate_limits_kg_per_s_per_m,
            scan_thickness_mm: default_scan(),
            window: MicrostructureWindow::default(),
        }
    }
}

/// A contiguous range of acceptable setpoints.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SetpointRange {
    /// Thickness, mm.
    pub thickness_mm: [f64; 2],
    /// Wheel speed, m/s (ordered low to high).
    pub wheel_speed_m_per_s: [f64; 2],
    /// Pour rate per unit width, kg/(s·m) (ordered low to high).
    pub pour_rate_kg_per_s_per_m: [f64; 2],
}

/// The advisor's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetpointAdvice {
    /// Thickness aimed at, mm.
    pub thickness_mm: f64,
    /// Wheel surface speed, m/s.
    pub wheel_speed_m_per_s: f64,
    /// Pour rate per unit contact width, kg/(s·m).
    pub pour_rate_kg_per_s_per_m: f64,
    /// Predicted cooling and microstructure at that thickness.
    pub prediction: FlakePrediction,
    /// True when the microstructure is inside the window.
    pub in_window: bool,
    /// True when both setpoints are inside the equipment limits.
    pub within_limits: bool,
    /// Acceptable ranges found by the scan (window met and setpoints within limits), in
    /// steps of 0.01 mm.
    pub acceptable: Vec<SetpointRange>,
    /// Why the advice is what it is.
    pub reasons: Vec<String>,
}

impl StripCaster {
    /// A caster with indicative properties and conditions, the given `h`, default solver
    /// options and microstructure relations.
    pub fn indicative(h_w_per_m2k: f64) -> Self {
        StripCaster {
            properties: AlloyThermalProperties::indicative_ndfeb(),
            conditions: CoolingConditions::indicative(h_w_per_m2k),
            solver: SolverOptions::default(),
            microstructure: MicrostructureModel::default(),
        }
    }

    /// Flake thickness for a pour rate and wheel speed, mm ([`flake_thickness_mm`] with this
    /// alloy's density).
    pub fn thickness_mm(
        &self,
        pour_rate_kg_per_s_per_m: f64,
        wheel_speed_m_per_s: f64,
    ) -> Result<f64, CastingError> {
        flake_thickness_mm(
            pour_rate_kg_per_s_per_m,
            wheel_speed_m_per_s,
            self.properties.density_kg_per_m3,
        )
    }

    /// Cooling of a flake ([`cool_flake`]).
    pub fn cool(&self, thickness_mm: f64) -> Result<CoolingResult, CastingError> {
        cool_flake(
            &self.properties,
            &self.conditions,
            thickness_mm,
            &self.solver,
        )
    }

    /// Cooling and microstructure of a flake: [`cool_flake`], then
    /// [`MicrostructureModel::predict`] with the freezing-range cooling rate of the mean
    /// enthalpy.
    pub fn predict(&self, thickness_mm: f64) -> Result<FlakePrediction, CastingError> {
        let cooling = self.cool(thickness_mm)?;
        let microstructure = self
            .microstructure
            .predict(thickness_mm, cooling.cooling_rate_freezing_k_per_s)?;
        Ok(FlakePrediction {
            cooling,
            microstructure,
        })
    }

    /// The other setpoint for a thickness under `hold`: (wheel speed, pour rate).
    fn setpoints(&self, hold: Hold, thickness_mm: f64) -> Result<(f64, f64), CastingError> {
        let rho = self.properties.density_kg_per_m3;
        Ok(match hold {
            Hold::PourRate { kg_per_s_per_m } => (
                wheel_speed_for_thickness_m_per_s(thickness_mm, kg_per_s_per_m, rho)?,
                kg_per_s_per_m,
            ),
            Hold::WheelSpeed { m_per_s } => (
                m_per_s,
                pour_rate_for_thickness_kg_per_s_per_m(thickness_mm, m_per_s, rho)?,
            ),
        })
    }

    /// Setpoint advisor: wheel speed and pour rate for a target thickness and microstructure
    /// window.
    ///
    /// Scans thickness in 0.01 mm steps over `scan_thickness_mm`, predicting cooling and
    /// microstructure at each, and keeps the thicknesses whose microstructure is inside the
    /// window and whose setpoints (from `t = ṁ′/(ρ·v)` with the held one fixed) are inside the
    /// equipment limits. The target is `target_thickness_mm`, or the middle of the widest
    /// acceptable range; if nothing is acceptable, the thickness of the highest columnar
    /// fraction. The advice reports whether the chosen point is in the window and within
    /// limits, with reasons.
    pub fn advise(&self, request: &SetpointRequest) -> Result<SetpointAdvice, CastingError> {
        self.properties.validate()?;
        self.conditions.validate(&self.properties)?;
        self.solver.validate()?;
        self.microstructure.validate()?;
        request.window.validate()?;
        let [vlo, vhi] = request.wheel_speed_limits_m_per_s;
        ordered_range(
            "wheel_speed_limits_m_per_s",
            [vlo, vhi],
            SPEED_MAX_M_PER_S,
            "m/s",
        )?;
        let [mlo, mhi] = request.pour_rate_limits_kg_per_s_per_m;
        ordered_range(
            "pour_rate_limits_kg_per_s_per_m",
            [mlo, mhi],
            POUR_MAX_KG_PER_S_PER_M,
            "kg/(s·m)",
        )?;
        match request.hold {
            Hold::PourRate { kg_per_s_per_m } => {
                pour_rate(kg_per_s_per_m)?;
            }
            Hold::WheelSpeed { m_per_s } => {
                wheel_speed(m_per_s)?;
            }
        }
        let [slo, shi] = request.scan_thickness_mm;
        within("scan_thickness_mm[0]", slo, 0.001, 100.0, "mm")?;
        within("scan_thickness_mm[1]", shi, 0.001, 100.0, "mm")?;
        if !(slo <= shi) || (shi - slo) / 0.01 > 10_000.0 {
            return Err(CastingError::Inconsistent {
                parameter: "scan_thickness_mm".into(),
                reason: format!(
                    "{slo}–{shi} mm must be ordered and span at most 10 000 steps of 0.01 mm"
                ),
            });
        }
        if let Some(t) = request.target_thickness_mm {
            within("target_thickness_mm", t, 0.001, 100.0, "mm")?;
        }

        let in_limits = |v: f64, m: f64| {
            v >= vlo - 1e-12 && v <= vhi + 1e-12 && m >= mlo - 1e-12 && m <= mhi + 1e-12
        };

        // Scan.
        let steps = ((shi - slo) / 0.01).round() as usize;
        let mut scan: Vec<(f64, bool, f64)> = Vec::with_capacity(steps + 1);
        for i in 0..=steps {
            let t = if steps == 0 {
                slo
            } else {
                slo + (shi - slo) * i as f64 / steps as f64
            };
            let p = self.predict(t)?;
            let (v, m) = self.setpoints(request.hold, t)?;
            let ok = request.window.violations(&p.microstructure).is_empty() && in_limits(v, m);
            scan.push((t, ok, p.microstructure.columnar_fraction));
        }
        let mut acceptable = Vec::new();
        let mut i = 0;
        while i < scan.len() {
            if scan[i].1 {
                let start = i;
                while i + 1 < scan.len() && scan[i + 1].1 {
                    i += 1;
                }
                let (t0, t1) = (scan[start].0, scan[i].0);
                let (v0, m0) = self.setpoints(request.hold, t0)?;
                let (v1, m1) = self.setpoints(request.hold, t1)?;
                acceptable.push(SetpointRange {
                    thickness_mm: [t0, t1],
                    wheel_speed_m_per_s: [v0.min(v1), v0.max(v1)],
                    pour_rate_kg_per_s_per_m: [m0.min(m1), m0.max(m1)],
                });
            }
            i += 1;
        }

        let mut reasons = Vec::new();
        let target = match request.target_thickness_mm {
            Some(t) => t,
            None => match acceptable.iter().max_by(|a, b| {
                (a.thickness_mm[1] - a.thickness_mm[0])
                    .total_cmp(&(b.thickness_mm[1] - b.thickness_mm[0]))
            }) {
                Some(r) => {
                    let t = 0.5 * (r.thickness_mm[0] + r.thickness_mm[1]);
                    reasons.push(format!(
                        "no target given: middle of the widest acceptable range {:.2}–{:.2} mm",
                        r.thickness_mm[0], r.thickness_mm[1]
                    ));
                    t
                }
                None => {
                    let best = scan
                        .iter()
                        .max_by(|a, b| a.2.total_cmp(&b.2))
                        .map_or(slo, |s| s.0);
                    reasons.push(format!(
                        "no thickness in {slo:.2}–{shi:.2} mm meets the window within the equipment limits; aiming at the highest columnar fraction, {best:.2} mm"
                    ));
                    best
                }
            },
        };
        let prediction = self.predict(target)?;
        let (v, m) = self.setpoints(request.hold, target)?;
        let violations = request.window.violations(&prediction.microstructure);
        let in_window = violations.is_empty();
        for line in &violations {
            reasons.push(format!("at {target:.3} mm: {line}"));
        }
        if !(v >= vlo - 1e-12 && v <= vhi + 1e-12) {
            reasons.push(format!(
                "wheel speed {v:.3} m/s outside the equipment limits {vlo}–{vhi} m/s"
            ));
        }
        if !(m >= mlo - 1e-12 && m <= mhi + 1e-12) {
            reasons.push(format!(
                "pour rate {m:.3} kg/(s·m) outside the equipment limits {mlo}–{mhi} kg/(s·m)"
            ));
        }
        let within_limits = in_limits(v, m);
        if in_window && within_limits {
            reasons.push(format!(
                "{target:.3} mm at {v:.3} m/s and {m:.3} kg/(s·m): columnar {:.2}, λ {:.2} µm, α-Fe risk {:?}, {:.0} K/s through the freezing range ({:?} model, Bi {:.3})",
                prediction.microstructure.columnar_fraction,
                prediction.microstructure.lamellar_spacing_um,
                prediction.microstructure.alpha_fe_risk,
                prediction.cooling.cooling_rate_freezing_k_per_s,
                prediction.cooling.model,
                prediction.cooling.biot,
            ));
        }
        if acceptable.is_empty() {
            reasons.push("the scan found no acceptable setpoint".into());
        }
        Ok(SetpointAdvice {
            thickness_mm: target,
            wheel_speed_m_per_s: v,
            pour_rate_kg_per_s_per_m: m,
            prediction,
            in_window,
            within_limits,
            acceptable,
            reasons,
        })
    }
}

// ──────────────────────────────────────────── flake QC ───────────────────────────────────

/// Limits of one quality grade of strip-cast flakes. Self-contained stand-in for the grade
/// and spec types of the `spec` module; [`FlakeGradeLimits::gbt_29655_2013`] gives the four
/// GB/T 29655-2013 grades as read in alloy.md §1.4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlakeGradeLimits {
    /// Grade code, e.g. "045001".
    pub code: String,
    /// Minimum share of flakes within mean ± `thickness_band_half_width_mm`, 0–1.
    pub thickness_share_min: f64,
    /// Half width of the thickness band around the mean, mm (0.05 in GB/T 29655).
    pub thickness_band_half_width_mm: f64,
    /// Allowed mean thickness, mm (0.1–0.8 in GB/T 29655).
    pub mean_thickness_range_mm: [f64; 2],
    /// Minimum columnar fraction, when measured (0.60 in GB/T 29655).
    pub columnar_min_fraction: f64,
    /// Tolerance on total rare earth, wt% (±).
    pub rare_earth_tolerance_wt_pct: f64,
    /// Tolerance on each non-RE main component (B, Co, Cu, Al, Ga …), wt% (±).
    pub other_tolerance_wt_pct: f64,
    /// Maximum sum of foreign rare earths (RE not in the aim), wt%.
    pub rare_earth_impurities_max_wt_pct: f64,
    /// Named impurity limits, wt%.
    pub impurity_max_wt_pct: BTreeMap<Element, f64>,
    /// Limit for each other element not in the aim and not named, wt%.
    pub other_impurity_max_wt_pct: f64,
}

impl FlakeGradeLimits {
    /// The four GB/T 29655-2013 grades, best first (045001 … 045004) [S: alloy.md §1.4; the
    /// Si label was OCR-garbled in the copy read and is U]: tolerances RE ±0.20/0.40/0.60/0.80,
    /// B and other main components ±0.02/0.04/0.06/0.08; RE impurities ≤ 0.50/0.60/0.70/0.80;
    /// Si 0.05/0.08/0.10/0.12, Ca and Ti 0.02/0.03/0.04/0.05, Mn 0.05/0.06/0.07/0.09,
    /// C 0.025/0.030/0.040/0.050, N 0.004/0.005/0.006/0.010, O 0.02/0.03/0.04/0.05, other
    /// impurities 0.01/0.02/0.03/0.05 wt%; ≥ 85/80/75/70 % of flakes within mean ± 0.05 mm;
    /// mean thickness 0.1–0.8 mm; columnar ≥ 60 %.
    pub fn gbt_29655_2013() -> Vec<FlakeGradeLimits> {
        QualityGrade::ALL
            .into_iter()
            .map(|q| FlakeGradeLimits {
                code: q.code().into(),
                thickness_share_min: q.thickness_share_min(),
                thickness_band_half_width_mm: 0.05,
                mean_thickness_range_mm: [0.1, 0.8],
                columnar_min_fraction: 0.60,
                rare_earth_tolerance_wt_pct: q.rare_earth_tolerance_wt_pct(),
                other_tolerance_wt_pct: q.other_tolerance_wt_pct(),
                rare_earth_impurities_max_wt_pct: q.rare_earth_impurities_max_wt_pct(),
                impurity_max_wt_pct: q.impurity_limits_wt_pct(),
                other_impurity_max_wt_pct: q.other_impurity_max_wt_pct(),
            })
            .collect()
    }

    /// Checks every limit: finite, ≥ 0; shares and fractions 0–1; ordered thickness range.
    pub fn validate(&self) -> Result<(), CastingError> {
        let p = |f: &str| format!("grade {}.{f}", self.code);
        fraction(&p("thickness_share_min"), self.thickness_share_min)?;
        positive(
            &p("thickness_band_half_width_mm"),
            self.thickness_band_half_width_mm,
            100.0,
            "mm",
        )?;
        ordered_range(
            &p("mean_thickness_range_mm"),
            self.mean_thickness_range_mm,
            1.0e3,
            "mm",
        )?;
        fraction(&p("columnar_min_fraction"), self.columnar_min_fraction)?;
        for (f, v) in [
            (
                "rare_earth_tolerance_wt_pct",
                self.rare_earth_tolerance_wt_pct,
            ),
            ("other_tolerance_wt_pct", self.other_tolerance_wt_pct),
            (
                "rare_earth_impurities_max_wt_pct",
                self.rare_earth_impurities_max_wt_pct,
            ),
            ("other_impurity_max_wt_pct", self.other_impurity_max_wt_pct),
        ] {
            within(&p(f), v, 0.0, 100.0, "wt%")?;
        }
        for (e, &v) in &self.impurity_max_wt_pct {
            within(
                &p(&format!("impurity_max_wt_pct.{e}")),
                v,
                0.0,
                100.0,
                "wt%",
            )?;
        }
        Ok(())
    }
}

/// A flake lot sample as measured by QC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlakeSample {
    /// Thickness of each flake measured (micrometer), mm.
    pub thicknesses_mm: Vec<f64>,
    /// Assay, wt%: main components and impurities (O, C, N by gas analysis).
    pub assay_wt_pct: BTreeMap<Element, f64>,
    /// Aim composition, wt%, every element but the balance element.
    pub aim_wt_pct: BTreeMap<Element, f64>,
    /// The element that makes up the rest, not toleranced (Fe).
    pub balance: Element,
    /// Columnar fraction measured on a section (SEM), if any.
    #[serde(default)]
    pub columnar_fraction: Option<f64>,
}

/// Thickness statistics of a flake sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThicknessStats {
    /// Flakes measured.
    pub count: usize,
    /// Mean thickness, mm.
    pub mean_mm: f64,
    /// Sample standard deviation (n − 1), mm; 0 for one flake.
    pub std_dev_mm: f64,
    /// Thinnest flake, mm.
    pub min_mm: f64,
    /// Thickest flake, mm.
    pub max_mm: f64,
    /// Band mean ± half width, mm.
    pub band_mm: [f64; 2],
    /// Flakes inside the band (inclusive).
    pub within_band: usize,
    /// Share inside the band, 0–1.
    pub share_within_band: f64,
}

/// Thickness statistics: mean, standard deviation, and the share of flakes within
/// `mean ± band_half_width_mm` (inclusive) [S rule: GB/T 29655-2013; validation case B6].
pub fn thickness_stats(
    thicknesses_mm: &[f64],
    band_half_width_mm: f64,
) -> Result<ThicknessStats, CastingError> {
    if thicknesses_mm.is_empty() {
        return Err(CastingError::TooFew {
            parameter: "thicknesses_mm".into(),
            found: 0,
            min: 1,
        });
    }
    for (i, &t) in thicknesses_mm.iter().enumerate() {
        positive(&format!("thicknesses_mm[{i}]"), t, 100.0, "mm")?;
    }
    let w = positive("band_half_width_mm", band_half_width_mm, 100.0, "mm")?;
    let n = thicknesses_mm.len();
    let mean = thicknesses_mm.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        thicknesses_mm
            .iter()
            .map(|t| (t - mean).powi(2))
            .sum::<f64>()
            / (n - 1) as f64
    } else {
        0.0
    };
    let band = [mean - w, mean + w];
    // A hair of slack so a flake exactly on the band edge counts as inside despite rounding.
    let eps = 1.0e-9;
    let within_band = thicknesses_mm
        .iter()
        .filter(|&&t| t >= band[0] - eps && t <= band[1] + eps)
        .count();
    Ok(ThicknessStats {
        count: n,
        mean_mm: mean,
        std_dev_mm: var.sqrt(),
        min_mm: thicknesses_mm.iter().copied().fold(f64::INFINITY, f64::min),
        max_mm: thicknesses_mm
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max),
        band_mm: band,
        within_band,
        share_within_band: within_band as f64 / n as f64,
    })
}

/// A QC criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QcCriterion {
    /// Share of flakes within mean ± band.
    ThicknessDistribution,
    /// Mean thickness within the allowed range.
    MeanThickness,
    /// Main components within tolerance.
    Composition,
    /// Impurities below their limits.
    Impurities,
    /// Columnar fraction at least the minimum (only when measured).
    Microstructure,
}

/// Outcome of one criterion over the grades.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QcCheck {
    /// Criterion.
    pub criterion: QcCriterion,
    /// Best grade met, if any.
    pub best_grade: Option<String>,
    /// What was found: the shortfalls against the next better grade (or, if no grade is met,
    /// against the loosest).
    pub findings: Vec<String>,
}

/// QC verdict of a flake sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlakeQcReport {
    /// Thickness statistics (band of the first grade).
    pub thickness: ThicknessStats,
    /// One check per criterion.
    pub checks: Vec<QcCheck>,
    /// Best grade met by every criterion, if any.
    pub grade: Option<String>,
    /// True when a grade is met.
    pub pass: bool,
    /// The verdict in words.
    pub reasons: Vec<String>,
}

/// Runs `fails` for each grade (best first); returns the index of the first grade with no
/// failure and the findings to report.
fn grade_criterion<F>(grades: &[FlakeGradeLimits], fails: F) -> (Option<usize>, Vec<String>)
where
    F: Fn(&FlakeGradeLimits) -> Vec<String>,
{
    let mut previous = Vec::new();
    for (i, g) in grades.iter().enumerate() {
        let f = fails(g);
        if f.is_empty() {
            return (Some(i), previous);
        }
        previous = f;
    }
    (None, previous)
}

fn wt_pct(parameter: &str, map: &BTreeMap<Element, f64>) -> Result<(), CastingError> {
    for (e, &v) in map {
        within(&format!("{parameter}.{e}"), v, 0.0, 100.0, "wt%")?;
    }
    Ok(())
}

/// Thickness-distribution check: per grade, at least `thickness_share_min` of the flakes
/// within mean ± `thickness_band_half_width_mm` [S: GB/T 29655-2013; validation case B6].
pub fn check_thickness_distribution(
    thicknesses_mm: &[f64],
    grades: &[FlakeGradeLimits],
) -> Result<QcCheck, CastingError> {
    check_grades(grades)?;
    thickness_stats(thicknesses_mm, 0.05)?;
    let (best, findings) = grade_criterion(grades, |g| {
        match thickness_stats(thicknesses_mm, g.thickness_band_half_width_mm) {
            Ok(s) if s.share_within_band + 1e-12 >= g.thickness_share_min => vec![],
            Ok(s) => vec![format!(
                "{} of {} flakes ({:.1} %) within {:.3} ± {} mm; {} needs ≥ {:.0} %",
                s.within_band,
                s.count,
                100.0 * s.share_within_band,
                s.mean_mm,
                g.thickness_band_half_width_mm,
                g.code,
                100.0 * g.thickness_share_min
            )],
            Err(e) => vec![e.to_string()],
        }
    });
    Ok(QcCheck {
        criterion: QcCriterion::ThicknessDistribution,
        best_grade: best.map(|i| grades[i].code.clone()),
        findings,
    })
}

/// Composition check: per grade, total rare earth within ± `rare_earth_tolerance_wt_pct`,
/// each aimed rare earth within its share of that tolerance (`tol·aim_i/aim_RE`, as in the
/// `spec` module), each other aimed element within ± `other_tolerance_wt_pct`. The balance
/// element is not checked; an aimed element missing from the assay fails.
pub fn check_composition(
    assay_wt_pct: &BTreeMap<Element, f64>,
    aim_wt_pct: &BTreeMap<Element, f64>,
    balance: Element,
    grades: &[FlakeGradeLimits],
) -> Result<QcCheck, CastingError> {
    check_grades(grades)?;
    wt_pct("assay_wt_pct", assay_wt_pct)?;
    wt_pct("aim_wt_pct", aim_wt_pct)?;
    let aim_re: f64 = aim_wt_pct
        .iter()
        .filter(|(e, _)| e.is_rare_earth() && **e != balance)
        .map(|(_, v)| v)
        .sum();
    let (best, findings) = grade_criterion(grades, |g| {
        let mut f = Vec::new();
        if aim_re > 0.0 {
            let re: f64 = assay_wt_pct
                .iter()
                .filter(|(e, _)| e.is_rare_earth() && aim_wt_pct.contains_key(e))
                .map(|(_, v)| v)
                .sum();
            if (re - aim_re).abs() > g.rare_earth_tolerance_wt_pct + 1e-9 {
                f.push(format!(
                    "total RE {re:.3} wt% vs aim {aim_re:.3} ± {} ({})",
                    g.rare_earth_tolerance_wt_pct, g.code
                ));
            }
        }
        for (&e, &aim) in aim_wt_pct {
            if e == balance {
                continue;
            }
            let tol = if e.is_rare_earth() {
                g.rare_earth_tolerance_wt_pct * aim / aim_re
            } else {
                g.other_tolerance_wt_pct
            };
            match assay_wt_pct.get(&e) {
                None => f.push(format!("{e} not in the assay (aim {aim} wt%)")),
                Some(&v) if (v - aim).abs() > tol + 1e-9 => f.push(format!(
                    "{e} {v:.3} wt% vs aim {aim:.3} ± {tol:.3} ({})",
                    g.code
                )),
                Some(_) => {}
            }
        }
        f
    });
    Ok(QcCheck {
        criterion: QcCriterion::Composition,
        best_grade: best.map(|i| grades[i].code.clone()),
        findings,
    })
}

/// Impurity check: per grade, each named impurity at most its limit (a named impurity
/// missing from the assay fails as not measured), foreign rare earths (RE in the assay but
/// not in the aim) summed at most `rare_earth_impurities_max_wt_pct`, and every other
/// element in the assay that is neither aimed, named nor the balance at most
/// `other_impurity_max_wt_pct`.
pub fn check_impurities(
    assay_wt_pct: &BTreeMap<Element, f64>,
    aim_wt_pct: &BTreeMap<Element, f64>,
    balance: Element,
    grades: &[FlakeGradeLimits],
) -> Result<QcCheck, CastingError> {
    check_grades(grades)?;
    wt_pct("assay_wt_pct", assay_wt_pct)?;
    wt_pct("aim_wt_pct", aim_wt_pct)?;
    let (best, findings) = grade_criterion(grades, |g| {
        let mut f = Vec::new();
        for (&e, &max) in &g.impurity_max_wt_pct {
            if aim_wt_pct.contains_key(&e) || e == balance {
                continue;
            }
            match assay_wt_pct.get(&e) {
                None => f.push(format!("{e} not measured (limit {max} wt%, {})", g.code)),
                Some(&v) if v > max + 1e-12 => f.push(format!("{e} {v} wt% > {max} ({})", g.code)),
                Some(_) => {}
            }
        }
        let foreign: f64 = assay_wt_pct
            .iter()
            .filter(|(e, _)| e.is_rare_earth() && !aim_wt_pct.contains_key(e) && **e != balance)
            .map(|(_, v)| v)
            .sum();
        if foreign > g.rare_earth_impurities_max_wt_pct + 1e-12 {
            f.push(format!(
                "foreign RE {foreign:.3} wt% > {} ({})",
                g.rare_earth_impurities_max_wt_pct, g.code
            ));
        }
        for (&e, &v) in assay_wt_pct {
            let other = !e.is_rare_earth()
                && e != balance
                && !aim_wt_pct.contains_key(&e)
                && !g.impurity_max_wt_pct.contains_key(&e);
            if other && v > g.other_impurity_max_wt_pct + 1e-12 {
                f.push(format!(
                    "{e} {v} wt% > {} (other impurity, {})",
                    g.other_impurity_max_wt_pct, g.code
                ));
            }
        }
        f
    });
    Ok(QcCheck {
        criterion: QcCriterion::Impurities,
        best_grade: best.map(|i| grades[i].code.clone()),
        findings,
    })
}

fn check_grades(grades: &[FlakeGradeLimits]) -> Result<(), CastingError> {
    if grades.is_empty() {
        return Err(CastingError::TooFew {
            parameter: "grades".into(),
            found: 0,
            min: 1,
        });
    }
    grades.iter().try_for_each(FlakeGradeLimits::validate)
}

/// Flake QC: thickness distribution, mean thickness, composition, impurities and (when
/// measured) columnar fraction, each graded against `grades` (best first); the sample's grade
/// is the worst of the per-criterion best grades, and it passes when every criterion meets
/// some grade.
pub fn flake_qc(
    sample: &FlakeSample,
    grades: &[FlakeGradeLimits],
) -> Result<FlakeQcReport, CastingError> {
    check_grades(grades)?;
    if sample.aim_wt_pct.contains_key(&sample.balance) {
        return Err(CastingError::Inconsistent {
            parameter: format!("aim_wt_pct.{}", sample.balance),
            reason: "the balance element has no aim: it makes up the rest".into(),
        });
    }
    if let Some(f) = sample.columnar_fraction {
        fraction("columnar_fraction", f)?;
    }
    let stats = thickness_stats(
        &sample.thicknesses_mm,
        grades[0].thickness_band_half_width_mm,
    )?;
    let mut checks = vec![check_thickness_distribution(
        &sample.thicknesses_mm,
        grades,
    )?];
    let (best, findings) = grade_criterion(grades, |g| {
        let [lo, hi] = g.mean_thickness_range_mm;
        if stats.mean_mm >= lo - 1e-12 && stats.mean_mm <= hi + 1e-12 {
            vec![]
        } else {
            vec![format!(
                "mean thickness {:.3} mm outside {lo}–{hi} mm ({})",
                stats.mean_mm, g.code
            )]
        }
    });
    checks.push(QcCheck {
        criterion: QcCriterion::MeanThickness,
        best_grade: best.map(|i| grades[i].code.clone()),
        findings,
    });
    checks.push(check_composition(
        &sample.assay_wt_pct,
        &sample.aim_wt_pct,
        sample.balance,
        grades,
    )?);
    checks.push(check_impurities(
        &sample.assay_wt_pct,
        &sample.aim_wt_pct,
        sample.balance,
        grades,
    )?);
    let mut reasons = Vec::new();
    if let Some(col) = sample.columnar_fraction {
        let (best, findings) = grade_criterion(grades, |g| {
            if col + 1e-12 >= g.columnar_min_fraction {
                vec![]
            } else {
                vec![format!(
                    "columnar fraction {col:.2} < {:.2} ({})",
                    g.columnar_min_fraction, g.code
                )]
            }
        });
        checks.push(QcCheck {
            criterion: QcCriterion::Microstructure,
            best_grade: best.map(|i| grades[i].code.clone()),
            findings,
        });
    } else {
        reasons.push("columnar fraction not measured: microstructure not checked".into());
    }

    let index = |code: &Option<String>| {
        code.as_ref()
            .and_then(|c| grades.iter().position(|g| &g.code == c))
    };
    let worst = checks
        .iter()
        .map(|c| index(&c.best_grade))
        .try_fold(0usize, |acc, i| i.map(|i| acc.max(i)));
    for c in &checks {
        let head = match &c.best_grade {
            Some(code) => format!("{:?}: meets {code}", c.criterion),
            None => format!("{:?}: fails every grade", c.criterion),
        };
        if c.findings.is_empty() {
            reasons.push(head);
        } else {
            reasons.push(format!("{head} ({})", c.findings.join("; ")));
        }
    }
    let grade = worst.map(|i| grades[i].code.clone());
    match &grade {
        Some(code) => {
            let limiting: Vec<String> = checks
                .iter()
                .filter(|c| c.best_grade.as_ref() == Some(code))
                .map(|c| format!("{:?}", c.criterion))
                .collect();
            reasons.push(format!(
                "verdict: pass, grade {code} (limited by {})",
                limiting.join(", ")
            ));
        }
        None => {
            let failing: Vec<String> = checks
                .iter()
                .filter(|c| c.best_grade.is_none())
                .map(|c| format!("{:?}", c.criterion))
                .collect();
            reasons.push(format!("verdict: fail ({})", failing.join(", ")));
        }
    }
    Ok(FlakeQcReport {
        thickness: stats,
        checks,
        pass: grade.is_some(),
        grade,
        reasons,
    })
}
