//! Organic-phase Murphree stage efficiency around any equilibrium model:
//! `y_out = y_in + E (y*(x_out) − y_in)`, where `y_in` is the organic entering the stage (feeds
//! mixed in) and `y*` the organic in equilibrium with the aqueous outlet. Every relation is
//! linear in the organic species, so linear invariants of the organic (extractant sites)
//! carry over from the inlet and the equilibrium organic to the outlet.

use super::{Component, EquilibriumModel, Speciation, SpeciesInfo, StageDiagnostics, TransferLaw};
use crate::error::SxError;

/// Wraps an equilibrium model; the unknowns become the inner model's followed by ln of every
/// organic outlet concentration.
pub struct MurphreeModel {
    inner: Box<dyn EquilibriumModel>,
    efficiency: Vec<f64>,
}

impl MurphreeModel {
    /// `efficiency[s]` in (0, 1] for each stage (0-based).
    pub fn new(inner: Box<dyn EquilibriumModel>, efficiency: Vec<f64>) -> Result<Self, SxError> {
        if inner.transfer_law() != TransferLaw::Equilibrium {
            return Err(SxError::invalid(
                "cascade.efficiency",
                "given",
                &format!(
                    "an equilibrium model: the {} model has no equilibrium to approach",
                    inner.name()
                ),
            ));
        }
        for (s, &e) in efficiency.iter().enumerate() {
            if !(e > 0.0 && e <= 1.0) {
                return Err(SxError::invalid(
                    &format!("cascade.efficiency (stage {})", s + 1),
                    &e.to_string(),
                    "a Murphree efficiency in (0, 1]",
                ));
            }
        }
        Ok(Self { inner, efficiency })
    }

    fn k_inner(&self) -> usize {
        self.inner.unknowns_per_stage()
    }
}

impl EquilibriumModel for MurphreeModel {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn aqueous_species(&self) -> &[SpeciesInfo] {
        self.inner.aqueous_species()
    }
    fn organic_species(&self) -> &[SpeciesInfo] {
        self.inner.organic_species()
    }
    fn components(&self) -> &[Component] {
        self.inner.components()
    }
    fn unknowns_per_stage(&self) -> usize {
        self.k_inner() + self.inner.organic_species().len()
    }
    fn transfer_law(&self) -> TransferLaw {
        TransferLaw::Murphree
    }
    fn murphree_efficiency(&self, stage: usize) -> f64 {
        self.efficiency[stage]
    }

    fn speciate(&self, stage: usize, v: &[f64], out: &mut Speciation) {
        let (ki, k) = (self.k_inner(), self.unknowns_per_stage());
        let (n_aq, n_org) = (out.aqueous.len(), out.organic.len());
        let inner = out
            .inner
            .get_or_insert_with(|| Box::new(Speciation::new(n_aq, n_org, ki)));
        self.inner.speciate(stage, &v[..ki], inner);
        out.organic_equilibrium.resize(n_org, 0.0);
        out.d_organic_equilibrium.resize(n_org * k, 0.0);
        out.d_aqueous.iter_mut().for_each(|d| *d = 0.0);
        out.d_organic.iter_mut().for_each(|d| *d = 0.0);
        out.d_organic_equilibrium.iter_mut().for_each(|d| *d = 0.0);
        for i in 0..n_aq {
            out.aqueous[i] = inner.aqueous[i];
            out.d_aqueous[i * k..i * k + ki]
                .copy_from_slice(&inner.d_aqueous[i * ki..(i + 1) * ki]);
        }
        for j in 0..n_org {
            out.organic_equilibrium[j] = inner.organic[j];
            out.d_organic_equilibrium[j * k..j * k + ki]
                .copy_from_slice(&inner.d_organic[j * ki..(j + 1) * ki]);
            let y = v[ki + j].exp();
            out.organic[j] = y;
            out.d_organic[j * k + ki + j] = y;
        }
    }

    fn cold_start(&self, stage: usize, aqueous_mix: &[f64], organic_mix: &[f64], out: &mut [f64]) {
        let ki = self.k_inner();
        self.inner
            .cold_start(stage, aqueous_mix, organic_mix, &mut out[..ki]);
        let mut sp = Speciation::new(aqueous_mix.len(), organic_mix.len(), ki);
        self.inner.speciate(stage, &out[..ki], &mut sp);
        for (j, y) in sp.organic.iter().enumerate() {
            out[ki + j] = y.max(1e-300).ln();
        }
    }

    fn diagnostics(&self, aqueous: &[f64], organic: &[f64]) -> StageDiagnostics {
        self.inner.diagnostics(aqueous, organic)
    }
}
