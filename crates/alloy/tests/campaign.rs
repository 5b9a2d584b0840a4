//! Campaigns: heats charged in order from one inventory.

use lodestone_alloy::{parse_campaign, run_campaign, HeatOutcome};

#[test]
fn shift_example_consumes_stock_and_explains_the_heats_it_cannot_charge() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/alloy/campaign-shift.toml"
    ))
    .unwrap();
    let c = parse_campaign(&text).unwrap();
    assert_eq!(c.heats.len(), 24);
    let mut calls = 0;
    let r = run_campaign(&c.lots, &c.heats, &c.recovery, c.min_returns_kg, |_| {
        calls += 1
    })
    .unwrap();
    assert_eq!(calls, 24);
    assert_eq!(r.charged + r.failed, 24);
    assert!(r.charged >= 16, "all N52 heats are charged: {}", r.charged);
    // Stock is conserved: consumed + remaining = initial, per lot; nothing goes negative.
    for lot in &c.lots {
        let used = r.consumed_kg[&lot.id];
        let left = r.remaining_kg[&lot.id];
        assert!(
            (used + left - lot.stock_kg).abs() < 1e-6,
            "{}: {used} + {left} vs {}",
            lot.id,
            lot.stock_kg
        );
        assert!(left >= 0.0);
    }
    // The on-hold lot is never touched; every failure names a reason.
    assert_eq!(r.consumed_kg["PN-2410-22"], 0.0);
    for h in &r.heats {
        if let HeatOutcome::Failed { reasons, .. } = h {
            assert!(!reasons.is_empty());
        }
    }
    // Every charged heat is inside its band.
    for h in &r.heats {
        if let HeatOutcome::Charged { charge, .. } = h {
            assert!((charge.output_kg - 600.0).abs() < 1e-6);
        }
    }
}

#[test]
fn unknown_grade_is_named() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/alloy/campaign-shift.toml"
    ))
    .unwrap();
    let err = parse_campaign(&text.replace("grade = \"42SH\"", "grade = \"N99\""))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("heat[1].grade") && err.contains("N99") && err.contains("N52"),
        "{err}"
    );
}
