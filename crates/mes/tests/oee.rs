//! OEE against the worked example of mes.md (b8) (OEE.com example: 480 min shift, 60 min
//! breaks, 47 min stops, ideal cycle 1.0 s, 19,271 units, 423 rejects → OEE 74.79 %).

use lodestone_mes::oee::{
    oee, oee_from_events, periods_from_events, EquipmentState, OeeError, ProductionCounts,
    StateEvent, StatePeriod,
};
use EquipmentState::*;

const MIN: f64 = 60.0;

fn example_periods() -> Vec<StatePeriod> {
    // Shift 480 min = 373 running + 47 unplanned stops + 60 breaks.
    vec![
        StatePeriod {
            state: Running,
            duration_s: 200.0 * MIN,
        },
        StatePeriod {
            state: Break,
            duration_s: 30.0 * MIN,
        },
        StatePeriod {
            state: UnplannedDown,
            duration_s: 35.0 * MIN,
        },
        StatePeriod {
            state: Running,
            duration_s: 173.0 * MIN,
        },
        StatePeriod {
            state: Changeover,
            duration_s: 12.0 * MIN,
        },
        StatePeriod {
            state: Break,
            duration_s: 30.0 * MIN,
        },
    ]
}

#[test]
fn worked_example_reproduces_74_79_percent() {
    let counts = ProductionCounts::from_rejects(19_271, 423).unwrap();
    assert_eq!(counts.good, 18_848); // mes.md (b8): good 18,848
    let r = oee(&example_periods(), &counts, 1.0).unwrap();
    assert_eq!(r.planned_production_time_s, 420.0 * MIN); // mes.md (b8): 420 min
    assert_eq!(r.run_time_s, 373.0 * MIN); // mes.md (b8): 373 min
    assert_eq!(r.planned_downtime_s, 60.0 * MIN);
    // mes.md (b8): A = 373/420, P = 19271/(373·60), Q = 18848/19271 — exact as f64 divisions.
    assert_eq!(r.availability, 373.0 / 420.0);
    assert_eq!(r.performance, 19_271.0 / (373.0 * 60.0));
    assert_eq!(r.quality, 18_848.0 / 19_271.0);
    // mes.md (b8): A = 0.8880952, P = 0.8610813, Q = 0.9780499, OEE = 0.7479365 (74.79 %).
    assert_eq!(format!("{:.7}", r.availability), "0.8880952");
    assert_eq!(format!("{:.7}", r.performance), "0.8610813");
    assert_eq!(format!("{:.7}", r.quality), "0.9780499");
    assert_eq!(format!("{:.7}", r.oee), "0.7479365");
    assert_eq!(format!("{:.2}", 100.0 * r.oee), "74.79"); // published 74.79 %
                                                          // mes.md (b8): OEE = good × ideal / planned = 18,848 s / 25,200 s; A×P×Q equals it within
                                                          // 1e-15 relative (the run time and total count cancel).
    assert_eq!(r.oee, 18_848.0 / 25_200.0);
    let product = r.availability * r.performance * r.quality;
    assert!(
        ((product - r.oee) / r.oee).abs() <= 1e-15,
        "{product} vs {}",
        r.oee
    );
    // Rounding the factors first drifts in the 6th decimal (mes.md (b8)).
    assert!((0.888095 * 0.861081 * 0.978050 - r.oee).abs() > 1e-7);

    // Loss breakdown: 47 min availability loss (35 unplanned + 12 changeover), speed loss
    // 373·60 − 19,271 s, quality loss 423 s; with fully productive time they add up to the
    // planned production time.
    let l = &r.losses;
    assert_eq!(l.availability_loss_s, 47.0 * MIN);
    let by_state: Vec<(EquipmentState, f64)> = l
        .availability_by_state
        .iter()
        .map(|s| (s.state, s.duration_s))
        .collect();
    assert_eq!(
        by_state,
        vec![(UnplannedDown, 35.0 * MIN), (Changeover, 12.0 * MIN)]
    );
    assert_eq!(l.speed_loss_s, 22_380.0 - 19_271.0);
    assert_eq!(l.quality_loss_s, 423.0);
    assert_eq!(l.fully_productive_time_s, 18_848.0);
    let sum = l.availability_loss_s + l.speed_loss_s + l.quality_loss_s + l.fully_productive_time_s;
    assert_eq!(sum, r.planned_production_time_s);
}

#[test]
fn events_give_the_same_result() {
    let events = [
        StateEvent {
            state: Running,
            start_s: 0.0,
        },
        StateEvent {
            state: Break,
            start_s: 200.0 * MIN,
        },
        StateEvent {
            state: UnplannedDown,
            start_s: 230.0 * MIN,
        },
        StateEvent {
            state: Running,
            start_s: 265.0 * MIN,
        },
        StateEvent {
            state: Changeover,
            start_s: 438.0 * MIN,
        },
        StateEvent {
            state: Break,
            start_s: 450.0 * MIN,
        },
    ];
    let periods = periods_from_events(&events, 480.0 * MIN).unwrap();
    assert_eq!(periods, example_periods());
    let counts = ProductionCounts::new(19_271, 18_848).unwrap();
    let r = oee_from_events(&events, 480.0 * MIN, &counts, 1.0).unwrap();
    assert_eq!(r.oee, 18_848.0 / 25_200.0);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json["losses"]["availability_by_state"][0]["state"],
        "unplanned_down"
    );
}

#[test]
fn validation_errors_are_clear() {
    let counts = ProductionCounts {
        total: 10,
        good: 11,
    };
    let err = oee(&example_periods(), &counts, 1.0).unwrap_err();
    assert_eq!(
        err,
        OeeError::GoodExceedsTotal {
            good: 11,
            total: 10
        }
    );
    assert!(err
        .to_string()
        .contains("good count 11 exceeds total count 10"));
    assert!(ProductionCounts::new(5, 6).is_err());
    assert_eq!(
        ProductionCounts::from_rejects(5, 6).unwrap_err(),
        OeeError::RejectsExceedTotal {
            rejects: 6,
            total: 5
        }
    );

    let ok = ProductionCounts::new(10, 10).unwrap();
    let neg = [StatePeriod {
        state: Running,
        duration_s: -5.0,
    }];
    let err = oee(&neg, &ok, 1.0).unwrap_err();
    assert!(
        err.to_string()
            .contains("state period 0 (running): duration -5 s"),
        "{err}"
    );

    let breaks = [StatePeriod {
        state: Break,
        duration_s: 600.0,
    }];
    let err = oee(&breaks, &ok, 1.0).unwrap_err();
    assert_eq!(err, OeeError::ZeroPlannedTime { total_s: 600.0 });

    let run = [StatePeriod {
        state: Running,
        duration_s: 600.0,
    }];
    for bad in [0.0, -1.0, f64::NAN] {
        assert!(matches!(
            oee(&run, &ok, bad),
            Err(OeeError::InvalidCycleTime { .. })
        ));
    }
    assert_eq!(oee(&[], &ok, 1.0).unwrap_err(), OeeError::NoStates);
    let huge = [
        StatePeriod {
            state: Running,
            duration_s: 1e308,
        },
        StatePeriod {
            state: Idle,
            duration_s: 1e308,
        },
    ];
    assert!(matches!(
        oee(&huge, &ok, 1.0),
        Err(OeeError::TimeOverflow { .. })
    ));
    let idle = [StatePeriod {
        state: Idle,
        duration_s: 600.0,
    }];
    assert_eq!(
        oee(&idle, &ok, 1.0).unwrap_err(),
        OeeError::CountWithoutRunTime { total: 10 }
    );
    let none = ProductionCounts::new(0, 0).unwrap();
    let r = oee(&idle, &none, 1.0).unwrap();
    assert_eq!(
        (r.availability, r.performance, r.quality, r.oee),
        (0.0, 0.0, 0.0, 0.0)
    );

    let unordered = [
        StateEvent {
            state: Running,
            start_s: 100.0,
        },
        StateEvent {
            state: Idle,
            start_s: 50.0,
        },
    ];
    let err = periods_from_events(&unordered, 200.0).unwrap_err();
    assert!(err
        .to_string()
        .contains("state event 1 starts at 50 s, before event 0 at 100 s"));
    let negative = [StateEvent {
        state: Running,
        start_s: -1.0,
    }];
    assert!(matches!(
        periods_from_events(&negative, 10.0),
        Err(OeeError::InvalidTime { .. })
    ));
    let early_end = [StateEvent {
        state: Running,
        start_s: 100.0,
    }];
    assert!(matches!(
        periods_from_events(&early_end, 50.0),
        Err(OeeError::EndBeforeLastEvent { .. })
    ));
}

/// The worked example of docs/mes.md ("OEE", a melting line over one week), computed by hand:
///
/// calendar 168 h = 604,800 s; no orders 24 h; planned maintenance 16 h
/// → planned production time 168 − 24 − 16 = 128 h = 460,800 s; utilisation 128/168 = 0.761905.
/// Availability losses: unplanned down 4 h, changeover (wash heat) 2 h, starved 2 h = 8 h
/// → run time 120 h = 432,000 s; A = 120/128 = 0.9375.
/// Ideal cycle 5,800 s (660 + 2,900 + 640 + 1,600, the reference plant's phase means); 72 heats
/// → 417,600 s of ideal time; P = 417,600/432,000 = 0.966667 (speed loss 14,400 s).
/// 2 heats out of specification → 70 good; Q = 70/72 = 0.972222 (quality loss 11,600 s).
/// OEE = 70 × 5,800 / 460,800 = 406,000/460,800 = 0.881076 (= A × P × Q);
/// TEEP = 406,000/604,800 = 0.671296 (= utilisation × OEE).
/// 28,800 + 14,400 + 11,600 + 406,000 = 460,800 s: the losses add up to planned production time.
fn week_periods() -> Vec<StatePeriod> {
    const H: f64 = 3600.0;
    [
        (NotScheduled, 24.0),
        (Running, 40.0),
        (UnplannedDown, 4.0),
        (Running, 40.0),
        (Changeover, 2.0),
        (Running, 16.0),
        (PlannedDown, 16.0),
        (Starved, 2.0),
        (Running, 24.0),
    ]
    .into_iter()
    .map(|(state, h)| StatePeriod {
        state,
        duration_s: h * H,
    })
    .collect()
}

#[test]
fn worked_example_of_a_melting_week() {
    let counts = ProductionCounts::from_rejects(72, 2).unwrap();
    let r = oee(&week_periods(), &counts, 5_800.0).unwrap();
    assert_eq!(r.total_time_s, 604_800.0);
    assert_eq!(r.not_scheduled_s, 86_400.0);
    assert_eq!(r.planned_downtime_s, 57_600.0);
    assert_eq!(r.planned_production_time_s, 460_800.0);
    assert_eq!(r.run_time_s, 432_000.0);
    assert_eq!(r.utilisation, 128.0 / 168.0);
    assert_eq!(r.availability, 0.9375);
    assert_eq!(r.performance, 417_600.0 / 432_000.0);
    assert_eq!(r.quality, 70.0 / 72.0);
    assert_eq!(r.oee, 406_000.0 / 460_800.0);
    assert_eq!(r.teep, 406_000.0 / 604_800.0);
    assert_eq!(format!("{:.6}", r.utilisation), "0.761905");
    assert_eq!(format!("{:.6}", r.performance), "0.966667");
    assert_eq!(format!("{:.6}", r.quality), "0.972222");
    assert_eq!(format!("{:.6}", r.oee), "0.881076");
    assert_eq!(format!("{:.6}", r.teep), "0.671296");
    let product = r.availability * r.performance * r.quality;
    assert!((product - r.oee).abs() < 1e-15, "{product}");
    assert!((r.utilisation * r.oee - r.teep).abs() < 1e-15);
    // No orders is not an availability loss; it is the utilisation loss.
    let by_state: Vec<(EquipmentState, f64)> = r
        .losses
        .availability_by_state
        .iter()
        .map(|s| (s.state, s.duration_s))
        .collect();
    assert_eq!(
        by_state,
        vec![
            (Starved, 7_200.0),
            (UnplannedDown, 14_400.0),
            (Changeover, 7_200.0)
        ]
    );
    let l = &r.losses;
    assert_eq!(
        (
            l.availability_loss_s,
            l.speed_loss_s,
            l.quality_loss_s,
            l.fully_productive_time_s
        ),
        (28_800.0, 14_400.0, 11_600.0, 406_000.0)
    );
    assert_eq!(
        l.availability_loss_s + l.speed_loss_s + l.quality_loss_s + l.fully_productive_time_s,
        r.planned_production_time_s
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(serde_json::to_value(NotScheduled).unwrap(), "not_scheduled");
}

#[test]
fn a_performance_above_one_is_reported_with_a_warning_not_clamped() {
    // The same week with an ideal cycle of 7,200 s: 72 × 7,200 = 518,400 s of ideal time in
    // 432,000 s of running — P = 1.2, so the stated ideal is slower than the line really runs
    // (71 × 7,200 = 511,200 s > 1.02 × 432,000 s = 440,640 s: clearly, not by one unit).
    let counts = ProductionCounts::from_rejects(72, 2).unwrap();
    let r = oee(&week_periods(), &counts, 7_200.0).unwrap();
    assert_eq!(r.performance, 1.2);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(
        r.warnings[0].contains("performance 120.0 % is above 100 %")
            && r.warnings[0].contains("ideal cycle of 7200 s"),
        "{}",
        r.warnings[0]
    );
    // 1 % above with 72 units (ideal 6,050 s: P = 435,600/432,000 = 1.0083) is scatter: without
    // one unit 429,550 s ≤ 1.02 × 432,000 s, so the value stands without a warning.
    let r = oee(&week_periods(), &counts, 6_050.0).unwrap();
    assert_eq!(r.performance, 435_600.0 / 432_000.0);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    // Only no-orders time: nothing planned, no OEE — said so, not a division by zero.
    let idle = [StatePeriod {
        state: NotScheduled,
        duration_s: 3_600.0,
    }];
    let none = ProductionCounts::new(0, 0).unwrap();
    let err = oee(&idle, &none, 1.0).unwrap_err();
    assert!(err.to_string().contains("not scheduled"), "{err}");
}
