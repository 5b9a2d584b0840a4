//! The plant file (TOML): grades and their demand, batching stations, AGVs, melting and
//! strip-casting lines with their cycle-time distributions, breakdowns and maintenance, and the
//! lab. Every number is checked; an error names the field, the value and what is allowed.

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal, Triangular};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use lodestone_alloy::melt_loss::VapourPressure;
use lodestone_alloy::Grade as AlloyGrade;
use lodestone_chem::Element;

use crate::error::{Result, TwinError};

/// A random duration, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum Duration {
    /// Always the same.
    Fixed {
        /// Seconds.
        s: f64,
    },
    /// Triangular between `min_s` and `max_s`, most likely `mode_s`.
    Triangular {
        /// Shortest.
        min_s: f64,
        /// Most likely.
        mode_s: f64,
        /// Longest.
        max_s: f64,
    },
    /// Exponential with this mean.
    Exponential {
        /// Mean, s.
        mean_s: f64,
    },
    /// Log-normal with this mean and standard deviation (of the duration itself).
    Lognormal {
        /// Mean, s.
        mean_s: f64,
        /// Standard deviation, s.
        sd_s: f64,
    },
}

impl Duration {
    /// Checks the parameters; `field` names the entry in errors.
    pub fn check(&self, field: &str) -> Result<()> {
        let positive = |name: &str, v: f64| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(TwinError::invalid(
                    &format!("{field}.{name}"),
                    v,
                    "a time > 0 s",
                ))
            }
        };
        match *self {
            Duration::Fixed { s } => {
                if !(s >= 0.0 && s.is_finite()) {
                    return Err(TwinError::invalid(&format!("{field}.s"), s, "a time ≥ 0 s"));
                }
            }
            Duration::Triangular {
                min_s,
                mode_s,
                max_s,
            } => {
                if !(min_s >= 0.0 && min_s <= mode_s && mode_s <= max_s && max_s.is_finite()) {
                    return Err(TwinError::invalid(
                        field,
                        format!("min_s {min_s}, mode_s {mode_s}, max_s {max_s}"),
                        "0 ≤ min_s ≤ mode_s ≤ max_s",
                    ));
                }
            }
            Duration::Exponential { mean_s } => positive("mean_s", mean_s)?,
            Duration::Lognormal { mean_s, sd_s } => {
                positive("mean_s", mean_s)?;
                positive("sd_s", sd_s)?;
            }
        }
        Ok(())
    }

    /// The mean duration, s.
    pub fn mean_s(&self) -> f64 {
        match *self {
            Duration::Fixed { s } => s,
            Duration::Triangular {
                min_s,
                mode_s,
                max_s,
            } => (min_s + mode_s + max_s) / 3.0,
            Duration::Exponential { mean_s } | Duration::Lognormal { mean_s, .. } => mean_s,
        }
    }

    /// Draws a duration (parameters checked beforehand).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Duration::Fixed { s } => s,
            Duration::Triangular {
                min_s,
                mode_s,
                max_s,
            } => {
                if max_s <= min_s {
                    min_s
                } else {
                    Triangular::new(min_s, max_s, mode_s)
                        .map(|d| d.sample(rng))
                        .unwrap_or(mode_s)
                }
            }
            Duration::Exponential { mean_s } => Exp::new(1.0 / mean_s)
                .map(|d| d.sample(rng))
                .unwrap_or(mean_s),
            Duration::Lognormal { mean_s, sd_s } => {
                // Parameters of the underlying normal from the mean and sd of the duration.
                let sigma2 = (1.0 + (sd_s / mean_s).powi(2)).ln();
                let mu = mean_s.ln() - sigma2 / 2.0;
                LogNormal::new(mu, sigma2.sqrt())
                    .map(|d| d.sample(rng))
                    .unwrap_or(mean_s)
            }
        }
    }
}

/// Simulation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationSettings {
    /// Days simulated after the warm-up.
    #[serde(default = "default_days")]
    pub days: f64,
    /// Days simulated first and discarded from the statistics.
    #[serde(default)]
    pub warmup_days: f64,
    /// Seed of the first replication; replication i uses seed + i.
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_days() -> f64 {
    365.0
}

fn default_seed() -> u64 {
    1
}

/// A product grade and its demand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grade {
    /// Name (e.g. `N52`).
    pub name: String,
    /// Demand, t per month (orders are released at the start of each month).
    pub demand_t_per_month: f64,
    /// Raw materials weighed per heat (sets the batching time).
    pub materials_per_heat: u32,
    /// The charge: kg of each `[[material]]` per kg charged (adds up to 1). Optional: without
    /// it the run tracks no raw-material lots.
    #[serde(default)]
    pub bill_kg_per_kg: BTreeMap<String, f64>,
    /// The grade's specification in the alloy plan format (`aim_wt_pct`, `quality`, `rules`,
    /// …). With it each charge is computed by the alloy optimiser from the open lots of
    /// `materials` at least cost, and the lab judges every heat against it.
    #[serde(default)]
    pub spec: Option<AlloyGrade>,
    /// Materials the optimiser may charge for this grade (names of `[[material]]`); needed
    /// with `spec`.
    #[serde(default)]
    pub materials: Vec<String>,
}

/// A normally distributed quantity (truncated at 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub sd: f64,
}

impl Spread {
    fn check(&self, field: &str, allowed_mean: &str) -> Result<()> {
        positive(&format!("{field}.mean"), self.mean, allowed_mean)?;
        if !(self.sd >= 0.0 && self.sd.is_finite()) {
            return Err(TwinError::invalid(
                &format!("{field}.sd"),
                self.sd,
                "a standard deviation ≥ 0",
            ));
        }
        Ok(())
    }

    /// Draws a value, never below 0.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        if self.sd <= 0.0 {
            return self.mean;
        }
        rand_distr::Normal::new(self.mean, self.sd)
            .map(|d| d.sample(rng))
            .unwrap_or(self.mean)
            .max(0.0)
    }
}

/// The melting model: losses of each heat by oxidation (oxygen picked up) and evaporation
/// (while the melt is liquid), from the alloy crate's melt-loss model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Melting {
    /// Melt temperature, K.
    pub temperature_k: f64,
    /// Free melt surface, m².
    pub melt_area_m2: f64,
    /// Oxygen picked up per heat, wt% of the melt (heat to heat).
    pub oxygen_pickup_wt_pct: Spread,
    /// Raoultian activity coefficient of each volatile element in the melt (vapour pressures
    /// from Alcock et al. 1984); elements not listed do not evaporate.
    #[serde(default)]
    pub activity_coefficient: BTreeMap<String, f64>,
    /// Gas-side mass-transfer coefficient under an argon backfill, m/s; absent: vacuum.
    #[serde(default)]
    pub gas_mass_transfer_m_per_s: Option<f64>,
    /// Flake per kg of melt poured; the rest is skull and off-size flake.
    pub casting_yield: f64,
}

/// The strip-casting model: each heat's mean flake thickness and, from it, cooling and
/// microstructure (the alloy crate's strip-caster model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Casting {
    /// Heat transfer coefficient flake–wheel, W/(m²·K).
    pub h_w_per_m2k: f64,
    /// Mean flake thickness of a heat, mm (heat to heat).
    pub thickness_mm: Spread,
}

/// A raw material, delivered in lots of a fixed size; the next lot is opened when one is used
/// up (deliveries on time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Material {
    /// Name (e.g. `PrNd-metal`).
    pub name: String,
    /// kg per delivered lot.
    pub lot_kg: f64,
    /// Certificate chemistry, wt% (the nominal of every lot).
    pub composition_wt_pct: BTreeMap<String, f64>,
    /// Lot-to-lot standard deviation of elements of the chemistry, wt%; each lot received is
    /// drawn around the nominal and its certificate carries what was drawn.
    #[serde(default)]
    pub composition_sd_wt_pct: BTreeMap<String, f64>,
    /// Price per kg (any currency) for the optimiser's least-cost charge.
    #[serde(default)]
    pub price_per_kg: f64,
}

/// Automated batching stations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batching {
    /// Stations.
    pub stations: usize,
    /// Time to weigh one material into the charge container.
    pub weigh_per_material: Duration,
    /// Fixed handling time per charge (container in and out).
    pub handling: Duration,
    /// Standard deviation of the weighing error, % of each weighed amount (0: exact). The
    /// actual weights set each heat's mass and chemistry.
    #[serde(default)]
    pub weighing_error_pct: f64,
    /// Scale tolerance, ± % of each aim: a weighing outside it is corrected and weighed again
    /// (one more weighing time). Absent: every weighing is accepted.
    #[serde(default)]
    pub scale_tolerance_pct: Option<f64>,
    /// Hours of the day the batching crew works, `[from_h, to_h]` (may wrap midnight:
    /// `[22, 6]`); outside them no charge is started. Absent: around the clock.
    #[serde(default)]
    pub staffed_h: Option<[f64; 2]>,
}

/// How waiting AGV jobs are chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgvDispatch {
    /// First come, first served.
    #[default]
    Fifo,
    /// Charges for the lines go before drums for the store (a starved line costs output).
    DeliveriesFirst,
}

/// The AGV fleet moving charge containers and flake drums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agvs {
    /// Vehicles.
    pub fleet: usize,
    /// Batching station → melting line, loaded trip including pick-up and drop-off.
    pub batching_to_line: Duration,
    /// Melting line → QC and finished-goods store, with the heat's drums.
    pub line_to_store: Duration,
    /// Dispatch rule for waiting jobs.
    #[serde(default)]
    pub dispatch: AgvDispatch,
    /// A vehicle goes to charge after this many trips...
    #[serde(default)]
    pub charge_every_trips: Option<u32>,
    /// ...for this long.
    #[serde(default)]
    pub charge: Option<Duration>,
}

/// Melting and strip-casting lines (identical).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lines {
    /// Number of lines.
    pub count: usize,
    /// Metal per heat, kg.
    pub heat_kg: f64,
    /// Yield of flake per kg charged (melt and casting losses).
    pub flake_yield: f64,
    /// Charging through the vacuum lock and pump-down.
    pub charge: Duration,
    /// Melting and refining.
    pub melt: Duration,
    /// Pouring onto the wheel (strip casting).
    pub cast: Duration,
    /// Cooling the flake in the receiving chamber before discharge.
    pub cool: Duration,
    /// A wash heat is melted between two grades (extra cycle, no product).
    #[serde(default)]
    pub wash_heat_between_grades: bool,
    /// Mean operating time between failures, h (exponential).
    pub mtbf_h: f64,
    /// Time to repair.
    pub repair: Duration,
    /// Planned maintenance: every this many days...
    #[serde(default)]
    pub maintenance_every_days: Option<f64>,
    /// ...for this long, h.
    #[serde(default)]
    pub maintenance_h: Option<f64>,
}

/// The QC laboratory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    /// Analysts (or ICP instruments) working in parallel.
    pub analysts: usize,
    /// Sample preparation and analysis per heat.
    pub analysis: Duration,
    /// Hours of the day the lab works, `[from_h, to_h]` (may wrap midnight); outside them no
    /// analysis is started. Absent: around the clock.
    #[serde(default)]
    pub staffed_h: Option<[f64; 2]>,
    /// Relative standard deviation of each measurement (ICP-OES, thickness gauge), % of the
    /// value.
    #[serde(default)]
    pub analytical_sd_rel_pct: f64,
}

/// Hydrogen decrepitation: flake is hydrided and degassed in furnace loads of several heats
/// before it is sampled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decrepitation {
    /// HD furnaces.
    pub furnaces: usize,
    /// Heats per furnace load.
    pub heats_per_load: u32,
    /// Load, hydride, dehydrogenate, cool, unload.
    pub cycle: Duration,
    /// A part load is started after waiting this long for more heats, h.
    pub max_wait_h: f64,
}

/// A whole plant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plant {
    /// Plant name.
    pub name: String,
    /// Run settings.
    #[serde(default)]
    pub simulation: SimulationSettings,
    /// Grades and demand.
    pub grade: Vec<Grade>,
    /// Heats per order (a campaign is consecutive orders of one grade on one line).
    pub heats_per_order: u32,
    /// Batching.
    pub batching: Batching,
    /// AGVs.
    pub agv: Agvs,
    /// Melting lines.
    pub lines: Lines,
    /// Laboratory.
    pub lab: Lab,
    /// Raw materials (for lot tracking and heat chemistry).
    #[serde(default)]
    pub material: Vec<Material>,
    /// Melt-loss model; absent: flake = charge × `lines.flake_yield`.
    #[serde(default)]
    pub melting: Option<Melting>,
    /// Casting model; absent: no flake thickness or microstructure.
    #[serde(default)]
    pub casting: Option<Casting>,
    /// Hydrogen decrepitation between casting and the lab; absent: none.
    #[serde(default)]
    pub hydrogen_decrepitation: Option<Decrepitation>,
}

impl Default for SimulationSettings {
    fn default() -> Self {
        SimulationSettings {
            days: default_days(),
            warmup_days: 0.0,
            seed: default_seed(),
        }
    }
}

fn count(field: &str, n: usize) -> Result<()> {
    if n == 0 {
        return Err(TwinError::invalid(field, 0, "at least 1"));
    }
    Ok(())
}

fn positive(field: &str, v: f64, allowed: &str) -> Result<()> {
    if !(v > 0.0 && v.is_finite()) {
        return Err(TwinError::invalid(field, v, allowed));
    }
    Ok(())
}

impl Plant {
    /// Reads and checks a plant file; `source` names it in errors.
    pub fn from_toml(source: &str, text: &str) -> Result<Plant> {
        let plant: Plant =
            toml::from_str(text).map_err(|e| TwinError::File(format!("{source}: {e}")))?;
        plant
            .check()
            .map_err(|e| TwinError::File(format!("{source}: {e}")))?;
        Ok(plant)
    }

    /// Drops the heats' metallurgy (optimiser charges, lot tracking, melt loss, casting, lab
    /// verdicts): the logistics model alone, for fast capacity studies and peer comparisons.
    /// Every heat then makes `heat_kg × flake_yield` of flake and passes the lab.
    pub fn logistics_only(&mut self) {
        for g in &mut self.grade {
            g.spec = None;
            g.materials.clear();
            g.bill_kg_per_kg.clear();
        }
        self.material.clear();
        self.melting = None;
        self.casting = None;
    }

    /// Checks every field.
    pub fn check(&self) -> Result<()> {
        let s = &self.simulation;
        positive("simulation.days", s.days, "a number of days > 0")?;
        if !(s.warmup_days >= 0.0 && s.warmup_days.is_finite()) {
            return Err(TwinError::invalid(
                "simulation.warmup_days",
                s.warmup_days,
                "a number of days ≥ 0",
            ));
        }
        if self.grade.is_empty() {
            return Err(TwinError::invalid(
                "grade",
                "none",
                "at least one [[grade]]",
            ));
        }
        for (i, g) in self.grade.iter().enumerate() {
            if g.name.trim().is_empty() {
                return Err(TwinError::invalid(
                    &format!("grade[{i}].name"),
                    "''",
                    "a name",
                ));
            }
            if !(g.demand_t_per_month >= 0.0 && g.demand_t_per_month.is_finite()) {
                return Err(TwinError::invalid(
                    &format!("grade[{i}].demand_t_per_month"),
                    g.demand_t_per_month,
                    "a demand ≥ 0 t/month",
                ));
            }
            if g.materials_per_heat == 0 {
                return Err(TwinError::invalid(
                    &format!("grade[{i}].materials_per_heat"),
                    0,
                    "at least 1",
                ));
            }
            if self.grade[..i].iter().any(|o| o.name == g.name) {
                return Err(TwinError::invalid(
                    &format!("grade[{i}].name"),
                    format!("'{}' twice", g.name),
                    "each grade once",
                ));
            }
        }
        for (i, m) in self.material.iter().enumerate() {
            let field = format!("material[{i}]");
            if m.name.trim().is_empty() || self.material[..i].iter().any(|o| o.name == m.name) {
                return Err(TwinError::invalid(
                    &format!("{field}.name"),
                    format!("'{}'", m.name),
                    "a name used once",
                ));
            }
            positive(&format!("{field}.lot_kg"), m.lot_kg, "a lot size > 0 kg")?;
            let mut total = 0.0;
            for (element, wt) in &m.composition_wt_pct {
                if !(0.0..=100.0).contains(wt) {
                    return Err(TwinError::invalid(
                        &format!("{field}.composition_wt_pct.{element}"),
                        wt,
                        "a mass fraction between 0 and 100 wt%",
                    ));
                }
                total += wt;
            }
            if total > 100.5 {
                return Err(TwinError::invalid(
                    &format!("{field}.composition_wt_pct"),
                    format!("a total of {total:.2} wt%"),
                    "at most 100 wt%",
                ));
            }
            for element in m.composition_wt_pct.keys() {
                element_symbol(&format!("{field}.composition_wt_pct.{element}"), element)?;
            }
            for (element, sd) in &m.composition_sd_wt_pct {
                let f = format!("{field}.composition_sd_wt_pct.{element}");
                if !m.composition_wt_pct.contains_key(element) {
                    return Err(TwinError::invalid(
                        &f,
                        format!("'{element}'"),
                        "an element of the material's composition_wt_pct",
                    ));
                }
                if !(*sd >= 0.0 && *sd <= 10.0) {
                    return Err(TwinError::invalid(
                        &f,
                        sd,
                        "a standard deviation of 0–10 wt%",
                    ));
                }
            }
            if !(m.price_per_kg >= 0.0 && m.price_per_kg.is_finite()) {
                return Err(TwinError::invalid(
                    &format!("{field}.price_per_kg"),
                    m.price_per_kg,
                    "a price ≥ 0",
                ));
            }
        }
        for (i, g) in self.grade.iter().enumerate() {
            let Some(spec) = &g.spec else {
                if !g.materials.is_empty() {
                    return Err(TwinError::invalid(
                        &format!("grade[{i}].materials"),
                        format!("{:?}", g.materials),
                        "a list only together with [grade.spec] (the optimiser's target)",
                    ));
                }
                continue;
            };
            spec.validate()
                .map_err(|e| TwinError::invalid(&format!("grade[{i}].spec"), "", &e.to_string()))?;
            if !g.bill_kg_per_kg.is_empty() {
                return Err(TwinError::invalid(
                    &format!("grade[{i}].bill_kg_per_kg"),
                    "given with [grade.spec]",
                    "either a fixed bill or a spec for the optimiser, not both",
                ));
            }
            if g.materials.is_empty() {
                return Err(TwinError::invalid(
                    &format!("grade[{i}].materials"),
                    "[]",
                    "the [[material]] names the optimiser may charge",
                ));
            }
            for (j, name) in g.materials.iter().enumerate() {
                if !self.material.iter().any(|m| &m.name == name) {
                    return Err(TwinError::invalid(
                        &format!("grade[{i}].materials[{j}]"),
                        format!("'{name}'"),
                        "a material defined in [[material]]",
                    ));
                }
            }
        }
        for (i, g) in self.grade.iter().enumerate() {
            if g.bill_kg_per_kg.is_empty() {
                continue;
            }
            let mut total = 0.0;
            for (name, share) in &g.bill_kg_per_kg {
                let field = format!("grade[{i}].bill_kg_per_kg.{name}");
                if !self.material.iter().any(|m| &m.name == name) {
                    return Err(TwinError::invalid(
                        &field,
                        format!("'{name}'"),
                        "a material defined in [[material]]",
                    ));
                }
                positive(&field, *share, "a share > 0 kg/kg")?;
                total += share;
            }
            if (total - 1.0).abs() > 1e-3 {
                return Err(TwinError::invalid(
                    &format!("grade[{i}].bill_kg_per_kg"),
                    format!("shares adding up to {total:.4}"),
                    "shares adding up to 1 kg per kg charged",
                ));
            }
        }
        if self.heats_per_order == 0 {
            return Err(TwinError::invalid("heats_per_order", 0, "at least 1"));
        }
        count("batching.stations", self.batching.stations)?;
        self.batching
            .weigh_per_material
            .check("batching.weigh_per_material")?;
        self.batching.handling.check("batching.handling")?;
        let sd = self.batching.weighing_error_pct;
        if !(0.0..=10.0).contains(&sd) {
            return Err(TwinError::invalid(
                "batching.weighing_error_pct",
                sd,
                "a standard deviation between 0 and 10 % of the weighed amount",
            ));
        }
        count("agv.fleet", self.agv.fleet)?;
        self.agv.batching_to_line.check("agv.batching_to_line")?;
        self.agv.line_to_store.check("agv.line_to_store")?;
        match (self.agv.charge_every_trips, &self.agv.charge) {
            (None, None) => {}
            (Some(trips), Some(d)) => {
                if trips == 0 {
                    return Err(TwinError::invalid(
                        "agv.charge_every_trips",
                        0,
                        "at least 1",
                    ));
                }
                d.check("agv.charge")?;
            }
            _ => {
                return Err(TwinError::invalid(
                    "agv.charge_every_trips / charge",
                    "only one given",
                    "both or neither",
                ))
            }
        }
        check_staffed("batching.staffed_h", self.batching.staffed_h)?;
        if let Some(tol) = self.batching.scale_tolerance_pct {
            // Below about a third of a standard deviation almost every weighing is redone.
            let floor = self.batching.weighing_error_pct / 3.0;
            if !(tol > floor && tol.is_finite()) {
                return Err(TwinError::invalid(
                    "batching.scale_tolerance_pct",
                    tol,
                    &format!("a tolerance above a third of weighing_error_pct ({floor:.3} %)"),
                ));
            }
        }
        let l = &self.lines;
        count("lines.count", l.count)?;
        positive("lines.heat_kg", l.heat_kg, "a heat size > 0 kg")?;
        if !(l.flake_yield > 0.0 && l.flake_yield <= 1.0) {
            return Err(TwinError::invalid(
                "lines.flake_yield",
                l.flake_yield,
                "a fraction in (0, 1]",
            ));
        }
        l.charge.check("lines.charge")?;
        l.melt.check("lines.melt")?;
        l.cast.check("lines.cast")?;
        l.cool.check("lines.cool")?;
        positive(
            "lines.mtbf_h",
            l.mtbf_h,
            "a mean time between failures > 0 h",
        )?;
        l.repair.check("lines.repair")?;
        match (l.maintenance_every_days, l.maintenance_h) {
            (None, None) => {}
            (Some(every), Some(h)) => {
                positive(
                    "lines.maintenance_every_days",
                    every,
                    "an interval > 0 days",
                )?;
                positive("lines.maintenance_h", h, "a duration > 0 h")?;
                if h >= every * 24.0 {
                    return Err(TwinError::invalid(
                        "lines.maintenance_h",
                        h,
                        "less than the interval between maintenances",
                    ));
                }
            }
            _ => {
                return Err(TwinError::invalid(
                    "lines.maintenance_every_days / maintenance_h",
                    "only one given",
                    "both or neither",
                ))
            }
        }
        count("lab.analysts", self.lab.analysts)?;
        self.lab.analysis.check("lab.analysis")?;
        check_staffed("lab.staffed_h", self.lab.staffed_h)?;
        if !(0.0..=20.0).contains(&self.lab.analytical_sd_rel_pct) {
            return Err(TwinError::invalid(
                "lab.analytical_sd_rel_pct",
                self.lab.analytical_sd_rel_pct,
                "a relative standard deviation of 0–20 %",
            ));
        }
        if let Some(m) = &self.melting {
            positive(
                "melting.temperature_k",
                m.temperature_k,
                "a temperature > 0 K",
            )?;
            if !(m.melt_area_m2 >= 0.0 && m.melt_area_m2.is_finite()) {
                return Err(TwinError::invalid(
                    "melting.melt_area_m2",
                    m.melt_area_m2,
                    "an area ≥ 0 m²",
                ));
            }
            m.oxygen_pickup_wt_pct
                .check("melting.oxygen_pickup_wt_pct", "a pickup > 0 wt%")?;
            for (element, gamma) in &m.activity_coefficient {
                let field = format!("melting.activity_coefficient.{element}");
                let e = element_symbol(&field, element)?;
                if VapourPressure::alcock_1984(e).is_none() {
                    return Err(TwinError::invalid(
                        &field,
                        format!("'{element}'"),
                        "an element with a vapour pressure in Alcock et al. 1984 (Y, La, Ce, Pr, Nd, Gd, Tb, Dy, Ho, Al, Fe, Co, Ni, Cu, Ga)",
                    ));
                }
                positive(&field, *gamma, "an activity coefficient > 0")?;
            }
            if let Some(k) = m.gas_mass_transfer_m_per_s {
                positive(
                    "melting.gas_mass_transfer_m_per_s",
                    k,
                    "a mass-transfer coefficient > 0 m/s",
                )?;
            }
            if !(m.casting_yield > 0.0 && m.casting_yield <= 1.0) {
                return Err(TwinError::invalid(
                    "melting.casting_yield",
                    m.casting_yield,
                    "a fraction in (0, 1]",
                ));
            }
        }
        if let Some(c) = &self.casting {
            positive(
                "casting.h_w_per_m2k",
                c.h_w_per_m2k,
                "a heat transfer coefficient > 0 W/(m²·K)",
            )?;
            c.thickness_mm
                .check("casting.thickness_mm", "a thickness > 0 mm")?;
            if c.thickness_mm.mean > 5.0 {
                return Err(TwinError::invalid(
                    "casting.thickness_mm.mean",
                    c.thickness_mm.mean,
                    "a strip-cast flake thickness of at most 5 mm",
                ));
            }
        }
        if let Some(hd) = &self.hydrogen_decrepitation {
            count("hydrogen_decrepitation.furnaces", hd.furnaces)?;
            if hd.heats_per_load == 0 {
                return Err(TwinError::invalid(
                    "hydrogen_decrepitation.heats_per_load",
                    0,
                    "at least 1",
                ));
            }
            hd.cycle.check("hydrogen_decrepitation.cycle")?;
            if !(hd.max_wait_h >= 0.0 && hd.max_wait_h.is_finite()) {
                return Err(TwinError::invalid(
                    "hydrogen_decrepitation.max_wait_h",
                    hd.max_wait_h,
                    "a time ≥ 0 h",
                ));
            }
        }
        crate::metallurgy::check_charges(self)?;
        Ok(())
    }
}

fn check_staffed(field: &str, hours: Option<[f64; 2]>) -> Result<()> {
    let Some([from, to]) = hours else {
        return Ok(());
    };
    for (i, h) in [from, to].into_iter().enumerate() {
        if !(0.0..=24.0).contains(&h) {
            return Err(TwinError::invalid(
                &format!("{field}[{i}]"),
                h,
                "an hour of the day from 0 to 24",
            ));
        }
    }
    if (from - to).abs() < 1e-9 || (from == 0.0 && to == 24.0) {
        return Err(TwinError::invalid(
            field,
            format!("[{from}, {to}]"),
            "a working window shorter than a day (omit the key for around the clock)",
        ));
    }
    Ok(())
}

/// Whether hour-of-day `h` is inside a staffed window `[from, to]` (wrapping midnight when
/// `from > to`).
pub fn staffed_at(window: [f64; 2], h: f64) -> bool {
    let [from, to] = window;
    if from < to {
        h >= from && h < to
    } else {
        h >= from || h < to
    }
}

fn element_symbol(field: &str, symbol: &str) -> Result<Element> {
    Element::from_symbol(symbol).map_err(|_| {
        TwinError::invalid(
            field,
            format!("'{symbol}'"),
            "an element symbol (Nd, Fe, B, …)",
        )
    })
}
