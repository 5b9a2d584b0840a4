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
