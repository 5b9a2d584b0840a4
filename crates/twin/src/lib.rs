//! Lodestone plant twin: a discrete-event simulation of the NdFeB alloy plant.
//!
//! - `engine` — the event core: future-event list, resources with FIFO queues, statistics.
//! - `plant` — the plant file (TOML), checked field by field.
//! - `model` — one replication of the alloy plant: orders, batching, AGVs, lines, lab.
//! - `metallurgy` — each heat's charge (alloy optimiser), melt loss, casting and lab verdict.
//! - `recorder` — the narrow trait through which a run reports to a record keeper (the MES).
//! - `study` — replications and 95 % confidence intervals.
//! - `fifo` — the reference single-furnace model used to measure the engine against SimPy.
//!
//! Pure computation: no I/O, no clocks; a run is deterministic for a given seed.

pub mod engine;
pub mod error;
pub mod fifo;
pub mod metallurgy;
pub mod model;
pub mod plant;
pub mod recorder;
pub mod study;
