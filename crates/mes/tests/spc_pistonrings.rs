//! Piston-ring diameters (Montgomery; qcc `pistonrings`): X̄-R, X̄-S, R, S, run rules,
//! capability, EWMA, CUSUM and SVG, against the published qcc 3.0 vignette numbers and the
//! full-precision values derived in mes.md (b1).

use lodestone_mes::spc::{
    self, charts, render_cusum_svg, render_svg, xbar_capability, ChartOptions, CusumOptions,
    Dispersion, EwmaOptions, Phase, Rules, SigmaConvention, SpecLimits, SvgOptions,
};

/// (phase I, phase II) subgroups from tests/data/spc/pistonrings.csv.
fn pistonrings() -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let text = include_str!("data/spc/pistonrings.csv");
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let values: Vec<f64> = cells[1..6].iter().map(|c| c.parse().unwrap()).collect();
        match cells[6] {
            "I" => one.push(values),
            "II" => two.push(values),
            other => panic!("unknown phase {other}"),
        }
    }
    assert_eq!((one.len(), two.len()), (25, 15));
    (one, two)
}

/// `actual` rounds to the printed decimal `printed` (half a unit in its last place).
#[track_caller]
fn printed(actual: f64, printed: &str) {
    let expected: f64 = printed.parse().unwrap();
    let decimals = printed.split('.').nth(1).map_or(0, |d| d.len());
    let tol = 0.5 * 10f64.powi(-(decimals as i32)) * (1.0 + 1e-9);
    assert!(
        (actual - expected).abs() <= tol,
        "{actual} does not print as {printed} (|Δ| = {:e} > {tol:e})",
        (actual - expected).abs()
    );
}

/// Relative agreement.
#[track_caller]
fn rel(actual: f64, expected: f64, tol: f64) {
    assert!(
        ((actual - expected) / expected).abs() <= tol,
        "{actual} vs {expected}: relative error {:e} > {tol:e}",
        ((actual - expected) / expected).abs()
    );
}

fn phase_one_only() -> ChartOptions {
    ChartOptions::default()
}

#[test]
fn xbar_r_phase_one_limits_reproduce_qcc() {
    let (one, _) = pistonrings();
    let chart = spc::xbar_chart(&one, &[], Dispersion::Range, &phase_one_only()).unwrap();
    printed(chart.center, "74.00118"); // mes.md (b1), qcc vignette: centre 74.00118
    printed(chart.center, "74.001176"); // mes.md (b1) [derived]
    printed(chart.std_dev, "0.009785039"); // mes.md (b1), qcc vignette: σ̂ = R̄/2.326
    printed(chart.std_dev, "0.0097850386930"); // mes.md (b1) [derived]
    let (lcl, ucl) = chart.constant_limits().unwrap();
    printed(lcl, "73.98805"); // mes.md (b1), qcc vignette: LCL 73.98805
    printed(ucl, "74.0143"); // mes.md (b1), qcc vignette: UCL 74.0143
    printed(lcl, "73.988047993"); // mes.md (b1) [derived]
    printed(ucl, "74.014304007"); // mes.md (b1) [derived]
    assert_eq!(chart.points.len(), 25);
    assert!(chart
        .points
        .iter()
        .all(|p| p.phase == Phase::One && p.violation.is_none()));

    // Subgroup means and ranges, mes.md (b1) [derived], rounded to 4 and 3 decimals.
    let means = [
        "74.0102", "74.0006", "74.0080", "74.0030", "74.0034", "73.9956", "74.0000", "73.9968",
        "74.0042", "73.9980", "73.9942", "74.0014", "73.9984", "73.9902", "74.0060", "73.9966",
        "74.0008", "74.0074", "73.9982", "74.0092", "73.9998", "74.0016", "74.0024", "74.0052",
        "73.9982",
    ];
    for (p, m) in chart.points.iter().zip(means) {
        printed(p.statistic, m);
    }
}

#[test]
fn xbar_r_exact_convention_uses_exact_d2() {
    let (one, _) = pistonrings();
    let opts = ChartOptions {
        convention: SigmaConvention::Exact,
        ..ChartOptions::default()
    };
    let chart = spc::xbar_chart(&one, &[], Dispersion::Range, &opts).unwrap();
    // mes.md (b1) [derived]: 0.0097853374 = R̄/2.325929 (d₂ rounded to 6 decimals); with
    // d₂(5) = 2.3259289472 it is 0.0097853376 — agreement to 2e-8 relative.
    rel(chart.std_dev, 0.0097853374, 3e-8);
    rel(chart.std_dev, 0.02276 / 2.3259289472, 1e-12);
    // Textbook A₂(5) = 0.577 (mes.md (b6) exact 0.5768): x̿ ± A₂R̄ = 73.98804348 / 74.01430852.
    let r_bar = 0.02276; // mes.md (b1): R̄
    printed(chart.center - 0.577 * r_bar, "73.98804348"); // mes.md (b1) [derived], table A₂
    printed(chart.center + 0.577 * r_bar, "74.01430852"); // mes.md (b1) [derived], table A₂
    let f = spc::factors(5, SigmaConvention::Exact).unwrap();
    printed(f.a2, "0.577"); // Montgomery's table A₂(5)
}

#[test]
fn r_chart_limits_reproduce_qcc() {
    let (one, _) = pistonrings();
    let chart = spc::r_chart(&one, &[], &phase_one_only()).unwrap();
    printed(chart.center, "0.02276"); // mes.md (b1), qcc vignette: R̄ = 0.02276
    printed(chart.std_dev, "0.009785039"); // mes.md (b1): σ̂ = R̄/2.326
    let (lcl, ucl) = chart.constant_limits().unwrap();
    assert_eq!(lcl, 0.0); // mes.md (b1): LCL 0
    printed(ucl, "0.04812533"); // mes.md (b1), qcc vignette: UCL 0.04812533
    printed(ucl, "0.048125330"); // mes.md (b1) [derived], d₃(5) = 0.8640855
                                 // Textbook D₄(5) = 2.114: D₄R̄ = 0.04811464, mes.md (b1) [derived].
    printed(2.114 * chart.center, "0.04811464");
    let ranges = [
        "0.038", "0.019", "0.036", "0.022", "0.026", "0.024", "0.012", "0.030", "0.014", "0.017",
        "0.008", "0.011", "0.029", "0.039", "0.016", "0.021", "0.026", "0.018", "0.021", "0.020",
        "0.021", "0.019", "0.025", "0.022", "0.035",
    ];
    for (p, r) in chart.points.iter().zip(ranges) {
        printed(p.statistic, r); // mes.md (b1) ranges [derived]
    }
}

#[test]
fn s_chart_and_xbar_s_reproduce_qcc() {
    let (one, _) = pistonrings();
    let s = spc::s_chart(&one, &[], &phase_one_only()).unwrap();
    printed(s.center, "0.009240037"); // mes.md (b1), qcc vignette: s̄
    printed(s.center, "0.0092400366023"); // mes.md (b1) [derived]
    printed(s.std_dev, "0.009829977"); // mes.md (b1), qcc vignette: σ̂ = mean(sᵢ/c₄)
    printed(s.std_dev, "0.0098299767283"); // mes.md (b1) [derived]
    let (lcl, ucl) = s.constant_limits().unwrap();
    assert_eq!(lcl, 0.0); // mes.md (b1): LCL 0
    printed(ucl, "0.01930242"); // mes.md (b1), qcc vignette: UCL 0.01930242
    printed(ucl, "0.019302417"); // mes.md (b1) [derived]

    // X̄ with σ from s: x̿ ± 3σ̂/√5 with σ̂ = 0.0098299767283 (mes.md (b1)), computed here.
    let x = spc::xbar_chart(&one, &[], Dispersion::StdDev, &phase_one_only()).unwrap();
    let half = 3.0 * 0.0098299767283 / 5f64.sqrt();
    let (lcl, ucl) = x.constant_limits().unwrap();
    rel(lcl, 74.001176 - half, 1e-9);
    rel(ucl, 74.001176 + half, 1e-9);
    rel(x.std_dev, 0.0098299767283, 1e-10);
    // Equivalent textbook form x̿ ± A₃s̄, A₃(5) = 1.4273 (mes.md (b6)).
    let a3 = spc::factors(5, SigmaConvention::Qcc).unwrap().a3;
    rel(ucl - x.center, a3 * s.center, 1e-12);

    let pair = spc::xbar_s(&one, &[], &phase_one_only()).unwrap();
    assert_eq!(pair.location, x);
    assert_eq!(pair.dispersion, s);
}

#[test]
fn phase_two_with_western_electric_rules_flags_35_to_40() {
    let (one, two) = pistonrings();
    let opts = ChartOptions {
        rules: Rules::western_electric(),
        ..ChartOptions::default()
    };
    let pair = spc::xbar_r(&one, &two, &opts).unwrap();
    let chart = &pair.location;
    assert_eq!(chart.points.len(), 40);
    assert_eq!(chart.phase_one_count, 25);
    // Limits are the phase-I ones, unchanged by phase II (mes.md (b1), qcc vignette).
    for p in &chart.points {
        printed(p.lcl, "73.98805");
        printed(p.ucl, "74.0143");
        assert_eq!(p.phase, if p.index < 25 { Phase::One } else { Phase::Two });
    }
    // mes.md (b1) [derived], qcc `rules = 1:4`: 35 → 2, 37 → 1, 38 → 1, 39 → 1, 40 → 2
    // (1-based); nothing else.
    assert_eq!(
        chart.violations(),
        vec![(34, 2), (36, 1), (37, 1), (38, 1), (39, 2)]
    );
    // Zone edges, mes.md (b1) [derived]: 2σ upper 74.009928, 1σ upper 74.005552.
    printed(chart.points[0].limits_at(2.0).1, "74.009928");
    printed(chart.points[0].limits_at(1.0).1, "74.005552");
    // Phase-II means, mes.md (b1) [derived].
    let means = [
        "74.0086", "74.0022", "73.9922", "74.0036", "73.9974", "74.0072", "74.0056", "73.9978",
        "74.0112", "74.0126", "74.0040", "74.0166", "74.0196", "74.0234", "74.0128",
    ];
    for (p, m) in chart.points[25..].iter().zip(means) {
        printed(p.statistic, m);
    }
}

#[test]
fn historical_standard_fixes_the_limits() {
    let (one, two) = pistonrings();
    // Monitor phase II only, against the published phase-I centre and σ.
    let opts = ChartOptions {
        standard: spc::Standard {
            center: Some(74.001176),
            std_dev: Some(0.0097850386930),
        },
        ..ChartOptions::default()
    };
    let chart = spc::xbar_chart(&[], &two, Dispersion::Range, &opts).unwrap();
    assert!(chart.center_from_standard && chart.std_dev_from_standard);
    let (lcl, ucl) = chart.constant_limits().unwrap();
    printed(lcl, "73.988047993"); // mes.md (b1) [derived]
    printed(ucl, "74.014304007"); // mes.md (b1) [derived]
                                  // Same points as subgroups 26–40 of the full chart, indices restart at 0.
    assert_eq!(
        chart.violations(),
        vec![(9, 2), (11, 1), (12, 1), (13, 1), (14, 2)]
    );
    assert!(chart.points.iter().all(|p| p.phase == Phase::Two));

    // Standard σ only: centre still from phase I.
    let opts = ChartOptions {
        standard: spc::Standard {
            center: None,
            std_dev: Some(0.01),
        },
        ..ChartOptions::default()
    };
    let chart = spc::xbar_chart(&one, &two, Dispersion::Range, &opts).unwrap();
    printed(chart.center, "74.001176");
    assert_eq!(chart.std_dev, 0.01);
}

#[test]
fn excluding_phase_one_subgroups_recomputes_from_the_rest() {
    let (one, two) = pistonrings();
    let opts = ChartOptions {
        exclude: vec![13, 13, 0],
        ..ChartOptions::default()
    };
    let chart = spc::xbar_chart(&one, &two, Dispersion::Range, &opts).unwrap();
    let kept: Vec<Vec<f64>> = one
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 0 && *i != 13)
        .map(|(_, g)| g.clone())
        .collect();
    let reference = spc::xbar_chart(&kept, &[], Dispersion::Range, &phase_one_only()).unwrap();
    assert_eq!(chart.center, reference.center);
    assert_eq!(chart.std_dev, reference.std_dev);
    assert_eq!(chart.excluded, vec![0, 13]);
    assert!(chart.points[0].excluded && chart.points[13].excluded && !chart.points[1].excluded);
    assert_eq!(
        chart.points.len(),
        40,
        "excluded subgroups are still plotted"
    );
}

#[test]
fn variable_subgroup_sizes_give_variable_limits() {
    let (one, _) = pistonrings();
    // Drop some values as qcc's example does with pistonrings[-out, ].
    let mut groups = one.clone();
    groups[3].truncate(3);
    groups[7].truncate(4);
    let chart = spc::xbar_chart(&groups, &[], Dispersion::Range, &phase_one_only()).unwrap();
    assert!(chart.constant_limits().is_none());
    let total: f64 = groups.iter().map(|g| g.len() as f64).sum();
    let grand = groups.iter().flatten().sum::<f64>() / total;
    rel(chart.center, grand, 1e-15);
    // σ̂ = mean(Rᵢ/d₂(nᵢ)) with qcc's d₂ (3 → 1.693, 4 → 2.059, 5 → 2.326).
    let d2 = |n: usize| [0.0, 0.0, 1.128, 1.693, 2.059, 2.326][n];
    let sigma = groups
        .iter()
        .map(|g| {
            let max = g.iter().cloned().fold(f64::MIN, f64::max);
            let min = g.iter().cloned().fold(f64::MAX, f64::min);
            (max - min) / d2(g.len())
        })
        .sum::<f64>()
        / groups.len() as f64;
    rel(chart.std_dev, sigma, 1e-13);
    let p = &chart.points[3];
    rel(p.ucl - p.center, 3.0 * sigma / 3f64.sqrt(), 1e-12);
    // R chart: the centre stays ΣnᵢRᵢ/Σnᵢ (qcc) and the limits vary with d₃(nᵢ).
    let r = spc::r_chart(&groups, &[], &phase_one_only()).unwrap();
    rel(r.points[3].ucl - r.center, 3.0 * 0.8883697 * sigma, 1e-12); // qcc d₃(3)
}

#[test]
fn capability_table_reproduces_qcc() {
    let (one, _) = pistonrings();
    let chart = spc::xbar_chart(&one, &[], Dispersion::Range, &phase_one_only()).unwrap();
    let opts = spc::CapabilityOptions::default();

    // Spec 73.95–74.05, target = midpoint 74. mes.md (b1), qcc vignette.
    let c = xbar_capability(&chart, &one, &SpecLimits::two_sided(73.95, 74.05), &opts).unwrap();
    assert_eq!(c.n, 125); // vignette: Number of obs = 125
    assert_eq!(c.target, Some(74.0)); // vignette: Target = 74
    let cp = c.cp.unwrap();
    printed(cp.value, "1.70");
    printed(cp.lower, "1.49");
    printed(cp.upper, "1.91");
    printed(cp.value, "1.7032806"); // [derived]
    printed(cp.lower, "1.4914109"); // [derived]
    printed(cp.upper, "1.9148264"); // [derived]
    let cpl = c.cpl.unwrap();
    printed(cpl.value, "1.74");
    printed(cpl.lower, "1.55");
    printed(cpl.upper, "1.93");
    printed(cpl.value, "1.7433418"); // [derived]
    let cpu = c.cpu.unwrap();
    printed(cpu.value, "1.66");
    printed(cpu.lower, "1.48");
    printed(cpu.upper, "1.84");
    printed(cpu.value, "1.6632194"); // [derived]
    printed(c.cpk.value, "1.66");
    printed(c.cpk.lower, "1.45");
    printed(c.cpk.upper, "1.88");
    printed(c.cpk.value, "1.6632194"); // [derived]
    printed(c.cpk.lower, "1.4481290"); // [derived]
    printed(c.cpk.upper, "1.8783099"); // [derived]
    let cpm = c.cpm.unwrap();
    printed(cpm.value, "1.69");
    printed(cpm.lower, "1.48");
    printed(cpm.upper, "1.90");
    printed(cpm.value, "1.6911111"); // [derived]
                                     // Exp/Obs out of spec 0% / 0% (qcc shows expected values below 0.01 % as 0).
    assert!(c.expected_below_lsl.unwrap() < 1e-4 && c.expected_above_usl.unwrap() < 1e-4);
    assert_eq!(
        (c.observed_below_lsl, c.observed_above_usl),
        (Some(0.0), Some(0.0))
    );
    // Overall indices, mes.md (b1) [derived with qcc HEAD formulas].
    printed(c.overall_std_dev, "0.0100699681");
    printed(c.pp.unwrap().value, "1.6550863");
    printed(c.ppl.unwrap().value, "1.6940140");
    printed(c.ppu.unwrap().value, "1.6161587");
    printed(c.ppk.value, "1.6161587");

    // Target 74.02. mes.md (b1), qcc vignette.
    let spec = SpecLimits::two_sided(73.95, 74.05).with_target(74.02);
    let c = xbar_capability(&chart, &one, &spec, &opts).unwrap();
    let expect = [
        (c.cp.unwrap(), ["1.703", "1.491", "1.915"]),
        (c.cpl.unwrap(), ["1.743", "1.555", "1.932"]),
        (c.cpu.unwrap(), ["1.663", "1.483", "1.844"]),
        (c.cpk, ["1.663", "1.448", "1.878"]),
        (c.cpm.unwrap(), ["0.786", "0.656", "0.915"]),
    ];
    for (idx, [v, lo, hi]) in expect {
        printed(idx.value, v);
        printed(idx.lower, lo);
        printed(idx.upper, hi);
    }
    printed(c.cpm.unwrap().value, "0.7855957"); // [derived]

    // Spec 73.99–74.01, target 74. mes.md (b1), qcc vignette.
    let c = xbar_capability(&chart, &one, &SpecLimits::two_sided(73.99, 74.01), &opts).unwrap();
    let expect = [
        (c.cp.unwrap(), ["0.341", "0.298", "0.383"], "0.3406561"),
        (c.cpl.unwrap(), ["0.381", "0.318", "0.444"], "0.3807173"),
        (c.cpu.unwrap(), ["0.301", "0.242", "0.359"], "0.3005950"),
        (c.cpk, ["0.301", "0.231", "0.370"], "0.3005950"),
        (c.cpm.unwrap(), ["0.338", "0.296", "0.380"], "0.3382222"),
    ];
    for (idx, [v, lo, hi], derived) in expect {
        printed(idx.value, v);
        printed(idx.lower, lo);
        printed(idx.upper, hi);
        printed(idx.value, derived);
    }
    // Exp<LSL 13 %, Obs<LSL 12 %, Exp>USL 18 %, Obs>USL 16 % (vignette, 2 significant
    // digits); [derived] 12.6695 %, 12.0 % (15 of 125), 18.3586 %, 16.0 % (20 of 125).
    printed(c.expected_below_lsl.unwrap(), "0.13");
    printed(c.observed_below_lsl.unwrap(), "0.12");
    printed(c.expected_above_usl.unwrap(), "0.18");
    printed(c.observed_above_usl.unwrap(), "0.16");
    printed(100.0 * c.expected_below_lsl.unwrap(), "12.6695");
    printed(100.0 * c.expected_above_usl.unwrap(), "18.3586");
    assert_eq!(c.observed_below_lsl, Some(15.0 / 125.0));
    assert_eq!(c.observed_above_usl, Some(20.0 / 125.0));

    // Spec 73.99–74.10, target = midpoint 74.045. mes.md (b1), qcc vignette.
    let c = xbar_capability(&chart, &one, &SpecLimits::two_sided(73.99, 74.1), &opts).unwrap();
    printed(c.target.unwrap(), "74.045");
    let expect = [
        (c.cp.unwrap(), ["1.874", "1.641", "2.106"], "1.8736087"),
        (c.cpl.unwrap(), ["0.381", "0.318", "0.444"], "0.3807173"),
        (c.cpu.unwrap(), ["3.367", "3.011", "3.722"], "3.3665001"),
        (c.cpk, ["0.381", "0.305", "0.456"], "0.3807173"),
        (c.cpm.unwrap(), ["0.408", "0.338", "0.479"], "0.4082864"),
    ];
    for (idx, [v, lo, hi], derived) in expect {
        printed(idx.value, v);
        printed(idx.lower, lo);
        printed(idx.upper, hi);
        printed(idx.value, derived);
    }
    printed(c.expected_below_lsl.unwrap(), "0.13");
    printed(c.observed_below_lsl.unwrap(), "0.12");
    assert!(c.expected_above_usl.unwrap() < 1e-4); // vignette: Exp>USL 0%
    assert_eq!(c.observed_above_usl, Some(0.0));
}

#[test]
fn capability_interval_formulas_are_chi_squared_and_wald() {
    // mes.md (b1): Cp via √(χ²_{0.025,124}/124), √(χ²_{0.975,124}/124); Cp_l/Cp_u Wald with
    // z = Φ⁻¹(0.95) = 1.6449; Cp_k Wald with z = Φ⁻¹(0.975). Recomputed here from the
    // point estimates and χ² quantiles (qchisq(c(.025, .975), 124) = 95.0700890, 156.7141038,
    // computed with mpmath).
    let (one, _) = pistonrings();
    let chart = spc::xbar_chart(&one, &[], Dispersion::Range, &phase_one_only()).unwrap();
    let c = xbar_capability(
        &chart,
        &one,
        &SpecLimits::two_sided(73.95, 74.05),
        &spc::CapabilityOptions::default(),
    )
    .unwrap();
    let cp = c.cp.unwrap();
    rel(cp.lower, cp.value * (95.0700890 / 124.0f64).sqrt(), 1e-8);
    rel(cp.upper, cp.value * (156.7141038 / 124.0f64).sqrt(), 1e-8);
    let wald = |v: f64, z: f64| z * (1.0 / (9.0 * 125.0 * v * v) + 1.0 / 248.0).sqrt();
    let cpl = c.cpl.unwrap();
    rel(
        cpl.upper,
        cpl.value * (1.0 + wald(cpl.value, 1.6448536)),
        1e-7,
    );
    rel(
        c.cpk.lower,
        c.cpk.value * (1.0 - wald(c.cpk.value, 1.9599640)),
        1e-7,
    );
}

#[test]
fn one_sided_specification() {
    let (one, _) = pistonrings();
    let chart = spc::xbar_chart(&one, &[], Dispersion::Range, &phase_one_only()).unwrap();
    let spec = SpecLimits {
        lsl: None,
        usl: Some(74.05),
        target: None,
    };
    let c = xbar_capability(&chart, &one, &spec, &spc::CapabilityOptions::default()).unwrap();
    assert!(c.cp.is_none() && c.cpl.is_none() && c.cpm.is_none() && c.pp.is_none());
    printed(c.cpu.unwrap().value, "1.6632194"); // mes.md (b1) [derived] Cp_u
    assert_eq!(c.cpk.value, c.cpu.unwrap().value);
    assert!(c.expected_below_lsl.is_none() && c.observed_below_lsl.is_none());
}

#[test]
fn ewma_limits_reproduce_qcc_vignette() {
    let (one, two) = pistonrings();
    let opts = ChartOptions::default();
    let ewma = EwmaOptions { lambda: 0.2 };
    let chart = spc::ewma_chart(&one, &[], &ewma, &opts).unwrap();
    printed(chart.center, "74.00118"); // qcc vignette, EWMA chart: centre
    printed(chart.std_dev, "0.009785039"); // qcc vignette, EWMA chart: StdDev
                                           // qcc vignette, ewma(diameter[1:25,], lambda=0.2, nsigmas=3): LCL/UCL rows 1, 2, 25.
    for (i, lcl, ucl) in [
        (0, "73.99855", "74.00380"),
        (1, "73.99781", "74.00454"),
        (24, "73.99680", "74.00555"),
    ] {
        printed(chart.points[i].lcl, lcl);
        printed(chart.points[i].ucl, ucl);
    }
    // qcc vignette, ewma(…, lambda=0.2, nsigmas=2.7, newdata=diameter[26:40,]): rows 1, 2, 40.
    let opts27 = ChartOptions {
        nsigmas: 2.7,
        ..ChartOptions::default()
    };
    let chart = spc::ewma_chart(&one, &two, &ewma, &opts27).unwrap();
    for (i, lcl, ucl) in [
        (0, "73.99881", "74.00354"),
        (1, "73.99815", "74.00420"),
        (39, "73.99724", "74.00511"),
    ] {
        printed(chart.points[i].lcl, lcl);
        printed(chart.points[i].ucl, ucl);
    }
    // Independent recomputation (mes.md §4.1): zᵢ = λx̄ᵢ + (1−λ)zᵢ₋₁, z₀ = x̿;
    // limits x̿ ± L σ̂/√n √(λ/(2−λ)(1−(1−λ)^{2i})); asymptotic √(λ/(2−λ)).
    let sigma = 0.0097850386930; // mes.md (b1) [derived]
    let center = chart.center;
    let mut z = center;
    for (i, p) in chart.points.iter().enumerate() {
        let xbar = p.observed.unwrap();
        z = 0.2 * xbar + 0.8 * z;
        rel(p.statistic, z, 1e-14);
        let width = 2.7 * sigma / 5f64.sqrt()
            * (0.2 / 1.8 * (1.0 - 0.8f64.powi(2 * (i as i32 + 1)))).sqrt();
        rel(p.ucl - center, width, 1e-8);
        assert_eq!(p.violation.is_some(), z > p.ucl || z < p.lcl);
    }
    let asymptotic = 2.7 * sigma / 5f64.sqrt() * (0.2f64 / 1.8).sqrt();
    rel(chart.points[39].ucl - center, asymptotic, 1e-7); // (0.8)^80 ≈ 1.8e-8
    assert!(
        chart.points[39].violation == Some(1),
        "the upward drift of 35–40 is signalled"
    );
}

#[test]
fn cusum_matches_the_standardised_tabular_recursion() {
    let (one, two) = pistonrings();
    let opts = ChartOptions::default();
    // qcc vignette: cusum(diameter[1:25,], newdata=diameter[26:40,]) — centre 74.00118,
    // σ 0.009785039, decision interval 5, shift 1.
    let chart = spc::cusum_chart(&one, &two, &CusumOptions::default(), &opts).unwrap();
    printed(chart.center, "74.00118");
    printed(chart.std_dev, "0.009785039");
    assert_eq!((chart.decision_interval, chart.se_shift), (5.0, 1.0));
    // Recursion of mes.md §4.1, computed independently.
    let (mut up, mut down) = (0.0f64, 0.0f64);
    let mut signals = Vec::new();
    for (i, g) in one.iter().chain(&two).enumerate() {
        let xbar = g.iter().sum::<f64>() / 5.0;
        let z = (xbar - chart.center) / (chart.std_dev / 5f64.sqrt());
        up = (up + z - 0.5).max(0.0);
        down = (down - z - 0.5).max(0.0);
        let p = &chart.points[i];
        rel(p.z, z, 1e-12);
        assert!((p.upper - up).abs() <= 1e-12 && (p.lower + down).abs() <= 1e-12);
        if up > 5.0 || down > 5.0 {
            signals.push(i);
        }
    }
    assert_eq!(chart.violations(), signals);
    assert!(
        !signals.is_empty() && signals.iter().all(|&i| i >= 25),
        "signals only in phase II"
    );

    // Head start and decision interval 4 (qcc vignette first call uses h = 4).
    let fir = CusumOptions {
        decision_interval: 4.0,
        head_start: 2.0,
        ..CusumOptions::default()
    };
    let c = spc::cusum_chart(&one, &[], &fir, &opts).unwrap();
    let z0 = c.points[0].z;
    rel(
        c.points[0].upper.max(1e-300),
        (2.0 + z0 - 0.5).max(1e-300),
        1e-12,
    );
}

/// Minimal XML well-formedness check: balanced tags, quoted attributes, escaped text.
fn assert_well_formed(xml: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut tags = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        let text = &rest[..start];
        assert!(!text.contains('>'), "raw '>' in text: {text:?}");
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity),
                "bad entity {entity:?}"
            );
        }
        let end = start + rest[start..].find('>').expect("unclosed tag");
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name = body.split_whitespace().next().unwrap().to_string();
        assert_eq!(
            body.matches('"').count() % 2,
            0,
            "unbalanced quotes in <{body}>"
        );
        tags.push(tag.to_string());
        if !self_closing {
            stack.push(name);
        }
    }
    assert!(rest.trim().is_empty());
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    tags
}

#[test]
fn svg_marks_the_five_violations_in_red() {
    let (one, two) = pistonrings();
    let chart = spc::xbar_chart(&one, &two, Dispersion::Range, &ChartOptions::default()).unwrap();
    let options = SvgOptions {
        title: Some("Piston rings <diameter> & \"limits\"".to_string()),
        ..SvgOptions::default()
    };
    let svg = render_svg(&chart, &options);
    let tags = assert_well_formed(&svg);
    assert!(tags[0].starts_with("svg "));
    let circles: Vec<&String> = tags.iter().filter(|t| t.starts_with("circle ")).collect();
    assert_eq!(circles.len(), 40);
    let red = circles
        .iter()
        .filter(|t| t.contains(r#"fill="red""#))
        .count();
    assert_eq!(red, 5); // mes.md (b1): subgroups 35, 37, 38, 39, 40
    assert!(svg.contains("Subgroup 37: 74.0166 — Western Electric rule 1"));
    assert!(svg.contains("Subgroup 35: 74.0126 — Western Electric rule 2"));
    assert!(svg.contains("Piston rings &lt;diameter&gt; &amp; &quot;limits&quot;"));
    assert!(svg.contains("Phase I") && svg.contains("Phase II"));
    assert!(svg.contains(">UCL<") && svg.contains(">LCL<") && svg.contains(">CL<"));

    // Variable limits are drawn stepped; CUSUM renders two series.
    let mut groups = one.clone();
    groups[3].truncate(3);
    let var = spc::xbar_chart(&groups, &[], Dispersion::Range, &ChartOptions::default()).unwrap();
    assert_well_formed(&render_svg(&var, &SvgOptions::default()));
    let cusum = spc::cusum_chart(
        &one,
        &two,
        &CusumOptions::default(),
        &ChartOptions::default(),
    )
    .unwrap();
    let svg = render_cusum_svg(&cusum, &SvgOptions::default());
    let tags = assert_well_formed(&svg);
    assert_eq!(tags.iter().filter(|t| t.starts_with("circle ")).count(), 80);
    let red = tags
        .iter()
        .filter(|t| t.starts_with("circle ") && t.contains(r#"fill="red""#))
        .count();
    let expected: usize = cusum
        .points
        .iter()
        .map(|p| p.upper_violation as usize + p.lower_violation as usize)
        .sum();
    assert_eq!(red, expected);
}

#[test]
fn results_serialise_to_json() {
    let (one, two) = pistonrings();
    let pair = spc::xbar_r(&one, &two, &ChartOptions::default()).unwrap();
    let json = serde_json::to_value(&pair).unwrap();
    assert_eq!(json["location"]["kind"], "xbar_r");
    assert_eq!(json["location"]["points"][36]["violation"], 1);
    assert_eq!(json["location"]["points"][30]["phase"], "II");
    let options: ChartOptions =
        serde_json::from_str(r#"{"nsigmas": 3, "exclude": [14, 22]}"#).unwrap();
    assert_eq!(options.exclude, vec![14, 22]);
    assert_eq!(options.rules, Rules::western_electric());
    let _ = charts::ChartKind::XbarR;
}
