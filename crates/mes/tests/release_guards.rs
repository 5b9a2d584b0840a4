//! Release is a decision with guards (issue 12, finding 1) and results follow genealogy
//! (finding 2), on SQLite and PostgreSQL. Each test reproduces what a QA engineer found:
//! a heat with failing results released from the CLI, a drum released while its heat had an
//! open NCR, a finished-product lot received as released and shipped with no QA signature,
//! drums showing "results missing" for results recorded on their heat.

mod common;

use lodestone_mes::command::SignatureInput;
use lodestone_mes::model::{Disposition, OrderAction, Severity, SignatureMeaning};
use lodestone_mes::quality::{certificate_html, Verdict};
use lodestone_mes::{Command, Envelope, Mes, MesError, Session};

const PLANT: &str = include_str!("../../../examples/mes/alloy-plant.toml");

/// The example plant, a PrNd lot, and heat H-7 produced (600 kg, not yet assayed). Returns the
/// operator and QA sessions.
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
        disposition: Some(Disposition::Released),
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
        composition_wt_pct: [("Nd".to_string(), 23.5), ("Pr".to_string(), 7.8)].into(),
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

/// A lab report on `lot`: Nd, Pr, B, O in wt% and the flake thickness in mm.
fn report(lot: &str, nd: f64, pr: f64, b: f64) -> Envelope {
    let r = |property: &str, value: f64, unit: &str| lodestone_mes::command::ResultValue {
        property: property.into(),
        value,
        unit: unit.into(),
    };
    Command::RecordResults {
        lot: lot.into(),
        sample: Some(format!("S-{lot}")),
        method: Some("ICP-OES".into()),
        at: None,
        results: vec![
            r("Nd", nd, "wt%"),
            r("Pr", pr, "wt%"),
            r("B", b, "wt%"),
            r("O", 0.021, "wt%"),
            r("flake_thickness_mm", 0.29, "mm"),
        ],
    }
    .into()
}

fn release(lot: &str) -> Envelope {
    Command::ReleaseLot {
        lot: lot.into(),
        signature: sign("qa1", "qa_password-pw"),
        deviation: None,
    }
    .into()
}

async fn split_into_drums(mes: &Mes, op: &Session) {
    mes.execute(
        op,
        Command::SplitLot {
            source: "H-7".into(),
            parts: (1..=3)
                .map(|d| lodestone_mes::command::LotQuantity {
                    lot: format!("H-7-D{d}"),
                    quantity_kg: 198.0,
                })
                .collect(),
            at: None,
        }
        .into(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_heat_with_failing_results_and_no_ncr_is_not_released() {
    for (backend, mes, admin, _dir) in common::backends("guard_failing").await {
        let (_op, qa) = plant_with_heat(&mes, &admin).await;
        // Pr 8.6 > 8.2 and B 1.05 > 0.99: the MES proposes rejection; nobody raised an NCR.
        mes.execute(&qa, report("H-7", 23.5, 8.6, 1.05))
            .await
            .unwrap();
        assert_eq!(
            mes.evaluate("H-7").await.unwrap().proposed,
            Disposition::Rejected
        );
        let refused = mes.execute(&qa, release("H-7")).await;
        let Err(e) = refused else {
            panic!("{backend}: released a heat failing Pr and B");
        };
        let text = e.to_string();
        assert!(
            text.contains("Pr") && text.contains("B") && text.contains("deviation"),
            "{backend}: the refusal names the failing results and the way out: {text}"
        );
        assert_eq!(
            mes.lot("H-7").await.unwrap().disposition,
            Disposition::Pending,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn a_lot_whose_results_are_missing_is_not_released() {
    for (backend, mes, admin, _dir) in common::backends("guard_missing").await {
        let (_op, qa) = plant_with_heat(&mes, &admin).await;
        let refused = mes.execute(&qa, release("H-7")).await;
        let Err(e) = refused else {
            panic!("{backend}: released a heat with no results against its specification");
        };
        assert!(e.to_string().contains("missing"), "{backend}: {e}");
    }
}

#[tokio::test]
async fn a_drum_is_not_released_while_its_heat_has_an_open_ncr() {
    for (backend, mes, admin, _dir) in common::backends("guard_ncr").await {
        let (op, qa) = plant_with_heat(&mes, &admin).await;
        split_into_drums(&mes, &op).await;
        mes.execute(&qa, report("H-7", 23.5, 8.6, 0.96))
            .await
            .unwrap();
        mes.execute(
            &qa,
            Command::RaiseNonconformance {
                id: "NCR-H-7".into(),
                lot: "H-7".into(),
                description: "Pr 8.6 outside 7.4–8.2".into(),
                severity: Severity::Major,
            }
            .into(),
        )
        .await
        .unwrap();
        let refused = mes.execute(&qa, release("H-7-D1")).await;
        let Err(e) = refused else {
            panic!("{backend}: released a drum while its heat's NCR is open");
        };
        assert!(e.to_string().contains("NCR-H-7"), "{backend}: {e}");
        assert_ne!(
            mes.lot("H-7-D1").await.unwrap().disposition,
            Disposition::Released,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn a_received_product_lot_cannot_be_shipped_without_a_qa_release() {
    for (backend, mes, admin, _dir) in common::backends("guard_receipt").await {
        let (op, _qa) = plant_with_heat(&mes, &admin).await;
        let receive = |disposition: Option<Disposition>, lot: &str| Command::ReceiveLot {
            lot: lot.into(),
            definition: "N52-flake".into(),
            quantity_kg: 200.0,
            supplier_lot: None,
            location: None,
            composition_wt_pct: Default::default(),
            disposition,
            at: None,
        };
        // An operator may not receive finished product as released.
        let asked = mes
            .execute(&op, receive(Some(Disposition::Released), "FP-1").into())
            .await;
        assert!(
            asked.is_err(),
            "{backend}: product received as released by an operator"
        );
        // Received with the default disposition, it is not released and cannot ship.
        mes.execute(&op, receive(None, "FP-2").into())
            .await
            .unwrap();
        assert_ne!(
            mes.lot("FP-2").await.unwrap().disposition,
            Disposition::Released,
            "{backend}: received product defaults to released"
        );
        let shipped = mes
            .execute(
                &op,
                Command::ShipLot {
                    lot: "FP-2".into(),
                    customer: "ACME Magnets".into(),
                    at: None,
                }
                .into(),
            )
            .await;
        assert!(
            matches!(shipped, Err(MesError::IllegalState { .. })),
            "{backend}: shipped with no QA signature: {shipped:?}"
        );
    }
}

#[tokio::test]
async fn drums_carry_their_heats_results_and_agree_with_its_chemistry() {
    for (backend, mes, admin, _dir) in common::backends("results_genealogy").await {
        let (op, qa) = plant_with_heat(&mes, &admin).await;
        split_into_drums(&mes, &op).await;
        // The lab reports on the heat after the drums were filled.
        mes.execute(&qa, report("H-7", 23.4, 7.9, 0.96))
            .await
            .unwrap();
        let drum = mes.evaluate("H-7-D2").await.unwrap();
        assert!(
            drum.checks.iter().all(|c| c.verdict == Verdict::Pass),
            "{backend}: the drum shows its heat's results: {}",
            drum.explanation
        );
        assert_eq!(drum.proposed, Disposition::Released, "{backend}");
        let heat = mes.lot("H-7").await.unwrap();
        let d2 = mes.lot("H-7-D2").await.unwrap();
        assert_eq!(
            heat.composition_wt_pct, d2.composition_wt_pct,
            "{backend}: heat and drum disagree about chemistry"
        );
        assert_eq!(d2.composition_wt_pct["Nd"], 23.4, "{backend}");
        // The drum's certificate shows the results, measured on the heat.
        let html = certificate_html(&mes.certificate("H-7-D2").await.unwrap(), "QA");
        assert!(html.contains("<td>23.4</td><td>pass</td>"), "{backend}");
        // A drum's own result takes precedence over its heat's.
        mes.execute(
            &qa,
            Command::RecordResult {
                lot: "H-7-D3".into(),
                sample: Some("S-D3".into()),
                property: "O".into(),
                value: 0.05,
                unit: "wt%".into(),
                method: Some("IGF".into()),
                at: None,
            }
            .into(),
        )
        .await
        .unwrap();
        let d3 = mes.evaluate("H-7-D3").await.unwrap();
        assert_eq!(d3.proposed, Disposition::Rejected, "{backend}");
        assert_eq!(d3.explanation, "out of specification: O", "{backend}");
        assert_eq!(
            mes.evaluate("H-7-D1").await.unwrap().proposed,
            Disposition::Released,
            "{backend}: a sibling's result is not inherited"
        );
    }
}
