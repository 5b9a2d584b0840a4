//! End-to-end tests of `lodestone mes`: a database is created, the example plant loaded, a heat
//! made and traced, a drum released with a signature, and refusals reported clearly.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_lodestone");

fn example_plant() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mes/alloy-plant.toml")
}

struct Plant {
    dir: tempfile::TempDir,
}

impl Plant {
    fn mes(&self, user: &str, password: &str, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("mes")
            .args(args)
            .env("LODESTONE_DB", self.dir.path().join("plant.db"))
            .env("LODESTONE_USER", user)
            .env("LODESTONE_PASSWORD", password)
            .env("LODESTONE_SIGN_PASSWORD", password)
            .env("OPERATOR_PASSWORD", "op-password")
            .env("QA_PASSWORD", "qa-password")
            .env("PLANNER_PASSWORD", "plan-password")
            .output()
            .expect("run lodestone")
    }

    fn ok(&self, user: &str, password: &str, args: &[&str]) -> String {
        let out = self.mes(user, password, args);
        assert!(
            out.status.success(),
            "lodestone mes {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn refused(&self, user: &str, password: &str, args: &[&str]) -> String {
        let out = self.mes(user, password, args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "lodestone mes {args:?} should be refused"
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

fn plant_with_a_heat() -> Plant {
    let plant = Plant {
        dir: tempfile::tempdir().unwrap(),
    };
    let admin = |args: &[&str]| plant.ok("admin", "admin-password", args);
    admin(&["init", "--name", "Plant Admin"]);
    let loaded = admin(&["load", example_plant().to_str().unwrap()]);
    assert!(loaded.contains("definitions recorded"), "{loaded}");
    admin(&[
        "lot",
        "receive",
        "NDPR-1",
        "--definition",
        "PrNd-metal",
        "--kg",
        "500",
        "--chem",
        "Nd=75,Pr=25",
        "--supplier-lot",
        "BT-7781",
    ]);
    admin(&[
        "lot",
        "receive",
        "FE-1",
        "--definition",
        "Fe",
        "--kg",
        "2000",
        "--chem",
        "Fe=99.9",
    ]);
    admin(&[
        "lot",
        "receive",
        "FEB-1",
        "--definition",
        "Fe-B",
        "--kg",
        "200",
        "--chem",
        "Fe=80.5,B=19.5",
    ]);
    let planner = |args: &[&str]| plant.ok("plan1", "plan-password", args);
    planner(&[
        "order",
        "create",
        "H-1",
        "--work-master",
        "VIM-SC-N52",
        "--kg",
        "600",
        "--equipment",
        "vim-sc-01",
    ]);
    planner(&["order", "release", "H-1"]);
    let op = |args: &[&str]| plant.ok("op1", "op-password", args);
    op(&["order", "start", "H-1"]);
    op(&["consume", "H-1", "NDPR-1", "189"]);
    op(&["consume", "H-1", "FE-1", "381"]);
    op(&["consume", "H-1", "FEB-1", "30"]);
    op(&[
        "produce",
        "H-1",
        "H-1",
        "594",
        "--chem",
        "Nd=23.6,Pr=7.9,B=0.98,Fe=67.4",
    ]);
    op(&["order", "complete", "H-1"]);
    op(&[
        "lot",
        "split",
        "H-1",
        "--part",
        "H-1-D1=300",
        "--part",
        "H-1-D2=294",
    ]);
    plant
}

#[test]
fn a_heat_made_from_the_terminal_traces_back_to_its_raw_lots() {
    let plant = plant_with_a_heat();
    let tree = plant.ok("op1", "op-password", &["trace", "H-1-D2"]);
    for lot in ["H-1-D2", "H-1", "NDPR-1", "FE-1", "FEB-1"] {
        assert!(tree.contains(lot), "{lot} missing from\n{tree}");
    }
    assert!(
        tree.contains("31.5 %"),
        "NdPr share of the heat: 189/600\n{tree}"
    );
    let json: Value =
        serde_json::from_str(&plant.ok("op1", "op-password", &["trace", "H-1-D2", "--json"]))
            .unwrap();
    assert_eq!(json["lots"].as_array().unwrap().len(), 5);
    let dot = plant.ok(
        "op1",
        "op-password",
        &["trace", "NDPR-1", "--forward", "--dot"],
    );
    assert!(
        dot.starts_with("digraph") && dot.contains("\"NDPR-1\" -> \"H-1\""),
        "{dot}"
    );
    let recall = plant.ok("op1", "op-password", &["recall", "NDPR-1", "--json"]);
    let recall: Value = serde_json::from_str(&recall).unwrap();
    let d1 = recall
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["lot"]["id"] == "H-1-D1")
        .unwrap();
    assert!(
        (d1["suspect_kg"].as_f64().unwrap() - 94.5).abs() < 1e-9,
        "300 kg × 31.5 %"
    );
    let show = plant.ok("op1", "op-password", &["order", "show", "H-1"]);
    assert!(
        show.contains("consumed 600.000 kg, produced 594.000 kg"),
        "{show}"
    );
    let used = plant.ok("op1", "op-password", &["where-used", "BT-7781", "--json"]);
    let used: Value = serde_json::from_str(&used).unwrap();
    assert_eq!(used[0]["step"], "H-1");
    assert_eq!(used[0]["quantity_kg"], 189.0);
    let co = plant.ok("op1", "op-password", &["co-processed", "H-1", "--json"]);
    assert_eq!(co.trim(), "[]", "one heat only on the furnace");
    let verify = plant.ok("op1", "op-password", &["audit", "verify"]);
    assert!(verify.contains("audit chain intact: 34 events"), "{verify}");

    // Quality: the lab CSV, the proposed disposition, the certificate.
    let csv = plant.dir.path().join("lab.csv");
    std::fs::write(&csv, "lot,property,value,unit,method\nH-1-D1,Nd,23.6,wt%,ICP-OES\nH-1-D1,Pr,7.9,wt%,ICP-OES\nH-1-D1,B,1.02,wt%,ICP-OES\n").unwrap();
    let e = plant.refused(
        "op1",
        "op-password",
        &["quality", "import", csv.to_str().unwrap()],
    );
    assert!(e.contains("record-quality"), "{e}");
    plant.ok(
        "qa1",
        "qa-password",
        &["quality", "import", csv.to_str().unwrap()],
    );
    let eval = plant.ok("qa1", "qa-password", &["quality", "evaluate", "H-1-D1"]);
    assert!(
        eval.contains("proposed disposition of H-1-D1: rejected (out of specification: B)"),
        "{eval}"
    );
    let coa = plant.dir.path().join("coa.html");
    plant.ok(
        "qa1",
        "qa-password",
        &["quality", "coa", "H-1-D1", "--html", coa.to_str().unwrap()],
    );
    let html = std::fs::read_to_string(coa).unwrap();
    assert!(
        html.contains("Certificate of analysis")
            && html.contains("BT-7781")
            && html.contains("FAIL"),
        "{html}"
    );
}

#[test]
fn refusals_name_the_problem_and_signatures_are_required() {
    let plant = plant_with_a_heat();
    let e = plant.refused(
        "op1",
        "op-password",
        &[
            "order",
            "create",
            "H-2",
            "--work-master",
            "VIM-SC-N52",
            "--kg",
            "600",
        ],
    );
    assert!(
        e.contains("may not create-order") && e.contains("plan-orders"),
        "{e}"
    );
    let e = plant.refused("op1", "wrong-password", &["lot", "list"]);
    assert!(e.contains("authentication failed"), "{e}");
    let e = plant.refused("op1", "op-password", &["consume", "H-1", "NDPR-1", "5"]);
    assert!(
        e.contains("order 'H-1' is completed: cannot consume material"),
        "{e}"
    );
    let e = plant.refused(
        "op1",
        "op-password",
        &["lot", "split", "FE-1", "--part", "FE-1a=5000"],
    );
    assert!(
        e.contains("lot 'FE-1' holds 1619 kg; cannot take 5000 kg"),
        "{e}"
    );
    let e = plant.refused("op1", "op-password", &["lot", "release", "H-1-D1"]);
    assert!(e.contains("may not release-lot"), "{e}");
    plant.ok("qa1", "qa-password", &["lot", "hold", "H-1-D1"]);
    // No lab results against the N52 specification: release is refused, naming what is
    // missing and the way out.
    let e = plant.refused("qa1", "qa-password", &["lot", "release", "H-1-D1"]);
    assert!(
        e.contains("cannot be released: Nd result missing") && e.contains("under a deviation"),
        "{e}"
    );
    let deviation = [
        "lot",
        "release",
        "H-1-D1",
        "--deviation",
        "CON-2026-014",
        "--deviation-reason",
        "customer accepts the drum on the heat's ladle analysis",
    ];
    // Releasing under deviation is a permission of its own (qa-manager, admin), not QA's.
    let e = plant.refused("qa1", "qa-password", &deviation);
    assert!(e.contains("release-under-deviation"), "{e}");
    let e = plant.refused(
        "admin",
        "admin-password",
        &[&deviation[..], &["--meaning", "approval"]].concat(),
    );
    assert!(e.contains("deviation-approval"), "{e}");
    let out = plant.mes("admin", "admin-password", &deviation);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let show = plant.ok("qa1", "qa-password", &["lot", "show", "H-1-D1", "--json"]);
    let lot: Value = serde_json::from_str(&show).unwrap();
    assert_eq!(lot["disposition"], "released");
    let trail = plant.ok(
        "qa1",
        "qa-password",
        &["audit", "trail", "lot:H-1-D1", "--json"],
    );
    let trail: Value = serde_json::from_str(&trail).unwrap();
    let kinds: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["lot-split", "lot-held", "lot-released"]);
    // No audit output shows a password hash (issue 14, finding 1): not the users' records, not
    // what the administrator did, as JSON or as a table.
    for args in [
        &["audit", "trail", "user:admin", "--json"][..],
        &["audit", "trail", "user:qa1", "--json"],
        &["audit", "trail", "--by", "admin", "--json"],
        &["audit", "trail", "--by", "admin"],
        &["audit", "trail", "user:op1"],
    ] {
        let out = plant.ok("op1", "op-password", args);
        assert!(
            !out.contains("argon2") && !out.contains("password_hash"),
            "{args:?}: {out}"
        );
    }
}

#[test]
fn spc_of_a_csv_reproduces_the_qcc_pistonrings_chart() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mes/tests/data/spc/pistonrings.csv");
    let svg = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new(BIN)
        .args([
            "mes",
            "spc",
            "--csv",
            data.to_str().unwrap(),
            "--phase1",
            "25",
            "--lsl",
            "73.95",
            "--usl",
            "74.05",
            "--target",
            "74",
            "--svg",
            svg.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // mes.md (b1), qcc vignette: centre 74.00118, limits 73.98805 / 74.0143; WE rules flag
    // 35 (rule 2), 37–39 (rule 1), 40 (rule 2); Cpk 1.66 [1.45, 1.88].
    assert!(
        text.contains("74.001176") && text.contains("73.988048") && text.contains("74.014304"),
        "{text}"
    );
    assert!(text.contains("35: 2, 37: 1, 38: 1, 39: 1, 40: 2"), "{text}");
    assert!(
        text.contains("│ Cpk   ┆ 1.663 ┆ [1.448, 1.878] │"),
        "{text}"
    );
    let drawing = std::fs::read_to_string(svg.path()).unwrap();
    assert!(
        drawing.starts_with("<svg") || drawing.starts_with("<?xml"),
        "{drawing}"
    );
}

#[test]
fn oee_and_spc_read_the_record() {
    let plant = plant_with_a_heat();
    let admin = |args: &[&str]| plant.ok("admin", "admin-password", args);
    for (at, state) in [
        ("2026-12-01T08:00:00Z", "running"),
        ("2026-12-01T09:00:00Z", "unplanned_down"),
        ("2026-12-01T09:30:00Z", "running"),
    ] {
        let json = format!("{{\"command\":\"set-equipment-state\",\"equipment\":\"vim-sc-01\",\"state\":\"{state}\",\"at\":\"{at}\"}}");
        let file = plant.dir.path().join("state.json");
        std::fs::write(&file, json).unwrap();
        admin(&["exec", file.to_str().unwrap()]);
    }
    let oee = admin(&[
        "oee",
        "vim-sc-01",
        "--from",
        "2026-12-01T08:00:00Z",
        "--to",
        "2026-12-01T12:00:00Z",
        "--json",
    ]);
    let oee: Value = serde_json::from_str(&oee).unwrap();
    // 4 h window, 30 min down: availability 3.5/4.
    assert!(
        (oee["oee"]["availability"].as_f64().unwrap() - 0.875).abs() < 1e-12,
        "{oee}"
    );
    let e = plant.refused(
        "admin",
        "admin-password",
        &[
            "oee",
            "raw-store",
            "--from",
            "2026-12-01T08:00:00Z",
            "--to",
            "2026-12-01T12:00:00Z",
        ],
    );
    assert!(e.contains("ideal_cycle_s"), "{e}");
    let e = plant.refused(
        "admin",
        "admin-password",
        &["spc", "--definition", "N52-flake", "--property", "Nd"],
    );
    assert!(e.contains("no results of 'Nd'"), "{e}");
}

#[test]
fn audit_checkpoints_are_written_and_checked_from_the_command_line() {
    let plant = plant_with_a_heat();
    let admin = |args: &[&str]| plant.ok("admin", "admin-password", args);
    let key = plant.dir.path().join("audit.key");
    let file = plant.dir.path().join("plant.ckpt");
    let (key_arg, file_arg) = (key.to_str().unwrap(), file.to_str().unwrap());
    admin(&["audit", "keygen", "--out", key_arg]);
    // A second keygen never overwrites the key.
    plant.refused(
        "admin",
        "admin-password",
        &["audit", "keygen", "--out", key_arg],
    );
    let written = admin(&["audit", "checkpoint", "--key", key_arg, "--out", file_arg]);
    assert!(
        written.starts_with("audit checkpoint: {\"seq\":"),
        "{written}"
    );
    let verify = admin(&[
        "audit",
        "verify",
        "--checkpoints",
        file_arg,
        "--key",
        key_arg,
        "--from-checkpoint",
        "--deep",
    ]);
    assert!(verify.contains("(0 hashed in this check)"), "{verify}");
    assert!(verify.contains("1 checkpoint(s) hold"), "{verify}");
    assert!(verify.contains("projections equal a replay"), "{verify}");
    // A checkpoint moved back (as if to match a shortened chain) fails its signature: exit 1.
    let line = std::fs::read_to_string(&file).unwrap();
    let seq = line.split(['"', ':', ',']).nth(3).unwrap().to_string();
    let moved = line.replacen(
        &format!("\"seq\":{seq}"),
        &format!("\"seq\":{}", seq.parse::<i64>().unwrap() - 1),
        1,
    );
    std::fs::write(&file, moved).unwrap();
    let out = plant.mes(
        "admin",
        "admin-password",
        &[
            "audit",
            "verify",
            "--checkpoints",
            file_arg,
            "--key",
            key_arg,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CHECKPOINT REFUSED"), "{stderr}");
}
