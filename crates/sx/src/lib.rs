//! Solvent-extraction cascades for rare-earth separation.
//!
//! Layers, as in a process simulator: [`model`] (equilibrium packages) → [`cascade`] (the unit:
//! stages, feeds, draws) → [`solver`] (steady state) → [`result`]; [`case`] reads the TOML case
//! format and [`design`] implements Xu Guangxian's optimum fractional-extraction design.
//! Pure computation: no I/O, no clocks, no global state.

pub mod cascade;
pub mod case;
pub mod design;
pub mod error;
pub mod model;
pub mod result;
pub mod solver;

pub use cascade::{Cascade, Draw, Feed, Phase, Section};
pub use case::Case;
pub use error::SxError;
pub use model::EquilibriumModel;
pub use result::{ConcentrationUnit, SimulationResult};
pub use solver::{solve, SolverOptions};
