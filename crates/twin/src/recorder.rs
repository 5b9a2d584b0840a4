//! The narrow seam through which the twin reports what happens in the plant to a record keeper
//! (the MES, a log, a test). The twin defines it and never depends on the MES: an
//! implementation maps simulation seconds to calendar time and heats to lots.

use serde::Serialize;
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

    /// Heat `heat` finished casting and cooling (a wash heat has no flake).
    fn heat_finished(&mut self, _at_s: Seconds, _heat: u64, _line: usize, _output: &HeatOutput) {}

    /// The lab finished heat `heat`'s sample: its results and verdict. A heat that passes is
    /// released to finished goods; one that fails is held for QA.
    fn heat_analysed(&mut self, _at_s: Seconds, _heat: u64, _grade: &str, _report: &LabReport) {}

    /// `line` entered `state`.
    fn line_state(&mut self, _at_s: Seconds, _line: usize, _state: LineState) {}
}

/// What a heat made.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HeatOutput {
    /// Flake in drums, kg (0 for a wash heat).
    pub flake_kg: f64,
    /// Flake chemistry, wt% (empty without material tracking).
    pub flake_composition_wt_pct: BTreeMap<String, f64>,
    /// Everything else that left the charge, kg: melt loss (dross, condensate), skull and
    /// off-size flake.
    pub residue_kg: f64,
    /// Its chemistry, wt%.
    pub residue_composition_wt_pct: BTreeMap<String, f64>,
    /// Of the residue, what the melt-loss model says was oxidised or evaporated, kg per
    /// element.
    pub melt_loss_kg: BTreeMap<String, f64>,
    /// Mean flake thickness, mm, when the plant has a casting model.
    pub thickness_mm: Option<f64>,
}

/// One measured property of a sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabResult {
    /// Element symbol (wt%) or a named property (`thickness`, `columnar`).
    pub property: String,
    /// Measured value.
    pub value: f64,
    /// Unit.
    pub unit: &'static str,
}

/// The lab's report on a heat.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LabReport {
    /// Results.
    pub results: Vec<LabResult>,
    /// Why the heat is out of specification, one line each; empty when it passes.
    pub failures: Vec<String>,
}

impl LabReport {
    /// True when the heat meets its specification.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A borrowed recorder records through the recorder it borrows.
impl<T: PlantRecorder + ?Sized> PlantRecorder for &mut T {
    fn order_released(&mut self, at_s: Seconds, order: u64, grade: &str, heats: u32) {
        (**self).order_released(at_s, order, grade, heats)
    }
    fn material_received(
        &mut self,
        at_s: Seconds,
        material: &str,
        lot: u64,
        kg: f64,
        composition_wt_pct: &BTreeMap<String, f64>,
    ) {
        (**self).material_received(at_s, material, lot, kg, composition_wt_pct)
    }
    fn material_consumed(&mut self, at_s: Seconds, heat: u64, material: &str, lot: u64, kg: f64) {
        (**self).material_consumed(at_s, heat, material, lot, kg)
    }
    fn heat_started(
        &mut self,
        at_s: Seconds,
        heat: u64,
        order: Option<u64>,
        line: usize,
        grade: &str,
    ) {
        (**self).heat_started(at_s, heat, order, line, grade)
    }
    fn heat_finished(&mut self, at_s: Seconds, heat: u64, line: usize, output: &HeatOutput) {
        (**self).heat_finished(at_s, heat, line, output)
    }
    fn heat_analysed(&mut self, at_s: Seconds, heat: u64, grade: &str, report: &LabReport) {
        (**self).heat_analysed(at_s, heat, grade, report)
    }
    fn line_state(&mut self, at_s: Seconds, line: usize, state: LineState) {
        (**self).line_state(at_s, line, state)
    }
}

/// A recorder that records nothing (capacity studies).
pub struct NoRecorder;

impl PlantRecorder for NoRecorder {}
