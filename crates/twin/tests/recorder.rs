//! The recorder seam: what a run reports is complete and consistent with its statistics, so a
//! record keeper (the MES) attached to it can trace every heat.

use lodestone_twin::model::{run_replication, run_replication_with, LineState};
use lodestone_twin::plant::Plant;
use lodestone_twin::recorder::{HeatOutput, LabReport, PlantRecorder};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default)]
struct Log {
    nd_by_heat: Vec<f64>,
    orders: BTreeMap<u64, (String, u32)>,
    started: BTreeMap<u64, (Option<u64>, usize, String, f64)>,
    finished: BTreeMap<u64, (usize, f64, f64)>,
    released: BTreeMap<u64, (String, f64, f64)>,
    consumed: BTreeMap<u64, f64>,
    failed: u64,
    states: BTreeMap<usize, Vec<(f64, LineState)>>,
    last_t: f64,
}

impl Log {
    fn tick(&mut self, at: f64) {
        assert!(
            at >= self.last_t,
            "events out of time order: {at} after {}",
            self.last_t
        );
        self.last_t = at;
    }
}

impl PlantRecorder for Log {
    fn order_released(&mut self, at: f64, order: u64, grade: &str, heats: u32) {
        self.tick(at);
        assert!(self.orders.insert(order, (grade.into(), heats)).is_none());
    }
    fn heat_started(&mut self, at: f64, heat: u64, order: Option<u64>, line: usize, grade: &str) {
        self.tick(at);
        if let Some(o) = order {
            assert_eq!(self.orders[&o].0, grade, "heat {heat} of order {o}");
        }
        assert!(self
            .started
            .insert(heat, (order, line, grade.into(), at))
            .is_none());
    }
    fn material_consumed(&mut self, at: f64, heat: u64, _material: &str, _lot: u64, kg: f64) {
        self.tick(at);
        *self.consumed.entry(heat).or_default() += kg;
    }
    fn heat_finished(&mut self, at: f64, heat: u64, line: usize, output: &HeatOutput) {
        let kg = output.flake_kg;
        if kg > 0.0 {
            let composition = &output.flake_composition_wt_pct;
            // Product heats carry the chemistry of their charge after melt loss.
            assert!(
                composition["Nd"] > 18.0 && composition["Fe"] > 55.0,
                "{composition:?}"
            );
            if self.started[&heat].2 == "N52" {
                self.nd_by_heat.push(composition["Nd"]);
            }
            // Mass balance of the heat: what was weighed in is flake plus residue, and the
            // modelled melt loss is part of the residue.
            let charged = self.consumed[&heat];
            assert!(
                (output.flake_kg + output.residue_kg - charged).abs() < 1e-6 * charged,
                "heat {heat}: {} + {} vs {charged}",
                output.flake_kg,
                output.residue_kg
            );
            let loss: f64 = output.melt_loss_kg.values().sum();
            assert!(loss > 0.0 && loss < output.residue_kg, "{loss}");
            assert!(output.thickness_mm.is_some_and(|t| t > 0.2 && t < 0.5));
        }
        self.tick(at);
        let (_, started_line, _, started_at) = &self.started[&heat];
        assert_eq!(*started_line, line);
        assert!(at > *started_at);
        self.finished.insert(heat, (line, kg, at));
    }
    fn heat_analysed(&mut self, at: f64, heat: u64, grade: &str, report: &LabReport) {
        self.tick(at);
        let (_, kg, finished_at) = self.finished[&heat];
        assert!(at > finished_at && kg > 0.0);
        assert_eq!(self.started[&heat].2, grade);
        assert!(report.results.iter().any(|r| r.property == "Nd"));
        if report.passed() {
            self.released.insert(heat, (grade.into(), kg, at));
        } else {
            self.failed += 1;
        }
    }
    fn line_state(&mut self, at: f64, line: usize, state: LineState) {
        self.tick(at);
        let states = self.states.entry(line).or_default();
        if let Some((_, last)) = states.last() {
            assert_ne!(
                *last, state,
                "line {line} reported {state:?} twice in a row"
            );
        }
        states.push((at, state));
    }
}

#[test]
fn a_month_of_the_reference_plant_is_reported_completely_and_consistently() {
    let text = include_str!("../../../examples/plant/baotou-50kt.toml");
    let mut plant = Plant::from_toml("baotou-50kt.toml", text).unwrap();
    plant.simulation.days = 30.0;
    plant.simulation.warmup_days = 0.0;
    let mut log = Log::default();
    let r = run_replication_with(&plant, 5, &mut log);
    assert_eq!(r, run_replication(&plant, 5), "recording changes nothing");

    // Every released heat was started and finished; its flake adds up to the reported output.
    let released_t: f64 = log.released.values().map(|(_, kg, _)| kg).sum::<f64>() / 1000.0;
    assert!(
        (released_t - r.output_t).abs() < 1e-9,
        "{released_t} vs {}",
        r.output_t
    );
    let product_heats: u64 = r.lines.iter().map(|l| l.heats).sum();
    let wash_heats: u64 = r.lines.iter().map(|l| l.wash_heats).sum();
    let finished_product = log.finished.values().filter(|(_, kg, _)| *kg > 0.0).count() as u64;
    assert_eq!(finished_product, product_heats);
    assert_eq!(log.finished.len() as u64, product_heats + wash_heats);
    // Product heats belong to released orders of their grade, never more than ordered.
    let mut per_order: BTreeMap<u64, u32> = BTreeMap::new();
    for (order, ..) in log.started.values() {
        if let Some(o) = order {
            *per_order.entry(*o).or_default() += 1;
        }
    }
    for (o, n) in &per_order {
        assert!(*n <= log.orders[o].1, "order {o}: {n} heats started");
    }
    // Heats still in a furnace at the end are started but not finished: at most one per line.
    let unfinished: BTreeSet<_> = log
        .started
        .keys()
        .filter(|h| !log.finished.contains_key(h))
        .collect();
    assert!(
        unfinished.len() <= plant.lines.count,
        "{}",
        unfinished.len()
    );
    // Heats out of specification are held, not delivered: an occasional few.
    assert_eq!(log.failed, r.heats_out_of_spec);
    let rate = r.heats_out_of_spec as f64 / r.heats_analysed as f64;
    assert!(rate > 0.001 && rate < 0.08, "out-of-spec rate {rate}");
    // The optimiser aims every N52 heat at Nd 23.10 wt% (the grade's spec in the reference
    // plant) after the predicted melt loss; weighing error, lots opened mid-heat and the loss
    // of each heat spread them by a few hundredths, well inside the ±0.154 wt% band.
    let n = log.nd_by_heat.len() as f64;
    let mean = log.nd_by_heat.iter().sum::<f64>() / n;
    let sd = (log
        .nd_by_heat
        .iter()
        .map(|x| (x - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0))
        .sqrt();
    assert!((mean - 23.10).abs() < 0.02, "N52 Nd mean {mean}");
    assert!(sd > 0.005 && sd < 0.08, "N52 Nd sd {sd}");
    // Every line reported its states; down time matches the statistics.
    assert_eq!(log.states.len(), plant.lines.count);
    for (line, states) in &log.states {
        let mut down = 0.0;
        for w in states.windows(2) {
            if w[0].1 == LineState::Down {
                down += w[1].0 - w[0].0;
            }
        }
        if let Some((t, LineState::Down)) = states.last() {
            down += 30.0 * 86_400.0 - t;
        }
        let reported = r.lines[*line].hours[&LineState::Down] * 3600.0;
        assert!(
            (down - reported).abs() < 1e-6,
            "line {line}: {down} vs {reported}"
        );
    }
}
