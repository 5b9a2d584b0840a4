//! Model C: empirical distribution ratios with cation-exchange stoichiometry (PrOMMiS ≥ 0.8).
//!
//! `D_e = 10^((m0 + m1·dosage)·pH + B0 + B1·log10(dosage))` for rare earths, a constant `D_e`
//! for impurities; `C_org = D·C_aq` in mol/L. Each metal of charge n moved to the organic
//! releases n H⁺ and consumes n extractant molecules. Bisulfate `HSO4⁻ ⇌ H⁺ + SO4²⁻` is at
//! equilibrium in every stage (not in the inlets). `dosage` is the extractant's vol% computed
//! from the stage organic: `C_ext (g/L) / ρ_ext (g/L) × 100`.

use super::{ln_floor, Component, EquilibriumModel, Speciation, SpeciesInfo, StageDiagnostics};
use crate::error::SxError;
use lodestone_chem::Element;
use std::f64::consts::LN_10;

/// The pH/dosage correlation of one rare earth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReeDistributionFit {
    /// pH slope at zero dosage.
    pub m0: f64,
    /// Change of the pH slope per vol% of extractant.
    pub m1: f64,
    /// Intercept.
    pub b0: f64,
    /// Coefficient of log10(dosage).
    pub b1: f64,
}

/// How one metal distributes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetalDistribution {
    /// pH/dosage correlation.
    Fit(ReeDistributionFit),
    /// Constant distribution ratio.
    Constant(f64),
}

/// Model C with its parameters.
#[derive(Debug, Clone)]
pub struct DistributionModel {
    metals: Vec<Element>,
    distribution: Vec<MetalDistribution>,
    /// Protons released (and extractant consumed) per metal transferred.
    exchange: Vec<f64>,
    with_sulfate: bool,
    inert: usize,
    ln_ka2: f64,
    /// mol/L of extractant → vol%.
    dosage_per_mol_per_l: f64,
    aqueous: Vec<SpeciesInfo>,
    organic: Vec<SpeciesInfo>,
    components: Vec<Component>,
}

/// Parameters of [`DistributionModel::new`].
#[derive(Debug, Clone)]
pub struct DistributionParameters {
    /// Each metal, its distribution and the protons exchanged per ion (3 for Ln³⁺, 2 for Ca²⁺).
    pub metals: Vec<(SpeciesInfo, MetalDistribution, f64)>,
    /// Proton, bisulfate and sulfate species info (molar masses used for mg/L).
    pub proton: SpeciesInfo,
    /// `Some((HSO4, SO4, pKa2))` when the liquor is a sulfate system.
    pub sulfate: Option<(SpeciesInfo, SpeciesInfo, f64)>,
    /// Aqueous species that take no part (chloride, …).
    pub inert_aqueous: Vec<SpeciesInfo>,
    /// The extractant (e.g. DEHPA, 322.431 g/mol).
    pub extractant: SpeciesInfo,
    /// Density of the neat extractant (g/L; DEHPA 975.8) used for the dosage in vol%.
    pub extractant_density_g_per_l: f64,
}

impl DistributionModel {
    /// Builds the model; indices: aqueous = metals, H, [HSO4, SO4], inerts; organic = metals, extractant.
    pub fn new(p: DistributionParameters) -> Result<Self, SxError> {
        if !(p.extractant_density_g_per_l > 0.0) {
            return Err(SxError::invalid(
                "model.extractant_density_g_per_l",
                &p.extractant_density_g_per_l.to_string(),
                "a density > 0 g/L",
            ));
        }
        let n = p.metals.len();
        let metals: Vec<Element> = p
            .metals
            .iter()
            .map(|(sp, _, _)| {
                sp.element
                    .ok_or_else(|| SxError::invalid("model.metals", &sp.name, "a metal element"))
            })
            .collect::<Result<_, _>>()?;
        let mut aqueous: Vec<SpeciesInfo> = p.metals.iter().map(|(sp, _, _)| sp.clone()).collect();
        let mut organic = aqueous.clone();
        aqueous.push(p.proton.clone());
        let h = n;
        let mut components: Vec<Component> = (0..n)
            .map(|i| Component {
                name: metals[i].symbol().to_string(),
                element: Some(metals[i]),
                aqueous: vec![(i, 1.0)],
                organic: vec![(i, 1.0)],
            })
            .collect();
        let ext = n;
        organic.push(p.extractant.clone());
        let exchange: Vec<f64> = p.metals.iter().map(|m| m.2).collect();
        let mut hydrogen = Component {
            name: "hydrogen".into(),
            element: None,
            aqueous: vec![(h, 1.0)],
            organic: vec![(ext, 1.0)],
        };
        let mut ln_ka2 = 0.0;
        if let Some((hso4, so4, pka2)) = &p.sulfate {
            aqueous.push(hso4.clone());
            aqueous.push(so4.clone());
            ln_ka2 = -pka2 * LN_10;
            hydrogen.aqueous.push((h + 1, 1.0));
            components.push(Component {
                name: "sulfate".into(),
                element: None,
                aqueous: vec![(h + 1, 1.0), (h + 2, 1.0)],
                organic: vec![],
            });
        }
        components.push(hydrogen);
        let mut sites = Component {
            name: "extractant".into(),
            element: None,
            aqueous: vec![],
            organic: vec![(ext, 1.0)],
        };
        sites.organic.extend((0..n).map(|i| (i, exchange[i])));
        components.push(sites);
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
            distribution: p.metals.iter().map(|m| m.1).collect(),
            exchange,
            with_sulfate: p.sulfate.is_some(),
            inert: p.inert_aqueous.len(),
            ln_ka2,
            dosage_per_mol_per_l: p.extractant.molar_mass_g_per_mol / p.extractant_density_g_per_l
                * 100.0,
            aqueous,
            organic,
            components,
        })
    }

    fn n(&self) -> usize {
        self.metals.len()
    }

    /// ln D of metal i and its derivatives with respect to ln h and ln(extractant).
    fn ln_d(&self, i: usize, ln_h: f64, ln_ext: f64) -> (f64, f64, f64) {
        match self.distribution[i] {
            MetalDistribution::Constant(d) => (d.ln(), 0.0, 0.0),
            MetalDistribution::Fit(f) => {
                let dosage = ln_ext.exp() * self.dosage_per_mol_per_l;
                let ph = -ln_h / LN_10;
                let slope = f.m0 + f.m1 * dosage;
                let log10_d = slope * ph + f.b0 + f.b1 * dosage.log10();
                (log10_d * LN_10, -slope, LN_10 * f.m1 * dosage * ph + f.b1)
            }
        }
    }

    /// Index of the unknown ln[extractant].
    fn ext_unknown(&self) -> usize {
        self.n() + 1 + if self.with_sulfate { 1 } else { 0 }
    }
}

impl EquilibriumModel for DistributionModel {
    fn name(&self) -> &'static str {
        "distribution"
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
    /// Unknowns: ln x_metal…, ln h, [ln SO4], ln extractant, ln inert….
    fn unknowns_per_stage(&self) -> usize {
        self.n() + 2 + usize::from(self.with_sulfate) + self.inert
    }

    fn speciate(&self, _stage: usize, v: &[f64], out: &mut Speciation) {
        let n = self.n();
        let k = self.unknowns_per_stage();
        let ih = n;
        let ie = self.ext_unknown();
        out.clear_derivatives();
        let ln_h = v[ih];
        let ln_ext = v[ie];
        for i in 0..n {
            let x = v[i].exp();
            out.aqueous[i] = x;
            out.d_aqueous[i * k + i] = x;
            let (ln_d, d_dh, d_de) = self.ln_d(i, ln_h, ln_ext);
            let y = (ln_d + v[i]).exp();
            out.organic[i] = y;
            out.d_organic[i * k + i] = y;
            out.d_organic[i * k + ih] = y * d_dh;
            out.d_organic[i * k + ie] = y * d_de;
        }
        let h = ln_h.exp();
        out.aqueous[ih] = h;
        out.d_aqueous[ih * k + ih] = h;
        if self.with_sulfate {
            // HSO4 = h·SO4/Ka2
            let iso4 = n + 1;
            let so4 = v[iso4].exp();
            let hso4 = (ln_h + v[iso4] - self.ln_ka2).exp();
            out.aqueous[n + 1] = hso4;
            out.d_aqueous[(n + 1) * k + ih] = hso4;
            out.d_aqueous[(n + 1) * k + iso4] = hso4;
            out.aqueous[n + 2] = so4;
            out.d_aqueous[(n + 2) * k + iso4] = so4;
        }
        let ext = ln_ext.exp();
        out.organic[n] = ext;
        out.d_organic[n * k + ie] = ext;
        let first_inert_species = n + 1 + 2 * usize::from(self.with_sulfate);
        for j in 0..self.inert {
            let c = v[ie + 1 + j].exp();
            out.aqueous[first_inert_species + j] = c;
            out.d_aqueous[(first_inert_species + j) * k + ie + 1 + j] = c;
        }
    }

    fn cold_start(&self, _stage: usize, aq: &[f64], org: &[f64], out: &mut [f64]) {
        let n = self.n();
        for i in 0..n {
            out[i] = ln_floor(aq[i] + org[i], 1e-30);
        }
        let mut h = aq[n];
        let ie = self.ext_unknown();
        if self.with_sulfate {
            // Split total sulfate so that the bisulfate equilibrium holds at the mixed proton level.
            let total = aq[n + 1] + aq[n + 2];
            h += aq[n + 1];
            let ka2 = self.ln_ka2.exp();
            let h_guess = h.max(1e-7);
            out[n + 1] = ln_floor(total * ka2 / (ka2 + h_guess), 1e-30);
        }
        out[n] = ln_floor(h, 1e-7);
        out[ie] = ln_floor(org[n], 1e-30);
        let first_inert_species = n + 1 + 2 * usize::from(self.with_sulfate);
        for j in 0..self.inert {
            out[ie + 1 + j] = ln_floor(aq[first_inert_species + j], 1e-30);
        }
    }

    fn diagnostics(&self, aqueous: &[f64], organic: &[f64]) -> StageDiagnostics {
        let n = self.n();
        let sites: f64 = (0..n).map(|i| self.exchange[i] * organic[i]).sum();
        StageDiagnostics {
            ph: Some(-aqueous[n].log10()),
            distribution_ratio: (0..n)
                .map(|i| (self.metals[i], organic[i] / aqueous[i]))
                .collect(),
            loading: Some(sites / (sites + organic[n])),
            free_extractant_mol_per_l: Some(organic[n]),
        }
    }
}
