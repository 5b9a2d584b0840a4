//! Model A: a fixed fraction of each species in the aqueous stream entering a stage moves to
//! the organic (PrOMMiS ≤ 0.7 "partition coefficients"). No equilibrium.

use super::{
    ln_floor, Component, EquilibriumModel, Speciation, SpeciesInfo, StageDiagnostics, TransferLaw,
};
use crate::error::SxError;

/// Fixed transfer fractions per stage for the species that cross; the rest stay in their phase.
#[derive(Debug, Clone)]
pub struct FixedFractionModel {
    aqueous: Vec<SpeciesInfo>,
    organic: Vec<SpeciesInfo>,
    /// For each aqueous species, the organic species it transfers to.
    organic_of_aqueous: Vec<Option<usize>>,
    /// `fraction[stage][aqueous index]`.
    fraction: Vec<Vec<f64>>,
    components: Vec<Component>,
}

impl FixedFractionModel {
    /// `aqueous_only`: species that never cross (acid, anions). `transferring[k]` is a species
    /// present in both phases with `fraction_by_stage[s][k]` moved in stage `s` (0-based).
    pub fn new(
        aqueous_only: Vec<SpeciesInfo>,
        transferring: Vec<SpeciesInfo>,
        fraction_by_stage: Vec<Vec<f64>>,
    ) -> Result<Self, SxError> {
        for (s, row) in fraction_by_stage.iter().enumerate() {
            if row.len() != transferring.len() {
                return Err(SxError::invalid(
                    "model.fraction",
                    &format!("{} values for stage {}", row.len(), s + 1),
                    &format!(
                        "one value per transferring species ({})",
                        transferring.len()
                    ),
                ));
            }
            for (k, &p) in row.iter().enumerate() {
                if !(0.0..1.0).contains(&p) {
                    return Err(SxError::invalid(
                        &format!("model.fraction.{} (stage {})", transferring[k].name, s + 1),
                        &p.to_string(),
                        "a fraction in [0, 1); percentages must be given as fractions",
                    ));
                }
            }
        }
        let n_only = aqueous_only.len();
        let mut aqueous = aqueous_only;
        aqueous.extend(transferring.iter().cloned());
        let organic = transferring;
        let organic_of_aqueous: Vec<Option<usize>> =
            (0..aqueous.len()).map(|i| i.checked_sub(n_only)).collect();
        let fraction = fraction_by_stage
            .into_iter()
            .map(|row| {
                let mut full = vec![0.0; n_only];
                full.extend(row);
                full
            })
            .collect();
        let components = aqueous
            .iter()
            .enumerate()
            .map(|(i, sp)| Component {
                name: sp.name.clone(),
                element: sp.element,
                aqueous: vec![(i, 1.0)],
                organic: organic_of_aqueous[i]
                    .map(|o| vec![(o, 1.0)])
                    .unwrap_or_default(),
            })
            .collect();
        Ok(Self {
            aqueous,
            organic,
            organic_of_aqueous,
            fraction,
            components,
        })
    }

    /// Number of stages the fractions are given for.
    pub fn stages(&self) -> usize {
        self.fraction.len()
    }
}

impl EquilibriumModel for FixedFractionModel {
    fn name(&self) -> &'static str {
        "fixed-fraction"
    }
    fn aqueous_species(&self) -> &[SpeciesInfo] {
        &self.aqueous
    }
    fn organic_species(&self) -> &[SpeciesInfo] {
        &self.organic
    }
    fn components(&self) -> &[Component] {
        &self.components
    }
    fn unknowns_per_stage(&self) -> usize {
        self.aqueous.len() + self.organic.len()
    }
    fn transfer_law(&self) -> TransferLaw {
        TransferLaw::FixedFraction
    }
    fn transfer_fraction(&self, stage: usize, aqueous_index: usize) -> Option<(usize, f64)> {
        self.organic_of_aqueous[aqueous_index].map(|o| (o, self.fraction[stage][aqueous_index]))
    }

    fn speciate(&self, _stage: usize, ln_c: &[f64], out: &mut Speciation) {
        let n_aq = self.aqueous.len();
        let k = n_aq + self.organic.len();
        out.clear_derivatives();
        for i in 0..n_aq {
            let x = ln_c[i].exp();
            out.aqueous[i] = x;
            out.d_aqueous[i * k + i] = x;
        }
        for o in 0..self.organic.len() {
            let y = ln_c[n_aq + o].exp();
            out.organic[o] = y;
            out.d_organic[o * k + n_aq + o] = y;
        }
    }

    fn cold_start(&self, _stage: usize, aqueous_mix: &[f64], organic_mix: &[f64], out: &mut [f64]) {
        let n_aq = self.aqueous.len();
        for i in 0..n_aq {
            out[i] = ln_floor(aqueous_mix[i], 1e-30);
        }
        for o in 0..self.organic.len() {
            let aq = self
                .organic_of_aqueous
                .iter()
                .position(|&l| l == Some(o))
                .map_or(0.0, |i| aqueous_mix[i]);
            out[n_aq + o] = ln_floor(organic_mix[o] + 0.5 * aq, 1e-30);
        }
    }

    fn diagnostics(&self, aqueous: &[f64], organic: &[f64]) -> StageDiagnostics {
        StageDiagnostics {
            distribution_ratio: self
                .aqueous
                .iter()
                .enumerate()
                .filter_map(|(i, sp)| {
                    let o = self.organic_of_aqueous[i]?;
                    sp.element.map(|e| (e, organic[o] / aqueous[i]))
                })
                .collect(),
            ..Default::default()
        }
    }
}
