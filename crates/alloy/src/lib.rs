//! NdFeB alloy: grades and specifications, raw materials and lots, the least-cost charge
//! optimiser, melt losses and strip casting. Pure computation: no I/O, no clocks, no global
//! state. Equations and sources: `docs/alloy-plan-format.md` (the charge LP),
//! `docs/alloy-melt-loss.md`, `docs/alloy-casting.md`; published cases in the tests.

pub mod batch;
pub mod campaign;
pub mod casting;
pub mod error;
pub mod grades;
pub mod material;
pub mod melt_loss;
pub mod plan;
pub mod spec;

pub use batch::{charge, correct, Charge, ChargeLine, ChargeRequest, Heel};
pub use campaign::{
    parse_campaign, run_campaign, Campaign, CampaignHeat, CampaignResult, HeatOutcome,
};
pub use casting::{
    cool_flake, flake_qc, flake_thickness_mm, pour_rate_for_thickness_kg_per_s_per_m,
    wheel_speed_for_thickness_m_per_s, AlloyThermalProperties, CastingError, CoolingConditions,
    CoolingResult, FlakeGradeLimits, FlakeQcReport, FlakeSample, MicrostructureModel,
    SetpointAdvice, SetpointRequest, StripCaster,
};
pub use error::AlloyError;
pub use material::{Lot, LotStatus};
pub use melt_loss::{
    evaporation_loss, fit_recovery, hertz_knudsen_flux_kg_per_m2_s, metal_per_oxygen_kg_per_kg,
    oxidation_loss_kg, oxygen_capacity_kg, oxygen_pickup_kg, predict_melt_loss, AssayedOutput,
    ElementEvaporation, EvaporationConditions, FittedRecovery, HeatRecord, MeltLoss, MeltLossError,
    MeltLossInput, MeltLossParameters, OxideForm, Pooling, RecoveryFits, RecoveryModel,
    RecoveryResidual, VapourPressure, Volatility,
};
pub use plan::parse_plan;
pub use spec::{best_quality_grade, check_assay, Basis, Grade, QualityGrade, Rule};
