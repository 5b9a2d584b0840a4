//! Equilibrium (and transfer) models of a stage.
//!
//! A model says which species each phase carries, which linear combinations of species are
//! conserved ("components": an element, sulfate, extractant sites, hydrogen…) and how a stage's
//! equilibrium speciation follows from a handful of log-space unknowns. The cascade solver only
//! sees this trait, so a new model is a new type, never an edit to the solver.
//!
//! Equations as implemented are stated in `docs/sx-models.md`.

mod distribution;
mod fixed_fraction;
mod mass_action;
mod murphree;
mod separation_factor;

pub use distribution::{
    DistributionModel, DistributionParameters, MetalDistribution, ReeDistributionFit,
};
pub use fixed_fraction::FixedFractionModel;
pub use mass_action::{MassActionModel, MassActionParameters, SaponificationCation};
pub use murphree::MurphreeModel;
pub use separation_factor::SeparationFactorModel;

use lodestone_chem::Element;

/// A species carried by one phase, with the molar mass used to convert its concentration.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeciesInfo {
    /// Name used in files and results (`"Nd"`, `"H"`, `"HSO4"`, `"DEHPA"`, `"HA"`, `"NH4A"`).
    pub name: String,
    /// The element whose balance this species belongs to, for metals.
    pub element: Option<Element>,
    /// Molar mass used for mg/L conversions (g/mol).
    pub molar_mass_g_per_mol: f64,
}

impl SpeciesInfo {
    /// A metal species of `element` with the given molar mass.
    pub fn metal(element: Element, molar_mass_g_per_mol: f64) -> Self {
        Self {
            name: element.symbol().to_string(),
            element: Some(element),
            molar_mass_g_per_mol,
        }
    }
    /// A non-metal species (acid, anion, extractant).
    pub fn other(name: &str, molar_mass_g_per_mol: f64) -> Self {
        Self {
            name: name.to_string(),
            element: None,
            molar_mass_g_per_mol,
        }
    }
}

/// A conserved quantity: a linear combination of aqueous and organic species concentrations.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// Name used in convergence reports (`"Nd"`, `"sulfate"`, `"extractant sites"`).
    pub name: String,
    /// Set when the component is an element's balance (reported as closure per element).
    pub element: Option<Element>,
    /// (aqueous species index, coefficient).
    pub aqueous: Vec<(usize, f64)>,
    /// (organic species index, coefficient).
    pub organic: Vec<(usize, f64)>,
}

/// How mass moves between the phases of a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferLaw {
    /// Both outlets are in equilibrium; the stage's unknowns fix the whole speciation.
    Equilibrium,
    /// A fixed fraction of each species in the aqueous stream entering the stage moves to the
    /// organic (PrOMMiS ≤ 0.7). Unknowns are ln of every aqueous then every organic species;
    /// the solver adds one transfer relation per species that crosses.
    FixedFraction,
    /// Organic-phase Murphree efficiency: the aqueous outlet and an equilibrium organic come
    /// from the unknowns, the organic outlet is `y_in + E (y* − y_in)`; the solver adds one
    /// relation per organic species.
    Murphree,
}

/// The speciation of one stage and its derivatives with respect to the stage's unknowns.
#[derive(Debug, Clone)]
pub struct Speciation {
    /// Aqueous concentrations (model units: mol/L, or mole fraction in the normalised form).
    pub aqueous: Vec<f64>,
    /// Organic concentrations.
    pub organic: Vec<f64>,
    /// ∂aqueous/∂unknowns, row-major (n_aqueous × n_unknowns).
    pub d_aqueous: Vec<f64>,
    /// ∂organic/∂unknowns, row-major (n_organic × n_unknowns).
    pub d_organic: Vec<f64>,
    /// With [`TransferLaw::Murphree`]: the organic in equilibrium with the aqueous outlet, and
    /// its derivatives (same layout as `organic`, `d_organic`); empty otherwise.
    pub organic_equilibrium: Vec<f64>,
    /// ∂organic_equilibrium/∂unknowns.
    pub d_organic_equilibrium: Vec<f64>,
    /// Work space of a wrapping model (see [`MurphreeModel`]).
    pub inner: Option<Box<Speciation>>,
}

impl Speciation {
    /// Zeroed storage for a model's species and unknowns.
    pub fn new(n_aqueous: usize, n_organic: usize, n_unknowns: usize) -> Self {
        Self {
            aqueous: vec![0.0; n_aqueous],
            organic: vec![0.0; n_organic],
            d_aqueous: vec![0.0; n_aqueous * n_unknowns],
            d_organic: vec![0.0; n_organic * n_unknowns],
            organic_equilibrium: Vec::new(),
            d_organic_equilibrium: Vec::new(),
            inner: None,
        }
    }
    fn clear_derivatives(&mut self) {
        self.d_aqueous.iter_mut().for_each(|d| *d = 0.0);
        self.d_organic.iter_mut().for_each(|d| *d = 0.0);
    }
}

/// What a model reports about a converged stage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageDiagnostics {
    /// −log10 of the aqueous proton concentration, where the model has one.
    pub ph: Option<f64>,
    /// Organic/aqueous concentration ratio of each element present.
    pub distribution_ratio: Vec<(Element, f64)>,
    /// Fraction of extractant sites occupied by metals, where the model tracks sites.
    pub loading: Option<f64>,
    /// Free extractant (mol/L), where the model tracks it.
    pub free_extractant_mol_per_l: Option<f64>,
}

/// A stage model: species, conserved components and the equilibrium speciation.
pub trait EquilibriumModel: Send + Sync {
    /// Short name used in reports (`"fixed-fraction"`, `"separation-factor"`, …).
    fn name(&self) -> &'static str;
    /// Species of the aqueous phase.
    fn aqueous_species(&self) -> &[SpeciesInfo];
    /// Species of the organic phase.
    fn organic_species(&self) -> &[SpeciesInfo];
    /// Conserved components. For [`TransferLaw::Equilibrium`] their number equals the unknowns.
    fn components(&self) -> &[Component];
    /// Number of log-space unknowns per stage.
    fn unknowns_per_stage(&self) -> usize;
    /// How mass crosses between the phases.
    fn transfer_law(&self) -> TransferLaw {
        TransferLaw::Equilibrium
    }
    /// For [`TransferLaw::FixedFraction`]: the organic species that aqueous species
    /// `aqueous_index` moves to in stage `stage` (0-based), and the fraction of its aqueous
    /// inflow that moves; `None` when it stays in the aqueous.
    fn transfer_fraction(&self, _stage: usize, _aqueous_index: usize) -> Option<(usize, f64)> {
        None
    }
    /// With [`TransferLaw::Murphree`]: the organic-phase Murphree efficiency of stage `stage`.
    fn murphree_efficiency(&self, _stage: usize) -> f64 {
        1.0
    }
    /// For models in mole fractions whose organic composition follows from the aqueous one
    /// through ratios `y_k = K_k(x) x_k` that depend on the stage only through a common
    /// normaliser (Xu's constant-separation-factor form): the unknowns are `ln x_k`, and the
    /// solver may initialise by the bubble-point method (freeze `K_k`, solve each element's
    /// tridiagonal balance, normalise, repeat).
    fn mole_fraction_form(&self) -> bool {
        false
    }
    /// The unknown that scales a component, when there is one: every species of component
    /// `component` is `exp(unknown)` times a factor that does not depend on that unknown (a metal
    /// of model D: `x = e^u`, `y = K (a/h)^z e^u`). With the other unknowns frozen the
    /// component's balances are then a linear tridiagonal system in `e^u`, which the solver may
    /// solve directly (traces many decades down in one step).
    fn scaling_unknown(&self, _component: usize) -> Option<usize> {
        None
    }
    /// The same model with the differences between its elements scaled by `lambda` ∈ [0, 1]:
    /// at 0 every element behaves alike (the cascade is effectively one lumped element), at 1
    /// it is this model. The solver may follow the steady state along `lambda` (continuation)
    /// when Newton from the cold start stalls; `None` (the default) opts out.
    fn with_separation(&self, _lambda: f64) -> Option<Box<dyn EquilibriumModel>> {
        None
    }
    /// Whether the solver may start from a reduced cascade: the same feeds and flows with the
    /// middle of each long run of stages between feed and draw points left out, solved first and
    /// its profile stretched back over the full cascade (the levels of acid and loading in a
    /// section's pinch depend on its flows, not on how many stages it has). Only for models whose
    /// speciation does not depend on the stage index. `false` (the default) opts out.
    fn nested_start(&self) -> bool {
        false
    }
    /// Speciation of stage `stage` (0-based) from its unknowns `ln_unknowns`, with derivatives.
    fn speciate(&self, stage: usize, ln_unknowns: &[f64], out: &mut Speciation);
    /// Cold-start unknowns for a stage from well-mixed concentrations of each phase (every
    /// feed of a phase mixed together). Must return finite values.
    fn cold_start(&self, stage: usize, aqueous_mix: &[f64], organic_mix: &[f64], out: &mut [f64]);
    /// Diagnostics of a stage from its speciation.
    fn diagnostics(&self, aqueous: &[f64], organic: &[f64]) -> StageDiagnostics;
}

/// ln of a concentration with a floor, for cold starts from feeds that lack a species.
pub(crate) fn ln_floor(value: f64, floor: f64) -> f64 {
    value.max(floor).ln()
}
