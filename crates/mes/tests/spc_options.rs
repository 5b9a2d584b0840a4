//! The SPC options of issue 12 item 5: σ methods as qcc names them, phase II with a known
//! centre and σ, nsigmas, exclusion by label, EWMA and CUSUM as qcc's `ewma()`/`cusum()`
//! compute them, and the CSV table reader (labels never read as measurements).
//!
//! Sources of the expected values, next to each:
//! - "qcc vignette": luca-scr/qcc 3.0, docs/articles/qcc.html (printed output).
//! - "qcc testthat": luca-scr/qcc 3.0, tests/testthat/test-ewma.R and test-cusum.R.
//! - "[python]": computed once, independently of this code, by a small Python script that
//!   follows qcc's R/qcc.R (`sd.xbar`, `sd.xbar.one`), R/ewma.R and R/cusum.R with qcc's
//!   d₂/d₃ tables; the values are not printed by qcc itself.

use lodestone_mes::spc::{
    self, table, ChartKind, ChartOptions, CusumOptions, Dispersion, EwmaOptions, SpcError,
    Standard, StdDevMethod, TableOptions,
};

const PISTONRINGS: &str = include_str!("data/spc/pistonrings.csv");
const VISCOSITY: &str = include_str!("data/spc/viscosity.csv");

#[track_caller]
fn printed(actual: f64, printed: &str) {
    let expected: f64 = printed.parse().unwrap();
    let decimals = printed.split('.').nth(1).map_or(0, |d| d.len());
    let tol = 0.5 * 10f64.powi(-(decimals as i32)) * (1.0 + 1e-9);
    assert!(
        (actual - expected).abs() <= tol,
        "{actual} does not print as {printed}"
    );
}

#[track_caller]
fn close(actual: f64, expected: f64, tol: f64) {
    assert!(
        (actual - expected).abs() <= tol * expected.abs().max(1e-300),
        "{actual} vs {expected}"
    );
}

fn read(text: &str, name: &str) -> table::SampleTable {
    table::parse_csv(text, name, &TableOptions::default()).unwrap()
}

/// Phase I and phase II of a table with a phase column.
fn split(t: &table::SampleTable) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let n = t.phase_one_count().unwrap().unwrap();
    (t.groups[..n].to_vec(), t.groups[n..].to_vec())
}

fn flat(groups: &[Vec<f64>]) -> Vec<f64> {
    groups.iter().flatten().copied().collect()
}

fn with_method(method: StdDevMethod) -> ChartOptions {
    ChartOptions {
        std_dev_method: Some(method),
        ..ChartOptions::default()
    }
}

// ------------------------------------------------------------------------------------------
// The CSV reader

#[test]
fn a_batch_column_is_the_label_not_a_measurement() {
    // Finding: `batch,viscosity,trial` became an X̄-R chart of (batch, viscosity) pairs.
    let t = read(VISCOSITY, "viscosity.csv");
    assert_eq!(t.label_column.as_deref(), Some("batch"));
    assert_eq!(t.value_columns, ["viscosity"]);
    assert!(t.groups.iter().all(|g| g.len() == 1), "individual values");
    assert_eq!(t.labels[3], "4");
    assert_eq!(
        t.phase_one_count().unwrap(),
        Some(20),
        "trial = TRUE is phase I"
    );
    let (one, two) = split(&t);
    let chart = spc::individuals_chart(&flat(&one), &flat(&two), &ChartOptions::default()).unwrap();
    printed(chart.center, "34.088"); // qcc vignette, qcc(viscosity[trial], type = "xbar.one")
    printed(chart.std_dev, "0.5076521"); // qcc vignette
}

#[test]
fn first_column_ids_are_labels_by_name_content_or_sequence() {
    // Named id columns.
    for name in ["batch", "sample", "lot", "id", "Lot"] {
        let t = read(&format!("{name},x\nA-1,1.5\nA-2,2.5\n"), "t.csv");
        assert_eq!(t.label_column.as_deref(), Some(name));
        assert_eq!(t.labels, ["A-1", "A-2"]);
        assert_eq!(t.groups, [vec![1.5], vec![2.5]]);
    }
    // A first column of non-numbers under any name.
    let t = read("heatno,x1,x2\nH7,1,2\nH8,3,4\n", "t.csv");
    assert_eq!(t.label_column.as_deref(), Some("heatno"));
    assert_eq!(t.labels, ["H7", "H8"]);
    // A first column 101, 102, 103 … (an integer sequence) under any name, with or without
    // a header.
    let t = read("n,x1,x2\n101,1,2\n102,3,4\n103,5,6\n", "t.csv");
    assert_eq!(t.label_column.as_deref(), Some("n"));
    assert_eq!(t.labels, ["101", "102", "103"]);
    assert_eq!(t.groups[2], [5.0, 6.0]);
    let t = read(
        "1,74.030,74.002\n2,73.995,73.992\n3,73.988,74.024\n",
        "t.csv",
    );
    assert_eq!(t.labels, ["1", "2", "3"]);
    assert_eq!(t.groups[0], [74.030, 74.002]);
    // Measurements stay measurements: no sequence, no label; labels are row numbers.
    let t = read("x1,x2\n74.03,74.00\n73.99,73.99\n74.01,74.02\n", "t.csv");
    assert_eq!(t.label_column, None);
    assert_eq!(t.labels, ["1", "2", "3"]);
    // --label-column names it explicitly, anywhere.
    let opts = TableOptions {
        label_column: Some("code".into()),
    };
    let t = table::parse_csv("x,code\n1.5,7\n2.5,9\n", "t.csv", &opts).unwrap();
    assert_eq!(t.labels, ["7", "9"]);
    assert_eq!(t.groups, [vec![1.5], vec![2.5]]);
}

#[test]
fn pistonrings_csv_reads_labels_values_and_phases() {
    let t = read(PISTONRINGS, "pistonrings.csv");
    assert_eq!(t.label_column.as_deref(), Some("sample"));
    assert_eq!(t.value_columns, ["x1", "x2", "x3", "x4", "x5"]);
    assert_eq!(t.labels.len(), 40);
    assert_eq!(t.phase_one_count().unwrap(), Some(25));
    assert_eq!(t.lines[0], 6, "line numbers count the comment lines");
}

#[test]
fn unreadable_cells_name_file_line_column_and_value() {
    let err = |text: &str| {
        table::parse_csv(text, "lab.csv", &TableOptions::default())
            .unwrap_err()
            .to_string()
    };
    let e = err("sample,x1,x2\n1,74.0,74.1\n2,74.0,7q.1\n");
    assert!(
        e.contains("lab.csv")
            && e.contains("line 3")
            && e.contains("column 'x2'")
            && e.contains("'7q.1'"),
        "{e}"
    );
    let e = err("sample,x1\n1,NaN\n");
    assert!(e.contains("'NaN' is not a finite number"), "{e}");
    let e = err("sample,x1\n1,inf\n");
    assert!(e.contains("'inf'"), "{e}");
    let e = err("sample,x1\n1,1\n2,2,3\n");
    assert!(e.contains("line 3") && e.contains("3 cells"), "{e}");
    let e = err("sample,x1\n1,1\n1,2\n");
    assert!(e.contains("label '1' already used on line 2"), "{e}");
    let e = err("sample,x1,phase\n1,1,I\n2,2,III\n");
    assert!(
        e.contains("'III' is not a phase") && e.contains("I, II"),
        "{e}"
    );
    let e = err("sample,x1\n1,\n");
    assert!(e.contains("no values"), "{e}");
    let e = err("# only a comment\n\n");
    assert_eq!(e, "lab.csv: no rows; give one sample per row");
    let e = err("sample,x\n");
    assert!(e.contains("no data rows"), "{e}");
    let e = err("sample,date\n1,2026-01-01\n");
    assert!(e.contains("no value columns"), "{e}");
    let opts = TableOptions {
        label_column: Some("nope".into()),
    };
    let e = table::parse_csv("a,b\n1,2\n", "lab.csv", &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no column 'nope'") && e.contains("a, b"), "{e}");
    // Phase I after phase II.
    let t = read("sample,x,phase\n1,1,I\n2,2,II\n3,3,I\n", "t.csv");
    let e = t.phase_one_count().unwrap_err().to_string();
    assert!(e.contains("line 4") && e.contains("'3'"), "{e}");
    // Missing values: empty or NA cells leave the subgroup smaller (qcc's NA).
    let t = read("sample,x1,x2,x3\n1,1,,3\n2,NA,2,2\n", "t.csv");
    assert_eq!(t.groups, [vec![1.0, 3.0], vec![2.0, 2.0]]);
}

#[test]
fn exclusion_by_label_reproduces_qcc_without_batch_4() {
    // qcc vignette: "batch 4 is out-of-control …; remove it and recompute":
    // qcc(viscosity[-4,][trial], type = "xbar.one", newdata = …) — centre 33.98947,
    // σ 0.4117415, limits 32.75425 / 35.2247. Here batch 4 stays on the chart, marked.
    let t = read(VISCOSITY, "viscosity.csv");
    let (one, two) = split(&t);
    let exclude = table::resolve_labels(&t.labels, one.len(), &["4".to_string()]).unwrap();
    assert_eq!(exclude, [3]);
    let opts = ChartOptions {
        exclude,
        ..ChartOptions::default()
    };
    let chart = spc::individuals_chart(&flat(&one), &flat(&two), &opts).unwrap();
    printed(chart.center, "33.98947");
    printed(chart.std_dev, "0.4117415");
    let (lcl, ucl) = chart.constant_limits().unwrap();
    printed(lcl, "32.75425");
    printed(ucl, "35.2247");
    assert!(chart.points[3].excluded && chart.points.len() == 35);
    // A label that is not a phase-I sample is refused by name.
    let e = table::resolve_labels(&t.labels, one.len(), &["21".to_string()]).unwrap_err();
    assert!(
        e.to_string().contains("'21'") && e.to_string().contains("'1' … '20'"),
        "{e}"
    );
}

// ------------------------------------------------------------------------------------------
// σ methods

#[test]
fn std_dev_methods_reproduce_qcc() {
    let t = read(PISTONRINGS, "pistonrings.csv");
    let (one, _) = split(&t);
    let sigma = |m| {
        spc::xbar_chart(&one, &[], Dispersion::Range, &with_method(m))
            .unwrap()
            .std_dev
    };
    printed(sigma(StdDevMethod::UwaveR), "0.009785039"); // qcc vignette (xbar)
    printed(sigma(StdDevMethod::UwaveSd), "0.009829977"); // qcc vignette (S chart)
    close(sigma(StdDevMethod::MvlueR), 0.009785038693035299, 1e-12); // [python]
    close(sigma(StdDevMethod::MvlueSd), 0.009829976728289325, 1e-12); // [python]
    close(sigma(StdDevMethod::Rmsdf), 0.009887547210159992, 1e-12); // [python]
    let kind = |m| {
        spc::xbar_chart(&one, &[], Dispersion::Range, &with_method(m))
            .unwrap()
            .kind
    };
    assert_eq!(kind(StdDevMethod::Rmsdf), ChartKind::XbarS);
    assert_eq!(kind(StdDevMethod::MvlueR), ChartKind::XbarR);

    // Unequal sizes separate the weighted methods: subgroup i keeps its first 3 + i mod 3
    // values. All [python].
    let var: Vec<Vec<f64>> = one
        .iter()
        .enumerate()
        .map(|(i, g)| g[..3 + i % 3].to_vec())
        .collect();
    for (m, expected) in [
        (StdDevMethod::UwaveR, 0.009805747431816338),
        (StdDevMethod::UwaveSd, 0.00984330111625097),
        (StdDevMethod::MvlueR, 0.009725727086791973),
        (StdDevMethod::MvlueSd, 0.009730611083488534),
        (StdDevMethod::Rmsdf, 0.009672651842115016),
    ] {
        let c = spc::xbar_chart(&var, &[], Dispersion::Range, &with_method(m)).unwrap();
        close(c.std_dev, expected, 1e-12);
    }

    // Individuals: qcc vignette, qcc(viscosity[trial], type = "xbar.one", std.dev = "SD"):
    // σ 0.5769854, limits 32.35704 / 35.81896.
    let v = read(VISCOSITY, "viscosity.csv");
    let (v1, _) = split(&v);
    let c = spc::individuals_chart(&flat(&v1), &[], &with_method(StdDevMethod::Sd)).unwrap();
    printed(c.std_dev, "0.5769854");
    let (lcl, ucl) = c.constant_limits().unwrap();
    printed(lcl, "32.35704");
    printed(ucl, "35.81896");
}

#[test]
fn std_dev_methods_not_documented_for_a_chart_are_refused_by_name() {
    let groups = vec![vec![1.0, 2.0, 3.0], vec![2.0, 3.0, 5.0]];
    let e = spc::xbar_chart(
        &groups,
        &[],
        Dispersion::Range,
        &with_method(StdDevMethod::Mr),
    )
    .unwrap_err();
    assert!(matches!(e, SpcError::StdDevMethodNotAllowed { .. }));
    assert!(
        e.to_string()
            .contains("UWAVE-R, UWAVE-SD, MVLUE-R, MVLUE-SD, RMSDF"),
        "{e}"
    );
    let e = spc::r_chart(&groups, &[], &with_method(StdDevMethod::Rmsdf)).unwrap_err();
    assert!(e.to_string().contains("UWAVE-R, MVLUE-R"), "{e}");
    let e = spc::s_chart(&groups, &[], &with_method(StdDevMethod::UwaveR)).unwrap_err();
    assert!(e.to_string().contains("UWAVE-SD, MVLUE-SD, RMSDF"), "{e}");
    let e = spc::individuals_chart(&[1.0, 2.0, 4.0], &[], &with_method(StdDevMethod::UwaveR))
        .unwrap_err();
    assert!(e.to_string().contains("MR, SD"), "{e}");
    let e = spc::c_chart(&[1.0, 2.0], &[], &with_method(StdDevMethod::Sd)).unwrap_err();
    assert!(e.to_string().contains("σ follows from the centre"), "{e}");
    let ones = vec![vec![1.0], vec![2.0], vec![4.0]];
    let e = spc::ewma_chart(
        &ones,
        &[],
        &EwmaOptions::default(),
        &with_method(StdDevMethod::Rmsdf),
    )
    .unwrap_err();
    assert!(e.to_string().contains("MR, SD"), "{e}");
    // Names: qcc's, case-insensitive; anything else lists them.
    assert_eq!(
        "mvlue-sd".parse::<StdDevMethod>().unwrap(),
        StdDevMethod::MvlueSd
    );
    let e = "range".parse::<StdDevMethod>().unwrap_err().to_string();
    assert!(
        e.contains("'range'") && e.contains("UWAVE-R") && e.contains("MR, SD"),
        "{e}"
    );
    // A method and a standard σ contradict each other.
    let opts = ChartOptions {
        standard: Standard {
            center: None,
            std_dev: Some(1.0),
        },
        ..with_method(StdDevMethod::UwaveR)
    };
    let e = spc::xbar_chart(&groups, &[], Dispersion::Range, &opts).unwrap_err();
    assert!(
        matches!(e, SpcError::StdDevMethodWithStandard { .. }),
        "{e}"
    );
}

// ------------------------------------------------------------------------------------------
// EWMA and CUSUM

#[test]
fn ewma_reproduces_qcc_testthat_with_known_centre_and_sigma() {
    // qcc testthat "ewma computes smoothing, sigma, and limits from explicit parameters":
    // ewma(c(11, 13, 12), sizes = 1, center = 10, std.dev = 2, lambda = 0.5, nsigmas = 2)
    // → ewma 10.5, 11.75, 11.875; σ 1, √1.25, √1.3125; limits 10 ∓ 2σ.
    let opts = ChartOptions {
        nsigmas: 2.0,
        standard: Standard {
            center: Some(10.0),
            std_dev: Some(2.0),
        },
        ..ChartOptions::default()
    };
    let data = vec![vec![11.0], vec![13.0], vec![12.0]];
    // Phase II: everything is monitored against the known centre and σ.
    let c = spc::ewma_chart(&[], &data, &EwmaOptions { lambda: 0.5 }, &opts).unwrap();
    for (p, (z, s)) in c.points.iter().zip([
        (10.5, 1.0),
        (11.75, 1.25f64.sqrt()),
        (11.875, 1.3125f64.sqrt()),
    ]) {
        close(p.statistic, z, 1e-12);
        close(p.sigma, s, 1e-12);
        close(p.lcl, 10.0 - 2.0 * s, 1e-12);
        close(p.ucl, 10.0 + 2.0 * s, 1e-12);
    }
    assert!(c.center_from_standard && c.std_dev_from_standard);
    // qcc testthat "ewma phase-II extension …": phase I (0, 0), phase II (0, 5), centre 0,
    // σ 1, λ 1, nsigmas 2 → ewma 0, 0, 0, 5; violation only at the last point.
    let opts = ChartOptions {
        nsigmas: 2.0,
        standard: Standard {
            center: Some(0.0),
            std_dev: Some(1.0),
        },
        ..ChartOptions::default()
    };
    let c = spc::ewma_chart(
        &[vec![0.0], vec![0.0]],
        &[vec![0.0], vec![5.0]],
        &EwmaOptions { lambda: 1.0 },
        &opts,
    )
    .unwrap();
    let z: Vec<f64> = c.points.iter().map(|p| p.statistic).collect();
    assert_eq!(z, [0.0, 0.0, 0.0, 5.0]);
    assert_eq!(c.violations(), [(3, 1)]);
    // qcc testthat "ewma validates lambda range" (λ = 1.2 refused).
    let e = spc::ewma_chart(&[], &data, &EwmaOptions { lambda: 1.2 }, &opts).unwrap_err();
    assert!(e.to_string().contains("lambda = 1.2"), "{e}");
}

#[test]
fn ewma_viscosity_reproduces_the_qcc_example() {
    // qcc vignette and ?ewma: ewma(viscosity[trial], lambda = 0.2, nsigmas = 2.7,
    // newdata = viscosity[!trial]) — centre 34.088, σ 0.5076521, limits rows 1, 2, 35.
    let v = read(VISCOSITY, "viscosity.csv");
    let (one, two) = split(&v);
    let opts = ChartOptions {
        nsigmas: 2.7,
        ..ChartOptions::default()
    };
    let c = spc::ewma_chart(&one, &two, &EwmaOptions { lambda: 0.2 }, &opts).unwrap();
    printed(c.center, "34.088");
    printed(c.std_dev, "0.5076521");
    for (i, lcl, ucl) in [
        (0, "33.81387", "34.36213"),
        (1, "33.73694", "34.43906"),
        (34, "33.63111", "34.54489"),
    ] {
        printed(c.points[i].lcl, lcl);
        printed(c.points[i].ucl, ucl);
    }
    // [python]: the smoothed values 34.0804, 34.14432, …, 34.6138464076912; only batch 35
    // is beyond its limit.
    close(c.points[0].statistic, 34.0804, 1e-12);
    close(c.points[1].statistic, 34.14432, 1e-12);
    close(c.points[34].statistic, 34.6138464076912, 1e-12);
    assert_eq!(c.violations(), [(34, 1)]);
}

#[test]
fn ewma_phase_two_with_known_centre_and_sigma_on_pistonrings() {
    // All 40 subgroups monitored against a known centre 74 and σ 0.01, λ 0.2, 3σ: [python]
    // signals at subgroups 35–40 and z₄₀ = 74.01259719280043, limits 73.99552786408451 /
    // 74.00447213591549.
    let t = read(PISTONRINGS, "pistonrings.csv");
    let opts = ChartOptions {
        standard: Standard {
            center: Some(74.0),
            std_dev: Some(0.01),
        },
        ..ChartOptions::default()
    };
    let c = spc::ewma_chart(&[], &t.groups, &EwmaOptions::default(), &opts).unwrap();
    let flagged: Vec<&str> = c
        .violations()
        .iter()
        .map(|(i, _)| t.labels[*i].as_str())
        .collect();
    assert_eq!(flagged, ["35", "36", "37", "38", "39", "40"]);
    close(c.points[39].statistic, 74.01259719280043, 1e-13);
    close(c.points[39].lcl, 73.99552786408451, 1e-13);
    close(c.points[39].ucl, 74.00447213591549, 1e-13);
}

#[test]
fn cusum_reproduces_qcc_testthat() {
    // qcc testthat "cusum recursion and violation checks use strict decision boundaries":
    // data 1.5, 0.5, 0.6, −1.5, −0.5, −0.8; centre 0, σ 1, h 1, shift 1, head start 0 →
    // pos 1, 1, 1.1, 0, 0, 0; neg 0, 0, 0, −1, −1, −1.3; upper signal at 3, lower at 6.
    let opts = ChartOptions {
        standard: Standard {
            center: Some(0.0),
            std_dev: Some(1.0),
        },
        ..ChartOptions::default()
    };
    let data: Vec<Vec<f64>> = [1.5, 0.5, 0.6, -1.5, -0.5, -0.8]
        .iter()
        .map(|&x| vec![x])
        .collect();
    let cusum = CusumOptions {
        decision_interval: 1.0,
        ..CusumOptions::default()
    };
    let c = spc::cusum_chart(&data, &[], &cusum, &opts).unwrap();
    for (p, (pos, neg)) in c.points.iter().zip([
        (1.0, 0.0),
        (1.0, 0.0),
        (1.1, 0.0),
        (0.0, -1.0),
        (0.0, -1.0),
        (0.0, -1.3),
    ]) {
        assert!((p.upper - pos).abs() < 1e-12 && (p.lower - neg).abs() < 1e-12);
    }
    let up: Vec<usize> = c
        .points
        .iter()
        .filter(|p| p.upper_violation)
        .map(|p| p.index)
        .collect();
    let down: Vec<usize> = c
        .points
        .iter()
        .filter(|p| p.lower_violation)
        .map(|p| p.index)
        .collect();
    assert_eq!((up, down), (vec![2], vec![5]));

    // qcc testthat "cusum phase-II keeps rowname labels and uses explicit newsizes":
    // phase I two subgroups of (10, 10, 10); phase II (14, 14) and (16, 16, 16); centre 10,
    // σ 2, h 10 → pos 0, 0, 2.32842712474619, 7.02457954745282.
    let opts = ChartOptions {
        standard: Standard {
            center: Some(10.0),
            std_dev: Some(2.0),
        },
        ..ChartOptions::default()
    };
    let c = spc::cusum_chart(
        &[vec![10.0; 3], vec![10.0; 3]],
        &[vec![14.0, 14.0], vec![16.0; 3]],
        &CusumOptions {
            decision_interval: 10.0,
            ..CusumOptions::default()
        },
        &opts,
    )
    .unwrap();
    let pos: Vec<f64> = c.points.iter().map(|p| p.upper).collect();
    for (a, b) in pos
        .iter()
        .zip([0.0, 0.0, 2.32842712474619, 7.02457954745282])
    {
        assert!((a - b).abs() < 1e-12, "{pos:?}");
    }
    // qcc testthat "cusum validates head.start bounds".
    let e = spc::cusum_chart(
        &data,
        &[],
        &CusumOptions {
            decision_interval: 2.0,
            head_start: 2.0,
            ..CusumOptions::default()
        },
        &opts,
    )
    .unwrap_err();
    assert!(e.to_string().contains("head_start"), "{e}");
}

#[test]
fn cusum_pistonrings_and_viscosity_examples() {
    // ?cusum / qcc vignette: cusum(diameter[1:25,], newdata = diameter[26:40,]) prints
    // centre 74.00118, σ 0.009785039, h 5, shift 1 (qcc vignette); the sums are not
    // printed — [python]: C⁺ at subgroups 35…40 = 4.017363979731062, 4.162701843640687,
    // 7.187380035204293, 10.897615447637584, 15.476223339841958, 17.63252905163773;
    // signals at 37–40.
    let t = read(PISTONRINGS, "pistonrings.csv");
    let (one, two) = split(&t);
    let c = spc::cusum_chart(
        &one,
        &two,
        &CusumOptions::default(),
        &ChartOptions::default(),
    )
    .unwrap();
    printed(c.center, "74.00118");
    printed(c.std_dev, "0.009785039");
    for (i, v) in [
        (34, 4.017363979731062),
        (35, 4.162701843640687),
        (36, 7.187380035204293),
        (37, 10.897615447637584),
        (38, 15.476223339841958),
        (39, 17.63252905163773),
    ] {
        close(c.points[i].upper, v, 1e-9);
    }
    close(c.points[27].lower, -1.5511872048429582, 1e-9);
    let labels: Vec<&str> = c
        .violations()
        .iter()
        .map(|&i| t.labels[i].as_str())
        .collect();
    assert_eq!(labels, ["37", "38", "39", "40"]);
    // ?cusum: cusum(viscosity[trial], newdata = viscosity[!trial]) — individual values,
    // σ = MR̄/d₂(2) = 0.5076521 (qcc vignette); [python]: signals at batches 30–35,
    // C⁺₃₅ = 7.898939705882636.
    let v = read(VISCOSITY, "viscosity.csv");
    let (v1, v2) = split(&v);
    let c = spc::cusum_chart(&v1, &v2, &CusumOptions::default(), &ChartOptions::default()).unwrap();
    printed(c.std_dev, "0.5076521");
    close(c.points[34].upper, 7.898939705882636, 1e-9);
    let labels: Vec<&str> = c
        .violations()
        .iter()
        .map(|&i| v.labels[i].as_str())
        .collect();
    assert_eq!(labels, ["30", "31", "32", "33", "34", "35"]);
}

#[test]
fn ewma_and_cusum_take_nsigmas_methods_and_exclusions() {
    let t = read(PISTONRINGS, "pistonrings.csv");
    let (one, two) = split(&t);
    // Excluding subgroups 14 and 25 by label: [python] centre 74.00178260869565, UWAVE-R σ
    // 0.009252682343265253; both still plotted, marked excluded.
    let exclude = table::resolve_labels(&t.labels, one.len(), &["14".into(), "25".into()]).unwrap();
    let opts = ChartOptions {
        exclude,
        ..ChartOptions::default()
    };
    let e = spc::ewma_chart(&one, &two, &EwmaOptions::default(), &opts).unwrap();
    close(e.center, 74.00178260869565, 1e-13);
    close(e.std_dev, 0.009252682343265253, 1e-12);
    assert!(e.points[13].excluded && e.points[24].excluded && !e.points[12].excluded);
    let c = spc::cusum_chart(&one, &two, &CusumOptions::default(), &opts).unwrap();
    close(c.center, 74.00178260869565, 1e-13);
    assert!(c.points[13].excluded);
    // σ method: RMSDF (qcc's default once a subgroup has more than 25 values).
    let e = spc::ewma_chart(
        &one,
        &[],
        &EwmaOptions::default(),
        &with_method(StdDevMethod::Rmsdf),
    )
    .unwrap();
    close(e.std_dev, 0.009887547210159992, 1e-12); // [python]
    let big: Vec<Vec<f64>> = (0..5)
        .map(|i| (0..30).map(|j| ((i * 31 + j * 7) % 13) as f64).collect())
        .collect();
    let default = spc::ewma_chart(&big, &[], &EwmaOptions::default(), &ChartOptions::default())
        .unwrap()
        .std_dev;
    let rmsdf = spc::ewma_chart(
        &big,
        &[],
        &EwmaOptions::default(),
        &with_method(StdDevMethod::Rmsdf),
    )
    .unwrap()
    .std_dev;
    assert_eq!(default, rmsdf, "n > 25 defaults to RMSDF as in qcc");
    // nsigmas scales the EWMA limits.
    let wide = spc::ewma_chart(
        &one,
        &[],
        &EwmaOptions::default(),
        &ChartOptions {
            nsigmas: 2.0,
            ..ChartOptions::default()
        },
    )
    .unwrap();
    close(
        wide.points[24].ucl - wide.center,
        2.0 * wide.points[24].sigma,
        1e-12,
    );
    // Bad nsigmas names the field and what is allowed.
    let e = spc::ewma_chart(
        &one,
        &[],
        &EwmaOptions::default(),
        &ChartOptions {
            nsigmas: 0.0,
            ..ChartOptions::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("nsigmas = 0") && e.contains("> 0"), "{e}");
}
