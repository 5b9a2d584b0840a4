//! `lodestone mes spc` on CSV files: labels, EWMA and CUSUM, phase II, exclusions by label, σ
//! methods, and clear refusals (issue 12, item 5).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_lodestone");

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mes/tests/data/spc")
        .join(name)
}

fn spc(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["mes", "spc"])
        .args(args)
        .output()
        .expect("run lodestone")
}

fn ok(args: &[&str]) -> String {
    let out = spc(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(args: &[&str]) -> String {
    let out = spc(args);
    assert_eq!(out.status.code(), Some(2), "{args:?} should be refused");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_batch_column_labels_the_samples_and_is_not_charted() {
    // Finding: `batch,viscosity,…` was charted as X̄-R subgroups (batch, viscosity), exit 0.
    let v = data("viscosity.csv");
    let text = ok(&["--csv", v.to_str().unwrap()]);
    // qcc vignette, qcc(viscosity[trial], type = "xbar.one"): centre 34.088, σ 0.5076521,
    // limits 32.56504 / 35.61096; trial = TRUE rows are phase I.
    assert!(
        text.contains("35 samples (20 phase I, 15 phase II), chart i-mr")
            && text.contains("labels from column 'batch'")
            && text.contains("34.088000")
            && text.contains("32.565044")
            && text.contains("35.610956"),
        "{text}"
    );
    // Violations by the sample's label: batch 4 (rule 1) …
    assert!(text.contains("4: 1, 29: 3"), "{text}");
    // A label column that is not first, named on the command line.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("lab.csv");
    std::fs::write(&f, "value,heat\n5.1,H-17\n5.3,H-18\n4.9,H-19\n5.0,H-20\n").unwrap();
    let text = ok(&["--csv", f.to_str().unwrap(), "--label-column", "heat"]);
    assert!(text.contains("labels from column 'heat'"), "{text}");
    // A column that is not numbers is an error naming file, line, column and value.
    std::fs::write(&f, "batch,viscosity\n1,34.05\n2,3x.40\n").unwrap();
    let e = refused(&["--csv", f.to_str().unwrap()]);
    assert!(
        e.contains("lab.csv: line 3, column 'viscosity': '3x.40' is not a finite number"),
        "{e}"
    );
}

#[test]
fn exclusion_by_label_reproduces_qcc_without_batch_4() {
    let v = data("viscosity.csv");
    let text = ok(&["--csv", v.to_str().unwrap(), "--exclude", "4"]);
    // qcc vignette (viscosity[-4,]): centre 33.98947, σ 0.4117415, limits 32.75425 / 35.2247.
    assert!(
        text.contains("excluded from the limits (still charted): 4")
            && text.contains("33.989474")
            && text.contains("0.411742")
            && text.contains("32.754249")
            && text.contains("35.224698"),
        "{text}"
    );
    let json: Value = serde_json::from_str(&ok(&[
        "--csv",
        v.to_str().unwrap(),
        "--exclude",
        "4",
        "--json",
    ]))
    .unwrap();
    assert_eq!(json["charts"]["location"]["points"][3]["excluded"], true);
    assert_eq!(json["violations"][0]["label"], "4");
    let e = refused(&["--csv", v.to_str().unwrap(), "--exclude", "4,99"]);
    assert!(e.contains("--exclude") && e.contains("'99'"), "{e}");
}

#[test]
fn ewma_and_cusum_of_pistonrings() {
    let p = data("pistonrings.csv");
    let p = p.to_str().unwrap();
    // qcc vignette: ewma(diameter[1:25,], lambda = 0.2, nsigmas = 2.7, newdata =
    // diameter[26:40,]) — centre 74.00118, σ 0.009785039, row 40 limits 73.99724 / 74.00511.
    let text = ok(&[
        "--csv",
        p,
        "--chart",
        "ewma",
        "--lambda",
        "0.2",
        "--nsigmas",
        "2.7",
    ]);
    assert!(
        text.contains("74.001176") && text.contains("73.997238") && text.contains("74.005114"),
        "{text}"
    );
    let json: Value =
        serde_json::from_str(&ok(&["--csv", p, "--chart", "ewma", "--json"])).unwrap();
    assert_eq!(json["result"]["lambda"], 0.2);
    // CUSUM signals by label ([python] reference of qcc's recursion: 37–40, upper).
    let text = ok(&["--csv", p, "--chart", "cusum"]);
    assert!(
        text.contains("37: upper, 38: upper, 39: upper, 40: upper"),
        "{text}"
    );
    // Phase II with a known centre and σ, all 40 subgroups monitored ([python]: 35–40);
    // given both, phase II is the default on a file without a phase column.
    let f = tempfile::NamedTempFile::new().unwrap();
    let no_phase: String = std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect();
    std::fs::write(f.path(), no_phase).unwrap();
    let text = ok(&[
        "--csv",
        f.path().to_str().unwrap(),
        "--chart",
        "ewma",
        "--center",
        "74",
        "--std-dev",
        "0.01",
    ]);
    assert!(text.contains("(0 phase I, 40 phase II)"), "{text}");
    assert!(
        text.contains("35: 1, 36: 1, 37: 1, 38: 1, 39: 1, 40: 1")
            && text.contains("known centre and σ given"),
        "{text}"
    );
    // σ methods by qcc's name.
    let text = ok(&["--csv", p, "--chart", "xbar-s", "--std-dev-method", "RMSDF"]);
    assert!(text.contains("0.009888"), "{text}"); // [python] RMSDF 0.009887547
}

#[test]
fn options_that_do_not_apply_are_refused_by_name() {
    let p = data("pistonrings.csv");
    let p = p.to_str().unwrap();
    for (args, expected) in [
        (
            vec!["--chart", "cusum", "--lambda", "0.3"],
            "--lambda does not apply",
        ),
        (
            vec!["--chart", "ewma", "--head-start", "1"],
            "--head-start does not apply",
        ),
        (
            vec!["--chart", "cusum", "--nsigmas", "2"],
            "--nsigmas does not apply",
        ),
        (
            vec!["--chart", "ewma", "--rules", "nelson"],
            "--rules does not apply",
        ),
        (vec!["--chart", "pareto"], "'pareto' is not allowed"),
        (
            vec!["--std-dev-method", "MR"],
            "UWAVE-R, UWAVE-SD, MVLUE-R, MVLUE-SD, RMSDF",
        ),
        (vec!["--std-dev-method", "range"], "'range' is not known"),
        (vec!["--chart", "ewma", "--lambda", "1.5"], "lambda = 1.5"),
        (vec!["--nsigmas", "-1"], "nsigmas = -1"),
        (
            vec!["--phase1", "41"],
            "--phase1: 41 is more than the 40 samples",
        ),
        (vec!["--chart", "i-mr"], "sample '1' has 5"),
        (
            vec!["--std-dev", "0.01", "--std-dev-method", "UWAVE-R"],
            "give one or the other",
        ),
    ] {
        let mut all = vec!["--csv", p];
        all.extend(args);
        let e = refused(&all);
        assert!(e.contains(expected), "{all:?}: {e}");
    }
}

#[test]
fn mes_results_are_charted_and_listed_by_lot() {
    // 35 lots of primer paint with qcc's viscosity values, recorded through `mes exec`.
    let dir = tempfile::tempdir().unwrap();
    let mes = |args: &[&str]| {
        Command::new(BIN)
            .arg("mes")
            .args(args)
            .env("LODESTONE_DB", dir.path().join("paint.db"))
            .env("LODESTONE_USER", "admin")
            .env("LODESTONE_PASSWORD", "admin-password")
            .output()
            .expect("run lodestone")
    };
    let out = mes(&["init", "--name", "Ada Admin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut commands = vec![
        serde_json::json!({"command": "define-material-class", "id": "coating", "name": "coating", "receipt": "certificate"}),
        serde_json::json!({"command": "define-material-definition", "id": "primer", "name": "primer", "class": "coating"}),
    ];
    let text = std::fs::read_to_string(data("viscosity.csv")).unwrap();
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let n: u32 = cells[0].parse().unwrap();
        let lot = format!("V-{n:02}");
        commands.push(serde_json::json!({"command": "receive-lot", "lot": lot, "definition": "primer", "quantity_kg": 200.0}));
        commands.push(serde_json::json!({
            "command": "record-result", "lot": lot, "property": "viscosity",
            "value": cells[1].parse::<f64>().unwrap(), "unit": "cSt",
            "at": format!("2026-11-{:02}T{:02}:00:00Z", 1 + n / 24, n % 24),
        }));
    }
    let file = dir.path().join("lots.json");
    std::fs::write(&file, serde_json::Value::Array(commands).to_string()).unwrap();
    let out = mes(&["exec", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Phase I = the first 20 lots, V-04 excluded by lot id: qcc vignette (viscosity[-4,])
    // centre 33.98947, σ 0.4117415; violations by lot id.
    let out = mes(&[
        "spc",
        "--definition",
        "primer",
        "--property",
        "viscosity",
        "--phase1",
        "20",
        "--exclude",
        "V-04",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("labels are lot ids")
            && text.contains("excluded from the limits (still charted): V-04")
            && text.contains("33.989474")
            && text.contains("0.411742")
            && text.contains("V-04: 1"),
        "{text}"
    );
    let out = mes(&[
        "spc",
        "--definition",
        "primer",
        "--property",
        "viscosity",
        "--chart",
        "cusum",
        "--phase1",
        "20",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    // [python] reference of qcc's cusum(viscosity[trial], newdata = viscosity[!trial]).
    assert!(
        text.contains(
            "V-30: upper, V-31: upper, V-32: upper, V-33: upper, V-34: upper, V-35: upper"
        ),
        "{text}"
    );
}
