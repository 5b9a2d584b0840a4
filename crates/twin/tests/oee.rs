//! The twin's line OEE by the MES's definition (docs/mes.md, "OEE"), on a month of the
//! reference plant. Found before (issue 12, item 4): 0.588, because time with no orders counted
//! as availability loss, the ideal cycle was the sum of the phase minimums and wash heats were
//! the only rejects; on the usual definitions the lines run near 0.95.

use lodestone_twin::model::{ideal_cycle_s, run_replication, LineState};
use lodestone_twin::plant::Plant;

#[test]
fn a_month_of_the_reference_plant_reads_the_usual_oee() {
    let text = include_str!("../../../examples/plant/baotou-50kt.toml");
    let mut plant = Plant::from_toml("baotou-50kt.toml", text).unwrap();
    plant.simulation.days = 30.0;
    plant.simulation.warmup_days = 0.0;
    let r = run_replication(&plant, 1);
    // The ideal cycle is the sum of the phase means: 660 + 2,900 + 640 + 1,600 s.
    assert_eq!(ideal_cycle_s(&plant), 5_800.0);
    let calendar_h = 30.0 * 24.0;
    let mut oee_sum = 0.0;
    for (i, l) in r.lines.iter().enumerate() {
        let h = |s: LineState| l.hours[&s];
        // Time with no orders and maintenance are outside planned production time.
        let planned_h = calendar_h - h(LineState::Maintenance) - h(LineState::NoOrders);
        assert!(
            (l.planned_production_h - planned_h).abs() < 1e-9,
            "line {i}"
        );
        assert!((l.utilisation - planned_h / calendar_h).abs() < 1e-12);
        assert!(
            h(LineState::NoOrders) > 24.0,
            "line {i}: the plant idles when orders run out"
        );
        // A wash heat is a changeover: availability loss, not run time and not a reject.
        assert_eq!(l.wash_heats > 0, h(LineState::Washing) > 0.0, "line {i}");
        assert!((l.availability - h(LineState::Producing) / planned_h).abs() < 1e-12);
        // Performance against the mean cycle: normal variation is no speed loss.
        assert!(
            (l.performance - 1.0).abs() < 0.02,
            "line {i}: P {}",
            l.performance
        );
        // Scatter of a few tenths of a per cent above 1 is no sign of a wrong ideal cycle.
        assert!(l.warnings.is_empty(), "line {i}: {:?}", l.warnings);
        // Quality counts the lab's verdicts on product heats only.
        let good = (l.heats - l.rejected_heats) as f64;
        assert!((l.quality - good / l.heats as f64).abs() < 1e-12);
        assert!(
            (l.oee - l.availability * l.performance * l.quality).abs() < 1e-12,
            "line {i}"
        );
        assert!((l.teep - l.utilisation * l.oee).abs() < 1e-12);
        oee_sum += l.oee;
    }
    assert!(r.lines.iter().map(|l| l.wash_heats).sum::<u64>() > 10);
    let rejected: u64 = r.lines.iter().map(|l| l.rejected_heats).sum();
    assert!(
        rejected > 0 && rejected <= r.heats_out_of_spec,
        "{rejected}"
    );
    let mean = oee_sum / r.lines.len() as f64;
    assert!(mean > 0.9 && mean < 0.99, "mean line OEE {mean}");
}
