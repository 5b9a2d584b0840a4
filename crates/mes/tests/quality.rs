//! Quality on SQLite and PostgreSQL: specifications from the plant file, lab results imported
//! from CSV, proposed dispositions, corrections that keep the original value, nonconformances,
//! signed release and the certificate of analysis.

mod common;

use lodestone_mes::command::SignatureInput;
use lodestone_mes::model::{
    Disposition, NonconformanceDecision, OrderAction, Severity, SignatureMeaning,
};
use lodestone_mes::quality::{certificate_html, parse_results_csv, Verdict};
use lodestone_mes::{Command, Envelope, Mes, MesError, Session};

const PLANT: &str = include_str!("../../../examples/mes/alloy-plant.toml");

async fn plant_with_heat(mes: &Mes, admin: &Session) -> (Session, Session) {
    let commands = lodestone_mes::plant::plant_commands("alloy-plant.toml", PLANT, |var| {
        Some(format!("{}-pw", var.to_lowercase()))
    })
    .unwrap();
    let envelopes: Vec<Envelope> = commands.into_iter().map(Envelope::from).collect();
    mes.execute_batch(admin, &envelopes).await.unwrap();
    let op = mes.login("op1", "operator_password-pw").await.unwrap();
    let qa = mes.login("qa1", "qa_password-pw").await.unwrap();
    let run = |c: Command| async { mes.execute(admin, c.into()).await.unwrap() };
    run(Command::ReceiveLot {
        lot: "NDPR-1".into(),
        definition: "PrNd-metal".into(),
        quantity_kg: 500.0,
        supplier_lot: Some("BT-7781".into()),
        location: None,
        composition_wt_pct: [("Nd".to_string(), 75.0), ("Pr".to_string(), 25.0)].into(),
        disposition: None,
        at: None,
    })
    .await;
    run(Command::CreateOrder {
        id: "H-7".into(),
        work_master: "VIM-SC-N52".into(),
        planned_kg: 600.0,
        equipment: Some("vim-sc-01".into()),
        priority: 0,
    })
    .await;
    for action in [OrderAction::Release, OrderAction::Start] {
        run(Command::OrderAction {
            order: "H-7".into(),
            action,
            equipment: None,
            at: None,
        })
        .await;
    }
    run(Command::Consume {
        order: "H-7".into(),
        lot: "NDPR-1".into(),
        quantity_kg: 189.0,
        at: None,
    })
    .await;
    run(Command::Produce {
        order: "H-7".into(),
        lot: "H-7".into(),
        quantity_kg: 594.0,
        material_use: None,
        definition: None,
        composition_wt_pct: Default::default(),
        location: None,
        at: None,
    })
    .await;
    (op, qa)
}

fn sign(user: &str, password: &str) -> Option<SignatureInput> {
    Some(SignatureInput {
        user: user.into(),
        password: password.into(),
        meaning: SignatureMeaning::Approval,
    })
}

#[tokio::test]
async fn the_plant_model_reads_back_what_the_plant_file_defined() {
    for (backend, mes, admin, _dir) in common::backends("plant_model").await {
        plant_with_heat(&mes, &admin).await;
        let model = mes.plant_model().await.unwrap();
        let ids = |v: Vec<&str>| v.join(",");
        assert_eq!(
            ids(model.equipment.iter().map(|e| e.id.as_str()).collect()),
            "alloy,baotou,batching-1,flake-store,lodestone,raw-store,vim-sc-01",
            "{backend}"
        );
        let vim = model
            .equipment
            .iter()
            .find(|e| e.id == "vim-sc-01")
            .unwrap();
        assert_eq!(vim.ideal_cycle_s, Some(4500.0), "{backend}");
        assert_eq!(vim.parent.as_deref(), Some("alloy"), "{backend}");
        assert_eq!(model.material_classes.len(), 3, "{backend}");
        assert_eq!(model.material_definitions.len(), 5, "{backend}");
        assert_eq!(model.process_segments[0].id, "melt-and-cast", "{backend}");
        assert_eq!(model.work_masters.len(), 1, "{backend}");
        assert_eq!(
            (
                model.work_masters[0].id.as_str(),
                model.work_masters[0].version
            ),
            ("VIM-SC-N52", 1),
            "{backend}"
        );
        assert!(model.work_masters[0]
            .bill_kg_per_kg
            .contains_key("PrNd-metal"));
        assert_eq!(model.specifications.len(), 1, "{backend}");
        assert_eq!(model.specifications[0].limits.len(), 5, "{backend}");
    }
}

#[tokio::test]
async fn lab_results_drive_the_proposed_disposition_and_the_certificate() {
    for (backend, mes, admin, _dir) in common::backends("quality").await {
        let (op, qa) = plant_with_heat(&mes, &admin).await;
        let spec = mes
            .specification("N52-flake")
            .await
            .unwrap()
            .expect("spec from plant file");
        assert_eq!((spec.version, spec.limits.len()), (1, 5), "{backend}");
        let due = mes.sampling_due().await.unwrap();
        assert_eq!(
            due,
            vec![("H-7".to_string(), "N52-flake".to_string(), Some(200.0))],
            "{backend}"
        );

        // Nothing measured yet: pending, every limit missing.
        let e = mes.evaluate("H-7").await.unwrap();
        assert_eq!(e.proposed, Disposition::Pending, "{backend}");
        assert!(e.checks.iter().all(|c| c.verdict == Verdict::Missing));

        // The lab's CSV: Nd out of its band (24.3 > 24.1).
        let csv = "lot,sample,property,value,unit,method\n\
                   H-7,S-1,Nd,24.3,wt%,ICP-OES\nH-7,S-1,Pr,7.9,wt%,ICP-OES\nH-7,S-1,B,0.96,wt%,ICP-OES\n\
                   H-7,S-1,O,0.021,wt%,IGF\nH-7,S-1,flake_thickness_mm,0.29,mm,micrometer\n";
        let commands = parse_results_csv("lab.csv", csv).unwrap();
        let envelopes: Vec<Envelope> = commands.into_iter().map(Envelope::from).collect();
        // Operators may not record lab results.
        let e = mes.execute_batch(&op, &envelopes).await;
        assert!(matches!(e, Err(MesError::InBatch { .. })), "{backend}");
        mes.execute_batch(&qa, &envelopes).await.unwrap();
        let e = mes.evaluate("H-7").await.unwrap();
        assert_eq!(
            e.proposed,
            Disposition::Rejected,
            "{backend}: {}",
            e.explanation
        );
        assert_eq!(e.explanation, "out of specification: Nd");
        assert_eq!(
            mes.lot("H-7").await.unwrap().composition_wt_pct["Nd"],
            24.3,
            "{backend}: assay is the lot's chemistry"
        );

        // A re-assay corrects Nd; the first value stays in the record.
        mes.execute(
            &qa,
            Envelope::from(Command::RecordResult {
                lot: "H-7".into(),
                sample: Some("S-2".into()),
                property: "Nd".into(),
                value: 23.6,
                unit: "wt%".into(),
                method: Some("ICP-OES".into()),
                at: None,
            })
            .with_reason("re-assay: S-1 dilution error"),
        )
        .await
        .unwrap();
        let results = mes.results("H-7").await.unwrap();
        let nd: Vec<f64> = results
            .iter()
            .filter(|r| r.property == "Nd")
            .map(|r| r.value)
            .collect();
        assert_eq!(nd, vec![24.3, 23.6], "{backend}");
        let trail = mes.audit_trail("lot:H-7").await.unwrap();
        let last = trail.last().unwrap();
        assert!(
            last.payload.contains("\"previous\":24.3")
                && last.reason.as_deref() == Some("re-assay: S-1 dilution error")
        );
        let e = mes.evaluate("H-7").await.unwrap();
        assert_eq!(
            e.proposed,
            Disposition::Released,
            "{backend}: {}",
            e.explanation
        );

        // An NCR holds the lot; closing it needs a signature.
        mes.execute(
            &qa,
            Command::RaiseNonconformance {
                id: "NCR-1".into(),
                lot: "H-7".into(),
                description: "Nd re-assayed after a dilution error".into(),
                severity: Severity::Minor,
            }
            .into(),
        )
        .await
        .unwrap();
        assert_eq!(
            mes.lot("H-7").await.unwrap().disposition,
            Disposition::Held,
            "{backend}"
        );
        let e = mes
            .execute(
                &qa,
                Command::CloseNonconformance {
                    id: "NCR-1".into(),
                    decision: NonconformanceDecision::UseAsIs,
                    signature: None,
                }
                .into(),
            )
            .await;
        assert!(matches!(e, Err(MesError::Signature(_))), "{backend}");
        mes.execute(
            &qa,
            Command::CloseNonconformance {
                id: "NCR-1".into(),
                decision: NonconformanceDecision::UseAsIs,
                signature: sign("qa1", "qa_password-pw"),
            }
            .into(),
        )
        .await
        .unwrap();
        let ncrs = mes.nonconformances(Some("H-7")).await.unwrap();
        assert_eq!(
            (ncrs[0].state.as_str(), ncrs[0].decision.as_deref()),
            ("closed", Some("use-as-is"))
        );

        // Certificate before and after the signed release.
        let html = certificate_html(&mes.certificate("H-7").await.unwrap(), "Baotou works QA");
        assert!(
            html.contains("NOT RELEASED") && html.contains("H-7"),
            "{backend}"
        );
        mes.execute(
            &qa,
            Command::ReleaseLot {
                lot: "H-7".into(),
                signature: sign("qa1", "qa_password-pw"),
                deviation: None,
            }
            .into(),
        )
        .await
        .unwrap();
        let cert = mes.certificate("H-7").await.unwrap();
        assert_eq!(
            cert.origins,
            vec![(
                "NDPR-1".to_string(),
                "PrNd-metal".to_string(),
                Some("BT-7781".to_string())
            )]
        );
        let html = certificate_html(&cert, "Baotou works QA");
        assert!(
            html.contains("Released by <strong>Quinn Quality</strong>") && html.contains("BT-7781"),
            "{backend}"
        );
        assert!(html.contains("<td>23.6</td><td>pass</td>"), "{backend}");
        assert!(mes.sampling_due().await.unwrap().is_empty());
    }
}

#[test]
fn lab_csv_errors_name_the_line_and_column() {
    let e = parse_results_csv("lab.csv", "lot,property,value\nH-1,Nd,23\n").unwrap_err();
    assert!(e.to_string().contains("no 'unit' column"), "{e}");
    let e = parse_results_csv(
        "lab.csv",
        "lot,property,value,unit\nH-1,Nd,23,wt%\nH-1,Pr,seven,wt%\n",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "lab.csv: line 3, column value: 'seven' is not a number"
    );
    let e = parse_results_csv("lab.csv", "lot,property,value,unit\n,Nd,23,wt%\n").unwrap_err();
    assert_eq!(e.to_string(), "lab.csv: line 2, column lot: empty");
}
