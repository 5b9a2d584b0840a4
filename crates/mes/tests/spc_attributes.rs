//! Attribute charts (p, np, c, u) and individuals charts against the qcc 3.0 vignette,
//! mes.md (b7). Data: Montgomery's textbook sets as shipped with R qcc (luca-scr/qcc
//! data/*.txt), copied to tests/data/spc/.

use lodestone_mes::spc::{
    self, AttributeSample, ChartKind, ChartOptions, EwmaOptions, Phase, SpcError, Standard,
};

/// Rows of a CSV with '#' comments and a header line.
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// (trial, new) attribute samples from columns count, size, trial.
fn attribute_data(text: &str) -> (Vec<AttributeSample>, Vec<AttributeSample>) {
    let (mut trial, mut new) = (Vec::new(), Vec::new());
    for r in rows(text) {
        let s = AttributeSample::new(r[1].parse().unwrap(), r[2].parse().unwrap());
        if r.get(3).is_none_or(|t| t == "TRUE") {
            trial.push(s);
        } else {
            new.push(s);
        }
    }
    (trial, new)
}

#[track_caller]
fn printed(actual: f64, printed: &str) {
    let expected: f64 = printed.parse().unwrap();
    let decimals = printed.split('.').nth(1).map_or(0, |d| d.len());
    let tol = 0.5 * 10f64.powi(-(decimals as i32)) * (1.0 + 1e-9);
    assert!(
        (actual - expected).abs() <= tol,
        "{actual} does not print as {printed} (|Δ| = {:e})",
        (actual - expected).abs()
    );
}

/// Checks one published row (centre, σ, LCL, UCL) at a point of the chart.
#[track_caller]
fn row(chart: &spc::ControlChart, i: usize, [center, sigma, lcl, ucl]: [&str; 4]) {
    let p = &chart.points[i];
    printed(p.center, center);
    printed(p.sigma, sigma);
    printed(p.lcl, lcl);
    printed(p.ucl, ucl);
}

#[test]
fn orangejuice_p_and_np_charts() {
    let (trial, new) = attribute_data(include_str!("data/spc/orangejuice.csv"));
    assert_eq!((trial.len(), new.len()), (30, 24));
    let opts = ChartOptions::default();

    let p = spc::p_chart(&trial, &[], &opts).unwrap();
    // mes.md (b7), qcc vignette: orangejuice p, trial: 0.2313333, 0.05963526, 0.05242755 / 0.4102391
    row(
        &p,
        0,
        ["0.2313333", "0.05963526", "0.05242755", "0.4102391"],
    );
    printed(p.center, "0.2313333");
    assert!(p.constant_limits().is_some());
    // Samples 15 and 23 plot above the UCL (Montgomery's assignable causes).
    assert_eq!(
        p.violations()
            .iter()
            .filter(|v| v.1 == 1)
            .map(|v| v.0)
            .collect::<Vec<_>>(),
        vec![14, 22]
    );

    let np = spc::np_chart(&trial, &[], &opts).unwrap();
    // mes.md (b7), qcc vignette: orangejuice np, trial: 11.56667, 2.981763, 2.621377 / 20.51196
    row(&np, 0, ["11.56667", "2.981763", "2.621377", "20.51196"]);
    printed(np.center, "0.2313333"); // the chart's centre parameter is p̄

    // Samples 15 & 23 (1-based) removed from the limits: mes.md (b7), qcc vignette:
    // 0.215, 0.05809905, 0.04070284 / 0.3892972.
    let opts = ChartOptions {
        exclude: vec![14, 22],
        ..ChartOptions::default()
    };
    let p = spc::p_chart(&trial, &new, &opts).unwrap();
    row(&p, 0, ["0.215", "0.05809905", "0.04070284", "0.3892972"]);
    row(&p, 40, ["0.215", "0.05809905", "0.04070284", "0.3892972"]); // phase II: same limits
    assert_eq!(p.points.len(), 54);
    assert_eq!(p.points[30].phase, Phase::Two);
    assert!(p.points[14].excluded && p.points[22].excluded);
    // Montgomery: after the adjustment the new samples run below the centre line — the
    // 8-in-a-row rule (WE 4) fires in phase II.
    assert!(p.violations().iter().any(|&(i, r)| i >= 30 && r == 4));
}

#[test]
fn orangejuice2_p_chart() {
    let (trial, _) = attribute_data(include_str!("data/spc/orangejuice2.csv"));
    assert_eq!(trial.len(), 24);
    let p = spc::p_chart(&trial, &[], &ChartOptions::default()).unwrap();
    // mes.md (b7), qcc vignette: orangejuice2 p, trial (24): 0.1108333, 0.04439579, 0 / 0.2440207
    row(&p, 0, ["0.1108333", "0.04439579", "0", "0.2440207"]);
    assert_eq!(p.points[0].lcl, 0.0); // clipped at 0
}

#[test]
fn circuit_c_and_u_charts() {
    let (trial, _) = attribute_data(include_str!("data/spc/circuit.csv"));
    assert_eq!(trial.len(), 26);
    let counts: Vec<f64> = trial.iter().map(|s| s.count).collect();
    let c = spc::c_chart(&counts, &[], &ChartOptions::default()).unwrap();
    // mes.md (b7), qcc vignette: circuit c, trial (26): 19.84615, 4.454902, 6.481447 / 33.21086
    row(&c, 0, ["19.84615", "4.454902", "6.481447", "33.21086"]);
    printed(c.std_dev, "4.454902");
    // Samples 6 and 20 are out of control (below / above).
    assert_eq!(
        c.violations()
            .iter()
            .filter(|v| v.1 == 1)
            .map(|v| v.0)
            .collect::<Vec<_>>(),
        vec![5, 19]
    );

    let opts = ChartOptions {
        exclude: vec![5, 19],
        ..ChartOptions::default()
    };
    let c = spc::c_chart(&counts, &[], &opts).unwrap();
    // mes.md (b7), qcc vignette: circuit c minus 6 & 20 (24): 19.66667, 4.434712, 6.362532 / 32.9708
    row(&c, 0, ["19.66667", "4.434712", "6.362532", "32.9708"]);

    let u = spc::u_chart(&trial, &[], &opts).unwrap();
    // mes.md (b7), qcc vignette: circuit u, same (24): 0.1966667, 0.4434712, 0.06362532 / 0.329708
    printed(u.center, "0.1966667");
    printed(u.std_dev, "0.4434712"); // qcc's std.dev for u is √ū (per inspection unit)
    printed(u.points[0].lcl, "0.06362532");
    printed(u.points[0].ucl, "0.329708");
    printed(u.points[0].sigma, "0.04434712"); // √(ū/nᵢ) with nᵢ = 100
}

#[test]
fn pcmanufact_u_chart() {
    let (data, _) = attribute_data(include_str!("data/spc/pcmanufact.csv"));
    assert_eq!(data.len(), 20);
    let u = spc::u_chart(&data, &[], &ChartOptions::default()).unwrap();
    // mes.md (b7), qcc vignette: pcmanufact u (20 × n=5): 1.93, 1.389244, 0.06613305 / 3.793867
    printed(u.center, "1.93");
    printed(u.std_dev, "1.389244");
    printed(u.points[0].lcl, "0.06613305");
    printed(u.points[0].ucl, "3.793867");
    assert!(u.violations().is_empty());
}

#[test]
fn variable_sample_sizes_give_variable_attribute_limits() {
    let samples: Vec<AttributeSample> = [(12.0, 100.0), (8.0, 80.0), (20.0, 120.0), (5.0, 60.0)]
        .map(|(c, n)| AttributeSample::new(c, n))
        .to_vec();
    let p = spc::p_chart(&samples, &[], &ChartOptions::default()).unwrap();
    let pbar = 45.0 / 360.0;
    assert_eq!(p.center, pbar);
    assert!(p.constant_limits().is_none());
    for (pt, s) in p.points.iter().zip(&samples) {
        let sigma = (pbar * (1.0 - pbar) / s.size).sqrt();
        assert!((pt.ucl - (pbar + 3.0 * sigma)).abs() < 1e-15);
        assert!((pt.lcl - (pbar - 3.0 * sigma).max(0.0)).abs() < 1e-15);
    }
    let np = spc::np_chart(&samples, &[], &ChartOptions::default()).unwrap();
    assert_eq!(np.points[2].center, 120.0 * pbar);
    let u = spc::u_chart(&samples, &[], &ChartOptions::default()).unwrap();
    assert!((u.points[3].ucl - (pbar + 3.0 * (pbar / 60.0).sqrt())).abs() < 1e-15);
}

#[test]
fn attribute_input_errors_name_the_sample() {
    let opts = ChartOptions::default();
    let bad = [
        AttributeSample::new(3.0, 10.0),
        AttributeSample::new(12.0, 10.0),
    ];
    let err = spc::p_chart(&bad, &[], &opts).unwrap_err();
    assert!(matches!(
        err,
        SpcError::CountExceedsSize {
            index: 1,
            phase: Phase::One,
            ..
        }
    ));
    assert!(
        err.to_string()
            .contains("sample 1: count 12 exceeds the sample size 10"),
        "{err}"
    );

    let neg = [AttributeSample::new(3.0, 10.0)];
    let new = [AttributeSample::new(-1.0, 10.0)];
    let err = spc::np_chart(&neg, &new, &opts).unwrap_err();
    assert!(
        matches!(
            err,
            SpcError::InvalidCount {
                index: 0,
                phase: Phase::Two,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("phase II sample 0: count -1"),
        "{err}"
    );

    let zero = [AttributeSample::new(1.0, 0.0)];
    let err = spc::u_chart(&zero, &[], &opts).unwrap_err();
    assert!(err.to_string().contains("size 0 is not valid"), "{err}");

    let err = spc::c_chart(&[1.0, f64::NAN], &[], &opts).unwrap_err();
    assert!(err.to_string().contains("count NaN"), "{err}");

    let with_sigma = ChartOptions {
        standard: Standard {
            center: None,
            std_dev: Some(1.0),
        },
        ..ChartOptions::default()
    };
    let err = spc::c_chart(&[1.0, 2.0], &[], &with_sigma).unwrap_err();
    assert_eq!(
        err,
        SpcError::StdDevNotApplicable {
            chart: ChartKind::C
        }
    );

    let err = spc::p_chart(&[], &[], &opts).unwrap_err();
    assert_eq!(
        err,
        SpcError::NoData {
            chart: ChartKind::P
        }
    );

    let bad_p0 = ChartOptions {
        standard: Standard {
            center: Some(1.5),
            std_dev: None,
        },
        ..ChartOptions::default()
    };
    let err = spc::p_chart(&[], &neg, &bad_p0).unwrap_err();
    assert!(
        err.to_string().contains("proportion must be in [0, 1]"),
        "{err}"
    );

    let all_out = ChartOptions {
        exclude: vec![0],
        ..ChartOptions::default()
    };
    let err = spc::p_chart(&neg, &[], &all_out).unwrap_err();
    assert!(matches!(err, SpcError::NoPhaseOneData { .. }), "{err}");
    let err = spc::p_chart(
        &neg,
        &[],
        &ChartOptions {
            exclude: vec![3],
            ..ChartOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(err, SpcError::ExclusionOutOfRange { index: 3, len: 1 });
}

fn viscosity() -> (Vec<f64>, Vec<f64>) {
    let (mut trial, mut new) = (Vec::new(), Vec::new());
    for r in rows(include_str!("data/spc/viscosity.csv")) {
        let v: f64 = r[1].parse().unwrap();
        if r[2] == "TRUE" {
            trial.push(v);
        } else {
            new.push(v);
        }
    }
    (trial, new)
}

#[test]
fn viscosity_individuals_and_moving_range() {
    let (trial, new) = viscosity();
    assert_eq!((trial.len(), new.len()), (20, 15));
    let pair = spc::i_mr(&trial, &new, &ChartOptions::default()).unwrap();
    let i = &pair.location;
    // qcc vignette (ewma on viscosity[trial]): centre 34.088, standard deviation 0.5076521
    // (qcc xbar.one: MR̄/1.128).
    printed(i.center, "34.088");
    printed(i.std_dev, "0.5076521");
    let (lcl, ucl) = i.constant_limits().unwrap();
    assert!(
        (ucl - (34.088 + 3.0 * i.std_dev)).abs() < 1e-12
            && (lcl - (34.088 - 3.0 * i.std_dev)).abs() < 1e-12
    );
    // Batch 4 (35.96) is beyond the UCL (qcc's help: temperature controller failure).
    assert_eq!(i.points[3].violation, Some(1));

    let mr = &pair.dispersion;
    assert_eq!(mr.points.len(), 34);
    assert_eq!(mr.points[0].index, 1);
    let mr_bar = 0.5076521089958939 * 1.128;
    assert!((mr.center - mr_bar).abs() < 1e-12);
    // D₄(2) = 1 + 3·0.8525033/1.128 = 3.2673 with qcc's tables (textbook 3.267).
    let d4 = 1.0 + 3.0 * 0.8525033 / 1.128;
    assert!((mr.points[0].ucl - d4 * mr_bar).abs() < 1e-12);
    assert_eq!(mr.points[0].lcl, 0.0);
    printed(d4, "3.267");

    // Removing batch 4 and recomputing, as qcc's example does.
    let opts = ChartOptions {
        exclude: vec![3],
        ..ChartOptions::default()
    };
    let i2 = spc::individuals_chart(&trial, &new, &opts).unwrap();
    let kept: Vec<f64> = trial
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != 3)
        .map(|(_, v)| *v)
        .collect();
    let mean = kept.iter().sum::<f64>() / kept.len() as f64;
    let mrs: f64 =
        kept.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (kept.len() - 1) as f64;
    assert!((i2.center - mean).abs() < 1e-12);
    assert!((i2.std_dev - mrs / 1.128).abs() < 1e-12);
}

#[test]
fn viscosity_ewma_reproduces_qcc_vignette() {
    let (trial, new) = viscosity();
    let one: Vec<Vec<f64>> = trial.iter().map(|&v| vec![v]).collect();
    let two: Vec<Vec<f64>> = new.iter().map(|&v| vec![v]).collect();
    let opts = ChartOptions {
        nsigmas: 2.7,
        ..ChartOptions::default()
    };
    let chart = spc::ewma_chart(&one, &two, &EwmaOptions::default(), &opts).unwrap();
    // qcc vignette: ewma(viscosity[trial], lambda=0.2, nsigmas=2.7, newdata=viscosity[!trial]):
    // centre 34.088, σ 0.5076521; LCL/UCL rows 1, 2, 35.
    printed(chart.center, "34.088");
    printed(chart.std_dev, "0.5076521");
    for (k, lcl, ucl) in [
        (0, "33.81387", "34.36213"),
        (1, "33.73694", "34.43906"),
        (34, "33.63111", "34.54489"),
    ] {
        printed(chart.points[k].lcl, lcl);
        printed(chart.points[k].ucl, ucl);
    }
}
