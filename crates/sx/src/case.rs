//! The TOML case format (docs/sx-case-format.md): parsed, validated and turned into a
//! [`Cascade`] and a model. Errors name the field, the value and what is allowed; syntax and
//! type errors also give the line and column.

use crate::cascade::{Cascade, Draw, Feed, Phase, Section};
use crate::error::SxError;
use crate::model::{
    DistributionModel, DistributionParameters, EquilibriumModel, FixedFractionModel,
    MassActionModel, MassActionParameters, MetalDistribution, MurphreeModel, ReeDistributionFit,
    SaponificationCation, SeparationFactorModel, SpeciesInfo,
};
use crate::result::{ConcentrationUnit, SimulationResult};
use crate::solver::{solve, SolverOptions};
use lodestone_chem::{Element, Species};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    title: Option<String>,
    #[allow(dead_code)]
    description: Option<String>,
    model: ModelSpec,
    xu: Option<XuSpec>,
    cascade: Option<CascadeSpec>,
    #[serde(default)]
    feed: Vec<FeedSpec>,
    #[serde(default)]
    draw: Vec<DrawSpec>,
    #[serde(default)]
    molar_mass_g_per_mol: BTreeMap<String, f64>,
    solver: Option<SolverSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum ModelSpec {
    FixedFraction(FixedFractionSpec),
    SeparationFactor(SeparationFactorSpec),
    Distribution(DistributionSpec),
    MassAction(MassActionSpec),
}

// Each model table is also read on its own (see `model_error`), where it still holds its `type`:
// `_kind` takes it there and is otherwise empty.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixedFractionSpec {
    #[serde(rename = "type", default)]
    _kind: Option<String>,
    fraction: BTreeMap<String, FractionSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeparationFactorSpec {
    #[serde(rename = "type", default)]
    _kind: Option<String>,
    beta: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DistributionSpec {
    #[serde(rename = "type", default)]
    _kind: Option<String>,
    #[serde(default = "default_dehpa")]
    extractant: String,
    extractant_molar_mass_g_per_mol: f64,
    extractant_density_g_per_l: f64,
    #[serde(default = "default_pka2")]
    bisulfate_pka: f64,
    #[serde(default)]
    fit: BTreeMap<String, FitSpec>,
    #[serde(default)]
    constant_d: BTreeMap<String, f64>,
    #[serde(default)]
    exchange: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MassActionSpec {
    #[serde(rename = "type", default)]
    _kind: Option<String>,
    #[serde(default = "default_ha")]
    extractant: String,
    extractant_molar_mass_g_per_mol: f64,
    log10_k: BTreeMap<String, f64>,
    #[serde(default)]
    charge: BTreeMap<String, f64>,
    saponification: Option<SaponificationSpec>,
}

/// The `[model]` table read alone: serde buffers an internally tagged enum, which loses the
/// line of an error inside it; reading the variant's struct directly keeps it.
#[derive(Deserialize)]
struct ModelOnly<T> {
    #[allow(dead_code)]
    model: T,
}

/// A positioned error for a mistake inside `[model]`, if that is where the mistake is.
fn model_error(text: &str) -> Option<SxError> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let kind = table.get("model")?.get("type")?.as_str()?.to_string();
    let err = match kind.as_str() {
        "fixed-fraction" => toml::from_str::<ModelOnly<FixedFractionSpec>>(text).err(),
        "separation-factor" => toml::from_str::<ModelOnly<SeparationFactorSpec>>(text).err(),
        "distribution" => toml::from_str::<ModelOnly<DistributionSpec>>(text).err(),
        "mass-action" => toml::from_str::<ModelOnly<MassActionSpec>>(text).err(),
        _ => None,
    }?;
    Some(SxError::Syntax(err.to_string().trim_end().to_string()))
}

fn default_dehpa() -> String {
    "DEHPA".into()
}
fn default_ha() -> String {
    "HA".into()
}
fn default_pka2() -> f64 {
    1.99
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FractionSpec {
    All(f64),
    PerStage(Vec<f64>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FitSpec {
    m0: f64,
    #[serde(default)]
    m1: f64,
    b0: f64,
    #[serde(default)]
    b1: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SaponificationSpec {
    cation: String,
    log10_k: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct XuSpec {
    extraction_stages: usize,
    scrub_stages: usize,
    extraction_amount: f64,
    scrub_amount: f64,
    #[serde(default = "default_aqueous")]
    feed_phase: Phase,
    feed_mole_fraction: BTreeMap<String, f64>,
    #[serde(default = "default_raffinate")]
    raffinate: String,
    #[serde(default = "default_extract")]
    loaded_organic: String,
    /// Organic-phase Murphree efficiency: one value or one per stage.
    efficiency: Option<FractionSpec>,
}

fn default_aqueous() -> Phase {
    Phase::Aqueous
}
fn default_raffinate() -> String {
    "raffinate".into()
}
fn default_extract() -> String {
    "loaded organic".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CascadeSpec {
    stages: usize,
    #[serde(default = "default_unit")]
    concentration_unit: String,
    #[serde(default = "default_flow_unit")]
    flow_unit: String,
    #[serde(default = "default_raffinate")]
    raffinate: String,
    #[serde(default = "default_extract")]
    loaded_organic: String,
    #[serde(default)]
    section: Vec<SectionSpec>,
    /// Organic-phase Murphree efficiency: one value or one per stage.
    efficiency: Option<FractionSpec>,
}

fn default_unit() -> String {
    "mol/L".into()
}
fn default_flow_unit() -> String {
    "L/h".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionSpec {
    name: String,
    first: usize,
    last: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedSpec {
    name: String,
    phase: Phase,
    stage: usize,
    flow: f64,
    unit: Option<String>,
    #[serde(default)]
    concentration: BTreeMap<String, f64>,
    extractant: Option<ExtractantSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtractantSpec {
    total_mol_per_l: f64,
    #[serde(default)]
    saponification_degree: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DrawSpec {
    name: String,
    phase: Phase,
    stage: usize,
    flow: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SolverSpec {
    tolerance: Option<f64>,
    max_iterations: Option<usize>,
}

/// A parsed, validated case: ready to simulate.
pub struct Case {
    /// Title from the file.
    pub title: String,
    /// The cascade.
    pub cascade: Cascade,
    /// The stage model.
    pub model: Box<dyn EquilibriumModel>,
    /// Unit of concentrations in results.
    pub unit: ConcentrationUnit,
    /// Label of flows in results.
    pub flow_unit: String,
    /// Solver controls from the file (defaults otherwise).
    pub solver: SolverOptions,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("title", &self.title)
            .field("model", &self.model.name())
            .finish()
    }
}

impl Case {
    /// Parses and validates a case from TOML text.
    pub fn from_toml(text: &str) -> Result<Case, SxError> {
        let file: CaseFile = toml::from_str(text).map_err(|e| {
            model_error(text)
                .unwrap_or_else(|| SxError::Syntax(e.to_string().trim_end().to_string()))
        })?;
        build(file)
    }

    /// Solves the cascade from a cold start and assembles the result.
    pub fn simulate(&self) -> Result<SimulationResult, SxError> {
        let solution = solve(&self.cascade, self.model.as_ref(), &self.solver)?;
        Ok(SimulationResult::build(
            &self.cascade,
            self.model.as_ref(),
            &solution,
            self.unit,
            &self.flow_unit,
        ))
    }
}

/// Species keys must be written as their symbols (`Nd`, `HSO4`): a key like `nd` would
/// otherwise name a second, different entry in a table that already has `Nd`.
fn check_symbols(file: &CaseFile) -> Result<(), SxError> {
    let mut tables: Vec<(String, Vec<&String>)> = Vec::new();
    for (i, f) in file.feed.iter().enumerate() {
        tables.push((
            format!("feed[{i}].concentration"),
            f.concentration.keys().collect(),
        ));
    }
    match &file.model {
        ModelSpec::FixedFraction(FixedFractionSpec { fraction, .. }) => {
            tables.push(("model.fraction".into(), fraction.keys().collect()))
        }
        ModelSpec::SeparationFactor(SeparationFactorSpec { beta, .. }) => {
            tables.push(("model.beta".into(), beta.keys().collect()))
        }
        ModelSpec::Distribution(DistributionSpec {
            fit,
            constant_d,
            exchange,
            ..
        }) => {
            tables.push(("model.fit".into(), fit.keys().collect()));
            tables.push(("model.constant_d".into(), constant_d.keys().collect()));
            tables.push(("model.exchange".into(), exchange.keys().collect()));
        }
        ModelSpec::MassAction(MassActionSpec {
            log10_k, charge, ..
        }) => {
            tables.push(("model.log10_k".into(), log10_k.keys().collect()));
            tables.push(("model.charge".into(), charge.keys().collect()));
        }
    }
    if let Some(xu) = &file.xu {
        tables.push((
            "xu.feed_mole_fraction".into(),
            xu.feed_mole_fraction.keys().collect(),
        ));
    }
    tables.push((
        "molar_mass_g_per_mol".into(),
        file.molar_mass_g_per_mol.keys().collect(),
    ));
    for (table, keys) in tables {
        for key in keys {
            if let Ok(sp) = Species::from_symbol(key) {
                let symbol = sp.symbol();
                if &symbol != key {
                    return Err(SxError::invalid(
                        &format!("{table}.{key}"),
                        &format!("\"{key}\""),
                        &format!("the symbol written exactly: \"{symbol}\""),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn build(file: CaseFile) -> Result<Case, SxError> {
    check_symbols(&file)?;
    let mut solver = SolverOptions::default();
    if let Some(s) = &file.solver {
        if let Some(t) = s.tolerance {
            if !(t > 0.0 && t < 1e-3) {
                return Err(SxError::invalid(
                    "solver.tolerance",
                    &t.to_string(),
                    "a tolerance in (0, 1e-3)",
                ));
            }
            solver.tolerance = t;
        }
        if let Some(m) = s.max_iterations {
            if m == 0 {
                return Err(SxError::invalid("solver.max_iterations", "0", "at least 1"));
            }
            solver.max_iterations = m;
        }
    }
    let title = file.title.clone().unwrap_or_else(|| "untitled case".into());
    if let ModelSpec::SeparationFactor(SeparationFactorSpec { beta, .. }) = &file.model {
        let xu = file.xu.as_ref().ok_or_else(|| {
            SxError::missing("xu", "the separation-factor model runs on Xu's normalised REE-flow form: add an [xu] table")
        })?;
        if file.cascade.is_some() || !file.feed.is_empty() || !file.draw.is_empty() {
            return Err(SxError::invalid(
                "cascade / feed / draw",
                "present",
                "none of them with model type \"separation-factor\": give the cascade in [xu]",
            ));
        }
        if xu.efficiency.is_some() {
            return Err(SxError::invalid(
                "xu.efficiency",
                "given",
                "no efficiency in Xu's normalised form: the blank organic entering stage 1 has no \
                 composition to relax from; describe the cascade with [cascade] and a mass-action or \
                 distribution model to use Murphree efficiencies",
            ));
        }
        let (cascade, model) = build_xu(beta, xu)?;
        return Ok(Case {
            title,
            cascade,
            model: Box::new(model),
            unit: ConcentrationUnit::MoleFraction,
            flow_unit: "feed-normalised REE flow".into(),
            solver,
        });
    }
    if file.xu.is_some() {
        return Err(SxError::invalid(
            "xu",
            "present",
            "an [xu] table only with model type \"separation-factor\"",
        ));
    }
    let spec = file
        .cascade
        .as_ref()
        .ok_or_else(|| SxError::missing("cascade", "add [cascade] with stages = N"))?;
    if spec.stages == 0 || spec.stages > MAX_STAGES {
        return Err(SxError::invalid(
            "cascade.stages",
            &spec.stages.to_string(),
            &format!("a stage count from 1 to {MAX_STAGES}"),
        ));
    }
    check_model_numbers(&file.model)?;
    if file.feed.is_empty() {
        return Err(SxError::missing(
            "feed",
            "add at least one [[feed]] in each phase",
        ));
    }
    let masses = MolarMasses::new(&file.molar_mass_g_per_mol)?;
    let default_unit = parse_unit("cascade.concentration_unit", &spec.concentration_unit)?;
    let unit = match default_unit {
        lodestone_chem::ConcentrationUnit::MgPerL => ConcentrationUnit::MgPerL,
        lodestone_chem::ConcentrationUnit::GPerL => ConcentrationUnit::GPerL,
        _ => ConcentrationUnit::MolPerL,
    };
    let model: Box<dyn EquilibriumModel> = match &file.model {
        ModelSpec::FixedFraction(FixedFractionSpec { fraction, .. }) => {
            Box::new(build_fixed_fraction(fraction, &file, spec.stages, &masses)?)
        }
        ModelSpec::Distribution(DistributionSpec { .. }) => {
            Box::new(build_distribution(&file.model, &file, &masses)?)
        }
        ModelSpec::MassAction(MassActionSpec { .. }) => {
            Box::new(build_mass_action(&file.model, &file, &masses)?)
        }
        ModelSpec::SeparationFactor(SeparationFactorSpec { .. }) => unreachable!("handled above"),
    };
    let model = with_efficiency(
        model,
        spec.efficiency.as_ref(),
        spec.stages,
        "cascade.efficiency",
    )?;
    let feeds = file
        .feed
        .iter()
        .enumerate()
        .map(|(i, f)| feed_vector(i, f, model.as_ref(), default_unit))
        .collect::<Result<Vec<_>, _>>()?;
    let draws = file
        .draw
        .iter()
        .map(|d| Draw {
            name: d.name.clone(),
            phase: d.phase,
            stage: d.stage,
            flow: d.flow,
        })
        .collect();
    let mut cascade = Cascade::from_feeds(spec.stages, feeds, draws)?;
    cascade.raffinate_name = spec.raffinate.clone();
    cascade.extract_name = spec.loaded_organic.clone();
    for (i, s) in spec.section.iter().enumerate() {
        if s.first == 0 || s.last < s.first || s.last > spec.stages {
            return Err(SxError::invalid(
                &format!("cascade.section[{i}] (\"{}\")", s.name),
                &format!("stages {}..{}", s.first, s.last),
                &format!("1 ≤ first ≤ last ≤ {}", spec.stages),
            ));
        }
        cascade.sections.push(Section {
            name: s.name.clone(),
            first: s.first,
            last: s.last,
        });
    }
    Ok(Case {
        title,
        cascade,
        model,
        unit,
        flow_unit: spec.flow_unit.clone(),
        solver,
    })
}

/// Wraps the model with Murphree efficiencies when the case gives them.
fn with_efficiency(
    model: Box<dyn EquilibriumModel>,
    spec: Option<&FractionSpec>,
    stages: usize,
    field: &str,
) -> Result<Box<dyn EquilibriumModel>, SxError> {
    let efficiency = match spec {
        None => return Ok(model),
        Some(FractionSpec::All(e)) => vec![*e; stages],
        Some(FractionSpec::PerStage(list)) => {
            if list.len() != stages {
                return Err(SxError::invalid(
                    field,
                    &format!("{} values", list.len()),
                    &format!("one efficiency for all stages or a list of {stages} (stage 1 first)"),
                ));
            }
            list.clone()
        }
    };
    MurphreeModel::new(model, efficiency)
        .map(|m| Box::new(m) as Box<dyn EquilibriumModel>)
        .map_err(|e| match e {
            SxError::Invalid {
                field: f,
                value,
                allowed,
            } => SxError::Invalid {
                field: f.replace("cascade.efficiency", field),
                value,
                allowed,
            },
            other => other,
        })
}

/// Largest cascade a case may describe (checked before anything is allocated per stage).
const MAX_STAGES: usize = 100_000;

/// Rejects non-finite or non-physical numbers in the model table before they reach the solver.
fn check_model_numbers(model: &ModelSpec) -> Result<(), SxError> {
    let finite = |field: String, v: f64| {
        if v.is_finite() {
            Ok(())
        } else {
            Err(SxError::invalid(&field, &v.to_string(), "a finite number"))
        }
    };
    let positive = |field: &str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(SxError::invalid(
                field,
                &v.to_string(),
                "a finite value > 0",
            ))
        }
    };
    match model {
        ModelSpec::Distribution(DistributionSpec {
            extractant_molar_mass_g_per_mol,
            extractant_density_g_per_l,
            bisulfate_pka,
            fit,
            ..
        }) => {
            positive(
                "model.extractant_molar_mass_g_per_mol",
                *extractant_molar_mass_g_per_mol,
            )?;
            positive(
                "model.extractant_density_g_per_l",
                *extractant_density_g_per_l,
            )?;
            finite("model.bisulfate_pka".into(), *bisulfate_pka)?;
            for (e, f) in fit {
                for (name, v) in [("m0", f.m0), ("m1", f.m1), ("b0", f.b0), ("b1", f.b1)] {
                    finite(format!("model.fit.{e}.{name}"), v)?;
                }
            }
        }
        ModelSpec::MassAction(MassActionSpec {
            extractant_molar_mass_g_per_mol,
            log10_k,
            saponification,
            ..
        }) => {
            positive(
                "model.extractant_molar_mass_g_per_mol",
                *extractant_molar_mass_g_per_mol,
            )?;
            for (e, k) in log10_k {
                finite(format!("model.log10_k.{e}"), *k)?;
            }
            if let Some(sap) = saponification {
                finite("model.saponification.log10_k".into(), sap.log10_k)?;
            }
        }
        ModelSpec::FixedFraction(FixedFractionSpec { .. })
        | ModelSpec::SeparationFactor(SeparationFactorSpec { .. }) => {}
    }
    Ok(())
}

fn parse_unit(field: &str, text: &str) -> Result<lodestone_chem::ConcentrationUnit, SxError> {
    text.parse().map_err(|_| {
        SxError::invalid(
            field,
            &format!("\"{text}\""),
            "one of \"mol/L\", \"mmol/L\", \"mg/L\", \"g/L\", \"g/L REO\"",
        )
    })
}

fn parse_element(field: &str, symbol: &str) -> Result<Element, SxError> {
    Element::from_symbol(symbol).map_err(|_| {
        SxError::invalid(
            field,
            &format!("\"{symbol}\""),
            "an element symbol such as La, Ce, Pr, Nd, Sm, Y, Fe, Al, Ca",
        )
    })
}

/// Molar masses: the chem crate's standard values unless the case overrides a species.
struct MolarMasses {
    overrides: BTreeMap<String, f64>,
}

impl MolarMasses {
    fn new(overrides: &BTreeMap<String, f64>) -> Result<Self, SxError> {
        for (name, &m) in overrides {
            if !(m.is_finite() && m > 0.0) {
                return Err(SxError::invalid(
                    &format!("molar_mass_g_per_mol.{name}"),
                    &m.to_string(),
                    "a molar mass > 0 g/mol",
                ));
            }
        }
        Ok(Self {
            overrides: overrides.clone(),
        })
    }
    fn of(&self, name: &str, standard: f64) -> f64 {
        self.overrides.get(name).copied().unwrap_or(standard)
    }
    fn species(&self, field: &str, name: &str) -> Result<SpeciesInfo, SxError> {
        let sp = Species::from_symbol(name).map_err(|_| {
            SxError::invalid(
                field,
                &format!("\"{name}\""),
                "an element symbol (La, Ce, Nd, Fe, …) or one of H, HSO4, SO4, Cl, NO3, NH4",
            )
        })?;
        let m = self.of(name, sp.molar_mass_g_per_mol());
        Ok(match sp {
            Species::Metal(e) => SpeciesInfo::metal(e, m),
            _ => SpeciesInfo::other(&sp.symbol(), m),
        })
    }
    fn extractant(&self, name: &str, standard: f64) -> SpeciesInfo {
        SpeciesInfo::other(name, self.of(name, standard))
    }
}

fn build_xu(
    beta: &BTreeMap<String, f64>,
    xu: &XuSpec,
) -> Result<(Cascade, SeparationFactorModel), SxError> {
    let mut pairs = Vec::new();
    for (sym, &b) in beta {
        pairs.push((parse_element(&format!("model.beta.{sym}"), sym)?, b));
    }
    let mut feed = vec![0.0; pairs.len()];
    for (sym, &f) in &xu.feed_mole_fraction {
        let field = format!("xu.feed_mole_fraction.{sym}");
        let e = parse_element(&field, sym)?;
        let k = pairs.iter().position(|p| p.0 == e).ok_or_else(|| {
            SxError::invalid(
                &field,
                sym,
                "an element that has a separation factor in [model.beta]",
            )
        })?;
        if !(f.is_finite() && f >= 0.0) {
            return Err(SxError::invalid(
                &field,
                &f.to_string(),
                "a mole fraction ≥ 0",
            ));
        }
        feed[k] = f;
    }
    let total: f64 = feed.iter().sum();
    if (total - 1.0).abs() > 1e-6 {
        return Err(SxError::invalid(
            "xu.feed_mole_fraction",
            &format!("sum {total}"),
            "mole fractions summing to 1",
        ));
    }
    // Elements of the model that the feed lacks cannot be present anywhere: drop them.
    let keep: Vec<usize> = (0..pairs.len()).filter(|&k| feed[k] > 0.0).collect();
    let pairs: Vec<(Element, f64)> = keep.iter().map(|&k| pairs[k]).collect();
    let feed: Vec<f64> = keep.iter().map(|&k| feed[k] / total).collect();
    let model = SeparationFactorModel::new(&pairs)?;
    let (n, m) = (xu.extraction_stages, xu.scrub_stages);
    if n.saturating_add(m) > MAX_STAGES {
        return Err(SxError::invalid(
            "xu.extraction_stages + xu.scrub_stages",
            &format!("{n} + {m}"),
            &format!("at most {MAX_STAGES} stages in all"),
        ));
    }
    if n == 0 {
        return Err(SxError::invalid(
            "xu.extraction_stages",
            "0",
            "at least 1 stage",
        ));
    }
    if m == 0 {
        return Err(SxError::invalid("xu.scrub_stages", "0", "at least 1 stage"));
    }
    let (s, w) = (xu.extraction_amount, xu.scrub_amount);
    for (field, v) in [("xu.extraction_amount", s), ("xu.scrub_amount", w)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(SxError::invalid(
                field,
                &v.to_string(),
                "an REE flow > 0, in units of the feed flow",
            ));
        }
    }
    let stages = n + m;
    let (aq, org, feed_stage) = xu_flows(n, m, s, w, xu.feed_phase);
    let product_checks = [(aq[0], "raffinate"), (org[stages - 1], "organic product")];
    for (flow, what) in product_checks {
        if !(flow > 0.0) {
            return Err(SxError::invalid(
                "xu.extraction_amount / xu.scrub_amount",
                &format!("S = {s}, W = {w}"),
                &format!(
                    "amounts that leave a positive {what} flow ({flow}); see `lodestone sx design`"
                ),
            ));
        }
    }
    let feeds = vec![Feed {
        name: "feed".into(),
        phase: xu.feed_phase,
        stage: feed_stage,
        flow: 1.0,
        concentration: feed,
    }];
    let mut cascade = Cascade::with_outflows(stages, aq, org, feeds, vec![])?;
    cascade.raffinate_name = xu.raffinate.clone();
    cascade.extract_name = xu.loaded_organic.clone();
    cascade.sections = vec![
        Section {
            name: "extraction".into(),
            first: 1,
            last: n,
        },
        Section {
            name: "scrubbing".into(),
            first: n + 1,
            last: stages,
        },
    ];
    Ok((cascade, model))
}

/// Xu's REE flows out of each stage (1-based index − 1) for n extraction and m scrub stages,
/// extraction amount S and scrub amount W, and the stage the feed enters.
pub fn xu_flows(
    n: usize,
    m: usize,
    s: f64,
    w: f64,
    feed_phase: Phase,
) -> (Vec<f64>, Vec<f64>, usize) {
    let stages = n + m;
    let mut aq = vec![0.0; stages];
    let mut org = vec![0.0; stages];
    match feed_phase {
        Phase::Aqueous => {
            for i in 1..=stages {
                aq[i - 1] = if i == 1 {
                    1.0 + w - s
                } else if i <= n {
                    1.0 + w
                } else {
                    w
                };
                org[i - 1] = if i < stages { s } else { s - w };
            }
            (aq, org, n)
        }
        Phase::Organic => {
            for i in 1..=stages {
                aq[i - 1] = if i == 1 { w - s } else { w };
                org[i - 1] = if i <= n {
                    s
                } else if i < stages {
                    s + 1.0
                } else {
                    s + 1.0 - w
                };
            }
            (aq, org, n + 1)
        }
    }
}

/// Species keys used by the feeds of one phase, in first-seen order, with the field that used them.
fn feed_keys(file: &CaseFile, phase: Phase) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for (i, f) in file.feed.iter().enumerate() {
        if f.phase != phase {
            continue;
        }
        for (name, &c) in &f.concentration {
            if c > 0.0 && !keys.iter().any(|k| &k.0 == name) {
                keys.push((name.clone(), format!("feed[{i}].concentration.{name}")));
            }
        }
    }
    keys
}

fn build_fixed_fraction(
    fraction: &BTreeMap<String, FractionSpec>,
    file: &CaseFile,
    stages: usize,
    masses: &MolarMasses,
) -> Result<FixedFractionModel, SxError> {
    let mut transferring = Vec::new();
    let mut rows = vec![Vec::new(); stages];
    for (name, spec) in fraction {
        let field = format!("model.fraction.{name}");
        transferring.push(masses.species(&field, name)?);
        match spec {
            FractionSpec::All(p) => rows.iter_mut().for_each(|r| r.push(*p)),
            FractionSpec::PerStage(list) => {
                if list.len() != stages {
                    return Err(SxError::invalid(
                        &field,
                        &format!("{} values", list.len()),
                        &format!(
                            "one fraction for all stages or a list of {stages} (stage 1 first)"
                        ),
                    ));
                }
                for (r, p) in rows.iter_mut().zip(list) {
                    r.push(*p);
                }
            }
        }
    }
    let mut aqueous_only = Vec::new();
    for (name, field) in feed_keys(file, Phase::Aqueous) {
        if !fraction.contains_key(&name) {
            aqueous_only.push(masses.species(&field, &name)?);
        }
    }
    for (name, field) in feed_keys(file, Phase::Organic) {
        if !fraction.contains_key(&name) {
            return Err(SxError::invalid(
                &field,
                &name,
                "an organic species listed in [model.fraction]",
            ));
        }
    }
    FixedFractionModel::new(aqueous_only, transferring, rows)
}

fn build_distribution(
    spec: &ModelSpec,
    file: &CaseFile,
    masses: &MolarMasses,
) -> Result<DistributionModel, SxError> {
    let ModelSpec::Distribution(DistributionSpec {
        extractant,
        extractant_molar_mass_g_per_mol,
        extractant_density_g_per_l,
        bisulfate_pka,
        fit,
        constant_d,
        exchange,
        ..
    }) = spec
    else {
        unreachable!()
    };
    let aq_keys = feed_keys(file, Phase::Aqueous);
    let org_keys = feed_keys(file, Phase::Organic);
    let mut metals = Vec::new();
    let mut inert = Vec::new();
    let mut has_sulfate = false;
    for (name, field) in aq_keys.iter().chain(&org_keys) {
        if name == extractant {
            continue;
        }
        let sp = masses.species(field, name)?;
        match sp.element {
            Some(e) => {
                if metals
                    .iter()
                    .any(|(m, _, _): &(SpeciesInfo, MetalDistribution, f64)| m.element == Some(e))
                {
                    continue;
                }
                let d = if let Some(f) = fit.get(name) {
                    MetalDistribution::Fit(ReeDistributionFit {
                        m0: f.m0,
                        m1: f.m1,
                        b0: f.b0,
                        b1: f.b1,
                    })
                } else if let Some(&d) = constant_d.get(name) {
                    if !(d.is_finite() && d > 0.0) {
                        return Err(SxError::invalid(
                            &format!("model.constant_d.{name}"),
                            &d.to_string(),
                            "a ratio > 0",
                        ));
                    }
                    MetalDistribution::Constant(d)
                } else {
                    return Err(SxError::missing(
                        &format!("model.fit.{name}"),
                        &format!("{field} feeds {name}: give its distribution as model.fit.{name} = {{ m0, m1, b0, b1 }} or model.constant_d.{name}"),
                    ));
                };
                let n = exchange
                    .get(name)
                    .copied()
                    .unwrap_or(f64::from(e.aqueous_charge()));
                metals.push((sp, d, n));
            }
            None => match name.as_str() {
                "H" => {}
                "HSO4" | "SO4" => has_sulfate = true,
                _ if org_keys.iter().any(|k| &k.0 == name) => {
                    return Err(SxError::invalid(
                        field,
                        name,
                        &format!("a metal or the extractant \"{extractant}\""),
                    ));
                }
                _ => {
                    if !inert.iter().any(|s: &SpeciesInfo| &s.name == name) {
                        inert.push(sp);
                    }
                }
            },
        }
    }
    for (table, keys) in [
        ("fit", fit.keys().collect::<Vec<_>>()),
        ("constant_d", constant_d.keys().collect()),
        ("exchange", exchange.keys().collect()),
    ] {
        for key in keys {
            parse_element(&format!("model.{table}.{key}"), key)?;
        }
    }
    DistributionModel::new(DistributionParameters {
        metals,
        proton: masses.species("H", "H")?,
        sulfate: if has_sulfate {
            Some((
                masses.species("HSO4", "HSO4")?,
                masses.species("SO4", "SO4")?,
                *bisulfate_pka,
            ))
        } else {
            None
        },
        inert_aqueous: inert,
        extractant: masses.extractant(extractant, *extractant_molar_mass_g_per_mol),
        extractant_density_g_per_l: *extractant_density_g_per_l,
    })
}

fn build_mass_action(
    spec: &ModelSpec,
    file: &CaseFile,
    masses: &MolarMasses,
) -> Result<MassActionModel, SxError> {
    let ModelSpec::MassAction(MassActionSpec {
        extractant,
        extractant_molar_mass_g_per_mol,
        log10_k,
        charge,
        saponification,
        ..
    }) = spec
    else {
        unreachable!()
    };
    let cation = match saponification {
        Some(s) => {
            let sp = masses.species("model.saponification.cation", &s.cation)?;
            let z = Species::from_symbol(&s.cation)
                .map(|x| x.charge())
                .unwrap_or(0);
            if !(1..=2).contains(&z) {
                return Err(SxError::invalid(
                    "model.saponification.cation",
                    &format!("\"{}\"", s.cation),
                    "a cation of charge 1 or 2: Na, NH4, K or Mg",
                ));
            }
            Some(SaponificationCation {
                species: sp,
                charge: f64::from(z),
                log10_k: s.log10_k,
            })
        }
        None => None,
    };
    let cation_name = cation.as_ref().map(|c| c.species.name.clone());
    let mut metals = Vec::new();
    let mut inert = Vec::new();
    let keys: Vec<(String, String)> = feed_keys(file, Phase::Aqueous)
        .into_iter()
        .chain(feed_keys(file, Phase::Organic))
        .collect();
    for (name, field) in &keys {
        if Some(name) == cation_name.as_ref() || name == extractant || name == "H" {
            continue;
        }
        let sp = masses.species(field, name)?;
        match (sp.element, log10_k.get(name)) {
            (Some(_), Some(&k)) => {
                if metals
                    .iter()
                    .any(|m: &(SpeciesInfo, f64, f64)| m.0.name == sp.name)
                {
                    continue;
                }
                let e = sp.element.expect("metal");
                let z = charge
                    .get(name)
                    .copied()
                    .unwrap_or(f64::from(e.aqueous_charge()));
                metals.push((sp, k, z));
            }
            (Some(_), None) => {
                return Err(SxError::missing(
                    &format!("model.log10_k.{name}"),
                    &format!("{field} feeds {name}: give its extraction constant"),
                ))
            }
            (None, _) => {
                if file
                    .feed
                    .iter()
                    .any(|f| f.phase == Phase::Organic && f.concentration.contains_key(name))
                {
                    return Err(SxError::invalid(
                        field,
                        name,
                        "a metal in the organic phase",
                    ));
                }
                if !inert.iter().any(|s: &SpeciesInfo| s.name == sp.name) {
                    inert.push(sp);
                }
            }
        }
    }
    for (table, keys) in [
        ("log10_k", log10_k.keys().collect::<Vec<_>>()),
        ("charge", charge.keys().collect()),
    ] {
        for key in keys {
            parse_element(&format!("model.{table}.{key}"), key)?;
        }
    }
    MassActionModel::new(MassActionParameters {
        metals,
        proton: masses.species("H", "H")?,
        cation,
        inert_aqueous: inert,
        extractant: masses.extractant(extractant, *extractant_molar_mass_g_per_mol),
    })
}

/// Converts one feed's table into the model's species vector (mol/L).
fn feed_vector(
    index: usize,
    f: &FeedSpec,
    model: &dyn EquilibriumModel,
    default_unit: lodestone_chem::ConcentrationUnit,
) -> Result<Feed, SxError> {
    let unit = match &f.unit {
        Some(u) => parse_unit(&format!("feed[{index}].unit"), u)?,
        None => default_unit,
    };
    let species = match f.phase {
        Phase::Aqueous => model.aqueous_species(),
        Phase::Organic => model.organic_species(),
    };
    let mut conc = vec![0.0; species.len()];
    for (name, &value) in &f.concentration {
        let field = format!("feed[{index}].concentration.{name}");
        if !(value.is_finite() && value >= 0.0) {
            return Err(SxError::invalid(
                &field,
                &value.to_string(),
                "a concentration ≥ 0",
            ));
        }
        if value == 0.0 {
            continue;
        }
        let k = species
            .iter()
            .position(|s| &s.name == name)
            .ok_or_else(|| {
                SxError::invalid(
                    &field,
                    name,
                    &format!(
                        "a {} species of this model: {}",
                        f.phase,
                        species
                            .iter()
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        let sp = &species[k];
        let chem_species = Species::from_symbol(&sp.name).ok();
        conc[k] = match (unit, chem_species) {
            (lodestone_chem::ConcentrationUnit::GReoPerL, Some(Species::Metal(e))) => {
                lodestone_chem::mol_per_l_from_reo_g_per_l(e, value).map_err(|err| {
                    SxError::invalid(
                        &field,
                        &value.to_string(),
                        &format!("a rare earth for g/L REO ({err})"),
                    )
                })?
            }
            (lodestone_chem::ConcentrationUnit::GReoPerL, _) => {
                return Err(SxError::invalid(
                    &format!("feed[{index}].unit"),
                    "\"g/L REO\"",
                    &format!(
                        "a unit that applies to {name} too (g/L REO only applies to rare earths)"
                    ),
                ))
            }
            (lodestone_chem::ConcentrationUnit::MolPerL, _) => value,
            (lodestone_chem::ConcentrationUnit::MmolPerL, _) => value / 1000.0,
            (lodestone_chem::ConcentrationUnit::MgPerL, _) => {
                value / 1000.0 / sp.molar_mass_g_per_mol
            }
            (lodestone_chem::ConcentrationUnit::GPerL, _) => value / sp.molar_mass_g_per_mol,
        };
    }
    if let Some(x) = &f.extractant {
        apply_extractant(index, f, x, model, &mut conc)?;
    }
    Ok(Feed {
        name: f.name.clone(),
        phase: f.phase,
        stage: f.stage,
        flow: f.flow,
        concentration: conc,
    })
}

/// Fills free and saponified extractant of an organic feed from its total and saponification degree.
fn apply_extractant(
    index: usize,
    f: &FeedSpec,
    x: &ExtractantSpec,
    model: &dyn EquilibriumModel,
    conc: &mut [f64],
) -> Result<(), SxError> {
    let field = format!("feed[{index}].extractant");
    if f.phase != Phase::Organic {
        return Err(SxError::invalid(
            &field,
            "present",
            "an extractant table only on an organic feed",
        ));
    }
    if !(x.total_mol_per_l.is_finite() && x.total_mol_per_l > 0.0) {
        return Err(SxError::invalid(
            &format!("{field}.total_mol_per_l"),
            &x.total_mol_per_l.to_string(),
            "a concentration > 0",
        ));
    }
    if !(0.0..1.0).contains(&x.saponification_degree) {
        return Err(SxError::invalid(
            &format!("{field}.saponification_degree"),
            &x.saponification_degree.to_string(),
            "a fraction of sites in [0, 1)",
        ));
    }
    // Sites: total = free + zM·saponified + Σ z·metal. The sites component of the model gives the weights.
    let sites = model
        .components()
        .iter()
        .find(|c| c.name == "extractant sites")
        .ok_or_else(|| {
            SxError::invalid(
                &field,
                "present",
                "an extractant table only with model type \"mass-action\"",
            )
        })?;
    let free_index = model
        .organic_species()
        .iter()
        .position(|s| s.element.is_none())
        .expect("free extractant species");
    let cation = sites
        .organic
        .iter()
        .find(|&&(o, _)| o != free_index && model.organic_species()[o].element.is_none());
    let saponified = x.saponification_degree * x.total_mol_per_l;
    match cation {
        Some(&(o, zm)) => conc[o] = saponified / zm,
        None if x.saponification_degree > 0.0 => {
            return Err(SxError::missing(
                "model.saponification",
                &format!(
                    "{field}.saponification_degree is {}: name the cation and its log10_k",
                    x.saponification_degree
                ),
            ))
        }
        None => {}
    }
    let metal_sites: f64 = sites
        .organic
        .iter()
        .filter(|&&(o, _)| model.organic_species()[o].element.is_some())
        .map(|&(o, z)| z * conc[o])
        .sum();
    let free = x.total_mol_per_l - saponified - metal_sites;
    if free <= 0.0 {
        return Err(SxError::invalid(
            &field,
            &format!("{} mol/L of sites", x.total_mol_per_l),
            &format!(
                "more sites than the saponified ({saponified}) and loaded ({metal_sites}) ones"
            ),
        ));
    }
    conc[free_index] = free;
    Ok(())
}
