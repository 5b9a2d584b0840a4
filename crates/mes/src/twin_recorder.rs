//! The MES side of the twin's recorder seam: every order, heat, lot and line state of a
//! simulated plant becomes MES commands, so a simulated month leaves a complete, traceable
//! record (raw lots → heat → flake drums, lab results, equipment states for OEE).
//!
//! Commands are buffered and written in batches (one transaction each); the twin's clock maps
//! to calendar time from an epoch.

use std::collections::BTreeMap;

use lodestone_twin::model::LineState;
use lodestone_twin::plant::Plant;
use lodestone_twin::recorder::{HeatOutput, LabReport, PlantRecorder};

use crate::command::{Command, Envelope, LotQuantity, ResultValue, SignatureInput};
use crate::error::{MesError, Result};
use crate::model::{
    format_timestamp, Equipment, EquipmentLevel, EquipmentState, MaterialDefinition, MaterialUse,
    OrderAction, ReceiptPolicy, SamplingPlan, Severity, SignatureMeaning, SpecLimit,
};
use crate::service::Mes;
use crate::Session;

/// Commands per transaction.
const BATCH: usize = 5_000;
/// Flake drums per heat.
const DRUMS_PER_HEAT: usize = 3;
/// Material definition of what a heat leaves besides flake.
pub const RESIDUE: &str = "melt-residue";

/// MES ids the twin's objects map to.
pub fn line_id(line: usize) -> String {
    format!("line-{:02}", line + 1)
}

/// MES lot id of lot number `lot` of a raw material.
pub fn raw_lot_id(material: &str, lot: u64) -> String {
    format!("{material}-{lot:05}")
}

/// MES order and lot id of a heat.
pub fn heat_id(heat: u64) -> String {
    format!("H{heat:07}")
}

/// MES lot id of a heat's residue (dross, condensate, skull, off-size flake).
pub fn residue_id(heat: u64) -> String {
    format!("H{heat:07}-R")
}

/// MES lot id of drum `drum` (1-based) of a heat.
pub fn drum_id(heat: u64, drum: usize) -> String {
    format!("H{heat:07}-D{drum}")
}

/// Material definition of a grade's flake.
pub fn flake_definition(grade: &str) -> String {
    format!("{grade}-flake")
}

/// The master data the twin's record needs: site, area, lines, stores; material classes and
/// definitions; the melt-and-cast segment and one work master per grade.
pub fn plant_commands(plant: &Plant) -> Vec<Command> {
    let eq = |id: &str, level, parent: Option<&str>, cycle: Option<f64>| {
        Command::DefineEquipment(Equipment {
            id: id.into(),
            name: id.into(),
            level,
            parent: parent.map(str::to_string),
            ideal_cycle_s: cycle,
        })
    };
    let l = &plant.lines;
    // The twin's own OEE uses the same ideal cycle.
    let cycle = lodestone_twin::model::ideal_cycle_s(plant);
    let mut commands = vec![
        eq("site", EquipmentLevel::Site, None, None),
        eq("alloy", EquipmentLevel::Area, Some("site"), None),
        eq(
            "raw-store",
            EquipmentLevel::StorageZone,
            Some("alloy"),
            None,
        ),
        eq(
            "flake-store",
            EquipmentLevel::StorageZone,
            Some("alloy"),
            None,
        ),
    ];
    for line in 0..l.count {
        commands.push(eq(
            &line_id(line),
            EquipmentLevel::Unit,
            Some("alloy"),
            Some(cycle),
        ));
    }
    // The twin models no incoming inspection: raw materials come from qualified suppliers and
    // are released against their certificates. Flake and residues are made here, so any lot
    // of them received from outside would enter quarantine.
    commands.push(Command::DefineMaterialClass {
        id: "raw".into(),
        name: "Raw materials".into(),
        receipt: Some(ReceiptPolicy::Certificate),
    });
    commands.push(Command::DefineMaterialClass {
        id: "flake".into(),
        name: "Strip-cast flake".into(),
        receipt: Some(ReceiptPolicy::Quarantine),
    });
    commands.push(Command::DefineMaterialClass {
        id: "residue".into(),
        name: "Melting and casting residues".into(),
        receipt: Some(ReceiptPolicy::Quarantine),
    });
    commands.push(Command::DefineMaterialDefinition(MaterialDefinition {
        id: RESIDUE.into(),
        name: "Dross, condensate, skull and off-size flake".into(),
        class: "residue".into(),
    }));
    for m in &plant.material {
        commands.push(Command::DefineMaterialDefinition(MaterialDefinition {
            id: m.name.clone(),
            name: m.name.clone(),
            class: "raw".into(),
        }));
    }
    commands.push(Command::DefineProcessSegment {
        id: "melt-and-cast".into(),
        name: "Vacuum melting and strip casting".into(),
        equipment_level: Some(EquipmentLevel::Unit),
    });
    let bills = lodestone_twin::metallurgy::nominal_bills(plant);
    for (g, bill) in plant.grade.iter().zip(bills) {
        commands.push(Command::DefineMaterialDefinition(MaterialDefinition {
            id: flake_definition(&g.name),
            name: format!("{} strip-cast flake", g.name),
            class: "flake".into(),
        }));
        commands.push(Command::DefineWorkMaster {
            id: format!("WM-{}", g.name),
            segment: "melt-and-cast".into(),
            product: flake_definition(&g.name),
            bill_kg_per_kg: bill,
            parameters: BTreeMap::from([("heat_kg".into(), format!("{}", l.heat_kg))]),
        });
    }
    // Each grade's specification as GB/T 29655 writes it and as the twin's lab measures it:
    // the total RE within the quality grade's RE tolerance, each other aimed element within
    // its band (a rare earth only where the grade states a tolerance of its own), and the
    // impurity limits of the elements the lab reports (those some raw material carries).
    let carried: std::collections::BTreeSet<&str> = plant
        .material
        .iter()
        .flat_map(|m| m.composition_wt_pct.keys().map(String::as_str))
        .collect();
    for g in &plant.grade {
        let Some(spec) = &g.spec else { continue };
        let mut limits: Vec<SpecLimit> = spec
            .aim_wt_pct
            .iter()
            .filter_map(|(e, aim)| {
                let tol = spec.acceptance_band_wt_pct(*e)?;
                Some(SpecLimit {
                    property: e.symbol().to_string(),
                    min: Some(aim - tol),
                    max: Some(aim + tol),
                    target: Some(*aim),
                    unit: "wt%".into(),
                })
            })
            .collect();
        let re_aim = spec.rare_earth_aim_wt_pct();
        if re_aim > 0.0 {
            let tol = spec.quality.rare_earth_tolerance_wt_pct();
            limits.push(SpecLimit {
                property: lodestone_twin::metallurgy::TOTAL_RE.into(),
                min: Some(re_aim - tol),
                max: Some(re_aim + tol),
                target: Some(re_aim),
                unit: "wt%".into(),
            });
        }
        for (e, max) in spec.impurity_limits() {
            if !spec.aim_wt_pct.contains_key(&e) && carried.contains(e.symbol()) {
                limits.push(SpecLimit {
                    property: e.symbol().to_string(),
                    min: None,
                    max: Some(max),
                    target: None,
                    unit: "wt%".into(),
                });
            }
        }
        commands.push(Command::DefineSpecification {
            definition: flake_definition(&g.name),
            name: format!("{} flake, GB/T 29655 {}", g.name, spec.quality.code()),
            limits,
            sampling: SamplingPlan::default(),
        });
    }
    commands
}

/// Records a twin run in an MES.
pub struct MesRecorder<'a> {
    runtime: &'a tokio::runtime::Runtime,
    mes: &'a Mes,
    session: &'a Session,
    epoch: chrono::DateTime<chrono::Utc>,
    heat_kg: f64,
    buffer: Vec<Envelope>,
    qa_signature: Option<SignatureInput>,
    to_release: Vec<String>,
    release_every_s: f64,
    next_release_s: f64,
    events: u64,
    error: Option<MesError>,
    skip_refused: bool,
    refused: u64,
    last_refusal: Option<String>,
}

impl<'a> MesRecorder<'a> {
    /// A recorder writing as `session`, with simulation time 0 at `epoch`. Define the plant's
    /// master data first ([`plant_commands`]).
    pub fn new(
        runtime: &'a tokio::runtime::Runtime,
        mes: &'a Mes,
        session: &'a Session,
        plant: &Plant,
        epoch: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        MesRecorder {
            runtime,
            mes,
            session,
            epoch,
            heat_kg: plant.lines.heat_kg,
            buffer: Vec::with_capacity(BATCH),
            qa_signature: None,
            to_release: Vec::new(),
            release_every_s: f64::INFINITY,
            next_release_s: f64::INFINITY,
            events: 0,
            error: None,
            skip_refused: false,
            refused: 0,
            last_refusal: None,
        }
    }

    /// Keeps recording when the MES refuses a command, for a live plant that people act on:
    /// QA may hold the raw lot the twin is about to consume, or a planner abort its order. The
    /// refused batch is replayed command by command; each refused command is skipped and
    /// counted ([`MesRecorder::refusals`]) instead of stopping the recorder.
    pub fn skipping_refused_commands(mut self) -> Self {
        self.skip_refused = true;
        self
    }

    /// Commands the MES refused and the recorder skipped, and the last refusal in words.
    pub fn refusals(&self) -> (u64, Option<&str>) {
        (self.refused, self.last_refusal.as_deref())
    }

    /// Releases the drums of every heat that passed the lab every `every_h` hours (a QA
    /// review per shift or per day) with one e-signature of the recording user (`password`
    /// re-entered), meaning approval. Without it passing heats stay pending with their results.
    pub fn with_qa_signature(mut self, password: &str, every_h: f64) -> Self {
        self.release_every_s = every_h.max(0.01) * 3600.0;
        self.next_release_s = self.release_every_s;
        self.qa_signature = Some(SignatureInput {
            user: self.session.user.clone(),
            password: password.to_string(),
            meaning: SignatureMeaning::Approval,
        });
        self
    }

    fn release_passed(&mut self) {
        if self.to_release.is_empty() {
            return;
        }
        if let Some(signature) = self.qa_signature.clone() {
            let lots = std::mem::take(&mut self.to_release);
            self.push(Command::ReleaseLots {
                lots,
                signature: Some(signature),
                deviation: None,
            });
        }
    }

    fn at(&self, at_s: f64) -> Option<String> {
        let t = self.epoch + chrono::Duration::microseconds((at_s * 1e6).round() as i64);
        Some(format_timestamp(t))
    }

    fn push(&mut self, command: Command) {
        self.push_envelope(Envelope::from(command));
    }

    fn push_envelope(&mut self, envelope: Envelope) {
        if self.error.is_some() {
            return;
        }
        self.buffer.push(envelope);
        if self.buffer.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.buffer.is_empty() || self.error.is_some() {
            return;
        }
        let batch = std::mem::take(&mut self.buffer);
        match self
            .runtime
            .block_on(self.mes.execute_batch(self.session, &batch))
        {
            Ok(receipts) => self.events += receipts.len() as u64,
            Err(e @ (MesError::Database(_) | MesError::Migration(_) | MesError::Corrupt(_))) => {
                self.error = Some(e)
            }
            Err(_) if self.skip_refused => {
                for envelope in batch {
                    if !self.execute_skipping(envelope) {
                        return;
                    }
                }
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Executes one command, counting a refusal instead of stopping. A refused release of
    /// several lots is retried in halves, so one lot someone else scrapped or split does not
    /// keep the rest of the shift's drums pending. False on a database failure (recorded).
    fn execute_skipping(&mut self, envelope: Envelope) -> bool {
        match self
            .runtime
            .block_on(self.mes.execute(self.session, envelope.clone()))
        {
            Ok(_) => {
                self.events += 1;
                true
            }
            Err(e @ (MesError::Database(_) | MesError::Corrupt(_))) => {
                self.error = Some(e);
                false
            }
            Err(e) => match envelope.command {
                Command::ReleaseLots {
                    lots,
                    signature,
                    deviation,
                } if lots.len() > 1 => {
                    let (first, second) = lots.split_at(lots.len() / 2);
                    [first.to_vec(), second.to_vec()].into_iter().all(|half| {
                        self.execute_skipping(Envelope::from(Command::ReleaseLots {
                            lots: half,
                            signature: signature.clone(),
                            deviation: deviation.clone(),
                        }))
                    })
                }
                command => {
                    self.refused += 1;
                    self.last_refusal = Some(format!("{}: {e}", command.name()));
                    true
                }
            },
        }
    }

    /// Writes what is buffered now (a live plant writes after every step), or returns the
    /// first refusal.
    pub fn flush_now(&mut self) -> Result<()> {
        self.flush();
        match &self.error {
            Some(e) => Err(MesError::Corrupt(format!(
                "the MES refused a twin event: {e}"
            ))),
            None => Ok(()),
        }
    }

    /// Writes what is buffered; returns the events recorded, or the first refusal.
    pub fn finish(mut self) -> Result<u64> {
        self.release_passed();
        self.flush();
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.events),
        }
    }
}

impl PlantRecorder for MesRecorder<'_> {
    fn material_received(
        &mut self,
        at_s: f64,
        material: &str,
        lot: u64,
        kg: f64,
        composition_wt_pct: &BTreeMap<String, f64>,
    ) {
        let at = self.at(at_s);
        self.push(Command::ReceiveLot {
            lot: raw_lot_id(material, lot),
            definition: material.to_string(),
            quantity_kg: kg,
            supplier_lot: Some(format!("SUP-{}", raw_lot_id(material, lot))),
            location: Some("raw-store".into()),
            composition_wt_pct: composition_wt_pct.clone(),
            disposition: None,
            at,
        });
    }

    fn material_consumed(&mut self, at_s: f64, heat: u64, material: &str, lot: u64, kg: f64) {
        let at = self.at(at_s);
        self.push(Command::Consume {
            order: heat_id(heat),
            lot: raw_lot_id(material, lot),
            quantity_kg: kg,
            at,
        });
    }

    fn heat_started(
        &mut self,
        at_s: f64,
        heat: u64,
        _order: Option<u64>,
        line: usize,
        grade: &str,
    ) {
        let at = self.at(at_s);
        self.push(Command::CreateOrder {
            id: heat_id(heat),
            work_master: format!("WM-{grade}"),
            planned_kg: self.heat_kg,
            equipment: Some(line_id(line)),
            priority: 0,
        });
        for action in [OrderAction::Release, OrderAction::Start] {
            self.push(Command::OrderAction {
                order: heat_id(heat),
                action,
                equipment: None,
                at: at.clone(),
            });
        }
    }

    fn heat_finished(&mut self, at_s: f64, heat: u64, _line: usize, output: &HeatOutput) {
        let at = self.at(at_s);
        if output.flake_kg > 0.0 {
            self.push(Command::Produce {
                order: heat_id(heat),
                lot: heat_id(heat),
                quantity_kg: output.flake_kg,
                material_use: None,
                definition: None,
                composition_wt_pct: output.flake_composition_wt_pct.clone(),
                location: Some("flake-store".into()),
                at: at.clone(),
            });
        }
        if output.residue_kg > 0.0 {
            // Dross, condensate, skull and off-size flake: weighed out so the heat balances.
            self.push(Command::Produce {
                order: heat_id(heat),
                lot: residue_id(heat),
                quantity_kg: output.residue_kg,
                material_use: Some(MaterialUse::Scrap),
                definition: Some(RESIDUE.into()),
                composition_wt_pct: output.residue_composition_wt_pct.clone(),
                location: Some("raw-store".into()),
                at: at.clone(),
            });
        }
        if output.flake_kg > 0.0 || output.residue_kg > 0.0 {
            self.push(Command::OrderAction {
                order: heat_id(heat),
                action: OrderAction::Complete,
                equipment: None,
                at: at.clone(),
            });
        } else {
            // A wash heat between grades: the line's changeover, with no material recorded
            // and no product, so not a completed production order.
            self.push_envelope(
                Envelope::from(Command::OrderAction {
                    order: heat_id(heat),
                    action: OrderAction::Abort,
                    equipment: None,
                    at: at.clone(),
                })
                .with_reason("wash heat between grades: changeover, no product"),
            );
        }
        if output.flake_kg > 0.0 {
            let drum_kg = output.flake_kg / DRUMS_PER_HEAT as f64;
            self.push(Command::SplitLot {
                source: heat_id(heat),
                parts: (1..=DRUMS_PER_HEAT)
                    .map(|d| LotQuantity {
                        lot: drum_id(heat, d),
                        quantity_kg: drum_kg,
                    })
                    .collect(),
                at,
            });
        }
    }

    fn heat_analysed(&mut self, at_s: f64, heat: u64, _grade: &str, report: &LabReport) {
        let at = self.at(at_s);
        if !report.results.is_empty() {
            self.push(Command::RecordResults {
                lot: heat_id(heat),
                sample: Some(format!("S-{}", heat_id(heat))),
                method: Some("ICP-OES, thickness gauge, metallography (simulated)".into()),
                at,
                results: report
                    .results
                    .iter()
                    .map(|r| ResultValue {
                        property: r.property.clone(),
                        value: r.value,
                        unit: r.unit.to_string(),
                    })
                    .collect(),
            });
        }
        if at_s >= self.next_release_s {
            self.release_passed();
            while self.next_release_s <= at_s {
                self.next_release_s += self.release_every_s;
            }
        }
        if report.passed() {
            if self.qa_signature.is_some() {
                self.to_release
                    .extend((1..=DRUMS_PER_HEAT).map(|d| drum_id(heat, d)));
            }
        } else {
            // The lab opens a nonconformance (the heat goes on hold) and holds its drums; QA
            // decides in the MES.
            self.push(Command::RaiseNonconformance {
                id: format!("NCR-{}", heat_id(heat)),
                lot: heat_id(heat),
                description: format!("out of specification: {}", report.failures.join("; ")),
                severity: Severity::Major,
            });
            for d in 1..=DRUMS_PER_HEAT {
                self.push(Command::HoldLot {
                    lot: drum_id(heat, d),
                });
            }
        }
    }

    fn line_state(&mut self, at_s: f64, line: usize, state: LineState) {
        let at = self.at(at_s);
        let state = match state {
            LineState::Producing => EquipmentState::Running,
            // A wash heat between grades makes no product: a changeover.
            LineState::Washing => EquipmentState::Changeover,
            LineState::Starved => EquipmentState::Starved,
            LineState::Down => EquipmentState::UnplannedDown,
            LineState::Maintenance => EquipmentState::PlannedDown,
            LineState::NoOrders => EquipmentState::NotScheduled,
        };
        self.push(Command::SetEquipmentState {
            equipment: line_id(line),
            state,
            at,
            cause: None,
        });
    }
}
