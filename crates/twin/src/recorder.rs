//! The narrow seam through which the twin reports what happens in the plant to a record keeper
//! (the MES, a log, a test). The twin defines it and never depends on the MES: an
//! implementation maps simulation seconds to calendar time and heats to lots.

use std::collections::BTreeMap;

use crate::engine::Seconds;
use crate::model::LineState;

/// Receives the plant's events in time order. Every method has an empty default, so a recorder
/// implements only what it needs.
pub trait PlantRecorder {
    /// A production order of `heats` heats of `grade` was released.
    fn order_released(&mut self, _at_s: Seconds, _order: u64, _grade: &str, _heats: u32) {}

    /// Lot number `lot` of `material` (`kg`, certificate chemistry) arrived in the store.
    fn material_received(
        &mut self,
        _at_s: Seconds,
        _material: &str,
        _lot: u64,
        _kg: f64,
        _composition_wt_pct: &BTreeMap<String, f64>,
    ) {
    }

    /// Heat `heat` took `kg` of lot `lot` of `material` (reported when the heat starts).
    fn material_consumed(
        &mut self,
        _at_s: Seconds,
        _heat: u64,
        _material: &str,
        _lot: u64,
        _kg: f64,
    ) {
    }

    /// Heat `heat` began charging on `line` (for `order`; a wash heat has none).
    fn heat_started(
        &mut self,
        _at_s: Seconds,
        _heat: u64,
        _order: Option<u64>,
        _line: usize,
        _grade: &str,
    ) {
    }

    /// Heat `heat` finished casting and cooling: `flake_kg` of flake in drums (0 for a wash
    /// heat), with the chemistry of its charge (empty without material tracking).
    fn heat_finished(
        &mut self,
        _at_s: Seconds,
        _heat: u64,
        _line: usize,
        _flake_kg: f64,
        _composition_wt_pct: &BTreeMap<String, f64>,
    ) {
    }

    /// The lab finished heat `heat`'s sample; the flake is released to finished goods.
    fn heat_released(&mut self, _at_s: Seconds, _heat: u64, _grade: &str, _flake_kg: f64) {}

    /// `line` entered `state`.
    fn line_state(&mut self, _at_s: Seconds, _line: usize, _state: LineState) {}
}

/// A recorder that records nothing (capacity studies).
pub struct NoRecorder;

impl PlantRecorder for NoRecorder {}
