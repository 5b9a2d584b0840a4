//! End-to-end tests of `lodestone twin`: a run of the reference plant with charts, the
//! bottleneck experiment, and a bad plant file.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_lodestone");

fn reference() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/plant/baotou-50kt.toml")
}

#[test]
fn a_run_reports_output_with_an_interval_and_draws_charts() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "twin",
            "run",
            reference().to_str().unwrap(),
            "--days",
            "60",
            "--replications",
            "3",
            "--json",
        ])
        .args(["--svg-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let study: Value = serde_json::from_slice(&out.stdout).unwrap();
    let output = &study["estimates"][0];
    assert_eq!(output["name"], "output");
    assert!(
        (output["mean"].as_f64().unwrap() - 50_000.0).abs() < 3_000.0,
        "{output}"
    );
    assert_eq!(study["replications"].as_array().unwrap().len(), 3);
    for chart in ["utilisation.svg", "throughput.svg"] {
        let svg = std::fs::read_to_string(dir.path().join(chart)).unwrap();
        assert!(
            svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
            "{chart}"
        );
    }
    let table = Command::new(BIN)
        .args([
            "twin",
            "run",
            reference().to_str().unwrap(),
            "--days",
            "30",
            "--replications",
            "2",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("output N52") && text.contains("lab utilisation"),
        "{text}"
    );
}

#[test]
fn the_bottleneck_experiment_names_the_lab() {
    let out = Command::new(BIN)
        .args([
            "twin",
            "bottleneck",
            reference().to_str().unwrap(),
            "--days",
            "60",
            "--replications",
            "3",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // With demand doubled the six analysts (≈ 0.55 h per heat) cannot keep up with 22 lines.
    assert_eq!(report["bottleneck"], "lab_analysts", "{report}");
}

#[test]
fn a_bad_plant_file_exits_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(reference())
        .unwrap()
        .replacen("fleet = 6", "fleet = 0", 1);
    std::fs::write(&bad, text).unwrap();
    let out = Command::new(BIN)
        .args(["twin", "run", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("agv.fleet: 0 is not allowed; expected at least 1"),
        "{err}"
    );
}

#[test]
fn zero_replications_is_an_error_not_one_run() {
    for sub in ["run", "bottleneck"] {
        let out = Command::new(BIN)
            .args([
                "twin",
                sub,
                reference().to_str().unwrap(),
                "--replications",
                "0",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "twin {sub}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--replications") && err.contains("1 or more"),
            "twin {sub}: {err}"
        );
    }
}
