//! Melt losses of a heat (烧损): rare earth bound as oxide by the oxygen the melt picks up,
//! elements evaporated from the free melt surface (Hertz–Knudsen), the per-element recovery
//! factors η_i = 1 − loss_i / charged_i the charge optimiser uses, and recovery factors fitted
//! per furnace from heat history.
//!
//! No published percentage allowance exists (research notes alloy.md §1.3), so losses are
//! predicted from physics and calibrated against the assays of each furnace:
//!
//! ```text
//! oxidation    Δm_i = y_i · M_i · n_O / Σ_j y_j ν_j          y_i: mole fraction of RE i among RE
//!                                                            ν_j: O atoms per RE atom of its oxide
//! evaporation  J_i = (γ_i x_i p_i* − p_i) · K_i ≥ 0          Hertz–Knudsen, K_i = α √(M_i / 2πRT)
//!              dm_i/dt = −A J_i with x_i = m_i / (M_i N)
//!              ⇒ Δm_i = (m_i0 − m_i,eq) (1 − e^(−λ_i t)),   λ_i = A K_i γ_i p_i* / (M_i N)
//! recovery     η_i = 1 − (Δm_i,ox + Δm_i,evap) / m_i0
//! fit          y_k = η c_k            (or y_k = η c_k − L)   least squares over heats k
//! ```
//!
//! Every equation, parameter and source: `docs/alloy-melt-loss.md`. Uncertain values (activity
//! coefficients, gas-side mass transfer) are parameters, never constants.

use crate::error::AlloyError;
use lodestone_chem::{ChemError, Element, Oxide};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::f64::consts::PI;
use thiserror::Error;

/// Molar gas constant R in J/(mol·K) (CODATA 2018, exact).
pub const GAS_CONSTANT_J_PER_MOL_K: f64 = 8.314_462_618;

/// log10(101 325): converts a vapour pressure from log10(p/atm) to log10(p/Pa).
const LOG10_PA_PER_ATM: f64 = 5.005_716_612_413_731;

/// An error in melt-loss inputs or a heat history that cannot be fitted. Every message names the
/// field, the value and what is allowed.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum MeltLossError {
    /// A number is out of its allowed range (NaN, infinite, negative, zero, too large).
    #[error("{field}: {value} is not allowed; expected {allowed}")]
    Invalid {
        /// Dotted path of the field, e.g. `charged_kg.Nd` or `heats[3].output.wt_pct.Nd`.
        field: String,
        /// The value found.
        value: f64,
        /// What would be accepted.
        allowed: &'static str,
    },
    /// More oxygen was picked up than the rare earths of the melt can bind as oxide.
    #[error(
        "oxygen_pickup_kg: {oxygen_pickup_kg} kg is not allowed; expected at most \
         {capacity_kg} kg, the oxygen that binds all rare earth in the melt (oxide form {form:?})"
    )]
    OxygenExceedsRareEarth {
        /// The oxygen pick-up given, kg.
        oxygen_pickup_kg: f64,
        /// Oxygen that binds every kg of rare earth in the melt, kg.
        capacity_kg: f64,
        /// The oxide form assumed.
        form: OxideForm,
    },
    /// Too few usable heats to fit an element's recovery (and its standard error).
    #[error(
        "heats{}: {heats} usable heat(s) charging and assaying {element}; expected at least \
         {required} for the {model:?} fit",
        furnace_label(furnace)
    )]
    TooFewHeats {
        /// The furnace, or `None` for a fit pooled over all furnaces.
        furnace: Option<String>,
        /// The element.
        element: Element,
        /// Heats that charge the element and assay it.
        heats: usize,
        /// Heats the model needs (parameters + 1).
        required: usize,
        /// The model asked for.
        model: RecoveryModel,
    },
    /// The heats do not determine the parameters (e.g. the same charge in every heat).
    #[error(
        "heats{}: {element} cannot be fitted: {reason}",
        furnace_label(furnace)
    )]
    DegenerateHistory {
        /// The furnace, or `None` for a fit pooled over all furnaces.
        furnace: Option<String>,
        /// The element.
        element: Element,
        /// Why, and what would be accepted.
        reason: String,
    },
    /// A heat charges an element that other heats of the group assay, but has no assay for it.
    #[error(
        "heats[{index}].output ({heat}): no assay for {element}; expected an assay for every \
         element the heat charges that is fitted"
    )]
    MissingAssay {
        /// Index of the heat in the history.
        index: usize,
        /// Heat id.
        heat: String,
        /// The element.
        element: Element,
    },
    /// A heat history with no heats.
    #[error("heats: an empty history is not allowed; expected at least one heat")]
    EmptyHistory,
    /// An error from the chemistry layer (e.g. the oxide of an element that is not a rare earth).
    #[error(transparent)]
    Chem(#[from] ChemError),
}

fn furnace_label(furnace: &Option<String>) -> String {
    furnace
        .as_ref()
        .map(|f| format!(" of furnace {f:?}"))
        .unwrap_or_default()
}

impl From<MeltLossError> for AlloyError {
    /// Maps onto [`AlloyError::Invalid`] so callers of the charge optimiser see one error type.
    fn from(e: MeltLossError) -> Self {
        let message = e.to_string();
        match e {
            MeltLossError::Invalid {
                field,
                value,
                allowed,
            } => AlloyError::invalid(&field, value, allowed),
            MeltLossError::OxygenExceedsRareEarth {
                oxygen_pickup_kg,
                capacity_kg,
                ..
            } => AlloyError::invalid(
                "oxygen_pickup_kg",
                oxygen_pickup_kg,
                &format!("at most {capacity_kg} kg (all rare earth in the melt bound as oxide)"),
            ),
            MeltLossError::TooFewHeats {
                element,
                heats,
                required,
                ..
            } => AlloyError::invalid(
                "heats",
                format!("{heats} usable heat(s) for {element}"),
                &format!("at least {required}"),
            ),
            MeltLossError::MissingAssay {
                index,
                heat,
                element,
            } => AlloyError::invalid(
                &format!("heats[{index}].output"),
                format!("no {element} in the assay of heat {heat}"),
                "an assay for every fitted element the heat charges",
            ),
            MeltLossError::DegenerateHistory {
                element, reason, ..
            } => AlloyError::invalid("heats", format!("the history of {element}"), &reason),
            MeltLossError::EmptyHistory => {
                AlloyError::invalid("heats", "an empty history", "at least one heat")
            }
            MeltLossError::Chem(_) => AlloyError::invalid("element", message, "a rare earth"),
        }
    }
}

fn invalid(field: impl Into<String>, value: f64, allowed: &'static str) -> MeltLossError {
    MeltLossError::Invalid {
        field: field.into(),
        value,
        allowed,
    }
}

fn non_negative(field: impl Into<String>, value: f64) -> Result<f64, MeltLossError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(invalid(field, value, "a finite number ≥ 0"))
    }
}

fn positive(field: impl Into<String>, value: f64) -> Result<f64, MeltLossError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(invalid(field, value, "a finite number > 0"))
    }
}

fn validate_masses(field: &str, kg: &BTreeMap<Element, f64>) -> Result<(), MeltLossError> {
    for (e, &m) in kg {
        non_negative(format!("{field}.{e}"), m)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Oxidation
// ---------------------------------------------------------------------------------------------

/// Which oxide the picked-up oxygen forms with each rare earth.
///
/// The default, [`OxideForm::Sesquioxide`], is RE₂O₃ for every rare earth (Pr₂O₃, Tb₂O₃ and
/// Ce₂O₃ included): the melt holds metallic rare earth in large excess, and in contact with the
/// metal the higher oxides Pr₆O₁₁, Tb₄O₇ and CeO₂, which form by calcination in air, are reduced
/// to the sesquioxide. [`OxideForm::AsSold`] uses the oxide as sold and assayed
/// ([`Oxide::standard`]) for comparison with REO-basis accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OxideForm {
    /// RE₂O₃ for every rare earth: Nd 6.0105, Pr 5.8715, Dy 6.7713, Tb 6.6223 kg RE per kg O.
    #[default]
    Sesquioxide,
    /// The standard oxide of [`Oxide::standard`]: CeO₂, Pr₆O₁₁ (4.8040 kg Pr per kg O), Tb₄O₇
    /// (5.6763 kg Tb per kg O), RE₂O₃ for the others.
    AsSold,
}

impl OxideForm {
    /// The oxide of rare earth `e` in this form.
    ///
    /// # Errors
    /// [`MeltLossError::Chem`] ([`ChemError::NotRareEarth`]) if `e` is not a rare earth.
    pub fn oxide(self, e: Element) -> Result<Oxide, MeltLossError> {
        let standard = Oxide::standard(e)?;
        Ok(match self {
            OxideForm::AsSold => standard,
            OxideForm::Sesquioxide => Oxide::new(e, 2, 3)?,
        })
    }
}

/// kg of metal bound per kg of oxygen in `oxide` M_mO_n: m·M_M / (n·M_O).
///
/// Nd₂O₃: 2 × 144.242 / (3 × 15.999) = 6.0105 kg Nd per kg O (alloy.md §1.3).
pub fn metal_per_oxygen_kg_per_kg(oxide: &Oxide) -> f64 {
    f64::from(oxide.metal_atoms) * oxide.element.molar_mass_g_per_mol()
        / (f64::from(oxide.oxygen_atoms) * Element::O.molar_mass_g_per_mol())
}

/// Oxygen picked up, kg, from the rise of the melt's O content: Δw_O / 100 × m_melt.
///
/// alloy.md §6(a) A6: 0.03 wt% in a 600 kg heat is 0.18 kg.
///
/// # Errors
/// [`MeltLossError::Invalid`] unless `rise_wt_pct` is in [0, 100] and `melt_kg` is finite > 0.
pub fn oxygen_pickup_kg(rise_wt_pct: f64, melt_kg: f64) -> Result<f64, MeltLossError> {
    if !(rise_wt_pct.is_finite() && (0.0..=100.0).contains(&rise_wt_pct)) {
        return Err(invalid("rise_wt_pct", rise_wt_pct, "a wt% in [0, 100]"));
    }
    positive("melt_kg", melt_kg)?;
    Ok(rise_wt_pct / 100.0 * melt_kg)
}

/// Oxygen that binds every kg of rare earth in the melt, kg: Σ_i (m_i / M_i) ν_i M_O, with ν_i
/// the O atoms per RE atom of the oxide in `form`.
///
/// # Errors
/// [`MeltLossError::Invalid`] for a negative or non-finite mass in `melt_kg`.
pub fn oxygen_capacity_kg(
    melt_kg: &BTreeMap<Element, f64>,
    form: OxideForm,
) -> Result<f64, MeltLossError> {
    validate_masses("charged_kg", melt_kg)?;
    let mut capacity = 0.0;
    for (&e, &m) in melt_kg.iter().filter(|(e, _)| e.is_rare_earth()) {
        capacity += m / metal_per_oxygen_kg_per_kg(&form.oxide(e)?);
    }
    Ok(capacity)
}

/// Rare earth bound as oxide by `oxygen_pickup_kg` of oxygen, kg per rare earth of the melt.
///
/// All picked-up oxygen binds rare earth (their oxides are the most stable in the melt), shared
/// by mole fraction: the moles of RE i oxidised are y_i · N_ox, with y_i = n_i / Σ_j n_j the mole
/// fraction of i among the rare earths and N_ox = n_O / Σ_j y_j ν_j, so that the oxygen balances:
///
/// ```text
/// Δm_i = y_i · M_i · n_O / Σ_j y_j ν_j,    n_O = m_O / M_O,    ν_j = O atoms per RE atom
/// ```
///
/// With one rare earth this is Δm = m_O × [`metal_per_oxygen_kg_per_kg`]: 0.18 kg O binds
/// 1.082 kg Nd as Nd₂O₃ (alloy.md §6(a) A6). Every rare earth with mass > 0 appears in the
/// result (0 when no oxygen is picked up); other elements do not.
///
/// # Errors
/// [`MeltLossError::Invalid`] for a negative or non-finite mass or pick-up;
/// [`MeltLossError::OxygenExceedsRareEarth`] if the pick-up exceeds [`oxygen_capacity_kg`]
/// (including any pick-up by a melt without rare earth).
pub fn oxidation_loss_kg(
    melt_kg: &BTreeMap<Element, f64>,
    oxygen_pickup_kg: f64,
    form: OxideForm,
) -> Result<BTreeMap<Element, f64>, MeltLossError> {
    non_negative("oxygen_pickup_kg", oxygen_pickup_kg)?;
    let capacity_kg = oxygen_capacity_kg(melt_kg, form)?;
    if oxygen_pickup_kg > capacity_kg {
        return Err(MeltLossError::OxygenExceedsRareEarth {
            oxygen_pickup_kg,
            capacity_kg,
            form,
        });
    }
    // (element, mass kg, moles, ν)
    let mut rare_earths = Vec::new();
    for (&e, &m) in melt_kg {
        if e.is_rare_earth() && m > 0.0 {
            let oxide = form.oxide(e)?;
            let nu = f64::from(oxide.oxygen_atoms) / f64::from(oxide.metal_atoms);
            rare_earths.push((e, m, m / e.molar_mass_g_per_mol(), nu));
        }
    }
    let moles: f64 = rare_earths.iter().map(|r| r.2).sum();
    let mut loss = BTreeMap::new();
    if oxygen_pickup_kg == 0.0 || !(moles > 0.0) {
        loss.extend(rare_earths.iter().map(|r| (r.0, 0.0)));
        return Ok(loss);
    }
    let oxygen_per_re: f64 = rare_earths.iter().map(|r| r.2 / moles * r.3).sum();
    let re_oxidised = oxygen_pickup_kg / Element::O.molar_mass_g_per_mol() / oxygen_per_re;
    for (e, m, n, _) in rare_earths {
        let lost = (n / moles * re_oxidised * e.molar_mass_g_per_mol()).min(m);
        loss.insert(e, lost);
    }
    Ok(loss)
}

// ---------------------------------------------------------------------------------------------
// Evaporation
// ---------------------------------------------------------------------------------------------

/// Vapour pressure of a pure element over its condensed phase:
/// `log10(p*/Pa) = a − b_k/T + c·log10(T/K) + d_k3/T³`.
///
/// With `c = d_k3 = 0` this is the two-term Clausius–Clapeyron form `log10 p = A − B/T`. The
/// four-term form is that of Alcock, Itkin & Horrigan, *Can. Metall. Q.* 23 (1984) 309, whose
/// coefficients [`VapourPressure::alcock_1984`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VapourPressure {
    /// Constant term of log10(p/Pa).
    pub a: f64,
    /// Slope B, K: the term −B/T.
    pub b_k: f64,
    /// Coefficient of log10(T/K) (0 in the two-term form).
    #[serde(default)]
    pub c: f64,
    /// Coefficient D of D/T³, K³ (0 in the two-term form).
    #[serde(default)]
    pub d_k3: f64,
}

/// Alcock et al. (1984) coefficients in their own form, log10(p/atm) = A + B/T + C·log10 T +
/// D/T³: (element, A, B, C, D); liquid equations unless noted.
const ALCOCK_1984: [(Element, f64, f64, f64, f64); 15] = [
    (Element::Y, 5.795, -20341.0, 0.0, 0.0),
    (Element::La, 5.911, -21855.0, 0.0, 0.0),
    (Element::Ce, 5.611, -21200.0, 0.0, 0.0),
    (Element::Pr, 4.772, -17315.0, 0.0, 0.0),
    (Element::Nd, 4.912, -15824.0, 0.0, 0.0),
    (Element::Gd, 5.557, -19389.0, 0.0, 0.0),
    (Element::Tb, 5.411, -18639.0, 0.0, 0.0),
    // Solid equations (no liquid equation given); extrapolated above the melting point
    // (Dy 1680 K, Ho 1747 K) they overestimate p* by 2–3 % at 1723 K for Dy.
    (Element::Dy, 9.579, -15336.0, -1.1114, 0.0),
    (Element::Ho, 9.785, -15899.0, -1.1753, 0.0),
    (Element::Al, 5.911, -16211.0, 0.0, 0.0),
    (Element::Fe, 6.347, -19574.0, 0.0, 0.0),
    (Element::Co, 6.488, -20578.0, 0.0, 0.0),
    (Element::Ni, 6.666, -20765.0, 0.0, 0.0),
    (Element::Cu, 5.849, -16415.0, 0.0, 0.0),
    (Element::Ga, 6.754, -13984.0, -0.3413, 0.0),
];

impl VapourPressure {
    /// The two-term form `log10(p*/Pa) = a − b_k/T`.
    pub fn two_term(a: f64, b_k: f64) -> VapourPressure {
        VapourPressure {
            a,
            b_k,
            c: 0.0,
            d_k3: 0.0,
        }
    }

    /// Converts coefficients given as log10(p/atm) = A + B/T + C·log10 T + D/T³ (the sign
    /// convention of Alcock et al. 1984, B < 0) to this type: a = A + log10(101 325), b_k = −B.
    pub fn from_atm_form(a: f64, b: f64, c: f64, d: f64) -> VapourPressure {
        VapourPressure {
            a: a + LOG10_PA_PER_ATM,
            b_k: -b,
            c,
            d_k3: d,
        }
    }

    /// Pure-element vapour pressure from Alcock, Itkin & Horrigan, *Can. Metall. Q.* 23 (1984)
    /// 309 (liquid equations; for Dy and Ho the solid equation, the only one given, extrapolated
    /// above the melting point), for Y, La, Ce, Pr, Nd, Gd, Tb, Dy, Ho, Al, Fe, Co, Ni, Cu and
    /// Ga; `None` for other elements (treated as non-volatile unless given by the caller).
    ///
    /// Nd: log10(p*/Pa) = 9.918 − 15824/T, which gives 0.99, 9.9 and 99 Pa at 1595, 1774 and
    /// 1998 K against the 1, 10 and 100 Pa of alloy.md §1.3.
    pub fn alcock_1984(e: Element) -> Option<VapourPressure> {
        ALCOCK_1984
            .iter()
            .find(|row| row.0 == e)
            .map(|&(_, a, b, c, d)| VapourPressure::from_atm_form(a, b, c, d))
    }

    /// p* in Pa at `temperature_k`: 10^(a − b_k/T + c·log10 T + d_k3/T³). Not validated: a
    /// temperature ≤ 0 or non-finite gives NaN or infinity.
    pub fn pressure_pa(&self, temperature_k: f64) -> f64 {
        let t = temperature_k;
        10f64.powf(self.a - self.b_k / t + self.c * t.log10() + self.d_k3 / (t * t * t))
    }

    fn validate(&self, field: &str) -> Result<(), MeltLossError> {
        for (name, v) in [
            ("a", self.a),
            ("b_k", self.b_k),
            ("c", self.c),
            ("d_k3", self.d_k3),
        ] {
            if !v.is_finite() {
                return Err(invalid(format!("{field}.{name}"), v, "a finite number"));
            }
        }
        Ok(())
    }
}

/// What makes an element evaporate from the melt: its pure vapour pressure and its Raoultian
/// activity coefficient, a_i = γ_i · x_i.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volatility {
    /// Vapour pressure p_i* of the pure element.
    pub vapour_pressure: VapourPressure,
    /// Raoultian activity coefficient γ_i of the element in the melt (dimensionless, > 0).
    /// Uncertain (\[U\]): alloy.md §1.3 gives a_Nd ≈ 0.01–0.07, i.e. γ_Nd ≈ 0.1–0.7 at x_Nd ≈ 0.10;
    /// fit per furnace from assays.
    pub activity_coefficient: f64,
}

impl Volatility {
    fn validate(&self, e: Element) -> Result<(), MeltLossError> {
        self.vapour_pressure
            .validate(&format!("volatility.{e}.vapour_pressure"))?;
        positive(
            format!("volatility.{e}.activity_coefficient"),
            self.activity_coefficient,
        )?;
        Ok(())
    }
}

fn default_evaporation_coefficient() -> f64 {
    1.0
}

/// Furnace conditions for evaporation during one heat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaporationConditions {
    /// Melt temperature T, K (e.g. 1723 K = 1450 °C).
    pub temperature_k: f64,
    /// Free melt surface A, m² (alloy.md §1.3 uses about 0.3 m²).
    pub area_m2: f64,
    /// Time the melt is held liquid, s.
    pub time_s: f64,
    /// Evaporation (condensation) coefficient α in (0, 1]; 1 for clean liquid metals.
    #[serde(default = "default_evaporation_coefficient")]
    pub evaporation_coefficient: f64,
    /// Partial pressure p_i of each element's own vapour in the chamber gas, Pa (absent: 0, a
    /// pumped chamber). This is not the argon pressure: an inert backfill slows evaporation
    /// through `gas_mass_transfer_m_per_s`, not through p_i.
    #[serde(default)]
    pub chamber_partial_pressure_pa: BTreeMap<Element, f64>,
    /// Gas-side mass-transfer coefficient k_g, m/s, for melting under an inert backfill: the
    /// vapour must diffuse through a gas boundary layer, in series with the surface step.
    /// `None` (default): free-molecular evaporation into vacuum. Uncertain (\[U\]): D/δ of the
    /// vapour in argon, no source here; fit per furnace.
    #[serde(default)]
    pub gas_mass_transfer_m_per_s: Option<f64>,
}

impl EvaporationConditions {
    fn validate(&self) -> Result<(), MeltLossError> {
        positive("evaporation.temperature_k", self.temperature_k)?;
        non_negative("evaporation.area_m2", self.area_m2)?;
        non_negative("evaporation.time_s", self.time_s)?;
        let alpha = self.evaporation_coefficient;
        if !(alpha.is_finite() && alpha > 0.0 && alpha <= 1.0) {
            return Err(invalid(
                "evaporation.evaporation_coefficient",
                alpha,
                "a coefficient in (0, 1]",
            ));
        }
        for (e, &p) in &self.chamber_partial_pressure_pa {
            non_negative(format!("evaporation.chamber_partial_pressure_pa.{e}"), p)?;
        }
        if let Some(k) = self.gas_mass_transfer_m_per_s {
            positive("evaporation.gas_mass_transfer_m_per_s", k)?;
        }
        Ok(())
    }
}

/// Evaporation of one element during a heat.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ElementEvaporation {
    /// Vapour pressure p* of the pure element at the melt temperature, Pa.
    pub equilibrium_pressure_pa: f64,
    /// Activity a = γ·x at the start of evaporation.
    pub activity: f64,
    /// Initial flux J, kg/(m²·s).
    pub flux_kg_per_m2_s: f64,
    /// Initial rate J·A, kg/s.
    pub rate_kg_per_s: f64,
    /// Mass evaporated over the hold time, kg.
    pub loss_kg: f64,
}

/// Hertz–Knudsen flux into vacuum, kg/(m²·s):
///
/// ```text
/// J = α · (a · p* − p) · √(M / (2π R T))       (0 when p ≥ a · p*)
/// ```
///
/// with α the evaporation coefficient, a the activity of the element in the melt, p* the pure
/// vapour pressure (Pa), p the partial pressure of the element's vapour over the melt (Pa),
/// M the molar mass (kg/mol) and T the temperature (K). Condensation (p > a·p*) is not modelled.
/// alloy.md §1.3: pure Nd (a = 1) at 1450 °C with p* = 5.2 Pa gives 6.6×10⁻³ kg/(m²·s).
///
/// # Errors
/// [`MeltLossError::Invalid`] unless α is in (0, 1], p*, a and p are finite ≥ 0, and M and T are
/// finite > 0.
pub fn hertz_knudsen_flux_kg_per_m2_s(
    evaporation_coefficient: f64,
    equilibrium_pressure_pa: f64,
    activity: f64,
    partial_pressure_pa: f64,
    molar_mass_g_per_mol: f64,
    temperature_k: f64,
) -> Result<f64, MeltLossError> {
    let alpha = evaporation_coefficient;
    if !(alpha.is_finite() && alpha > 0.0 && alpha <= 1.0) {
        return Err(invalid(
            "evaporation_coefficient",
            alpha,
            "a coefficient in (0, 1]",
        ));
    }
    non_negative("equilibrium_pressure_pa", equilibrium_pressure_pa)?;
    non_negative("activity", activity)?;
    non_negative("partial_pressure_pa", partial_pressure_pa)?;
    positive("molar_mass_g_per_mol", molar_mass_g_per_mol)?;
    positive("temperature_k", temperature_k)?;
    let driving_pa = (activity * equilibrium_pressure_pa - partial_pressure_pa).max(0.0);
    Ok(alpha * driving_pa * knudsen_factor_s_per_m(molar_mass_g_per_mol, temperature_k))
}

/// √(M / 2πRT) in s/m, with M in g/mol.
fn knudsen_factor_s_per_m(molar_mass_g_per_mol: f64, temperature_k: f64) -> f64 {
    (molar_mass_g_per_mol / 1000.0 / (2.0 * PI * GAS_CONSTANT_J_PER_MOL_K * temperature_k)).sqrt()
}

/// Mass-transfer conductance K (s/m) so that J = K · (a·p* − p): the surface (Hertz–Knudsen)
/// step α√(M/2πRT) in series with the gas film k_g·M/(RT), when there is one.
fn conductance_s_per_m(
    alpha: f64,
    molar_mass_g_per_mol: f64,
    temperature_k: f64,
    gas_mass_transfer_m_per_s: Option<f64>,
) -> f64 {
    let surface = alpha * knudsen_factor_s_per_m(molar_mass_g_per_mol, temperature_k);
    match gas_mass_transfer_m_per_s {
        None => surface,
        Some(k_g) => {
            let gas =
                k_g * molar_mass_g_per_mol / 1000.0 / (GAS_CONSTANT_J_PER_MOL_K * temperature_k);
            1.0 / (1.0 / surface + 1.0 / gas)
        }
    }
}

/// Mass evaporated per element over a heat, with the melt depleting as it evaporates.
///
/// Each element with an entry in `volatility` and mass > 0 evaporates with the Hertz–Knudsen
/// flux (in series with the gas film when `gas_mass_transfer_m_per_s` is given),
/// J_i = K_i (γ_i x_i p_i* − p_i), from the free surface A. Its mole fraction
/// x_i = m_i / (M_i N) falls as it evaporates; with the melt's total moles N held at the start
/// value (losses are small next to the melt), dm_i/dt = −A J_i integrates in closed form:
///
/// ```text
/// λ_i     = A K_i γ_i p_i* / (M_i N)                      1/s
/// m_i,eq  = p_i M_i N / (γ_i p_i*)                        mass in equilibrium with p_i
/// Δm_i    = (m_i0 − m_i,eq) (1 − e^(−λ_i t))   if m_i0 > m_i,eq, else 0
/// ```
///
/// For λt ≪ 1 this is the constant-rate Hertz–Knudsen loss J_i(0)·A·t, linear in area and time;
/// it depends on A and t only through A·t, is never negative and never exceeds m_i0. `melt_kg`
/// must list every element of the melt (the balance element too): N = Σ m_j / M_j.
///
/// # Errors
/// [`MeltLossError::Invalid`] for a negative or non-finite mass, a condition out of range (see
/// [`EvaporationConditions`]), non-finite vapour-pressure coefficients, γ ≤ 0, or a vapour
/// pressure that is not finite at the melt temperature.
pub fn evaporation_loss(
    melt_kg: &BTreeMap<Element, f64>,
    volatility: &BTreeMap<Element, Volatility>,
    conditions: &EvaporationConditions,
) -> Result<BTreeMap<Element, ElementEvaporation>, MeltLossError> {
    validate_masses("charged_kg", melt_kg)?;
    conditions.validate()?;
    for (&e, v) in volatility {
        v.validate(e)?;
    }
    let total_mol: f64 = melt_kg
        .iter()
        .map(|(e, &m)| m / e.molar_mass_g_per_mol())
        .sum();
    if !(total_mol > 0.0) {
        // An empty melt evaporates nothing.
        return Ok(BTreeMap::new());
    }
    let t = conditions.temperature_k;
    let mut out = BTreeMap::new();
    for (&e, &m0) in melt_kg {
        let Some(v) = volatility.get(&e) else {
            continue;
        };
        if !(m0 > 0.0) {
            continue;
        }
        let p_star = v.vapour_pressure.pressure_pa(t);
        if !p_star.is_finite() {
            return Err(invalid(
                format!("volatility.{e}.vapour_pressure"),
                p_star,
                "coefficients that give a finite vapour pressure at evaporation.temperature_k",
            ));
        }
        let molar_mass = e.molar_mass_g_per_mol();
        let p_chamber = conditions
            .chamber_partial_pressure_pa
            .get(&e)
            .copied()
            .unwrap_or(0.0);
        let k = conditions_conductance(conditions, molar_mass);
        let gamma = v.activity_coefficient;
        let x0 = m0 / molar_mass / total_mol;
        let activity = gamma * x0;
        let flux = (k * (activity * p_star - p_chamber)).max(0.0);
        let rate = flux * conditions.area_m2;
        // Masses in kg and M in g/mol make N kmol, so M·N is in kg.
        let m_eq = p_chamber * molar_mass * total_mol / (gamma * p_star);
        let loss = if rate > 0.0 && conditions.time_s > 0.0 && m0 > m_eq {
            let lambda = conditions.area_m2 * k * gamma * p_star / (molar_mass * total_mol);
            let depleted = -(-lambda * conditions.time_s).exp_m1();
            ((m0 - m_eq.max(0.0)) * depleted).clamp(0.0, m0)
        } else {
            0.0
        };
        if !(loss.is_finite() && rate.is_finite() && activity.is_finite()) {
            return Err(invalid(
                format!("charged_kg.{e}"),
                m0,
                "masses, pressures and coefficients whose products stay within f64 range",
            ));
        }
        out.insert(
            e,
            ElementEvaporation {
                equilibrium_pressure_pa: p_star,
                activity,
                flux_kg_per_m2_s: flux,
                rate_kg_per_s: rate,
                loss_kg: loss,
            },
        );
    }
    Ok(out)
}

fn conditions_conductance(c: &EvaporationConditions, molar_mass_g_per_mol: f64) -> f64 {
    conductance_s_per_m(
        c.evaporation_coefficient,
        molar_mass_g_per_mol,
        c.temperature_k,
        c.gas_mass_transfer_m_per_s,
    )
}

// ---------------------------------------------------------------------------------------------
// Combined prediction
// ---------------------------------------------------------------------------------------------

/// Model parameters that hold across heats (per furnace or plant).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeltLossParameters {
    /// Oxide the picked-up oxygen forms (default RE₂O₃).
    #[serde(default)]
    pub oxide_form: OxideForm,
    /// Volatile elements: vapour pressure and activity coefficient. Elements not listed do not
    /// evaporate.
    #[serde(default)]
    pub volatility: BTreeMap<Element, Volatility>,
}

/// One heat to predict losses for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeltLossInput {
    /// Element masses charged into the melt, kg (every element, the balance element too; a heel
    /// counts as charged).
    pub charged_kg: BTreeMap<Element, f64>,
    /// Oxygen picked up during melting, kg (see [`oxygen_pickup_kg`]).
    #[serde(default)]
    pub oxygen_pickup_kg: f64,
    /// Evaporation conditions; `None`: no evaporation.
    #[serde(default)]
    pub evaporation: Option<EvaporationConditions>,
}

/// Predicted losses of a heat, per element.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeltLoss {
    /// Element masses charged, kg (as given).
    pub charged_kg: BTreeMap<Element, f64>,
    /// Rare earth bound as oxide, kg, per rare earth of the melt.
    pub oxidation_kg: BTreeMap<Element, f64>,
    /// Evaporation per volatile element.
    pub evaporation: BTreeMap<Element, ElementEvaporation>,
    /// Total loss per charged element, kg: oxidation + evaporation (0 for the others).
    pub loss_kg: BTreeMap<Element, f64>,
}

impl MeltLoss {
    /// Recovery factor per element charged (> 0 kg): η_i = 1 − loss_i / charged_i, in [0, 1].
    /// This is the `recovery` map of [`crate::ChargeRequest`], which accepts η in (0, 1]; an
    /// element lost entirely (η = 0) is rejected there.
    pub fn recovery(&self) -> BTreeMap<Element, f64> {
        self.charged_kg
            .iter()
            .filter(|(_, &m)| m > 0.0)
            .map(|(&e, &m)| {
                let loss = self.loss_kg.get(&e).copied().unwrap_or(0.0);
                (e, (1.0 - loss / m).clamp(0.0, 1.0))
            })
            .collect()
    }

    /// Total mass lost, kg.
    pub fn total_loss_kg(&self) -> f64 {
        self.loss_kg.values().sum()
    }
}

/// Losses of a heat: oxidation first (on the charged masses), then evaporation from what is
/// left in the melt, so that the sum never exceeds the charge:
///
/// ```text
/// Δm_i,ox   = oxidation_loss_kg(m_0, m_O)             rare earths only
/// Δm_i,evap = evaporation_loss(m_0 − Δm_ox, …)        volatile elements only
/// η_i       = 1 − (Δm_i,ox + Δm_i,evap) / m_i0
/// ```
///
/// Charging order puts RE last (alloy.md §1.3), so oxidation and evaporation act together in
/// the plant; taking oxidation first removes the oxidised RE from the evaporating melt and
/// slightly lowers the evaporation loss (by the fraction of RE oxidised, ~1 %).
///
/// # Errors
/// Those of [`oxidation_loss_kg`] and [`evaporation_loss`].
pub fn predict_melt_loss(
    input: &MeltLossInput,
    params: &MeltLossParameters,
) -> Result<MeltLoss, MeltLossError> {
    let oxidation_kg =
        oxidation_loss_kg(&input.charged_kg, input.oxygen_pickup_kg, params.oxide_form)?;
    let remaining: BTreeMap<Element, f64> = input
        .charged_kg
        .iter()
        .map(|(&e, &m)| {
            let ox = oxidation_kg.get(&e).copied().unwrap_or(0.0);
            (e, (m - ox).max(0.0))
        })
        .collect();
    let evaporation = match &input.evaporation {
        Some(conditions) => evaporation_loss(&remaining, &params.volatility, conditions)?,
        None => {
            for (&e, v) in &params.volatility {
                v.validate(e)?;
            }
            BTreeMap::new()
        }
    };
    let loss_kg = input
        .charged_kg
        .iter()
        .map(|(&e, &m)| {
            let ox = oxidation_kg.get(&e).copied().unwrap_or(0.0);
            let ev = evaporation.get(&e).map_or(0.0, |x| x.loss_kg);
            (e, (ox + ev).clamp(0.0, m))
        })
        .collect();
    Ok(MeltLoss {
        charged_kg: input.charged_kg.clone(),
        oxidation_kg,
        evaporation,
        loss_kg,
    })
}

// ---------------------------------------------------------------------------------------------
// Recovery factors fitted from heat history
// ---------------------------------------------------------------------------------------------

/// The assayed output of a heat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AssayedOutput {
    /// Element masses in the output, kg.
    Kg(BTreeMap<Element, f64>),
    /// Assay in wt% of a weighed output mass: m_i = w_i / 100 × output_kg.
    WtPct {
        /// Output mass (flakes or ingot weighed), kg.
        output_kg: f64,
        /// Assay, wt%.
        wt_pct: BTreeMap<Element, f64>,
    },
}

impl AssayedOutput {
    /// Mass of `e` in the output, kg, if assayed.
    pub fn kg(&self, e: Element) -> Option<f64> {
        match self {
            AssayedOutput::Kg(kg) => kg.get(&e).copied(),
            AssayedOutput::WtPct { output_kg, wt_pct } => {
                wt_pct.get(&e).map(|w| w / 100.0 * output_kg)
            }
        }
    }

    fn validate(&self, index: usize) -> Result<(), MeltLossError> {
        match self {
            AssayedOutput::Kg(kg) => validate_masses(&format!("heats[{index}].output.kg"), kg),
            AssayedOutput::WtPct { output_kg, wt_pct } => {
                positive(format!("heats[{index}].output.output_kg"), *output_kg)?;
                for (e, &w) in wt_pct {
                    if !(w.is_finite() && (0.0..=100.0).contains(&w)) {
                        return Err(invalid(
                            format!("heats[{index}].output.wt_pct.{e}"),
                            w,
                            "a wt% in [0, 100]",
                        ));
                    }
                }
                Ok(())
            }
        }
    }
}

/// One heat of history: what was charged and what came out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeatRecord {
    /// Heat id.
    pub heat: String,
    /// Furnace id.
    pub furnace: String,
    /// Element masses charged, kg.
    pub charged_kg: BTreeMap<Element, f64>,
    /// Assayed output.
    pub output: AssayedOutput,
}

/// The model fitted to each element's heats k (charged c_k, output y_k, kg).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryModel {
    /// y_k = η c_k: a constant fraction lost (one parameter; at least 2 heats).
    Proportional,
    /// y_k = η c_k − L: a fraction plus a fixed loss L kg per heat, e.g. oxygen pick-up that does
    /// not scale with the charge (two parameters; at least 3 heats with different charges).
    FixedLoss,
}

impl RecoveryModel {
    fn parameters(self) -> usize {
        match self {
            RecoveryModel::Proportional => 1,
            RecoveryModel::FixedLoss => 2,
        }
    }
}

/// Whether recovery is fitted per furnace or over all heats together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// One fit per furnace and element.
    #[default]
    PerFurnace,
    /// One fit per element over all furnaces.
    AllFurnaces,
}

/// One heat's residual in a fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryResidual {
    /// Heat id.
    pub heat: String,
    /// Charged, kg.
    pub charged_kg: f64,
    /// Assayed output, kg.
    pub output_kg: f64,
    /// Fitted output, kg.
    pub fitted_kg: f64,
    /// Output − fitted, kg.
    pub residual_kg: f64,
}

/// The fitted recovery of one element (in one furnace, or pooled).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FittedRecovery {
    /// The furnace, or `None` when pooled over all furnaces.
    pub furnace: Option<String>,
    /// The element.
    pub element: Element,
    /// The model fitted.
    pub model: RecoveryModel,
    /// Recovery factor η (the slope), as fitted: may exceed 1 by noise.
    pub recovery: f64,
    /// Standard error of η.
    pub recovery_se: f64,
    /// Fixed loss per heat L, kg (0 for [`RecoveryModel::Proportional`]).
    pub fixed_loss_kg: f64,
    /// Standard error of L, kg (0 for [`RecoveryModel::Proportional`]).
    pub fixed_loss_se_kg: f64,
    /// Residual standard deviation s = √(Σ r² / (n − p)), kg.
    pub residual_sd_kg: f64,
    /// Per-heat residuals, in history order.
    pub residuals: Vec<RecoveryResidual>,
}

impl FittedRecovery {
    /// Effective recovery of a heat charging `charged_kg`: η − L / c (η for the proportional
    /// model). Not clamped.
    pub fn recovery_at(&self, charged_kg: f64) -> f64 {
        match self.model {
            RecoveryModel::Proportional => self.recovery,
            RecoveryModel::FixedLoss => self.recovery - self.fixed_loss_kg / charged_kg,
        }
    }
}

/// Recovery fits, one per (furnace, element).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryFits {
    /// The fits, by furnace then element.
    pub fits: Vec<FittedRecovery>,
}

impl RecoveryFits {
    /// The fit for `element` in `furnace` (`None` for a pooled fit).
    pub fn get(&self, furnace: Option<&str>, element: Element) -> Option<&FittedRecovery> {
        self.fits
            .iter()
            .find(|f| f.furnace.as_deref() == furnace && f.element == element)
    }

    /// Recovery map for the charge optimiser ([`crate::ChargeRequest`]`::recovery`): for each
    /// element fitted in `furnace` and charged (> 0 kg) in `charged_kg`,
    /// [`FittedRecovery::recovery_at`] clamped to [0, 1] (the fit may exceed 1 by noise).
    pub fn recovery_map(
        &self,
        furnace: Option<&str>,
        charged_kg: &BTreeMap<Element, f64>,
    ) -> BTreeMap<Element, f64> {
        self.fits
            .iter()
            .filter(|f| f.furnace.as_deref() == furnace)
            .filter_map(|f| {
                let c = charged_kg.get(&f.element).copied()?;
                (c > 0.0 && c.is_finite()).then(|| (f.element, f.recovery_at(c).clamp(0.0, 1.0)))
            })
            .collect()
    }
}

/// Fits recovery factors per element (and per furnace, with [`Pooling::PerFurnace`]) from heat
/// history, by least squares in closed form.
///
/// For each element, the heats used are those that charge it (> 0 kg); each must assay it once
/// any heat of the group does. With n heats, charged c_k and output y_k (kg):
///
/// ```text
/// Proportional  η = Σ c y / Σ c²                s² = Σ r² / (n − 1)   SE(η) = s / √Σc²
/// FixedLoss     η = S_cy / S_cc,  L = η c̄ − ȳ   s² = Σ r² / (n − 2)   SE(η) = s / √S_cc
///               S_cc = Σ (c − c̄)²                                    SE(L) = s √(1/n + c̄²/S_cc)
///               S_cy = Σ (c − c̄)(y − ȳ)
/// ```
///
/// Residuals r_k = y_k − fitted_k are returned per heat.
///
/// # Errors
/// [`MeltLossError::EmptyHistory`]; [`MeltLossError::Invalid`] for a negative or non-finite
/// mass, an output mass ≤ 0 or a wt% outside [0, 100]; [`MeltLossError::MissingAssay`];
/// [`MeltLossError::TooFewHeats`] below 2 (proportional) or 3 (fixed-loss) heats;
/// [`MeltLossError::DegenerateHistory`] when every heat charges the same mass (fixed-loss) or
/// the fit is not finite.
pub fn fit_recovery(
    heats: &[HeatRecord],
    model: RecoveryModel,
    pooling: Pooling,
) -> Result<RecoveryFits, MeltLossError> {
    if heats.is_empty() {
        return Err(MeltLossError::EmptyHistory);
    }
    for (i, h) in heats.iter().enumerate() {
        validate_masses(&format!("heats[{i}].charged_kg"), &h.charged_kg)?;
        h.output.validate(i)?;
    }
    let mut groups: BTreeMap<Option<&str>, Vec<usize>> = BTreeMap::new();
    for (i, h) in heats.iter().enumerate() {
        let key = match pooling {
            Pooling::PerFurnace => Some(h.furnace.as_str()),
            Pooling::AllFurnaces => None,
        };
        groups.entry(key).or_default().push(i);
    }
    let mut fits = Vec::new();
    for (furnace, members) in groups {
        let elements: BTreeSet<Element> = members
            .iter()
            .flat_map(|&i| {
                let h = &heats[i];
                h.charged_kg
                    .iter()
                    .filter(|(&e, &c)| c > 0.0 && h.output.kg(e).is_some())
                    .map(|(&e, _)| e)
            })
            .collect();
        for element in elements {
            let mut points = Vec::new();
            for &i in &members {
                let h = &heats[i];
                let c = h.charged_kg.get(&element).copied().unwrap_or(0.0);
                if !(c > 0.0) {
                    continue;
                }
                let y = h
                    .output
                    .kg(element)
                    .ok_or_else(|| MeltLossError::MissingAssay {
                        index: i,
                        heat: h.heat.clone(),
                        element,
                    })?;
                points.push((i, c, y));
            }
            let furnace = furnace.map(str::to_owned);
            fits.push(fit_one(heats, furnace, element, model, &points)?);
        }
    }
    Ok(RecoveryFits { fits })
}

fn fit_one(
    heats: &[HeatRecord],
    furnace: Option<String>,
    element: Element,
    model: RecoveryModel,
    points: &[(usize, f64, f64)],
) -> Result<FittedRecovery, MeltLossError> {
    let n = points.len();
    let required = model.parameters() + 1;
    if n < required {
        return Err(MeltLossError::TooFewHeats {
            furnace,
            element,
            heats: n,
            required,
            model,
        });
    }
    let nf = n as f64;
    let dof = (n - model.parameters()) as f64;
    // Fitted output = slope·c + intercept.
    let (slope, intercept, slope_se_factor, intercept_se_factor) = match model {
        RecoveryModel::Proportional => {
            let scc: f64 = points.iter().map(|p| p.1 * p.1).sum();
            let scy: f64 = points.iter().map(|p| p.1 * p.2).sum();
            (scy / scc, 0.0, 1.0 / scc.sqrt(), 0.0)
        }
        RecoveryModel::FixedLoss => {
            let c_mean = points.iter().map(|p| p.1).sum::<f64>() / nf;
            let y_mean = points.iter().map(|p| p.2).sum::<f64>() / nf;
            let scc: f64 = points.iter().map(|p| (p.1 - c_mean).powi(2)).sum();
            let scy: f64 = points.iter().map(|p| (p.1 - c_mean) * (p.2 - y_mean)).sum();
            let sum_c2: f64 = points.iter().map(|p| p.1 * p.1).sum();
            if !(scc > 1e-12 * sum_c2) {
                return Err(MeltLossError::DegenerateHistory {
                    furnace,
                    element,
                    reason: format!(
                        "the charged mass is the same ({c_mean} kg) in every heat, so a fixed \
                         loss cannot be told from a proportional one; expected heats with \
                         different charges, or the proportional model"
                    ),
                });
            }
            let slope = scy / scc;
            (
                slope,
                y_mean - slope * c_mean,
                1.0 / scc.sqrt(),
                (1.0 / nf + c_mean * c_mean / scc).sqrt(),
            )
        }
    };
    let residuals: Vec<RecoveryResidual> = points
        .iter()
        .map(|&(i, c, y)| {
            let fitted = slope * c + intercept;
            RecoveryResidual {
                heat: heats[i].heat.clone(),
                charged_kg: c,
                output_kg: y,
                fitted_kg: fitted,
                residual_kg: y - fitted,
            }
        })
        .collect();
    let rss: f64 = residuals.iter().map(|r| r.residual_kg.powi(2)).sum();
    let s = (rss / dof).sqrt();
    let fit = FittedRecovery {
        furnace,
        element,
        model,
        recovery: slope,
        recovery_se: s * slope_se_factor,
        fixed_loss_kg: match model {
            RecoveryModel::Proportional => 0.0,
            RecoveryModel::FixedLoss => -intercept,
        },
        fixed_loss_se_kg: s * intercept_se_factor,
        residual_sd_kg: s,
        residuals,
    };
    let numbers = [
        fit.recovery,
        fit.recovery_se,
        fit.fixed_loss_kg,
        fit.fixed_loss_se_kg,
    ];
    if numbers.iter().all(|x| x.is_finite()) {
        Ok(fit)
    } else {
        Err(MeltLossError::DegenerateHistory {
            furnace: fit.furnace,
            element,
            reason: "the least-squares fit overflows (masses too large or too small); \
                     expected masses in kg of a plant heat"
                .to_owned(),
        })
    }
}
