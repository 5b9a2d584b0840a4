//! Lodestone MES core.
//!
//! - `spc` — control charts, run rules and capability with R qcc 3.0 semantics.
//! - `oee` — overall equipment effectiveness from state events and counts.

pub mod oee;
pub mod spc;
