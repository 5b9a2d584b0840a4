//! Lodestone plant twin: a discrete-event simulation of the NdFeB alloy plant.
//!
//! - `engine` — the event core: future-event list, resources with FIFO queues, statistics.
//! - `fifo` — the reference single-furnace model used to measure the engine against SimPy.
//!
//! Pure computation: no I/O, no clocks; a run is deterministic for a given seed.

pub mod engine;
pub mod fifo;
