//! NdFeB alloy: grades and specifications, raw materials and lots, the least-cost charge
//! optimiser, melt losses and strip casting. Pure computation: no I/O, no clocks, no global
//! state. Sources of every number: `docs/alloy-models.md` and the tests.

pub mod batch;
pub mod campaign;
pub mod error;
pub mod grades;
pub mod material;
pub mod plan;
pub mod spec;

pub use batch::{charge, correct, Charge, ChargeLine, ChargeRequest, Heel};
pub use campaign::{
    parse_campaign, run_campaign, Campaign, CampaignHeat, CampaignResult, HeatOutcome,
};
pub use error::AlloyError;
pub use material::{Lot, LotStatus};
pub use plan::parse_plan;
pub use spec::{best_quality_grade, check_assay, Basis, Grade, QualityGrade, Rule};
