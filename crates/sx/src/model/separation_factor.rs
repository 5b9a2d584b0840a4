//! Model B: constant separation factors with a fully loaded organic (Xu Guangxian).
//!
//! Concentrations are REE mole fractions and flows are REE molar flows normalised to the feed,
//! so `y_k = β_k x_k / Σ_j β_j x_j` is the whole equilibrium.

use super::{ln_floor, Component, EquilibriumModel, Speciation, SpeciesInfo, StageDiagnostics};
use crate::error::SxError;
use lodestone_chem::Element;

/// Constant separation factors β_k relative to any reference element.
#[derive(Debug, Clone)]
pub struct SeparationFactorModel {
    elements: Vec<Element>,
    beta: Vec<f64>,
    species: Vec<SpeciesInfo>,
    components: Vec<Component>,
}

impl SeparationFactorModel {
    /// `beta` pairs each element with its separation factor relative to a common reference.
    pub fn new(beta: &[(Element, f64)]) -> Result<Self, SxError> {
        if beta.is_empty() {
            return Err(SxError::invalid(
                "model.beta",
                "no elements",
                "at least one element with β > 0",
            ));
        }
        for &(e, b) in beta {
            if !(b.is_finite() && b > 0.0) {
                return Err(SxError::invalid(
                    &format!("model.beta.{}", e.symbol()),
                    &b.to_string(),
                    "a finite separation factor > 0",
                ));
            }
        }
        let elements: Vec<Element> = beta.iter().map(|&(e, _)| e).collect();
        let species: Vec<SpeciesInfo> = elements
            .iter()
            .map(|&e| SpeciesInfo::metal(e, e.molar_mass_g_per_mol()))
            .collect();
        let components = (0..elements.len())
            .map(|k| Component {
                name: elements[k].symbol().to_string(),
                element: Some(elements[k]),
                aqueous: vec![(k, 1.0)],
                organic: vec![(k, 1.0)],
            })
            .collect();
        Ok(Self {
            elements,
            beta: beta.iter().map(|&(_, b)| b).collect(),
            species,
            components,
        })
    }

    /// Elements in model order.
    pub fn elements(&self) -> &[Element] {
        &self.elements
    }
}

impl EquilibriumModel for SeparationFactorModel {
    fn name(&self) -> &'static str {
        "separation-factor"
    }
    fn aqueous_species(&self) -> &[SpeciesInfo] {
        &self.species
    }
    fn organic_species(&self) -> &[SpeciesInfo] {
        &self.species
    }
    fn components(&self) -> &[Component] {
        &self.components
    }
    fn unknowns_per_stage(&self) -> usize {
        self.elements.len()
    }

    fn mole_fraction_form(&self) -> bool {
        true
    }

    /// β_k(λ) = β_k^λ: at λ = 0 every element has β = 1.
    fn with_separation(&self, lambda: f64) -> Option<Box<dyn EquilibriumModel>> {
        if self.elements.len() < 2 {
            return None;
        }
        let mut m = self.clone();
        for b in &mut m.beta {
            *b = b.powf(lambda);
        }
        Some(Box::new(m))
    }

    fn speciate(&self, _stage: usize, ln_x: &[f64], out: &mut Speciation) {
        let n = self.elements.len();
        out.clear_derivatives();
        let mut sum_beta_x = 0.0;
        for k in 0..n {
            let x = ln_x[k].exp();
            out.aqueous[k] = x;
            out.d_aqueous[k * n + k] = x;
            sum_beta_x += self.beta[k] * x;
        }
        // y_k = β_k x_k / Σβx;  ∂y_k/∂ln x_j = y_k (δ_kj − β_j x_j / Σβx)
        for k in 0..n {
            let y = self.beta[k] * out.aqueous[k] / sum_beta_x;
            out.organic[k] = y;
            for j in 0..n {
                let w = self.beta[j] * out.aqueous[j] / sum_beta_x;
                out.d_organic[k * n + j] = y * (if j == k { 1.0 } else { 0.0 } - w);
            }
        }
    }

    fn cold_start(&self, _stage: usize, aqueous_mix: &[f64], organic_mix: &[f64], out: &mut [f64]) {
        let total: f64 = aqueous_mix.iter().chain(organic_mix).sum();
        for k in 0..self.elements.len() {
            let frac = if total > 0.0 {
                (aqueous_mix[k] + organic_mix[k]) / total
            } else {
                0.0
            };
            out[k] = ln_floor(frac, 1e-12);
        }
    }

    fn diagnostics(&self, aqueous: &[f64], organic: &[f64]) -> StageDiagnostics {
        StageDiagnostics {
            distribution_ratio: self
                .elements
                .iter()
                .enumerate()
                .map(|(k, &e)| (e, organic[k] / aqueous[k]))
                .collect(),
            ..Default::default()
        }
    }
}
