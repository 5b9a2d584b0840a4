//! Run-rule test vectors (mes.md (b5)), SPC constants (mes.md (b6)) and input errors of the
//! variables charts.

use lodestone_mes::spc::{
    self, rules, ChartKind, ChartOptions, Dispersion, EwmaOptions, Phase, RuleFamily, Rules,
    SigmaConvention, SpcError, Standard, ZoneLimits,
};
use statrs::distribution::{ContinuousCDF, Normal};

/// 1-based flagged points and their rules, evaluating only `rule` of `family` on a
/// standardised sequence (centre 0, σ 1, limits ±3).
fn flagged(values: &[f64], family: RuleFamily, rule: u8) -> Vec<usize> {
    rules::evaluate_standardized(values, &Rules::of(family, &[rule]))
        .unwrap()
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.map(|r| {
                assert_eq!(r, rule);
                i + 1
            })
        })
        .collect()
}

use RuleFamily::{Nelson, WesternElectric};

#[test]
fn beyond_three_sigma() {
    // mes.md (b5): WE1 / Nelson 1: 0, 0, 3.5, 0, −3.2 → 3, 5
    let x = [0.0, 0.0, 3.5, 0.0, -3.2];
    assert_eq!(flagged(&x, WesternElectric, 1), vec![3, 5]);
    assert_eq!(flagged(&x, Nelson, 1), vec![3, 5]);
}

#[test]
fn two_of_three_beyond_two_sigma() {
    // mes.md (b5): WE2 / Nelson 5: 0, 2.5, 0.5, 2.5, 0 → 4 (the flagged point is beyond)
    let x = [0.0, 2.5, 0.5, 2.5, 0.0];
    assert_eq!(flagged(&x, WesternElectric, 2), vec![4]);
    assert_eq!(flagged(&x, Nelson, 5), vec![4]);
    // Same side only.
    assert!(flagged(&[2.5, -2.5, 0.0, 2.5], WesternElectric, 2).is_empty());
    assert_eq!(
        flagged(&[2.5, -2.5, 2.5, -2.5], WesternElectric, 2),
        vec![3, 4]
    );
    assert_eq!(flagged(&[-2.5, 0.0, -2.5], WesternElectric, 2), vec![3]);
}

#[test]
fn four_of_five_beyond_one_sigma() {
    // mes.md (b5): WE3 / Nelson 6: 1.5, 1.5, 0, 1.5, 1.5, 0 → 5
    let x = [1.5, 1.5, 0.0, 1.5, 1.5, 0.0];
    assert_eq!(flagged(&x, WesternElectric, 3), vec![5]);
    assert_eq!(flagged(&x, Nelson, 6), vec![5]);
}

#[test]
fn runs_on_one_side() {
    // mes.md (b5): WE4 (8 same side): 0.5 ×9, −0.5 → 8, 9
    let mut x = vec![0.5; 9];
    x.push(-0.5);
    assert_eq!(flagged(&x, WesternElectric, 4), vec![8, 9]);
    // mes.md (b5): Nelson 2 (9 same side): −0.5 ×10 → 9, 10
    assert_eq!(flagged(&[-0.5; 10], Nelson, 2), vec![9, 10]);
    // A point on the centre line breaks the run (qcc: diffs > 0 / < 0).
    let mut y = vec![0.5; 7];
    y.push(0.0);
    y.extend([0.5; 7]);
    assert!(flagged(&y, WesternElectric, 4).is_empty());
}

#[test]
fn trends_and_alternation() {
    // mes.md (b5): Nelson 3 (6 trending): 0, 0.1, …, 0.6, 0 → 6, 7
    let x = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.0];
    assert_eq!(flagged(&x, Nelson, 3), vec![6, 7]);
    let down: Vec<f64> = x.iter().map(|v| -v).collect();
    assert_eq!(flagged(&down, Nelson, 3), vec![6, 7]);
    // mes.md (b5): Nelson 4 (14 alternating): (0.5, −0.5) ×7, 0.5 → 14, 15
    let mut alt: Vec<f64> = (0..14)
        .map(|i| if i % 2 == 0 { 0.5 } else { -0.5 })
        .collect();
    alt.push(0.5);
    assert_eq!(flagged(&alt, Nelson, 4), vec![14, 15]);
}

#[test]
fn stratification_and_mixture() {
    // mes.md (b5): Nelson 7 (15 within 1σ, inclusive): 0.1 ×15, 1.5 → 15
    let mut x = vec![0.1; 15];
    x.push(1.5);
    assert_eq!(flagged(&x, Nelson, 7), vec![15]);
    let edge = vec![1.0; 15]; // exactly at 1σ counts as within (qcc: >= and <=)
    assert_eq!(flagged(&edge, Nelson, 7), vec![15]);
    // mes.md (b5): Nelson 8 (8 beyond 1σ, both sides): (1.5, −1.5) ×4, 0 → 8
    let mut y: Vec<f64> = (0..8)
        .map(|i| if i % 2 == 0 { 1.5 } else { -1.5 })
        .collect();
    y.push(0.0);
    assert_eq!(flagged(&y, Nelson, 8), vec![8]);
    assert!(
        flagged(&[1.5; 9], Nelson, 8).is_empty(),
        "one side only is not a mixture"
    );
}

#[test]
fn lowest_rule_number_wins() {
    // mes.md (b5) precedence: 0.5 ×8 then 3.5 — point 9 completes the WE4 run and is beyond
    // 3σ: rule 1 is reported; point 8 only violates rule 4.
    let mut x = vec![0.5; 8];
    x.push(3.5);
    let v = rules::evaluate_standardized(&x, &Rules::western_electric()).unwrap();
    assert_eq!(v[7], Some(4));
    assert_eq!(v[8], Some(1));
    let v = rules::evaluate_standardized(&x, &Rules::nelson()).unwrap();
    assert_eq!(v[8], Some(1));
    assert_eq!(v[7], None, "eight in a row is not yet a Nelson-2 run");
}

#[test]
fn zones_follow_each_points_own_limits() {
    // Variable limits: σ doubles at the third point, so 2.5 there is only 1.25σ.
    let zones = [
        ZoneLimits::symmetric(0.0, 1.0, 3.0),
        ZoneLimits::symmetric(0.0, 1.0, 3.0),
        ZoneLimits::symmetric(0.0, 2.0, 3.0),
    ];
    let v = rules::evaluate(&[2.5, 0.0, 2.5], &zones, &Rules::western_electric()).unwrap();
    assert_eq!(v, vec![None, None, None]);
    let v = rules::evaluate(&[2.5, 0.0, 4.5], &zones, &Rules::western_electric()).unwrap();
    assert_eq!(v[2], Some(2));
}

#[test]
fn rule_errors() {
    let err = rules::evaluate_standardized(&[0.0], &Rules::of(WesternElectric, &[5])).unwrap_err();
    assert_eq!(
        err,
        SpcError::UnknownRule {
            family: "Western Electric",
            rule: 5,
            max: 4
        }
    );
    assert!(err.to_string().contains("rules are numbered 1..=4"));
    let err = rules::evaluate(
        &[0.0, 1.0],
        &[ZoneLimits::symmetric(0.0, 1.0, 3.0)],
        &Rules::nelson(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        SpcError::LengthMismatch {
            statistics: 2,
            zones: 1
        }
    );
    // Short sequences are fine.
    assert_eq!(
        rules::evaluate_standardized(&[], &Rules::nelson()).unwrap(),
        vec![]
    );
    assert_eq!(
        rules::evaluate_standardized(&[9.0], &Rules::nelson()).unwrap(),
        vec![Some(1)]
    );
}

#[test]
#[allow(clippy::approx_constant)] // mes.md (b6) digit for digit: d₂(2) = 1.128379 ≈ 2/√π
fn constants_match_the_exact_table() {
    // mes.md (b6): n, d₂, d₃, c₄ (6 decimals), A₂, D₃, D₄, A₃, B₃, B₄ (4 decimals), exact.
    let table: [(usize, [f64; 9]); 9] = [
        (
            2,
            [
                1.128379, 0.852502, 0.797885, 1.8800, 0.0, 3.2665, 2.6587, 0.0, 3.2665,
            ],
        ),
        (
            3,
            [
                1.692569, 0.888368, 0.886227, 1.0233, 0.0, 2.5746, 1.9544, 0.0, 2.5682,
            ],
        ),
        (
            4,
            [
                2.058751, 0.879808, 0.921318, 0.7286, 0.0, 2.2821, 1.6281, 0.0, 2.2660,
            ],
        ),
        (
            5,
            [
                2.325929, 0.864082, 0.939986, 0.5768, 0.0, 2.1145, 1.4273, 0.0, 2.0890,
            ],
        ),
        (
            6,
            [
                2.534413, 0.848040, 0.951533, 0.4832, 0.0, 2.0038, 1.2871, 0.0304, 1.9696,
            ],
        ),
        (
            7,
            [
                2.704357, 0.833205, 0.959369, 0.4193, 0.0757, 1.9243, 1.1819, 0.1177, 1.8823,
            ],
        ),
        (
            8,
            [
                2.847201, 0.819831, 0.965030, 0.3725, 0.1362, 1.8638, 1.0991, 0.1851, 1.8149,
            ],
        ),
        (
            9,
            [
                2.970026, 0.807834, 0.969311, 0.3367, 0.1840, 1.8160, 1.0317, 0.2391, 1.7609,
            ],
        ),
        (
            10,
            [
                3.077505, 0.797051, 0.972659, 0.3083, 0.2230, 1.7770, 0.9754, 0.2837, 1.7163,
            ],
        ),
    ];
    for (n, [d2, d3, c4, a2, cd3, cd4, a3, b3, b4]) in table {
        let f = spc::factors(n, SigmaConvention::Exact).unwrap();
        let close = |got: f64, want: f64, dec: i32, what: &str| {
            assert!(
                (got - want).abs() <= 0.5 * 10f64.powi(-dec) + 1e-12,
                "n = {n}: {what} = {got}, table {want}"
            );
        };
        close(f.d2, d2, 6, "d2");
        close(f.d3, d3, 6, "d3");
        close(f.c4, c4, 6, "c4");
        close(f.a2, a2, 4, "A2");
        close(f.capital_d3, cd3, 4, "D3");
        close(f.capital_d4, cd4, 4, "D4");
        close(f.a3, a3, 4, "A3");
        close(f.b3, b3, 4, "B3");
        close(f.b4, b4, 4, "B4");
    }
    // Closed forms: d₂(2) = 2/√π, d₃(2) = √(2 − 4/π), c₄(2) = √(2/π).
    let pi = std::f64::consts::PI;
    assert_eq!(spc::d2(2, SigmaConvention::Exact).unwrap(), 2.0 / pi.sqrt());
    assert!((spc::d3(2, SigmaConvention::Exact).unwrap() - (2.0 - 4.0 / pi).sqrt()).abs() < 1e-10);
    assert!((spc::c4(2).unwrap() - (2.0 / pi).sqrt()).abs() < 1e-15);
    // mes.md (b1): c₄(5) = 0.9399856030.
    assert!((spc::c4(5).unwrap() - 0.9399856030).abs() < 5e-11);
    // Textbook roundings, mes.md (b6): A₂(5) 0.577, D₄(5) 2.114, D₄(2) 3.267, d₃(5) 0.864.
    let f5 = spc::factors(5, SigmaConvention::Exact).unwrap();
    assert_eq!(
        format!("{:.3} {:.3} {:.3}", f5.a2, f5.capital_d4, f5.d3),
        "0.577 2.114 0.864"
    );
    let f2 = spc::factors(2, SigmaConvention::Qcc).unwrap();
    assert_eq!(format!("{:.3}", f2.capital_d4), "3.267");
}

#[test]
fn qcc_tables() {
    // mes.md §4.1 / (b6): qcc d₂ is the exact value rounded to 3 decimals (d₂(2) = 1.128,
    // d₂(5) = 2.326); qcc d₃(2…5) = 0.8525033, 0.8883697, 0.8798108, 0.8640855.
    assert_eq!(spc::d2(2, SigmaConvention::Qcc).unwrap(), 1.128);
    assert_eq!(spc::d2(5, SigmaConvention::Qcc).unwrap(), 2.326);
    for n in 2..=25 {
        let exact = spc::d2(n, SigmaConvention::Exact).unwrap();
        let qcc = spc::d2(n, SigmaConvention::Qcc).unwrap();
        assert_eq!(format!("{exact:.3}"), format!("{qcc:.3}"), "n = {n}");
    }
    for (n, d3) in [
        (2, 0.8525033),
        (3, 0.8883697),
        (4, 0.8798108),
        (5, 0.8640855),
    ] {
        assert_eq!(spc::d3(n, SigmaConvention::Qcc).unwrap(), d3);
    }
    // qcc's d₃ table is close to exact (mes.md §4.1): within 1.5e-5 for n = 2..50.
    for n in 2..=50 {
        let diff =
            spc::d3(n, SigmaConvention::Qcc).unwrap() - spc::d3(n, SigmaConvention::Exact).unwrap();
        assert!(diff.abs() < 1.5e-5, "n = {n}: {diff}");
    }
    // Beyond qcc's d₂ table (n > 25) the exact value is used.
    assert_eq!(
        spc::d2(30, SigmaConvention::Qcc).unwrap(),
        spc::d2(30, SigmaConvention::Exact).unwrap()
    );
    let err = spc::d2(51, SigmaConvention::Qcc).unwrap_err();
    assert!(
        err.to_string()
            .contains("d2(51) is not available: n must be in 2..=50"),
        "{err}"
    );
    assert!(spc::d3(1, SigmaConvention::Exact).is_err() && spc::c4(1).is_err());
    assert!(spc::c4(1000).unwrap() < 1.0 && spc::c4(1000).unwrap() > 0.9997);
}

#[test]
fn exact_d2_table_agrees_with_independent_integration() {
    // d₂(n) = ∫ (1 − Φ(x)ⁿ − (1 − Φ(x))ⁿ) dx, here by the trapezoid rule on [−12, 12] (the
    // integrand is smooth and decays like a Gaussian tail, so the rule converges fast).
    let normal = Normal::standard();
    for n in [2, 3, 5, 10, 17, 25, 40, 50] {
        let h = 1e-3;
        let steps = (24.0 / h) as usize;
        let integral: f64 = (0..=steps)
            .map(|k| {
                let x = -12.0 + k as f64 * h;
                let p = normal.cdf(x);
                let f = 1.0 - p.powi(n) - (1.0 - p).powi(n);
                if k == 0 || k == steps {
                    f * h / 2.0
                } else {
                    f * h
                }
            })
            .sum();
        let table = spc::d2(n as usize, SigmaConvention::Exact).unwrap();
        assert!(
            (integral - table).abs() < 1e-9,
            "n = {n}: {integral} vs {table}"
        );
    }
}

#[test]
fn variables_input_errors_name_the_subgroup_and_value() {
    let opts = ChartOptions::default();
    let groups = vec![vec![1.0, 2.0], vec![1.0, f64::INFINITY, 3.0]];
    let err = spc::xbar_chart(&groups, &[], Dispersion::Range, &opts).unwrap_err();
    assert_eq!(
        err,
        SpcError::NonFiniteValue {
            phase: Phase::One,
            index: 1,
            position: 1,
            value: f64::INFINITY
        }
    );
    assert!(
        err.to_string()
            .contains("phase I subgroup 1, value 1: inf is not a finite number"),
        "{err}"
    );

    let err =
        spc::xbar_chart(&[vec![1.0, 2.0], vec![3.0]], &[], Dispersion::Range, &opts).unwrap_err();
    assert!(matches!(
        err,
        SpcError::SubgroupTooSmall {
            index: 1,
            size: 1,
            min: 2,
            ..
        }
    ));
    assert!(err.to_string().contains("or give a standard σ"), "{err}");

    let big = vec![vec![0.0; 51]];
    let err = spc::r_chart(&big, &[], &opts).unwrap_err();
    assert!(
        matches!(
            err,
            SpcError::SubgroupTooLarge {
                size: 51,
                max: 50,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        spc::s_chart(&big, &[], &opts).is_ok(),
        "S charts take any subgroup size"
    );

    let err = spc::r_chart(&[vec![1.0, 2.0]], &[vec![1.0]], &opts).unwrap_err();
    assert!(matches!(
        err,
        SpcError::SubgroupTooSmall {
            phase: Phase::Two,
            index: 0,
            ..
        }
    ));

    let err = spc::xbar_chart(&[vec![]], &[], Dispersion::StdDev, &opts).unwrap_err();
    assert!(matches!(err, SpcError::SubgroupTooSmall { size: 0, .. }));

    let err = spc::xbar_chart(&[], &[], Dispersion::Range, &opts).unwrap_err();
    assert_eq!(
        err,
        SpcError::NoData {
            chart: ChartKind::XbarR
        }
    );

    let err = spc::xbar_chart(&[], &[vec![1.0]], Dispersion::Range, &opts).unwrap_err();
    assert_eq!(
        err,
        SpcError::NoPhaseOneData {
            chart: ChartKind::XbarR,
            missing: "centre and σ"
        }
    );
    let centre_only = ChartOptions {
        standard: Standard {
            center: Some(1.0),
            std_dev: None,
        },
        ..ChartOptions::default()
    };
    let err = spc::xbar_chart(&[], &[vec![1.0]], Dispersion::Range, &centre_only).unwrap_err();
    assert!(
        err.to_string().contains("no phase-I data to estimate σ"),
        "{err}"
    );

    for (nsigmas, name) in [(0.0, "nsigmas"), (f64::NAN, "nsigmas")] {
        let o = ChartOptions {
            nsigmas,
            ..ChartOptions::default()
        };
        let err = spc::xbar_chart(&[vec![1.0, 2.0]], &[], Dispersion::Range, &o).unwrap_err();
        assert!(
            matches!(err, SpcError::InvalidParameter { name: n, .. } if n == name),
            "{err}"
        );
    }
    let bad_sigma = ChartOptions {
        standard: Standard {
            center: None,
            std_dev: Some(-1.0),
        },
        ..ChartOptions::default()
    };
    let err = spc::xbar_chart(&[vec![1.0, 2.0]], &[], Dispersion::Range, &bad_sigma).unwrap_err();
    assert!(
        err.to_string()
            .contains("standard σ must be finite and > 0"),
        "{err}"
    );

    let err = spc::individuals_chart(&[1.0], &[], &opts).unwrap_err();
    assert!(
        matches!(err, SpcError::NoPhaseOneData { missing: "σ", .. }),
        "{err}"
    );
    let err = spc::moving_range_chart(&[1.0], &[], &opts).unwrap_err();
    assert_eq!(
        err,
        SpcError::NoData {
            chart: ChartKind::MovingRange
        }
    );

    for lambda in [0.0, -0.1, 1.5, f64::NAN] {
        let e = EwmaOptions { lambda };
        let err = spc::ewma_chart(&[vec![1.0, 2.0]], &[], &e, &opts).unwrap_err();
        assert!(err.to_string().contains("λ must be in (0, 1]"), "{err}");
    }
    let e = EwmaOptions { lambda: 1.0 };
    assert!(spc::ewma_chart(&[vec![1.0, 2.0], vec![2.0, 4.0]], &[], &e, &opts).is_ok());
    let c = spc::CusumOptions {
        head_start: 5.0,
        ..spc::CusumOptions::default()
    };
    let err = spc::cusum_chart(&[vec![1.0, 2.0]], &[], &c, &opts).unwrap_err();
    assert!(err
        .to_string()
        .contains("head start must be ≥ 0 and below the decision interval"));
    let mixed = vec![vec![1.0], vec![1.0, 2.0]];
    let err = spc::ewma_chart(&mixed, &[], &EwmaOptions::default(), &opts).unwrap_err();
    assert!(
        matches!(err, SpcError::SubgroupTooSmall { index: 0, .. }),
        "{err}"
    );

    let err = spc::xbar_chart(
        &[vec![1.0, 2.0]],
        &[],
        Dispersion::Range,
        &ChartOptions {
            rules: Rules::of(RuleFamily::Nelson, &[9]),
            ..ChartOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, SpcError::UnknownRule { rule: 9, .. }));
}

#[test]
fn capability_errors() {
    let x = [1.0, 2.0, 3.0];
    let o = spc::CapabilityOptions::default();
    let none = spc::SpecLimits::default();
    assert!(spc::capability(&x, 2.0, 1.0, &none, &o)
        .unwrap_err()
        .to_string()
        .contains("at least one"));
    let reversed = spc::SpecLimits::two_sided(5.0, 1.0);
    assert!(spc::capability(&x, 2.0, 1.0, &reversed, &o)
        .unwrap_err()
        .to_string()
        .contains("LSL must be below USL"));
    let spec = spc::SpecLimits::two_sided(0.0, 4.0);
    assert!(spc::capability(&x, 2.0, 0.0, &spec, &o).is_err());
    assert!(spc::capability(&[1.0], 2.0, 1.0, &spec, &o).is_err());
    assert!(spc::capability(&[1.0, 1.0], 1.0, 1.0, &spec, &o).is_err());
    assert!(spc::capability(&[1.0, f64::NAN], 1.0, 1.0, &spec, &o).is_err());
    let bad_conf = spc::CapabilityOptions {
        confidence_level: 1.0,
        ..o
    };
    assert!(spc::capability(&x, 2.0, 1.0, &spec, &bad_conf).is_err());
    // Capability needs a location chart.
    let r = spc::r_chart(
        &[vec![1.0, 2.0], vec![2.0, 4.0]],
        &[],
        &ChartOptions::default(),
    )
    .unwrap();
    let err = spc::xbar_capability(&r, &[vec![1.0, 2.0], vec![2.0, 4.0]], &spec, &o).unwrap_err();
    assert_eq!(
        err,
        SpcError::NotALocationChart {
            chart: ChartKind::R
        }
    );
}
