//! Lodestone MES core: the ISA-95 domain, an append-only hash-chained event store on SQLite or
//! PostgreSQL with current-state projections, genealogy, quality, SPC and OEE.
//!
//! - `model` — domain types in ISA-95 / B2MML names.
//! - `command` / `event` — what clients ask, and what is recorded (one event per command).
//! - `handle` — checks a command against current state and decides its event; permissions.
//! - `projection` — current-state tables, updated from events and rebuildable by replay.
//! - `db` — the storage seam: SQL shared by both databases, differences in [`db::Backend`].
//! - `service` — [`Mes`]: open, log in, execute, query.
//! - `audit` — verify the chain, signed checkpoints kept outside the database, projections
//!   against a replay.
//! - `spc` — control charts, run rules and capability with R qcc 3.0 semantics.
//! - `twin_recorder` — records a twin run as MES commands (the twin's recorder seam).
//! - `oee` — overall equipment effectiveness from state events and counts.

pub mod audit;
pub mod bounds;
pub mod command;
pub mod db;
pub mod error;
pub mod event;
pub mod genealogy;
pub mod handle;
pub mod model;
pub mod oee;
pub mod performance;
pub mod plant;
pub mod projection;
pub mod quality;
pub mod service;
pub mod spc;
pub mod twin_recorder;

pub use command::{Command, Envelope};
pub use error::{MesError, Result};
pub use handle::Session;
pub use service::{Mes, Receipt};
