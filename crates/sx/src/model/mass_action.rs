//! Model D: mass-action cation exchange with extractant loading (Turgeon et al. 2023 form).
//!
//! `Mᶻ⁺ + z HA ⇌ MA_z + z H⁺` with `K_i = y_i hᶻ / (x_i aᶻ)`, and the saponification cation
//! `S^{zM+} + zM HA ⇌ SA_{zM} + zM H⁺` with `K_S = s h^{zM} / (c a^{zM})` (monomeric notation,
//! concentrations in mol/L, no activity corrections). Free extractant `a` is what the metals
//! and the saponification cation leave of the total sites, so distribution ratios fall as the
//! organic loads: `D_i = K_i (a/h)^{z_i}`.

use super::{ln_floor, Component, EquilibriumModel, Speciation, SpeciesInfo, StageDiagnostics};
use crate::error::SxError;
use lodestone_chem::Element;
use std::f64::consts::LN_10;

/// The cation used to saponify the extractant.
#[derive(Debug, Clone, PartialEq)]
pub struct SaponificationCation {
    /// Aqueous species (Na, NH4 or Mg) with its molar mass.
    pub species: SpeciesInfo,
    /// Charge z_M (1 for Na⁺ and NH4⁺, 2 for Mg²⁺).
    pub charge: f64,
    /// log10 K_S in the monomeric notation.
    pub log10_k: f64,
}

/// Parameters of [`MassActionModel::new`].
#[derive(Debug, Clone)]
pub struct MassActionParameters {
    /// Each metal with its log10 K and charge.
    pub metals: Vec<(SpeciesInfo, f64, f64)>,
    /// The proton species (molar mass for mg/L output).
    pub proton: SpeciesInfo,
    /// The saponification cation, when the organic is saponified or the liquor carries it.
    pub cation: Option<SaponificationCation>,
    /// Aqueous spectators (chloride, …).
    pub inert_aqueous: Vec<SpeciesInfo>,
    /// Name and molar mass of the free extractant (e.g. `HA`, P507 306.4 g/mol).
    pub extractant: SpeciesInfo,
}

/// Model D with its parameters.
#[derive(Debug, Clone)]
pub struct MassActionModel {
    metals: Vec<Element>,
    ln_k: Vec<f64>,
    charge: Vec<f64>,
    cation: Option<(f64, f64)>,
    inert: usize,
    aqueous: Vec<SpeciesInfo>,
    organic: Vec<SpeciesInfo>,
    components: Vec<Component>,
}

impl MassActionModel {
    /// Aqueous: metals, H, [cation], inerts. Organic: metals, HA, [cation salt].
    pub fn new(p: MassActionParameters) -> Result<Self, SxError> {
        let n = p.metals.len();
        let mut metals = Vec::with_capacity(n);
        for (sp, log10_k, z) in &p.metals {
            let e = sp
                .element
                .ok_or_else(|| SxError::invalid("model.log10_k", &sp.name, "a metal element"))?;
            if !log10_k.is_finite() || !(*z > 0.0) {
                return Err(SxError::invalid(
                    &format!("model.log10_k.{}", sp.name),
                    &format!("log10 K = {log10_k}, charge = {z}"),
                    "a finite log10 K and a positive charge",
                ));
            }
            metals.push(e);
        }
        let mut aqueous: Vec<SpeciesInfo> = p.metals.iter().map(|m| m.0.clone()).collect();
        let mut organic = aqueous.clone();
        let charge: Vec<f64> = p.metals.iter().map(|m| m.2).collect();
        aqueous.push(p.proton.clone());
        organic.push(p.extractant.clone());
        let (h, a) = (n, n);
        let mut components: Vec<Component> = (0..n)
            .map(|i| Component {
                name: metals[i].symbol().to_string(),
                element: Some(metals[i]),
                aqueous: vec![(i, 1.0)],
                organic: vec![(i, 1.0)],
            })
            .collect();
        let mut sites = Component {
            name: "extractant sites".into(),
            element: None,
            aqueous: vec![],
            organic: (0..n).map(|i| (i, charge[i])).chain([(a, 1.0)]).collect(),
        };
        if let Some(c) = &p.cation {
            aqueous.push(c.species.clone());
            organic.push(SpeciesInfo::other(
                &format!(
                    "{}A{}",
                    c.species.name,
                    if c.charge == 1.0 {
                        "".into()
                    } else {
                        format!("{}", c.charge)
                    }
                ),
                c.species.molar_mass_g_per_mol,
            ));
            components.push(Component {
                name: c.species.name.clone(),
                element: c.species.element,
                aqueous: vec![(n + 1, 1.0)],
                organic: vec![(n + 1, 1.0)],
            });
            sites.organic.push((n + 1, c.charge));
        }
        components.push(sites);
        components.push(Component {
            name: "hydrogen".into(),
            element: None,
            aqueous: vec![(h, 1.0)],
            organic: vec![(a, 1.0)],
        });
        let first_inert = aqueous.len();
        for (j, sp) in p.inert_aqueous.iter().enumerate() {
            aqueous.push(sp.clone());
            components.push(Component {
                name: sp.name.clone(),
                element: sp.element,
                aqueous: vec![(first_inert + j, 1.0)],
                organic: vec![],
            });
        }
        Ok(Self {
            metals,
            ln_k: p.metals.iter().map(|m| m.1 * LN_10).collect(),
            charge,
            cation: p.cation.as_ref().map(|c| (c.log10_k * LN_10, c.charge)),
            inert: p.inert_aqueous.len(),
            aqueous,
            organic,
            components,
        })
    }

    fn n(&self) -> usize {
        self.metals.len()
    }
    fn has_cation(&self) -> usize {
        usize::from(self.cation.is_some())
    }
}

impl EquilibriumModel for MassActionModel {
    fn name(&self) -> &'static str {
        "mass-action"
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
    /// Unknowns: ln x_i…, ln h, [ln c], ln a, ln inert….
    fn unknowns_per_stage(&self) -> usize {
        self.n() + 2 + self.has_cation() + self.inert
    }

    /// Components are the metals, [the cation], sites, hydrogen, spectators; a metal, the
    /// cation and a spectator are each scaled by their own aqueous unknown.
    fn scaling_unknown(&self, component: usize) -> Option<usize> {
        let n = self.n();
        let cation = self.has_cation();
        if component < n + cation {
            // ln x_i is unknown i; ln c is unknown n + 1.
            Some(if component < n { component } else { n + 1 })
        } else if component >= n + cation + 2 {
            Some(component - (n + cation + 2) + n + 2 + cation)
        } else {
            None
        }
    }

    /// The loading and acid fronts of a long cascade take hundreds of pseudo-transient steps to
    /// climb from the cold start; a reduced cascade places them in a fraction of that.
    fn nested_start(&self) -> bool {
        true
    }

    fn speciate(&self, _stage: usize, v: &[f64], out: &mut Speciation) {
        let n = self.n();
        let k = self.unknowns_per_stage();
        let ih = n;
        let ia = n + 1 + self.has_cation();
        out.clear_derivatives();
        let ln_a_over_h = v[ia] - v[ih];
        for i in 0..n {
            let x = v[i].exp();
            out.aqueous[i] = x;
            out.d_aqueous[i * k + i] = x;
            let z = self.charge[i];
            let y = (self.ln_k[i] + v[i] + z * ln_a_over_h).exp();
            out.organic[i] = y;
            out.d_organic[i * k + i] = y;
            out.d_organic[i * k + ia] = z * y;
            out.d_organic[i * k + ih] = -z * y;
        }
        let h = v[ih].exp();
        out.aqueous[ih] = h;
        out.d_aqueous[ih * k + ih] = h;
        let a = v[ia].exp();
        out.organic[n] = a;
        out.d_organic[n * k + ia] = a;
        if let Some((ln_ks, zm)) = self.cation {
            let ic = n + 1;
            let c = v[ic].exp();
            out.aqueous[ic] = c;
            out.d_aqueous[ic * k + ic] = c;
            let s = (ln_ks + v[ic] + zm * ln_a_over_h).exp();
            out.organic[n + 1] = s;
            out.d_organic[(n + 1) * k + ic] = s;
            out.d_organic[(n + 1) * k + ia] = zm * s;
            out.d_organic[(n + 1) * k + ih] = -zm * s;
        }
        let first_inert_species = n + 1 + self.has_cation();
        for j in 0..self.inert {
            let c = v[ia + 1 + j].exp();
            out.aqueous[first_inert_species + j] = c;
            out.d_aqueous[(first_inert_species + j) * k + ia + 1 + j] = c;
        }
    }

    fn cold_start(&self, _stage: usize, aq: &[f64], org: &[f64], out: &mut [f64]) {
        let n = self.n();
        let ia = n + 1 + self.has_cation();
        let total_sites: f64 = (0..n).map(|i| self.charge[i] * org[i]).sum::<f64>()
            + org[n]
            + self.cation.map_or(0.0, |(_, zm)| zm * org[n + 1]);
        for i in 0..n {
            out[i] = ln_floor(aq[i] + org[i], 1e-30);
        }
        // Acid: the mixed aqueous acid, never below pH 3 so the first iterate is not fully loaded.
        out[n] = ln_floor(aq[n], 1e-3);
        if self.cation.is_some() {
            out[n + 1] = ln_floor(aq[n + 1] + org[n + 1], 1e-30);
        }
        out[ia] = ln_floor(0.5 * total_sites, 1e-30);
        let first_inert_species = n + 1 + self.has_cation();
        for j in 0..self.inert {
            out[ia + 1 + j] = ln_floor(aq[first_inert_species + j], 1e-30);
        }
    }

    fn diagnostics(&self, aqueous: &[f64], organic: &[f64]) -> StageDiagnostics {
        let n = self.n();
        let metal_sites: f64 = (0..n).map(|i| self.charge[i] * organic[i]).sum();
        let cation_sites = self.cation.map_or(0.0, |(_, zm)| zm * organic[n + 1]);
        StageDiagnostics {
            ph: Some(-aqueous[n].log10()),
            distribution_ratio: (0..n)
                .map(|i| (self.metals[i], organic[i] / aqueous[i]))
                .collect(),
            loading: Some(metal_sites / (metal_sites + cation_sites + organic[n])),
            free_extractant_mol_per_l: Some(organic[n]),
        }
    }
}
