//! One replication of the alloy plant: monthly orders from the demand plan → batching stations
//! weigh each charge → an AGV brings it to a melting line (one charge is prepared ahead while the
//! line melts the current one) → charge, melt, cast, cool, with breakdowns and planned
//! maintenance, and a wash heat between grades → an AGV takes the drums to the store → the lab
//! analyses a sample → the heat is released to finished goods.

use rand::SeedableRng;
use rand_distr::{Distribution, Exp, Normal};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};

use lodestone_alloy::casting::Microstructure;

use crate::engine::{EventQueue, Request, Resource, Seconds, Tally, TimeWeighted};
use crate::metallurgy::{ChargeStats, LotView, Metallurgy};
use crate::plant::{staffed_at, AgvDispatch, Plant};
use crate::recorder::{HeatOutput, NoRecorder, PlantRecorder};

const DAY_S: f64 = 86_400.0;
const MONTH_S: f64 = 365.0 / 12.0 * DAY_S;

/// A charge on its way: a product heat of a grade, or a wash heat before a grade change.
#[derive(Debug, Clone, Copy)]
struct Charge {
    heat: u64,
    order: Option<u64>,
    grade: usize,
    wash: bool,
    line: usize,
    /// When its order was released.
    ordered_s: Seconds,
    /// When it was sent to batching.
    dispatched_s: Seconds,
    /// When it left the furnace (a heat counts in the statistics of the period it finished in).
    finished_s: Seconds,
}

/// What a line is doing, for its time breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineState {
    /// Melting product heats.
    Producing,
    /// Melting a wash heat between grades.
    Washing,
    /// Waiting for a charge while orders are waiting (starved by batching or transport).
    Starved,
    /// Broken down, under repair.
    Down,
    /// Planned maintenance.
    Maintenance,
    /// Nothing to run: no order is waiting for any line. Not planned production time, so not
    /// an availability loss; it is the utilisation loss.
    NoOrders,
}

const LINE_STATES: [LineState; 6] = [
    LineState::Producing,
    LineState::Washing,
    LineState::Starved,
    LineState::Down,
    LineState::Maintenance,
    LineState::NoOrders,
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Charge,
    Melt,
    Cast,
    Cool,
}

struct Line {
    state: LineState,
    since_s: Seconds,
    time_in: [f64; 6],
    /// Charges delivered and waiting at the line.
    buffer: VecDeque<Charge>,
    /// A charge is being prepared for this line (batching or transport).
    charge_on_the_way: bool,
    /// The heat in the furnace and its phase, with the time left in the phase.
    current: Option<(Charge, Phase, f64)>,
    /// When the current phase (re)started.
    phase_started_s: Seconds,
    /// Operating time left before the next failure.
    uptime_left_s: f64,
    last_grade: Option<usize>,
    maintenance_due: bool,
    heats: u64,
    wash_heats: u64,
    /// Product heats finished in the measured period that the lab found out of specification.
    rejected_heats: u64,
    /// Event generation: phase-end events of an interrupted phase are stale.
    generation: u64,
}

impl Line {
    fn set_state(&mut self, now: Seconds, state: LineState) {
        let i = LINE_STATES
            .iter()
            .position(|s| *s == self.state)
            .unwrap_or(0);
        self.time_in[i] += now - self.since_s;
        self.state = state;
        self.since_s = now;
    }

    fn reset_stats(&mut self, now: Seconds) {
        self.time_in = [0.0; 6];
        self.since_s = now;
        self.heats = 0;
        self.wash_heats = 0;
        self.rejected_heats = 0;
    }
}

#[derive(Debug, Clone, Copy)]
struct Order {
    id: u64,
    grade: usize,
    heats_left: u32,
    released_s: Seconds,
}

/// A resource worked in shifts.
#[derive(Debug, Clone, Copy)]
enum Crew {
    Batching,
    Lab,
}

enum Event {
    MonthStart,
    /// A crew comes on (true) or goes off shift.
    Shift(Crew, bool),
    /// A vehicle finished charging.
    AgvCharged,
    /// The part load waiting since this batch number has waited long enough.
    HdTimeout(u64),
    /// An HD furnace finished a load.
    HdDone(Vec<Charge>),
    WarmupEnd,
    BatchDone(Charge),
    Delivered(Charge),
    PhaseDone {
        line: usize,
        generation: u64,
    },
    Failure {
        line: usize,
        generation: u64,
    },
    Repaired(usize),
    MaintenanceDue(usize),
    MaintenanceDone(usize),
    AtStore(Charge),
    Analysed(Charge),
}

/// Utilisation and queueing of a shared resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceStats {
    /// Servers.
    pub capacity: usize,
    /// Mean fraction busy.
    pub utilisation: f64,
    /// Mean jobs waiting.
    pub mean_queue: f64,
    /// Mean wait for a server, s.
    pub mean_wait_s: f64,
}

/// One line's time breakdown and OEE, by the definition the MES uses (docs/mes.md, "OEE";
/// ISO 22400-2 / Nakajima): planned production time = calendar time − planned maintenance −
/// time with no orders; run time = time melting product heats (a wash heat is a changeover,
/// an availability loss); the ideal cycle is [`ideal_cycle_s`]; units are product heats, and a
/// heat the lab found out of specification is a reject (wash heats, residue and skull are not
/// units).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineStats {
    /// Hours in each state.
    pub hours: BTreeMap<LineState, f64>,
    /// Product heats completed.
    pub heats: u64,
    /// Wash heats.
    pub wash_heats: u64,
    /// Product heats completed in the period that the lab has found out of specification by
    /// its end (a heat still in the lab then counts as good, as in the MES).
    pub rejected_heats: u64,
    /// Calendar time − maintenance − time with no orders, h.
    pub planned_production_h: f64,
    /// Planned production time / calendar time: the share of the period the line had work
    /// planned (time with no orders and maintenance are its losses; TEEP's loading).
    pub utilisation: f64,
    /// Run time (producing) / planned production time.
    pub availability: f64,
    /// Ideal cycle × heats / run time. Above 1 the ideal cycle is slower than the line really
    /// ran; it is reported as measured, with a warning when clearly above (the MES's rule).
    pub performance: f64,
    /// Good heats / product heats.
    pub quality: f64,
    /// Good heats × ideal cycle / planned production time (= A × P × Q).
    pub oee: f64,
    /// Good heats × ideal cycle / calendar time (= utilisation × OEE).
    pub teep: f64,
    /// Why a figure is suspect (performance clearly above 1).
    pub warnings: Vec<String>,
}

/// What one replication measured (after the warm-up).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replication {
    /// Seed used.
    pub seed: u64,
    /// Days measured.
    pub days: f64,
    /// Flake released to finished goods, t, by grade.
    pub output_t_by_grade: BTreeMap<String, f64>,
    /// Total output, t.
    pub output_t: f64,
    /// Output per month (365/12 days) of the measured period, t.
    pub output_t_by_month: Vec<f64>,
    /// Output scaled to a year, t/yr.
    pub output_t_per_yr: f64,
    /// Per line.
    pub lines: Vec<LineStats>,
    /// Batching stations.
    pub batching: ResourceStats,
    /// AGV fleet.
    pub agv: ResourceStats,
    /// Laboratory.
    pub lab: ResourceStats,
    /// Hydrogen decrepitation furnaces, when the plant has them.
    pub hydrogen_decrepitation: Option<ResourceStats>,
    /// Mean heats in the system (from batching to release).
    pub mean_wip_heats: f64,
    /// Mean time from order release to finished goods, h.
    pub mean_lead_time_h: f64,
    /// Mean time from sending the charge to batching to finished goods, h.
    pub mean_flow_time_h: f64,
    /// Heats ordered but not yet sent to batching at the end (at most one charge per line is
    /// sent ahead and is not counted).
    pub backlog_heats: u64,
    /// Product heats the lab analysed.
    pub heats_analysed: u64,
    /// Of those, heats out of specification (held for QA, not delivered).
    pub heats_out_of_spec: u64,
    /// Why, counted by the first reason of each failed heat (element or property).
    pub out_of_spec_by_reason: BTreeMap<String, u64>,
    /// Flake of out-of-spec heats, t.
    pub rejected_t: f64,
    /// Element kg lost in melting (oxidation and evaporation), by element.
    pub melt_loss_kg_by_element: BTreeMap<String, f64>,
    /// Mean flake thickness of the heats cast, mm (0 without a casting model).
    pub mean_thickness_mm: f64,
    /// The charge optimiser's work.
    pub charges: ChargeStats,
    /// AGV battery charges.
    pub agv_charges: u64,
    /// Weighings outside the scale tolerance, corrected and weighed again.
    pub weighings_corrected: u64,
    /// Events processed.
    pub events: u64,
}

/// An open raw-material lot in the store.
struct OpenLot {
    number: u64,
    kg_left: f64,
    composition_wt_pct: BTreeMap<String, f64>,
}

/// What is known of a product heat from weighing to release.
struct HeatRecord {
    /// kg weighed in (certificates may not list every trace, so this can exceed the sum of
    /// the element kg).
    charged_total_kg: f64,
    /// Element kg charged.
    charged_kg: BTreeMap<String, f64>,
    /// When the melt became liquid, and for how long it stayed liquid.
    liquid_from_s: Seconds,
    liquid_s: f64,
    /// Flake kg and chemistry, once cast.
    flake: Option<(f64, BTreeMap<String, f64>)>,
    cast: Option<(f64, Option<Microstructure>)>,
}

struct Sim<'p, R: PlantRecorder> {
    plant: &'p Plant,
    /// Per material: the open lot.
    stock: Vec<OpenLot>,
    /// Weigh lists of charges not yet melted: heat → (material index, lot, kg).
    weighed: HashMap<u64, Vec<(usize, u64, f64)>>,
    /// Product heats from weighing until the lab's verdict.
    heats: HashMap<u64, HeatRecord>,
    metallurgy: Metallurgy,
    heats_analysed: u64,
    agv_trips: u64,
    weighings_corrected: u64,
    agv_charges: u64,
    heats_out_of_spec: u64,
    out_of_spec_by_reason: BTreeMap<String, u64>,
    rejected_kg: f64,
    melt_loss_kg: BTreeMap<String, f64>,
    thickness: Tally,
    recorder: R,
    next_order: u64,
    next_heat: u64,
    rng: Pcg64Mcg,
    q: EventQueue<Event>,
    orders: VecDeque<Order>,
    carry_heats: Vec<f64>,
    lines: Vec<Line>,
    batching: Resource<Charge>,
    agv: Resource<(Charge, bool)>,
    lab: Resource<Charge>,
    hd: Option<Resource<Vec<Charge>>>,
    hd_waiting: Vec<Charge>,
    hd_batch: u64,
    wip: TimeWeighted,
    lead_time: Tally,
    flow_time: Tally,
    output_kg: Vec<f64>,
    monthly_kg: Vec<f64>,
    measure_from_s: Seconds,
    failure: Exp<f64>,
    ideal_cycle_s: f64,
}

/// The ideal cycle of a melting line, s: the sum of the mean durations of its phases (charge,
/// melt, cast, cool) — the standard cycle the lines are sized with. The one source of the ideal
/// rate: the twin's OEE uses it and `mes::twin_recorder` gives it to the MES as each line's
/// `ideal_cycle_s`, so both measure performance against the same rate. Normal variation around
/// the means is not a speed loss; breakdowns within a heat are availability loss.
pub fn ideal_cycle_s(plant: &Plant) -> f64 {
    let l = &plant.lines;
    l.charge.mean_s() + l.melt.mean_s() + l.cast.mean_s() + l.cool.mean_s()
}

impl<'p, R: PlantRecorder> Sim<'p, R> {
    fn new(plant: &'p Plant, seed: u64, recorder: R) -> Self {
        let l = &plant.lines;
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let failure = Exp::new(1.0 / (l.mtbf_h * 3600.0)).expect("checked mtbf");
        let lines = (0..l.count)
            .map(|_| Line {
                state: LineState::Starved,
                since_s: 0.0,
                time_in: [0.0; 6],
                buffer: VecDeque::new(),
                charge_on_the_way: false,
                current: None,
                phase_started_s: 0.0,
                uptime_left_s: failure.sample(&mut rng),
                last_grade: None,
                maintenance_due: false,
                heats: 0,
                wash_heats: 0,
                rejected_heats: 0,
                generation: 0,
            })
            .collect();
        Sim {
            plant,
            stock: plant
                .material
                .iter()
                .map(|m| OpenLot {
                    number: 0,
                    kg_left: 0.0,
                    composition_wt_pct: m.composition_wt_pct.clone(),
                })
                .collect(),
            weighed: HashMap::new(),
            heats: HashMap::new(),
            // The plant was checked when read, optimiser charges included.
            metallurgy: Metallurgy::new(plant)
                .unwrap_or_else(|_| Metallurgy::without_charges(plant)),
            heats_analysed: 0,
            agv_trips: 0,
            weighings_corrected: 0,
            agv_charges: 0,
            heats_out_of_spec: 0,
            out_of_spec_by_reason: BTreeMap::new(),
            rejected_kg: 0.0,
            melt_loss_kg: BTreeMap::new(),
            thickness: Tally::default(),
            recorder,
            next_order: 0,
            next_heat: 0,
            rng,
            q: EventQueue::new(),
            orders: VecDeque::new(),
            carry_heats: vec![0.0; plant.grade.len()],
            lines,
            batching: Resource::new(plant.batching.stations, 0.0),
            agv: Resource::new(plant.agv.fleet, 0.0),
            lab: Resource::new(plant.lab.analysts, 0.0),
            hd: plant
                .hydrogen_decrepitation
                .as_ref()
                .map(|hd| Resource::new(hd.furnaces, 0.0)),
            hd_waiting: Vec::new(),
            hd_batch: 0,
            wip: TimeWeighted::new(0.0, 0.0),
            lead_time: Tally::default(),
            flow_time: Tally::default(),
            output_kg: vec![0.0; plant.grade.len()],
            monthly_kg: Vec::new(),
            measure_from_s: 0.0,
            failure,
            ideal_cycle_s: ideal_cycle_s(plant),
        }
    }

    fn release_orders(&mut self, now: Seconds) {
        let heat_t = self.plant.lines.heat_kg * self.plant.lines.flake_yield / 1000.0;
        let per_order = self.plant.heats_per_order;
        // Orders of all grades interleave so no grade waits a month behind another.
        let mut new_orders: Vec<Vec<Order>> = Vec::new();
        for (g, grade) in self.plant.grade.iter().enumerate() {
            self.carry_heats[g] += grade.demand_t_per_month / heat_t;
            let heats = self.carry_heats[g].floor();
            self.carry_heats[g] -= heats;
            let mut left = heats as u32;
            let mut orders = Vec::new();
            while left > 0 {
                let n = left.min(per_order);
                self.next_order += 1;
                self.recorder
                    .order_released(now, self.next_order, &grade.name, n);
                orders.push(Order {
                    id: self.next_order,
                    grade: g,
                    heats_left: n,
                    released_s: now,
                });
                left -= n;
            }
            new_orders.push(orders);
        }
        let longest = new_orders.iter().map(Vec::len).max().unwrap_or(0);
        for i in 0..longest {
            for orders in &new_orders {
                if let Some(o) = orders.get(i) {
                    self.orders.push_back(*o);
                }
            }
        }
    }

    /// The next heat for `line`: its current grade's campaign if one is queued, else the
    /// oldest order — preceded by a wash heat when the grade changes.
    fn next_charge(&mut self, line: usize, now: Seconds) -> Option<Charge> {
        let last = self.lines[line].last_grade;
        let pick = last
            .and_then(|g| self.orders.iter().position(|o| o.grade == g))
            .or(if self.orders.is_empty() {
                None
            } else {
                Some(0)
            })?;
        let grade = self.orders[pick].grade;
        let ordered_s = self.orders[pick].released_s;
        let order = self.orders[pick].id;
        self.next_heat += 1;
        let heat = self.next_heat;
        if self.plant.lines.wash_heat_between_grades && last.is_some_and(|g| g != grade) {
            self.lines[line].last_grade = Some(grade);
            return Some(Charge {
                heat,
                order: None,
                grade,
                wash: true,
                line,
                ordered_s: now,
                dispatched_s: now,
                finished_s: 0.0,
            });
        }
        self.orders[pick].heats_left -= 1;
        if self.orders[pick].heats_left == 0 {
            self.orders.remove(pick);
        }
        self.lines[line].last_grade = Some(grade);
        Some(Charge {
            heat,
            order: Some(order),
            grade,
            wash: false,
            line,
            ordered_s,
            dispatched_s: now,
            finished_s: 0.0,
        })
    }

    fn prepare_next(&mut self, line: usize, now: Seconds) {
        let l = &self.lines[line];
        if l.charge_on_the_way || !l.buffer.is_empty() {
            return;
        }
        if let Some(charge) = self.next_charge(line, now) {
            self.lines[line].charge_on_the_way = true;
            if self.lines[line].state == LineState::NoOrders {
                // Work arrived: from now on the wait is for the charge.
                self.set_line_state(line, now, LineState::Starved);
            }
            self.wip.add(now, 1.0);
            if let Request::Granted(c) = self.batching.request(now, charge) {
                self.start_batching(c);
            }
        }
    }

    /// Receives the next lot of material `m`: its chemistry drawn around the nominal.
    fn open_lot(&mut self, now: Seconds, m: usize) {
        let material = &self.plant.material[m];
        let mut composition = material.composition_wt_pct.clone();
        if !material.composition_sd_wt_pct.is_empty() {
            let nominal: f64 = composition.values().sum();
            for (element, sd) in &material.composition_sd_wt_pct {
                if let (Some(wt), Ok(n)) = (composition.get_mut(element), Normal::new(0.0, *sd)) {
                    *wt = (*wt + n.sample(&mut self.rng)).max(0.0);
                }
            }
            // The drawn elements trade places with the rest: the total stays the nominal.
            let total: f64 = composition.values().sum();
            if total > 0.0 {
                composition
                    .values_mut()
                    .for_each(|wt| *wt *= nominal / total);
            }
        }
        let lot = &mut self.stock[m];
        lot.number += 1;
        lot.kg_left = material.lot_kg;
        lot.composition_wt_pct = composition;
        self.recorder.material_received(
            now,
            &material.name,
            lot.number,
            material.lot_kg,
            &lot.composition_wt_pct,
        );
    }

    /// Weighs a product charge from the open lots, opening (receiving) the next lot of a
    /// material when one runs out. The weigh list is the optimiser's (grades with a spec) or
    /// the grade's fixed bill.
    /// Returns the number of corrected weighings (each costs another weighing time).
    fn weigh(&mut self, now: Seconds, charge: &Charge) -> u32 {
        if charge.wash {
            return 0;
        }
        let grade = &self.plant.grade[charge.grade];
        // Lots are opened before the optimiser looks at them.
        let needed: Vec<usize> = if grade.spec.is_some() {
            grade
                .materials
                .iter()
                .filter_map(|n| self.plant.material.iter().position(|m| &m.name == n))
                .collect()
        } else {
            grade
                .bill_kg_per_kg
                .keys()
                .filter_map(|n| self.plant.material.iter().position(|m| &m.name == n))
                .collect()
        };
        for m in needed {
            if self.stock[m].kg_left <= 1e-9 {
                self.open_lot(now, m);
            }
        }
        let aims: Vec<(usize, f64)> = if grade.spec.is_some() {
            let open: Vec<LotView> = self
                .stock
                .iter()
                .map(|l| LotView {
                    number: l.number,
                    composition_wt_pct: &l.composition_wt_pct,
                })
                .collect();
            self.metallurgy
                .weigh_list(self.plant, charge.grade, &open)
                .unwrap_or_default()
        } else {
            grade
                .bill_kg_per_kg
                .iter()
                .filter_map(|(name, share)| {
                    let m = self.plant.material.iter().position(|m| &m.name == name)?;
                    Some((m, self.plant.lines.heat_kg * share))
                })
                .collect()
        };
        if aims.is_empty() {
            return 0;
        }
        let mut corrections = 0;
        let mut list = Vec::new();
        let mut element_kg: BTreeMap<String, f64> = BTreeMap::new();
        for (m, aim) in aims {
            // What the scale actually delivers: the aim plus the weighing error.
            let sd = self.plant.batching.weighing_error_pct / 100.0 * aim;
            let draw = |rng: &mut Pcg64Mcg| {
                if sd > 0.0 {
                    Normal::new(0.0, sd).map(|n| n.sample(rng)).unwrap_or(0.0)
                } else {
                    0.0
                }
            };
            let mut error = draw(&mut self.rng);
            // A weighing outside the scale tolerance is corrected (material added or taken
            // off) and weighed again.
            if let Some(tol) = self.plant.batching.scale_tolerance_pct {
                let band = tol / 100.0 * aim;
                while error.abs() > band && corrections < 100 {
                    corrections += 1;
                    error = draw(&mut self.rng);
                }
            }
            let mut need = (aim + error).max(0.0);
            while need > 1e-9 {
                if self.stock[m].kg_left <= 1e-9 {
                    self.open_lot(now, m);
                }
                let lot = &mut self.stock[m];
                let take = need.min(lot.kg_left);
                lot.kg_left -= take;
                need -= take;
                list.push((m, lot.number, take));
                for (element, wt) in &lot.composition_wt_pct {
                    *element_kg.entry(element.clone()).or_insert(0.0) += take * wt / 100.0;
                }
            }
        }
        self.heats.insert(
            charge.heat,
            HeatRecord {
                charged_total_kg: list.iter().map(|(_, _, kg)| kg).sum(),
                charged_kg: element_kg,
                liquid_from_s: now,
                liquid_s: 0.0,
                flake: None,
                cast: None,
            },
        );
        self.weighed.insert(charge.heat, list);
        corrections
    }

    /// Melts and casts a product heat: flake, residue and losses.
    fn cast_heat(&mut self, heat: u64) -> HeatOutput {
        let Some(mut record) = self.heats.remove(&heat) else {
            return HeatOutput {
                flake_kg: self.plant.lines.heat_kg * self.plant.lines.flake_yield,
                ..HeatOutput::default()
            };
        };
        let melted = self
            .metallurgy
            .melt(&record.charged_kg, record.liquid_s, &mut self.rng);
        // Without a melting model the plant's overall yield applies to every element.
        let flake_fraction = match &self.plant.melting {
            Some(m) => m.casting_yield,
            None => self.plant.lines.flake_yield,
        };
        let flake_el: BTreeMap<String, f64> = melted
            .melt_kg
            .iter()
            .map(|(e, kg)| (e.clone(), kg * flake_fraction))
            .collect();
        let residue_el: BTreeMap<String, f64> = record
            .charged_kg
            .iter()
            .map(|(e, kg)| {
                (
                    e.clone(),
                    (kg - flake_el.get(e).copied().unwrap_or(0.0)).max(0.0),
                )
            })
            .collect();
        // The flake is its elements (as the optimiser reckons a melt); what the certificates
        // leave unlisted (a few hundredths of a per cent) is counted in the residue.
        let flake_kg: f64 = flake_el.values().sum();
        let residue_kg = (record.charged_total_kg - flake_kg).max(0.0);
        let wt_pct = |m: &BTreeMap<String, f64>, total: f64| -> BTreeMap<String, f64> {
            m.iter()
                .map(|(e, kg)| {
                    (
                        e.clone(),
                        if total > 0.0 { 100.0 * kg / total } else { 0.0 },
                    )
                })
                .collect()
        };
        let flake_wt = wt_pct(&flake_el, flake_kg);
        let residue_wt = wt_pct(&residue_el, residue_kg);
        for (e, kg) in &melted.loss_kg {
            *self.melt_loss_kg.entry(e.clone()).or_insert(0.0) += kg;
        }
        let cast = self.metallurgy.cast(self.plant, &mut self.rng);
        if let Some((t, _)) = &cast {
            self.thickness.record(*t);
        }
        let output = HeatOutput {
            flake_kg,
            flake_composition_wt_pct: flake_wt.clone(),
            residue_kg,
            residue_composition_wt_pct: residue_wt,
            melt_loss_kg: melted.loss_kg,
            thickness_mm: cast.as_ref().map(|c| c.0),
        };
        record.flake = Some((flake_kg, flake_wt));
        record.cast = cast;
        self.heats.insert(heat, record);
        output
    }

    fn start_batching(&mut self, charge: Charge) {
        let corrections = self.weigh(self.q.now(), &charge);
        self.weighings_corrected += corrections as u64;
        let b = &self.plant.batching;
        let materials = if charge.wash {
            1
        } else if let Some(list) = self.weighed.get(&charge.heat) {
            // Each material of the weigh list is weighed once, from however many lots.
            let mut seen: Vec<usize> = list.iter().map(|(m, _, _)| *m).collect();
            seen.dedup();
            seen.len() as u32
        } else {
            self.plant.grade[charge.grade].materials_per_heat
        };
        let mut t = b.handling.sample(&mut self.rng);
        for _ in 0..materials + corrections {
            t += b.weigh_per_material.sample(&mut self.rng);
        }
        self.q.schedule_in(t, Event::BatchDone(charge));
    }

    fn request_agv(&mut self, now: Seconds, charge: Charge, to_store: bool) {
        let first = !to_store && self.plant.agv.dispatch == AgvDispatch::DeliveriesFirst;
        let request = if first {
            self.agv.request_first(now, (charge, to_store))
        } else {
            self.agv.request(now, (charge, to_store))
        };
        if let Request::Granted(job) = request {
            self.start_trip(job);
        }
    }

    /// A vehicle finished a trip: it charges if its battery is due, else takes the next job.
    fn agv_trip_done(&mut self, now: Seconds) {
        self.agv_trips += 1;
        if let (Some(every), Some(charge)) =
            (self.plant.agv.charge_every_trips, &self.plant.agv.charge)
        {
            // Vehicles are pooled: every `every`-th trip of the fleet sends one to charge.
            if self.agv_trips.is_multiple_of(every as u64) {
                self.agv_charges += 1;
                let t = charge.sample(&mut self.rng);
                self.q.schedule_in(t, Event::AgvCharged);
                return;
            }
        }
        if let Some(next) = self.agv.release(now) {
            self.start_trip(next);
        }
    }

    /// Sends a heat's sample to the lab.
    fn request_lab(&mut self, now: Seconds, charge: Charge) {
        if let Request::Granted(c) = self.lab.request(now, charge) {
            let t = self.plant.lab.analysis.sample(&mut self.rng);
            self.q.schedule_in(t, Event::Analysed(c));
        }
    }

    /// The heats waiting for hydrogen decrepitation go into a furnace as one load.
    fn start_hd_load(&mut self, now: Seconds) {
        self.hd_batch += 1;
        let load = std::mem::take(&mut self.hd_waiting);
        if let Some(Request::Granted(load)) = self.hd.as_mut().map(|hd| hd.request(now, load)) {
            self.run_hd_load(load);
        }
    }

    fn run_hd_load(&mut self, load: Vec<Charge>) {
        if let Some(hd) = &self.plant.hydrogen_decrepitation {
            let t = hd.cycle.sample(&mut self.rng);
            self.q.schedule_in(t, Event::HdDone(load));
        }
    }

    /// The crew of a resource comes on or goes off shift.
    fn shift(&mut self, now: Seconds, crew: Crew, on: bool) {
        match crew {
            Crew::Batching => {
                let n = if on { self.plant.batching.stations } else { 0 };
                for charge in self.batching.set_staffed(now, n) {
                    self.start_batching(charge);
                }
            }
            Crew::Lab => {
                let n = if on { self.plant.lab.analysts } else { 0 };
                for charge in self.lab.set_staffed(now, n) {
                    let t = self.plant.lab.analysis.sample(&mut self.rng);
                    self.q.schedule_in(t, Event::Analysed(charge));
                }
            }
        }
    }

    fn start_trip(&mut self, (charge, to_store): (Charge, bool)) {
        if to_store {
            let t = self.plant.agv.line_to_store.sample(&mut self.rng);
            self.q.schedule_in(t, Event::AtStore(charge));
        } else {
            let t = self.plant.agv.batching_to_line.sample(&mut self.rng);
            self.q.schedule_in(t, Event::Delivered(charge));
        }
    }

    fn phase_duration(&mut self, phase: Phase) -> f64 {
        let l = &self.plant.lines;
        match phase {
            Phase::Charge => l.charge.sample(&mut self.rng),
            Phase::Melt => l.melt.sample(&mut self.rng),
            Phase::Cast => l.cast.sample(&mut self.rng),
            Phase::Cool => l.cool.sample(&mut self.rng),
        }
    }

    /// Runs the current phase for its remaining time, or until the next failure.
    fn run_phase(&mut self, line: usize, now: Seconds) {
        let l = &mut self.lines[line];
        let Some((_, _, left)) = l.current else {
            return;
        };
        l.generation += 1;
        l.phase_started_s = now;
        let generation = l.generation;
        if l.uptime_left_s < left {
            self.q
                .schedule_in(l.uptime_left_s, Event::Failure { line, generation });
        } else {
            self.q
                .schedule_in(left, Event::PhaseDone { line, generation });
        }
    }

    fn set_line_state(&mut self, line: usize, now: Seconds, state: LineState) {
        if self.lines[line].state != state {
            self.recorder.line_state(now, line, state);
        }
        self.lines[line].set_state(now, state);
    }

    fn try_start_heat(&mut self, line: usize, now: Seconds) {
        if self.lines[line].current.is_some()
            || matches!(
                self.lines[line].state,
                LineState::Down | LineState::Maintenance
            )
        {
            return;
        }
        if self.lines[line].maintenance_due {
            self.start_maintenance(line, now);
            return;
        }
        let Some(charge) = self.lines[line].buffer.pop_front() else {
            // Starved when a charge is coming or orders wait for one; otherwise nothing is
            // scheduled (time outside planned production).
            let state = if self.lines[line].charge_on_the_way || !self.orders.is_empty() {
                LineState::Starved
            } else {
                LineState::NoOrders
            };
            self.set_line_state(line, now, state);
            return;
        };
        let state = if charge.wash {
            LineState::Washing
        } else {
            LineState::Producing
        };
        self.set_line_state(line, now, state);
        let grade = &self.plant.grade[charge.grade].name;
        self.recorder
            .heat_started(now, charge.heat, charge.order, line, grade);
        if let Some(list) = self.weighed.remove(&charge.heat) {
            for (m, lot, kg) in list {
                let name = &self.plant.material[m].name;
                self.recorder
                    .material_consumed(now, charge.heat, name, lot, kg);
            }
        }
        let d = self.phase_duration(Phase::Charge);
        self.lines[line].current = Some((charge, Phase::Charge, d));
        self.run_phase(line, now);
        // The next charge is prepared while this one melts.
        self.prepare_next(line, now);
    }

    fn start_maintenance(&mut self, line: usize, now: Seconds) {
        let hours = self.plant.lines.maintenance_h.unwrap_or(0.0);
        self.lines[line].maintenance_due = false;
        self.set_line_state(line, now, LineState::Maintenance);
        self.q
            .schedule_in(hours * 3600.0, Event::MaintenanceDone(line));
    }

    fn handle(&mut self, now: Seconds, event: Event) {
        match event {
            Event::MonthStart => {
                self.release_orders(now);
                self.q.schedule_in(MONTH_S, Event::MonthStart);
                for line in 0..self.lines.len() {
                    self.prepare_next(line, now);
                }
            }
            Event::WarmupEnd => self.reset_stats(now),
            Event::Shift(crew, on) => {
                self.shift(now, crew, on);
                self.q.schedule_in(DAY_S, Event::Shift(crew, on));
            }
            Event::AgvCharged => {
                if let Some(next) = self.agv.release(now) {
                    self.start_trip(next);
                }
            }
            Event::BatchDone(charge) => {
                if let Some(next) = self.batching.release(now) {
                    self.start_batching(next);
                }
                self.request_agv(now, charge, false);
            }
            Event::Delivered(charge) => {
                self.agv_trip_done(now);
                let line = charge.line;
                self.lines[line].charge_on_the_way = false;
                self.lines[line].buffer.push_back(charge);
                self.try_start_heat(line, now);
            }
            Event::PhaseDone { line, generation } => {
                if generation != self.lines[line].generation {
                    return;
                }
                let l = &mut self.lines[line];
                let elapsed = now - l.phase_started_s;
                l.uptime_left_s -= elapsed;
                let Some((charge, phase, _)) = l.current else {
                    return;
                };
                let next = match phase {
                    Phase::Charge => Some(Phase::Melt),
                    Phase::Melt => Some(Phase::Cast),
                    Phase::Cast => Some(Phase::Cool),
                    Phase::Cool => None,
                };
                if let Some(h) = self.heats.get_mut(&charge.heat) {
                    match phase {
                        Phase::Charge => h.liquid_from_s = now,
                        Phase::Cast => h.liquid_s = now - h.liquid_from_s,
                        _ => {}
                    }
                }
                match next {
                    Some(p) => {
                        let d = self.phase_duration(p);
                        self.lines[line].current = Some((charge, p, d));
                        self.run_phase(line, now);
                    }
                    None => {
                        let l = &mut self.lines[line];
                        l.current = None;
                        let mut charge = charge;
                        charge.finished_s = now;
                        if charge.wash {
                            l.wash_heats += 1;
                            self.wip.add(now, -1.0);
                            self.recorder.heat_finished(
                                now,
                                charge.heat,
                                line,
                                &HeatOutput::default(),
                            );
                        } else {
                            l.heats += 1;
                            let output = self.cast_heat(charge.heat);
                            self.recorder.heat_finished(now, charge.heat, line, &output);
                            self.request_agv(now, charge, true);
                        }
                        self.try_start_heat(line, now);
                        self.prepare_next(line, now);
                    }
                }
            }
            Event::Failure { line, generation } => {
                if generation != self.lines[line].generation {
                    return;
                }
                let l = &mut self.lines[line];
                let elapsed = now - l.phase_started_s;
                if let Some((_, _, left)) = l.current.as_mut() {
                    *left = (*left - elapsed).max(0.0);
                }
                l.generation += 1;
                self.set_line_state(line, now, LineState::Down);
                let repair = self.plant.lines.repair.sample(&mut self.rng);
                self.lines[line].uptime_left_s = self.failure.sample(&mut self.rng);
                self.q.schedule_in(repair, Event::Repaired(line));
            }
            Event::Repaired(line) => {
                let state = match self.lines[line].current {
                    Some((c, _, _)) if c.wash => LineState::Washing,
                    Some(_) => LineState::Producing,
                    None => LineState::Starved,
                };
                self.set_line_state(line, now, state);
                if self.lines[line].current.is_some() {
                    self.run_phase(line, now);
                } else {
                    self.try_start_heat(line, now);
                }
            }
            Event::MaintenanceDue(line) => {
                if let Some(every) = self.plant.lines.maintenance_every_days {
                    self.q
                        .schedule_in(every * DAY_S, Event::MaintenanceDue(line));
                }
                let l = &self.lines[line];
                if l.current.is_none() && l.state != LineState::Down {
                    self.start_maintenance(line, now);
                } else {
                    self.lines[line].maintenance_due = true;
                }
            }
            Event::MaintenanceDone(line) => {
                self.set_line_state(line, now, LineState::Starved);
                self.try_start_heat(line, now);
            }
            Event::AtStore(charge) => {
                self.agv_trip_done(now);
                match &self.plant.hydrogen_decrepitation {
                    Some(hd) => {
                        self.hd_waiting.push(charge);
                        if self.hd_waiting.len() >= hd.heats_per_load as usize {
                            self.start_hd_load(now);
                        } else if self.hd_waiting.len() == 1 {
                            let wait = hd.max_wait_h * 3600.0;
                            self.q.schedule_in(wait, Event::HdTimeout(self.hd_batch));
                        }
                    }
                    None => self.request_lab(now, charge),
                }
            }
            Event::HdTimeout(batch) => {
                if batch == self.hd_batch && !self.hd_waiting.is_empty() {
                    self.start_hd_load(now);
                }
            }
            Event::HdDone(load) => {
                if let Some(next) = self.hd.as_mut().and_then(|hd| hd.release(now)) {
                    self.run_hd_load(next);
                }
                for charge in load {
                    self.request_lab(now, charge);
                }
            }
            Event::Analysed(charge) => {
                if let Some(next) = self.lab.release(now) {
                    let t = self.plant.lab.analysis.sample(&mut self.rng);
                    self.q.schedule_in(t, Event::Analysed(next));
                }
                self.wip.add(now, -1.0);
                let record = self.heats.remove(&charge.heat);
                let (kg, flake_wt_pct) = record.as_ref().and_then(|r| r.flake.clone()).unwrap_or((
                    self.plant.lines.heat_kg * self.plant.lines.flake_yield,
                    BTreeMap::new(),
                ));
                let report = self.metallurgy.analyse(
                    self.plant,
                    charge.grade,
                    &flake_wt_pct,
                    record.as_ref().and_then(|r| r.cast.as_ref()),
                    &mut self.rng,
                );
                let grade = &self.plant.grade[charge.grade].name;
                self.recorder
                    .heat_analysed(now, charge.heat, grade, &report);
                self.heats_analysed += 1;
                if !report.passed() {
                    // Held for QA: rework or downgrade, not delivered against the order.
                    self.heats_out_of_spec += 1;
                    if charge.finished_s >= self.measure_from_s {
                        self.lines[charge.line].rejected_heats += 1;
                    }
                    self.rejected_kg += kg;
                    let reason = report.failures[0]
                        .split(' ')
                        .next()
                        .unwrap_or("")
                        .to_string();
                    *self.out_of_spec_by_reason.entry(reason).or_insert(0) += 1;
                    return;
                }
                self.output_kg[charge.grade] += kg;
                let month = ((now - self.measure_from_s) / MONTH_S).floor().max(0.0) as usize;
                if self.monthly_kg.len() <= month {
                    self.monthly_kg.resize(month + 1, 0.0);
                }
                self.monthly_kg[month] += kg;
                self.lead_time.record((now - charge.ordered_s) / 3600.0);
                self.flow_time.record((now - charge.dispatched_s) / 3600.0);
            }
        }
    }

    fn reset_stats(&mut self, now: Seconds) {
        for l in &mut self.lines {
            let state = l.state;
            l.set_state(now, state);
            l.reset_stats(now);
        }
        self.batching.reset_stats(now);
        self.agv.reset_stats(now);
        self.lab.reset_stats(now);
        if let Some(hd) = self.hd.as_mut() {
            hd.reset_stats(now);
        }
        self.wip.reset(now);
        self.lead_time = Tally::default();
        self.flow_time = Tally::default();
        self.output_kg.iter_mut().for_each(|kg| *kg = 0.0);
        self.monthly_kg.clear();
        self.heats_analysed = 0;
        self.weighings_corrected = 0;
        self.agv_charges = 0;
        self.heats_out_of_spec = 0;
        self.out_of_spec_by_reason.clear();
        self.rejected_kg = 0.0;
        self.melt_loss_kg.clear();
        self.thickness = Tally::default();
        self.metallurgy.stats = ChargeStats::default();
        self.measure_from_s = now;
    }
}

/// How far above 1 a line's performance may read before the ideal cycle is taken to be wrong
/// (the MES's `mes::oee::PERFORMANCE_TOLERANCE`).
pub const PERFORMANCE_TOLERANCE: f64 = 0.02;

/// The warning of a performance above 1, worded as the MES's (`mes::oee::performance_warning`).
fn performance_warning(performance: f64, ideal_cycle_s: f64) -> String {
    format!(
        "performance {:.1} % is above 100 %: the line made more than its ideal cycle of {ideal_cycle_s} s allows, so the ideal cycle is too slow; set the line's real best cycle (the phase means of [lines])",
        100.0 * performance
    )
}

fn resource_stats<J>(r: &Resource<J>, now: Seconds) -> ResourceStats {
    ResourceStats {
        capacity: r.capacity(),
        utilisation: r.utilisation(now),
        mean_queue: r.mean_queue(now),
        mean_wait_s: r.waits().mean(),
    }
}

/// Runs one replication with `seed`.
pub fn run_replication(plant: &Plant, seed: u64) -> Replication {
    run_replication_with(plant, seed, &mut NoRecorder)
}

/// Runs one replication with `seed`, reporting every order, heat and line state to `recorder`.
pub fn run_replication_with(
    plant: &Plant,
    seed: u64,
    recorder: &mut dyn PlantRecorder,
) -> Replication {
    let s = &plant.simulation;
    let end_s = (s.warmup_days + s.days) * DAY_S;
    let mut twin = Twin::new(plant, seed, recorder);
    twin.advance_to(end_s);
    twin.replication()
}

/// A replication that advances in steps, for a live plant (the server's demo): the same
/// model as [`run_replication_with`], which is `Twin::new`, `advance_to(end)`, `replication`.
pub struct Twin<'p, R: PlantRecorder> {
    sim: Sim<'p, R>,
    seed: u64,
}

impl<'p, R: PlantRecorder> Twin<'p, R> {
    /// The plant at time 0 with its first events scheduled (orders, warm-up end, shifts,
    /// maintenance).
    pub fn new(plant: &'p Plant, seed: u64, recorder: R) -> Self {
        let mut sim = Sim::new(plant, seed, recorder);
        let warmup_s = plant.simulation.warmup_days * DAY_S;
        sim.q.schedule_at(0.0, Event::MonthStart);
        if warmup_s > 0.0 {
            sim.q.schedule_at(warmup_s, Event::WarmupEnd);
        }
        for (crew, window) in [
            (Crew::Batching, plant.batching.staffed_h),
            (Crew::Lab, plant.lab.staffed_h),
        ] {
            if let Some(window) = window {
                // Time 0 is midnight: start off shift unless the window covers it, then change
                // at the window's ends every day.
                if !staffed_at(window, 0.0) {
                    sim.shift(0.0, crew, false);
                }
                sim.q
                    .schedule_at(window[0] * 3600.0, Event::Shift(crew, true));
                sim.q
                    .schedule_at(window[1] * 3600.0 % DAY_S, Event::Shift(crew, false));
            }
        }
        if let Some(every) = plant.lines.maintenance_every_days {
            // Lines are maintained in turn, spread over the interval.
            for line in 0..plant.lines.count {
                let offset = every * DAY_S * (line as f64 + 0.5) / plant.lines.count as f64;
                sim.q.schedule_at(offset, Event::MaintenanceDue(line));
            }
        }
        Twin { sim, seed }
    }

    /// Simulation time reached, s.
    pub fn now_s(&self) -> Seconds {
        self.sim.q.now()
    }

    /// Processes every event up to `t_s` (simulation seconds).
    pub fn advance_to(&mut self, t_s: Seconds) {
        while let Some(t) = self.sim.q.peek_time() {
            if t > t_s {
                break;
            }
            let (now, event) = self.sim.q.pop().expect("peeked");
            self.sim.handle(now, event);
        }
        self.sim.q.advance_clock(t_s);
    }

    /// The recorder, e.g. to flush it between steps.
    pub fn recorder_mut(&mut self) -> &mut R {
        &mut self.sim.recorder
    }

    /// The statistics from the end of the warm-up to now.
    pub fn replication(&mut self) -> Replication {
        let sim = &mut self.sim;
        let plant = sim.plant;
        let s = &plant.simulation;
        let warmup_s = s.warmup_days * DAY_S;
        let end_s = sim.q.now().max(warmup_s);
        let seed = self.seed;
        // The run's own length when it ran to the file's end (exact), else the time reached.
        let days = if (end_s - (warmup_s + s.days * DAY_S)).abs() < 1e-6 {
            s.days
        } else {
            (end_s - warmup_s) / DAY_S
        };
        let now = end_s;
        let ideal_cycle = sim.ideal_cycle_s;
        let lines = sim
            .lines
            .iter_mut()
            .map(|l| {
                let state = l.state;
                l.set_state(now, state);
                let hours: BTreeMap<LineState, f64> = LINE_STATES
                    .iter()
                    .zip(l.time_in)
                    .map(|(s, t)| (*s, t / 3600.0))
                    .collect();
                let t =
                    |s: LineState| l.time_in[LINE_STATES.iter().position(|x| *x == s).unwrap_or(0)];
                let calendar = now - warmup_s;
                let planned = calendar - t(LineState::Maintenance) - t(LineState::NoOrders);
                let run = t(LineState::Producing);
                let total = l.heats as f64;
                let good = l.heats.saturating_sub(l.rejected_heats) as f64;
                let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
                let performance = ratio(ideal_cycle * total, run);
                let mut warnings = Vec::new();
                // The MES's rule (mes::oee::performance_above_ideal): clearly above 1, even
                // without the one heat a window's edge can add.
                if l.heats > 0
                    && ideal_cycle * (l.heats - 1) as f64 > (1.0 + PERFORMANCE_TOLERANCE) * run
                {
                    warnings.push(performance_warning(performance, ideal_cycle));
                }
                LineStats {
                    hours,
                    heats: l.heats,
                    wash_heats: l.wash_heats,
                    rejected_heats: l.rejected_heats,
                    planned_production_h: planned / 3600.0,
                    utilisation: ratio(planned, calendar),
                    availability: ratio(run, planned),
                    performance,
                    quality: ratio(good, total),
                    oee: ratio(good * ideal_cycle, planned),
                    teep: ratio(good * ideal_cycle, calendar),
                    warnings,
                }
            })
            .collect();
        let output_t_by_grade: BTreeMap<String, f64> = plant
            .grade
            .iter()
            .zip(&sim.output_kg)
            .map(|(g, kg)| (g.name.clone(), kg / 1000.0))
            .collect();
        let output_t: f64 = output_t_by_grade.values().sum();
        let backlog_heats = sim.orders.iter().map(|o| o.heats_left as u64).sum();
        Replication {
            seed,
            days,
            output_t_per_yr: if days > 0.0 {
                output_t * 365.0 / days
            } else {
                0.0
            },
            output_t_by_grade,
            output_t,
            output_t_by_month: {
                let months = (days * DAY_S / MONTH_S).ceil() as usize;
                let mut m: Vec<f64> = sim.monthly_kg.iter().map(|kg| kg / 1000.0).collect();
                m.resize(months.max(m.len()), 0.0);
                m
            },
            lines,
            batching: resource_stats(&sim.batching, now),
            agv: resource_stats(&sim.agv, now),
            lab: resource_stats(&sim.lab, now),
            hydrogen_decrepitation: sim.hd.as_ref().map(|hd| resource_stats(hd, now)),
            mean_wip_heats: sim.wip.mean(now),
            mean_lead_time_h: sim.lead_time.mean(),
            mean_flow_time_h: sim.flow_time.mean(),
            backlog_heats,
            heats_analysed: sim.heats_analysed,
            heats_out_of_spec: sim.heats_out_of_spec,
            out_of_spec_by_reason: sim.out_of_spec_by_reason.clone(),
            rejected_t: sim.rejected_kg / 1000.0,
            melt_loss_kg_by_element: sim.melt_loss_kg.clone(),
            mean_thickness_mm: if sim.thickness.count() > 0 {
                sim.thickness.mean()
            } else {
                0.0
            },
            charges: sim.metallurgy.stats,
            agv_charges: sim.agv_charges,
            weighings_corrected: sim.weighings_corrected,
            events: sim.q.events_processed(),
        }
    }
}
