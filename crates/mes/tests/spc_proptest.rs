//! Fuzzing: random inputs — NaN, ±∞, empty, tiny, huge — never panic. Every SPC and OEE
//! entry point returns Ok or a typed error, and every chart that is built renders to SVG.

use lodestone_mes::oee::{self, EquipmentState, ProductionCounts, StateEvent, StatePeriod};
use lodestone_mes::spc::{
    self, rules, AttributeSample, CapabilityOptions, ChartOptions, CusumOptions, Dispersion,
    EwmaOptions, RuleFamily, Rules, SigmaConvention, SpecLimits, Standard, StdDevMethod,
    SvgOptions,
};
use proptest::prelude::*;

fn special() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(1e308),
        Just(-1e308),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(1.0),
        Just(-1.0),
    ]
}

/// Mostly ordinary numbers, sometimes special ones.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![8 => -100.0..100.0f64, 1 => -1e6..1e6f64, 1 => special()]
}

fn finite_value() -> impl Strategy<Value = f64> {
    prop_oneof![8 => -100.0..100.0f64, 1 => Just(0.0), 1 => Just(1e300), 1 => Just(-1e300)]
}

fn subgroups(v: BoxedStrategy<f64>) -> impl Strategy<Value = Vec<Vec<f64>>> {
    prop::collection::vec(prop::collection::vec(v, 0..7), 0..10)
}

fn options() -> impl Strategy<Value = ChartOptions> {
    (
        prop_oneof![4 => Just(3.0), 1 => 0.1..6.0f64, 1 => special()],
        any::<bool>(),
        prop::collection::vec(0usize..12, 0..3),
        prop::option::of(value()),
        prop::option::of(value()),
        any::<bool>(),
        prop::collection::vec(0u8..10, 0..4),
        prop::option::of(prop::sample::select(StdDevMethod::ALL.to_vec())),
    )
        .prop_map(
            |(nsigmas, exact, exclude, center, std_dev, nelson, enabled, method)| ChartOptions {
                nsigmas,
                convention: if exact {
                    SigmaConvention::Exact
                } else {
                    SigmaConvention::Qcc
                },
                exclude,
                standard: Standard { center, std_dev },
                rules: Rules {
                    family: if nelson {
                        RuleFamily::Nelson
                    } else {
                        RuleFamily::WesternElectric
                    },
                    enabled,
                },
                std_dev_method: method,
            },
        )
}

fn samples() -> impl Strategy<Value = Vec<AttributeSample>> {
    prop::collection::vec(
        (
            prop_oneof![4 => 0.0..60.0f64, 1 => value()],
            prop_oneof![4 => 1.0..100.0f64, 1 => value()],
        )
            .prop_map(|(c, n)| AttributeSample::new(c, n)),
        0..10,
    )
}

fn render(chart: &spc::ControlChart) {
    let svg = spc::render_svg(chart, &SvgOptions::default());
    assert!(svg.ends_with("</svg>\n"));
    let finite = chart
        .points
        .iter()
        .filter(|p| p.statistic.is_finite())
        .count();
    assert_eq!(svg.matches("<circle ").count(), finite);
    let _ = serde_json::to_string(chart).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn variables_charts_never_panic(
        one in subgroups(value().boxed()),
        two in subgroups(value().boxed()),
        opts in options(),
    ) {
        for dispersion in [Dispersion::Range, Dispersion::StdDev] {
            if let Ok(c) = spc::xbar_chart(&one, &two, dispersion, &opts) { render(&c); }
        }
        if let Ok(c) = spc::r_chart(&one, &two, &opts) { render(&c); }
        if let Ok(c) = spc::s_chart(&one, &two, &opts) { render(&c); }
        let _ = spc::xbar_r(&one, &two, &opts);
        let _ = spc::xbar_s(&one, &two, &opts);
    }

    #[test]
    fn finite_variables_charts_build_and_render(
        one in subgroups(finite_value().boxed()),
        two in subgroups(finite_value().boxed()),
        opts in options(),
    ) {
        if let Ok(c) = spc::xbar_chart(&one, &two, Dispersion::Range, &opts) {
            render(&c);
            prop_assert_eq!(c.points.len(), one.len() + two.len());
            let spec = SpecLimits::two_sided(-10.0, 10.0);
            let _ = spc::xbar_capability(&c, &one, &spec, &CapabilityOptions::default());
        }
    }

    #[test]
    fn individuals_charts_never_panic(
        one in prop::collection::vec(value(), 0..20),
        two in prop::collection::vec(value(), 0..10),
        opts in options(),
    ) {
        if let Ok(c) = spc::individuals_chart(&one, &two, &opts) { render(&c); }
        if let Ok(c) = spc::moving_range_chart(&one, &two, &opts) { render(&c); }
        if let Ok(c) = spc::c_chart(&one, &two, &opts) { render(&c); }
        if let Ok(c) = spc::individuals_chart(&one, &two, &opts) {
            let _ = spc::individuals_capability(&c, &one, &SpecLimits::two_sided(-1.0, 1.0), &CapabilityOptions::default());
        }
    }

    #[test]
    fn attribute_charts_never_panic(one in samples(), two in samples(), opts in options()) {
        if let Ok(c) = spc::p_chart(&one, &two, &opts) { render(&c); }
        if let Ok(c) = spc::np_chart(&one, &two, &opts) { render(&c); }
        if let Ok(c) = spc::u_chart(&one, &two, &opts) { render(&c); }
    }

    #[test]
    fn time_weighted_charts_never_panic(
        one in subgroups(value().boxed()),
        two in subgroups(value().boxed()),
        opts in options(),
        lambda in prop_oneof![3 => 0.01..1.0f64, 1 => special()],
        h in prop_oneof![3 => 0.5..8.0f64, 1 => special()],
        shift in prop_oneof![3 => 0.0..3.0f64, 1 => special()],
        head in prop_oneof![3 => 0.0..3.0f64, 1 => special()],
    ) {
        let e = EwmaOptions { lambda };
        if let Ok(c) = spc::ewma_chart(&one, &two, &e, &opts) { render(&c); }
        let cu = CusumOptions { decision_interval: h, se_shift: shift, head_start: head };
        if let Ok(c) = spc::cusum_chart(&one, &two, &cu, &opts) {
            let svg = spc::render_cusum_svg(&c, &SvgOptions::default());
            prop_assert!(svg.ends_with("</svg>\n"));
        }
    }

    #[test]
    fn capability_never_panics(
        values in prop::collection::vec(value(), 0..30),
        center in value(),
        sd in value(),
        lsl in prop::option::of(value()),
        usl in prop::option::of(value()),
        target in prop::option::of(value()),
        conf in prop_oneof![3 => 0.5..0.999f64, 1 => special()],
    ) {
        let spec = SpecLimits { lsl, usl, target };
        let opts = CapabilityOptions { confidence_level: conf, nsigmas: 3.0 };
        let _ = spc::capability(&values, center, sd, &spec, &opts);
    }

    #[test]
    fn rules_never_panic(
        values in prop::collection::vec(value(), 0..40),
        nelson in any::<bool>(),
        enabled in prop::collection::vec(0u8..10, 0..8),
    ) {
        let family = if nelson { RuleFamily::Nelson } else { RuleFamily::WesternElectric };
        if let Ok(v) = rules::evaluate_standardized(&values, &Rules { family, enabled }) {
            prop_assert_eq!(v.len(), values.len());
        }
    }

    #[test]
    fn oee_never_panics(
        durations in prop::collection::vec((0usize..9, value()), 0..8),
        total in 0u64..100_000,
        good in 0u64..100_000,
        ideal in value(),
        end in value(),
    ) {
        let states = [
            EquipmentState::Running, EquipmentState::Idle, EquipmentState::Starved,
            EquipmentState::Blocked, EquipmentState::UnplannedDown, EquipmentState::Setup,
            EquipmentState::Changeover, EquipmentState::PlannedDown, EquipmentState::Break,
        ];
        let periods: Vec<StatePeriod> = durations
            .iter()
            .map(|&(s, d)| StatePeriod { state: states[s], duration_s: d })
            .collect();
        let counts = ProductionCounts { total, good };
        if let Ok(r) = oee::oee(&periods, &counts, ideal) {
            prop_assert!(r.availability >= 0.0 && r.quality <= 1.0);
        }
        let events: Vec<StateEvent> = durations
            .iter()
            .map(|&(s, t)| StateEvent { state: states[s], start_s: t })
            .collect();
        let _ = oee::oee_from_events(&events, end, &counts, ideal);
    }
}

/// A cell of a CSV-like table: numbers, ids, phase flags, specials, quotes and junk.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (-1000.0..1000.0f64).prop_map(|v| format!("{v}")),
        2 => (0i64..50).prop_map(|v| v.to_string()),
        1 => prop::sample::select(vec![
            "", "NA", "NaN", "inf", "-inf", "I", "II", "TRUE", "FALSE", "batch", "sample",
            "lot", "id", "phase", "trial", "date", "x1", "\"a,b\"", "\"", "1e999", "-0",
            "٣", "  7 ", "#", "0x10", "1_000",
        ])
        .prop_map(str::to_string),
        1 => "[ -~]{0,6}",
    ]
}

fn csv_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::collection::vec(cell(), 0..6), 0..12).prop_map(|rows| {
        rows.iter()
            .map(|r| r.join(","))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The CSV reader never panics, and whatever it accepts is consistent: one unique label,
    /// at least one finite value and a line per sample, phases (if any) for every sample.
    #[test]
    fn csv_reader_never_panics(
        text in prop_oneof![csv_text(), ".{0,200}"],
        label in prop::option::of(prop::sample::select(vec!["batch", "x1", "a", "nope", ""])),
    ) {
        let opts = spc::TableOptions { label_column: label.map(str::to_string) };
        if let Ok(t) = spc::table::parse_csv(&text, "fuzz.csv", &opts) {
            let n = t.labels.len();
            prop_assert!(n > 0 && t.groups.len() == n && t.lines.len() == n);
            let unique: std::collections::HashSet<&String> = t.labels.iter().collect();
            prop_assert_eq!(unique.len(), n);
            prop_assert!(t.groups.iter().all(|g| !g.is_empty() && g.iter().all(|v| v.is_finite())));
            if let Some(p) = &t.phases {
                prop_assert_eq!(p.len(), n);
            }
            if let Ok(Some(k)) = t.phase_one_count() {
                let _ = spc::table::resolve_labels(&t.labels, k, &t.labels[..1.min(n)]);
                let (one, two) = t.groups.split_at(k);
                let _ = spc::ewma_chart(one, two, &EwmaOptions::default(), &ChartOptions::default());
            }
        } else if let Err(e) = spc::table::parse_csv(&text, "fuzz.csv", &opts) {
            prop_assert!(e.to_string().starts_with("fuzz.csv: "), "{}", e);
        }
    }
}
