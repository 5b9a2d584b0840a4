//! What a simulation returns: products, stage profiles, convergence and the element balance.
//! Serialises to the JSON contract of `lodestone sx simulate --json` (docs/sx-json.md).

use crate::cascade::{Cascade, Phase};
use crate::model::EquilibriumModel;
use crate::solver::{Convergence, StageSolution};
use lodestone_chem::Element;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// Unit of concentrations in a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConcentrationUnit {
    /// mol/L.
    #[serde(rename = "mol/L")]
    MolPerL,
    /// mg/L.
    #[serde(rename = "mg/L")]
    MgPerL,
    /// g/L.
    #[serde(rename = "g/L")]
    GPerL,
    /// REE mole fraction (Xu's normalised form).
    #[serde(rename = "mole fraction")]
    MoleFraction,
}

impl ConcentrationUnit {
    /// Converts a model concentration (mol/L or mole fraction) to this unit.
    pub fn from_model(self, value: f64, molar_mass_g_per_mol: f64) -> f64 {
        match self {
            ConcentrationUnit::MolPerL | ConcentrationUnit::MoleFraction => value,
            ConcentrationUnit::MgPerL => value * molar_mass_g_per_mol * 1000.0,
            ConcentrationUnit::GPerL => value * molar_mass_g_per_mol,
        }
    }
    /// The unit's label.
    pub fn label(self) -> &'static str {
        match self {
            ConcentrationUnit::MolPerL => "mol/L",
            ConcentrationUnit::MgPerL => "mg/L",
            ConcentrationUnit::GPerL => "g/L",
            ConcentrationUnit::MoleFraction => "mole fraction",
        }
    }
}

/// A product stream.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Product {
    /// Product name.
    #[serde(skip)]
    pub name: String,
    /// 1-based stage it leaves.
    pub stage: usize,
    /// Phase.
    pub phase: Phase,
    /// Phase flow.
    pub flow: f64,
    /// Unit of `flow`.
    pub flow_unit: String,
    /// Concentration of every species of the phase.
    pub concentration: BTreeMap<String, f64>,
    /// Unit of `concentration`.
    pub concentration_unit: ConcentrationUnit,
    /// Mole fraction of each rare earth among the rare earths of the stream.
    pub ree_mole_fraction: BTreeMap<String, f64>,
    /// Fraction of each element's total feed that leaves in this product.
    pub recovery: BTreeMap<String, f64>,
}

/// One stage's state.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageResult {
    /// 1-based stage number.
    pub stage: usize,
    /// Aqueous concentrations leaving the stage.
    pub aqueous: BTreeMap<String, f64>,
    /// Organic concentrations leaving the stage.
    pub organic: BTreeMap<String, f64>,
    /// pH where the model has protons.
    pub ph: Option<f64>,
    /// Organic/aqueous ratio per element (model units, mol/mol).
    pub distribution_ratio: BTreeMap<String, f64>,
    /// Fraction of extractant sites loaded with metals, where tracked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loading: Option<f64>,
    /// Free extractant, mol/L, where tracked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub free_extractant_mol_per_l: Option<f64>,
}

/// Element closure: |Σ in − Σ out| / Σ in.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Balance {
    /// Worst closure over all elements.
    pub max_relative_error: f64,
    /// Closure per element.
    pub by_element: BTreeMap<String, f64>,
}

/// The full result of a cascade simulation.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SimulationResult {
    /// Whether the solver met its tolerance.
    pub converged: bool,
    /// Iterations used.
    pub iterations: usize,
    /// Largest scaled residual.
    pub max_residual: f64,
    /// Model name.
    pub model: String,
    /// Products by name, in cascade order.
    #[serde(serialize_with = "products_as_map")]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, Product>))]
    pub products: Vec<Product>,
    /// Stage profiles, stage 1 first.
    pub stages: Vec<StageResult>,
    /// Element balance.
    pub balance: Balance,
    /// Where the largest residual sits (useful when not converged).
    #[serde(skip)]
    pub convergence: Convergence,
}

fn products_as_map<S: Serializer>(products: &[Product], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(products.len()))?;
    for p in products {
        map.serialize_entry(&p.name, p)?;
    }
    map.end()
}

impl SimulationResult {
    /// Assembles the result of a solved cascade.
    pub fn build(
        cascade: &Cascade,
        model: &dyn EquilibriumModel,
        solution: &StageSolution,
        unit: ConcentrationUnit,
        flow_unit: &str,
    ) -> Self {
        let n = cascade.stages();
        let aq_species = model.aqueous_species();
        let org_species = model.organic_species();
        let phase_species = |phase: Phase| {
            if phase == Phase::Aqueous {
                aq_species
            } else {
                org_species
            }
        };
        let conc_of = |phase: Phase, stage: usize| -> &Vec<f64> {
            match phase {
                Phase::Aqueous => &solution.aqueous[stage - 1],
                Phase::Organic => &solution.organic[stage - 1],
            }
        };

        // Total feed of every component, and the element each belongs to.
        let components = model.components();
        let component_flow = |phase: Phase, flow: f64, conc: &[f64], c: usize| -> f64 {
            let comp = &components[c];
            let terms = if phase == Phase::Aqueous {
                &comp.aqueous
            } else {
                &comp.organic
            };
            terms.iter().map(|&(i, coef)| coef * flow * conc[i]).sum()
        };
        let element_components: Vec<(Element, usize)> = components
            .iter()
            .enumerate()
            .filter_map(|(c, comp)| comp.element.map(|e| (e, c)))
            .collect();
        let feed_total: Vec<f64> = (0..components.len())
            .map(|c| {
                cascade
                    .feeds()
                    .iter()
                    .map(|f| component_flow(f.phase, f.flow, &f.concentration, c))
                    .sum()
            })
            .collect();

        let mut outlets: Vec<(String, Phase, usize, f64)> = vec![(
            cascade.raffinate_name.clone(),
            Phase::Aqueous,
            1,
            cascade.outflow(Phase::Aqueous, 1),
        )];
        for d in cascade.draws() {
            outlets.push((d.name.clone(), d.phase, d.stage, d.flow));
        }
        outlets.push((
            cascade.extract_name.clone(),
            Phase::Organic,
            n,
            cascade.outflow(Phase::Organic, n),
        ));

        let mut product_total = vec![0.0; components.len()];
        let products = outlets
            .into_iter()
            .map(|(name, phase, stage, flow)| {
                let conc = conc_of(phase, stage);
                let species = phase_species(phase);
                for (c, total) in product_total.iter_mut().enumerate() {
                    *total += component_flow(phase, flow, conc, c);
                }
                let ree_total: f64 = species
                    .iter()
                    .zip(conc)
                    .filter(|(sp, _)| sp.element.is_some_and(|e| e.is_rare_earth()))
                    .map(|(_, c)| c)
                    .sum();
                Product {
                    name,
                    stage,
                    phase,
                    flow,
                    flow_unit: flow_unit.to_string(),
                    concentration: species
                        .iter()
                        .zip(conc)
                        .map(|(sp, &c)| {
                            (sp.name.clone(), unit.from_model(c, sp.molar_mass_g_per_mol))
                        })
                        .collect(),
                    concentration_unit: unit,
                    ree_mole_fraction: species
                        .iter()
                        .zip(conc)
                        .filter(|(sp, _)| sp.element.is_some_and(|e| e.is_rare_earth()))
                        .map(|(sp, &c)| {
                            (
                                sp.name.clone(),
                                if ree_total > 0.0 { c / ree_total } else { 0.0 },
                            )
                        })
                        .collect(),
                    recovery: element_components
                        .iter()
                        .map(|&(e, c)| {
                            (
                                e.symbol().to_string(),
                                component_flow(phase, flow, conc, c) / feed_total[c],
                            )
                        })
                        .collect(),
                }
            })
            .collect();

        let by_element: BTreeMap<String, f64> = element_components
            .iter()
            .map(|&(e, c)| {
                (
                    e.symbol().to_string(),
                    ((feed_total[c] - product_total[c]) / feed_total[c]).abs(),
                )
            })
            .collect();
        let max_relative_error = by_element.values().fold(0.0_f64, |m, v| m.max(*v));

        let stages = (1..=n)
            .map(|s| {
                let aq = &solution.aqueous[s - 1];
                let org = &solution.organic[s - 1];
                let d = model.diagnostics(aq, org);
                StageResult {
                    stage: s,
                    aqueous: aq_species
                        .iter()
                        .zip(aq)
                        .map(|(sp, &c)| {
                            (sp.name.clone(), unit.from_model(c, sp.molar_mass_g_per_mol))
                        })
                        .collect(),
                    organic: org_species
                        .iter()
                        .zip(org)
                        .map(|(sp, &c)| {
                            (sp.name.clone(), unit.from_model(c, sp.molar_mass_g_per_mol))
                        })
                        .collect(),
                    ph: d.ph,
                    distribution_ratio: d
                        .distribution_ratio
                        .iter()
                        .map(|(e, v)| (e.symbol().to_string(), *v))
                        .collect(),
                    loading: d.loading,
                    free_extractant_mol_per_l: d.free_extractant_mol_per_l,
                }
            })
            .collect();

        Self {
            converged: solution.convergence.converged,
            iterations: solution.convergence.iterations,
            max_residual: solution.convergence.max_residual,
            model: model.name().to_string(),
            products,
            stages,
            balance: Balance {
                max_relative_error,
                by_element,
            },
            convergence: solution.convergence.clone(),
        }
    }

    /// The product called `name`.
    pub fn product(&self, name: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.name == name)
    }
}
