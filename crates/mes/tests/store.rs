//! The MES store on SQLite and PostgreSQL: the same commands give the same state, refusals
//! leave nothing behind, retries do not duplicate, edits of stored events are caught, and the
//! projections rebuild exactly from the events.

mod common;

use std::collections::BTreeMap;

use lodestone_mes::command::{LotQuantity, SignatureInput};
use lodestone_mes::genealogy::Direction;
use lodestone_mes::model::{
    Disposition, Equipment, EquipmentLevel, LotStatus, MaterialDefinition, OrderAction, OrderState,
    Role, SignatureMeaning,
};
use lodestone_mes::{Command, Envelope, Mes, MesError, Session};

fn equipment(id: &str, level: EquipmentLevel, parent: Option<&str>) -> Command {
    Command::DefineEquipment(Equipment {
        id: id.into(),
        name: id.to_uppercase(),
        level,
        parent: parent.map(str::to_string),
        ideal_cycle_s: None,
    })
}

fn definition(id: &str, class: &str) -> Command {
    Command::DefineMaterialDefinition(MaterialDefinition {
        id: id.into(),
        name: id.into(),
        class: class.into(),
    })
}

fn composition(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(e, w)| (e.to_string(), *w)).collect()
}

fn receive(lot: &str, def: &str, kg: f64, chem: &[(&str, f64)]) -> Command {
    Command::ReceiveLot {
        lot: lot.into(),
        definition: def.into(),
        quantity_kg: kg,
        supplier_lot: Some(format!("SUP-{lot}")),
        location: Some("raw-store".into()),
        composition_wt_pct: composition(chem),
        disposition: None,
        at: None,
    }
}

fn action(order: &str, action: OrderAction) -> Command {
    Command::OrderAction {
        order: order.into(),
        action,
        equipment: None,
        at: None,
    }
}

/// A small alloy plant: site, area, one furnace, a store, materials, a work master and users.
async fn define_plant(mes: &Mes, admin: &Session) -> (Session, Session, Session) {
    let commands: Vec<Envelope> = vec![
        equipment("baotou", EquipmentLevel::Site, None),
        equipment("alloy", EquipmentLevel::Area, Some("baotou")),
        equipment("vim-01", EquipmentLevel::Unit, Some("alloy")),
        equipment("raw-store", EquipmentLevel::StorageZone, Some("alloy")),
        equipment("sx-line-1", EquipmentLevel::ProcessCell, Some("baotou")),
        Command::DefineMaterialClass {
            id: "metal".into(),
            name: "Metals".into(),
            receipt: Some(lodestone_mes::model::ReceiptPolicy::Certificate),
        },
        Command::DefineMaterialClass {
            id: "alloy".into(),
            name: "Alloys".into(),
            receipt: Some(lodestone_mes::model::ReceiptPolicy::Certificate),
        },
        definition("PrNd-metal", "metal"),
        definition("Fe", "metal"),
        definition("FeB", "metal"),
        definition("NdFeB-flake", "alloy"),
        definition("PrNd-chloride", "metal"),
        definition("PrNd-oxide", "metal"),
        Command::DefineProcessSegment {
            id: "melt-and-cast".into(),
            name: "melt-and-cast".into(),
            equipment_level: None,
        },
        Command::DefineWorkMaster {
            id: "VIM-SC-N52".into(),
            segment: "melt-and-cast".into(),
            product: "NdFeB-flake".into(),
            bill_kg_per_kg: composition(&[("PrNd-metal", 0.31), ("Fe", 0.6), ("FeB", 0.09)]),
            parameters: BTreeMap::new(),
        },
        Command::CreateUser {
            id: "op1".into(),
            name: "Oscar Operator".into(),
            roles: vec![Role::Operator],
            password: "operator-pw".into(),
        },
        Command::CreateUser {
            id: "qa1".into(),
            name: "Quinn QA".into(),
            roles: vec![Role::Qa],
            password: "qa-password".into(),
        },
        Command::CreateUser {
            id: "plan1".into(),
            name: "Pat Planner".into(),
            roles: vec![Role::Planner],
            password: "planner-pw".into(),
        },
    ]
    .into_iter()
    .map(Envelope::from)
    .collect();
    mes.execute_batch(admin, &commands).await.expect("plant");
    let op = mes.login("op1", "operator-pw").await.unwrap();
    let qa = mes.login("qa1", "qa-password").await.unwrap();
    let planner = mes.login("plan1", "planner-pw").await.unwrap();
    (op, qa, planner)
}

async fn event_count(mes: &Mes) -> usize {
    mes.events_after(0, 1_000_000).await.unwrap().len()
}

/// Receive raw lots, make a heat, split it into drums, blend drums, ship one.
async fn make_heat(mes: &Mes, op: &Session, planner: &Session) {
    for c in [
        receive("NDPR-1", "PrNd-metal", 400.0, &[("Nd", 75.0), ("Pr", 25.0)]),
        receive("NDPR-2", "PrNd-metal", 400.0, &[("Nd", 76.0), ("Pr", 24.0)]),
        receive("FE-1", "Fe", 2000.0, &[("Fe", 99.9)]),
        receive("FEB-1", "FeB", 300.0, &[("Fe", 80.0), ("B", 20.0)]),
    ] {
        mes.execute(op, c.into()).await.unwrap();
    }
    mes.execute(
        planner,
        Command::CreateOrder {
            id: "H-0001".into(),
            work_master: "VIM-SC-N52".into(),
            planned_kg: 600.0,
            equipment: Some("vim-01".into()),
            priority: 1,
        }
        .into(),
    )
    .await
    .unwrap();
    mes.execute(planner, action("H-0001", OrderAction::Release).into())
        .await
        .unwrap();
    mes.execute(op, action("H-0001", OrderAction::Start).into())
        .await
        .unwrap();
    for (lot, kg) in [
        ("NDPR-1", 100.0),
        ("NDPR-2", 86.0),
        ("FE-1", 360.0),
        ("FEB-1", 54.0),
    ] {
        mes.execute(
            op,
            Command::Consume {
                order: "H-0001".into(),
                lot: lot.into(),
                quantity_kg: kg,
                at: None,
            }
            .into(),
        )
        .await
        .unwrap();
    }
    mes.execute(
        op,
        Command::Produce {
            order: "H-0001".into(),
            lot: "H-0001".into(),
            quantity_kg: 594.0,
            material_use: None,
            definition: None,
            composition_wt_pct: composition(&[("Nd", 23.4), ("Pr", 7.5), ("Fe", 67.1), ("B", 1.8)]),
            location: None,
            at: None,
        }
        .into(),
    )
    .await
    .unwrap();
    mes.execute(op, action("H-0001", OrderAction::Complete).into())
        .await
        .unwrap();
    mes.execute(
        op,
        Command::SplitLot {
            source: "H-0001".into(),
            parts: (1..=3)
                .map(|i| LotQuantity {
                    lot: format!("H-0001-D{i}"),
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
async fn a_heat_is_made_traced_and_recalled_on_every_backend() {
    for (backend, mes, admin, _dir) in common::backends("heat").await {
        let (op, _qa, planner) = define_plant(&mes, &admin).await;
        make_heat(&mes, &op, &planner).await;

        let order = mes.order("H-0001").await.unwrap();
        assert_eq!(order.state, OrderState::Completed, "{backend}");
        assert_eq!(
            mes.lot("NDPR-1").await.unwrap().quantity_kg,
            300.0,
            "{backend}"
        );
        let heat = mes.lot("H-0001").await.unwrap();
        assert_eq!(
            heat.status,
            LotStatus::Consumed,
            "{backend}: split uses up the heat"
        );
        assert_eq!(heat.disposition, Disposition::Pending);

        // Backward from a drum: drum ← heat ← the four raw lots.
        let trace = mes
            .trace("H-0001-D2", Direction::Backward, 50)
            .await
            .unwrap();
        let ids: Vec<(&str, i64)> = trace
            .lots
            .iter()
            .map(|(l, d)| (l.id.as_str(), *d))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("H-0001-D2", 0),
                ("H-0001", 1),
                ("FE-1", 2),
                ("FEB-1", 2),
                ("NDPR-1", 2),
                ("NDPR-2", 2)
            ],
            "{backend}"
        );
        let ndpr1 = trace.edges.iter().find(|e| e.parent == "NDPR-1").unwrap();
        assert!((ndpr1.fraction - 100.0 / 600.0).abs() < 1e-12, "{backend}");

        // Recall NDPR-1: each drum is 1/6 NDPR-1 by mass: 198 kg × 100/600 = 33 kg.
        let scope = mes.recall_scope("NDPR-1").await.unwrap();
        let d1 = scope.iter().find(|i| i.lot.id == "H-0001-D1").unwrap();
        assert!((d1.fraction - 1.0 / 6.0).abs() < 1e-12, "{backend}");
        assert!((d1.suspect_kg - 33.0).abs() < 1e-9, "{backend}");
        assert_eq!(d1.action, "block stock");
        assert_eq!(scope.len(), 4, "{backend}: heat + 3 drums");

        // Element balance of the heat: Nd in = 100×0.75 + 86×0.76 = 140.36 kg; out 594×0.234.
        let balance = mes.element_balance("H-0001").await.unwrap();
        let nd = balance.elements["Nd"];
        assert!((nd.in_kg - 140.36).abs() < 1e-9, "{backend}");
        assert!((nd.out_kg - 138.996).abs() < 1e-9, "{backend}");
        assert!((balance.in_kg - 600.0).abs() < 1e-12 && (balance.out_kg - 594.0).abs() < 1e-12);

        let chain = mes.verify_chain().await.unwrap();
        assert_eq!(chain.events as usize, event_count(&mes).await);
    }
}

#[tokio::test]
async fn refused_commands_leave_no_trace() {
    for (backend, mes, admin, _dir) in common::backends("refusals").await {
        let (op, qa, planner) = define_plant(&mes, &admin).await;
        make_heat(&mes, &op, &planner).await;
        let before = event_count(&mes).await;
        let drum_before = mes.lot("H-0001-D1").await.unwrap();

        let consume = |lot: &str, kg: f64| Command::Consume {
            order: "H-0001".into(),
            lot: lot.into(),
            quantity_kg: kg,
            at: None,
        };
        // Unknown lot, negative quantity, order not running, more than available.
        let e = mes
            .execute(&op, receive("X", "Unobtainium", 1.0, &[]).into())
            .await;
        assert!(
            matches!(
                e,
                Err(MesError::NotFound {
                    kind: "material definition",
                    ..
                })
            ),
            "{backend}: {e:?}"
        );
        let e = mes.execute(&op, receive("X", "Fe", -5.0, &[]).into()).await;
        assert!(matches!(e, Err(MesError::Invalid { .. })), "{backend}");
        assert!(e.unwrap_err().to_string().contains("quantity_kg: -5"));
        let e = mes.execute(&op, consume("NO-SUCH-LOT", 1.0).into()).await;
        assert!(
            matches!(e, Err(MesError::IllegalState { .. })),
            "{backend}: completed order"
        );
        // Illegal transition: a completed order cannot start again.
        let e = mes
            .execute(&op, action("H-0001", OrderAction::Start).into())
            .await;
        let msg = e.unwrap_err().to_string();
        assert!(
            msg.contains("is completed: cannot start"),
            "{backend}: {msg}"
        );

        // Over-consumption in a fresh running order.
        mes.execute(
            &planner,
            Command::CreateOrder {
                id: "H-0002".into(),
                work_master: "VIM-SC-N52".into(),
                planned_kg: 600.0,
                equipment: Some("vim-01".into()),
                priority: 0,
            }
            .into(),
        )
        .await
        .unwrap();
        mes.execute(&planner, action("H-0002", OrderAction::Release).into())
            .await
            .unwrap();
        mes.execute(&op, action("H-0002", OrderAction::Start).into())
            .await
            .unwrap();
        let before = before + 3;
        let e = mes
            .execute(
                &op,
                Command::Consume {
                    order: "H-0002".into(),
                    lot: "NDPR-1".into(),
                    quantity_kg: 300.5,
                    at: None,
                }
                .into(),
            )
            .await;
        assert!(
            matches!(e, Err(MesError::InsufficientQuantity { .. })),
            "{backend}: {e:?}"
        );

        // Permissions: an operator may not define equipment; a planner may not consume.
        let e = mes
            .execute(
                &op,
                equipment("vim-02", EquipmentLevel::Unit, Some("alloy")).into(),
            )
            .await;
        assert!(
            matches!(e, Err(MesError::PermissionDenied { .. })),
            "{backend}"
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("needs a role with 'manage-master-data'"));
        let e = mes.execute(&planner, consume("FE-1", 1.0).into()).await;
        assert!(
            matches!(e, Err(MesError::PermissionDenied { .. })),
            "{backend}"
        );

        // QA hold, then release without a signature, with someone else's, with a wrong password.
        mes.execute(
            &qa,
            Command::HoldLot {
                lot: "H-0001-D1".into(),
            }
            .into(),
        )
        .await
        .unwrap();
        let before = before + 1;
        let release = |sig: Option<SignatureInput>| Command::ReleaseLot {
            lot: "H-0001-D1".into(),
            signature: sig,
            deviation: None,
        };
        let e = mes.execute(&qa, release(None).into()).await;
        assert!(matches!(e, Err(MesError::Signature(_))), "{backend}");
        let sig = |user: &str, pw: &str| {
            Some(SignatureInput {
                user: user.into(),
                password: pw.into(),
                meaning: SignatureMeaning::Approval,
            })
        };
        let e = mes
            .execute(&qa, release(sig("admin", "admin-password")).into())
            .await;
        assert!(
            matches!(e, Err(MesError::Signature(_))),
            "{backend}: not the logged-in user"
        );
        let e = mes.execute(&qa, release(sig("qa1", "wrong")).into()).await;
        assert!(matches!(e, Err(MesError::Signature(_))), "{backend}");
        // A held drum cannot be consumed or shipped.
        let e = mes
            .execute(
                &op,
                Command::Consume {
                    order: "H-0002".into(),
                    lot: "H-0001-D1".into(),
                    quantity_kg: 1.0,
                    at: None,
                }
                .into(),
            )
            .await;
        assert!(matches!(e, Err(MesError::IllegalState { .. })), "{backend}");

        // A batch with one bad command records nothing at all.
        let batch: Vec<Envelope> = vec![
            consume("FE-1", 10.0).into(),
            Command::Consume {
                order: "H-0002".into(),
                lot: "FE-1".into(),
                quantity_kg: 10.0,
                at: None,
            }
            .into(),
            Command::Consume {
                order: "H-0002".into(),
                lot: "FE-1".into(),
                quantity_kg: 1e9,
                at: None,
            }
            .into(),
        ];
        let e = mes.execute_batch(&op, &batch[1..]).await;
        match e {
            Err(MesError::InBatch { index, .. }) => assert_eq!(index, 1),
            other => panic!("{backend}: {other:?}"),
        }
        assert_eq!(
            event_count(&mes).await,
            before,
            "{backend}: nothing recorded"
        );
        assert_eq!(
            mes.lot("FE-1").await.unwrap().quantity_kg,
            1640.0,
            "{backend}"
        );
        assert_eq!(
            mes.lot("H-0001-D1").await.unwrap().quantity_kg,
            drum_before.quantity_kg
        );

        // Signed release by QA works, and the signature is bound to the drum's last event.
        mes.execute(&qa, release(sig("qa1", "qa-password")).into())
            .await
            .unwrap();
        let trail = mes.audit_trail("lot:H-0001-D1").await.unwrap();
        let last = trail.last().unwrap();
        assert_eq!(last.kind, "lot-released");
        let held = &trail[trail.len() - 2];
        assert!(
            last.payload.contains(&held.hash),
            "{backend}: signature names the held version"
        );
        assert!(
            last.payload.contains("\"meaning\":\"approval\"") && last.payload.contains("Quinn QA")
        );
        assert!(
            !last.payload.contains("qa-password"),
            "{backend}: password never stored"
        );

        // QA releases the other drums with one signature; refused whole when a lot is named
        // twice, is already released, or the signature is missing.
        let release_lots = |lots: &[&str], sig: Option<SignatureInput>| Command::ReleaseLots {
            lots: lots.iter().map(|l| l.to_string()).collect(),
            signature: sig,
            deviation: None,
        };
        let before = event_count(&mes).await;
        for (lots, signature) in [
            (vec!["H-0001-D2", "H-0001-D3"], None),
            (vec!["H-0001-D2", "H-0001-D2"], sig("qa1", "qa-password")),
            (vec!["H-0001-D2", "H-0001-D1"], sig("qa1", "qa-password")),
            (vec!["H-0001-D2", "NO-SUCH-LOT"], sig("qa1", "qa-password")),
        ] {
            let e = mes
                .execute(&qa, release_lots(&lots, signature).into())
                .await;
            assert!(e.is_err(), "{backend}: {lots:?}");
        }
        assert_eq!(event_count(&mes).await, before, "{backend}");
        let d2_last = mes.audit_trail("lot:H-0001-D2").await.unwrap();
        let d3_last = mes.audit_trail("lot:H-0001-D3").await.unwrap();
        mes.execute(
            &qa,
            release_lots(&["H-0001-D2", "H-0001-D3"], sig("qa1", "qa-password")).into(),
        )
        .await
        .unwrap();
        for lot in ["H-0001-D2", "H-0001-D3"] {
            assert_eq!(
                mes.lot(lot).await.unwrap().disposition,
                Disposition::Released,
                "{backend}"
            );
        }
        // The signature is bound to both drums' last versions.
        let trail = mes.audit_trail("lot:H-0001-D3").await.unwrap();
        let last = trail.last().unwrap();
        assert_eq!(last.kind, "lots-released");
        let mut h = sha2::Sha256::new();
        use sha2::Digest;
        h.update(format!("lot:H-0001-D2={}\n", d2_last.last().unwrap().hash).as_bytes());
        h.update(format!("lot:H-0001-D3={}\n", d3_last.last().unwrap().hash).as_bytes());
        let bound: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert!(last.payload.contains(&bound), "{backend}: {}", last.payload);
        let coa = mes.certificate("H-0001-D3").await.unwrap();
        assert!(coa.release.is_some(), "{backend}");

        // A lab report is one event; a second report names the values it supersedes.
        let report = |nd: f64| Command::RecordResults {
            lot: "H-0001-D3".into(),
            sample: Some("S-1".into()),
            method: Some("ICP-OES".into()),
            at: None,
            results: vec![
                lodestone_mes::command::ResultValue {
                    property: "Nd".into(),
                    value: nd,
                    unit: "wt%".into(),
                },
                lodestone_mes::command::ResultValue {
                    property: "thickness".into(),
                    value: 0.31,
                    unit: "mm".into(),
                },
            ],
        };
        mes.execute(&qa, report(22.4).into()).await.unwrap();
        mes.execute(&qa, report(22.5).into()).await.unwrap();
        let trail = mes.audit_trail("lot:H-0001-D3").await.unwrap();
        let last = trail.last().unwrap();
        assert_eq!(last.kind, "results-recorded");
        assert!(
            last.payload
                .contains("\"property\":\"Nd\",\"value\":22.5,\"unit\":\"wt%\",\"previous\":22.4"),
            "{backend}: {}",
            last.payload
        );
        let twice = Command::RecordResults {
            lot: "H-0001-D3".into(),
            sample: None,
            method: None,
            at: None,
            results: vec![
                lodestone_mes::command::ResultValue {
                    property: "Nd".into(),
                    value: 1.0,
                    unit: "wt%".into(),
                };
                2
            ],
        };
        let e = mes.execute(&qa, twice.into()).await;
        assert!(
            matches!(e, Err(MesError::Invalid { .. })),
            "{backend}: {e:?}"
        );
    }
}

#[tokio::test]
async fn retries_with_a_client_id_do_not_duplicate() {
    for (backend, mes, admin, _dir) in common::backends("retry").await {
        let (op, _qa, _planner) = define_plant(&mes, &admin).await;
        let cmd = Envelope::from(receive("FE-9", "Fe", 100.0, &[("Fe", 99.8)]))
            .with_client_id("scale-7:000123");
        let first = mes.execute(&op, cmd.clone()).await.unwrap();
        let again = mes.execute(&op, cmd.clone()).await.unwrap();
        assert!(!first.duplicate && again.duplicate, "{backend}");
        assert_eq!(first.seq, again.seq);
        // In one batch, too.
        let batch = vec![
            Envelope::from(receive("FE-10", "Fe", 1.0, &[])).with_client_id("k-1"),
            Envelope::from(receive("FE-10", "Fe", 1.0, &[])).with_client_id("k-1"),
        ];
        let receipts = mes.execute_batch(&op, &batch).await.unwrap();
        assert!(
            receipts[1].duplicate && receipts[0].seq == receipts[1].seq,
            "{backend}"
        );
        assert_eq!(mes.lot("FE-9").await.unwrap().quantity_kg, 100.0);
    }
}

#[tokio::test]
async fn projections_rebuild_exactly_from_the_events() {
    for (backend, mes, admin, _dir) in common::backends("rebuild").await {
        let (op, _qa, planner) = define_plant(&mes, &admin).await;
        make_heat(&mes, &op, &planner).await;
        let lots_before = mes.lots(None, 1000).await.unwrap();
        let orders_before = mes.orders().await.unwrap();
        let trace_before = mes
            .trace("H-0001-D3", Direction::Backward, 10)
            .await
            .unwrap();
        let replayed = mes.rebuild_projections().await.unwrap();
        assert_eq!(replayed as usize, event_count(&mes).await, "{backend}");
        assert_eq!(
            mes.lots(None, 1000).await.unwrap(),
            lots_before,
            "{backend}"
        );
        assert_eq!(mes.orders().await.unwrap(), orders_before, "{backend}");
        assert_eq!(
            mes.trace("H-0001-D3", Direction::Backward, 10)
                .await
                .unwrap(),
            trace_before
        );
        mes.login("qa1", "qa-password")
            .await
            .expect("users rebuilt with hashes");
    }
}

#[tokio::test]
async fn continuous_output_draws_on_the_feeds_of_its_window() {
    for (backend, mes, admin, _dir) in common::backends("continuous").await {
        let (op, _qa, _planner) = define_plant(&mes, &admin).await;
        for (lot, kg) in [("FEED-A", 1000.0), ("FEED-B", 1000.0)] {
            mes.execute(
                &op,
                receive(lot, "PrNd-chloride", kg, &[("Nd", 30.0), ("Pr", 10.0)]).into(),
            )
            .await
            .unwrap();
        }
        // A fed 00:00–10:00 (100 kg/h), B fed 10:00–20:00 (100 kg/h).
        for (lot, from, to) in [
            ("FEED-A", "2026-12-01T00:00:00Z", "2026-12-01T10:00:00Z"),
            ("FEED-B", "2026-12-01T10:00:00Z", "2026-12-01T20:00:00Z"),
        ] {
            mes.execute(
                &op,
                Command::FeedContinuous {
                    equipment: "sx-line-1".into(),
                    lot: lot.into(),
                    quantity_kg: 1000.0,
                    from: from.into(),
                    to: to.into(),
                }
                .into(),
            )
            .await
            .unwrap();
        }
        // Product 10:00–14:00 with a 2 h residence time draws on 08:00–12:00: 200 kg A, 200 kg B.
        mes.execute(
            &op,
            Command::OutputContinuous {
                equipment: "sx-line-1".into(),
                lot: "OX-1".into(),
                definition: "PrNd-oxide".into(),
                quantity_kg: 150.0,
                from: "2026-12-01T10:00:00Z".into(),
                to: "2026-12-01T14:00:00Z".into(),
                residence_time_s: 7200.0,
                composition_wt_pct: BTreeMap::new(),
            }
            .into(),
        )
        .await
        .unwrap();
        let trace = mes.trace("OX-1", Direction::Backward, 5).await.unwrap();
        let step = &trace.steps[0];
        assert!(
            (step.inputs["FEED-A"] - 200.0).abs() < 1e-9,
            "{backend}: {step:?}"
        );
        assert!((step.inputs["FEED-B"] - 200.0).abs() < 1e-9, "{backend}");
        let scope = mes.recall_scope("FEED-A").await.unwrap();
        assert!((scope[0].fraction - 0.5).abs() < 1e-12, "{backend}");
        // A window with no feed is refused with a hint.
        let e = mes
            .execute(
                &op,
                Command::OutputContinuous {
                    equipment: "sx-line-1".into(),
                    lot: "OX-2".into(),
                    definition: "PrNd-oxide".into(),
                    quantity_kg: 1.0,
                    from: "2026-12-02T10:00:00Z".into(),
                    to: "2026-12-02T11:00:00Z".into(),
                    residence_time_s: 0.0,
                    composition_wt_pct: BTreeMap::new(),
                }
                .into(),
            )
            .await;
        assert!(
            e.unwrap_err().to_string().contains("feed-continuous"),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn an_edited_event_row_is_caught_by_verify() {
    for (backend, mes, admin, _dir) in common::backends("tamper").await {
        let (op, _qa, planner) = define_plant(&mes, &admin).await;
        make_heat(&mes, &op, &planner).await;
        mes.verify_chain().await.expect("intact chain verifies");
        // The database refuses edits of events outright...
        let edit = "UPDATE events SET payload = REPLACE(payload, '100.0', '10.0') WHERE kind = 'material-consumed'";
        assert!(
            sqlx::query(edit).execute(mes.db().pool()).await.is_err(),
            "{backend}: trigger"
        );
        // ...and an edit that bypasses the trigger is caught by the chain.
        let drop = match mes.db().backend() {
            lodestone_mes::db::Backend::Sqlite => "DROP TRIGGER events_append_only_update",
            lodestone_mes::db::Backend::Postgres => "DROP TRIGGER events_append_only ON events",
        };
        sqlx::query(drop).execute(mes.db().pool()).await.unwrap();
        let changed = sqlx::query(edit).execute(mes.db().pool()).await.unwrap();
        assert!(changed.rows_affected() >= 1);
        match mes.verify_chain().await {
            Err(MesError::ChainBroken { seq, reason }) => {
                assert!(
                    seq > 1 && reason.contains("edited"),
                    "{backend}: {seq} {reason}"
                )
            }
            other => panic!("{backend}: tampering not caught: {other:?}"),
        }
    }
}

#[tokio::test]
/// Four writers interleave on separate connections (the runtime switches tasks at every await,
/// so their transactions overlap in the database).
async fn concurrent_writers_keep_one_unbroken_chain() {
    for (backend, mes, admin, _dir) in common::backends("concurrent").await {
        let (op, _qa, _planner) = define_plant(&mes, &admin).await;
        let before = event_count(&mes).await;
        let mut tasks = Vec::new();
        for writer in 0..4 {
            let (mes, op) = (mes.clone(), op.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..25 {
                    let lot = format!("W{writer}-{i}");
                    let cmd = Envelope::from(receive(&lot, "Fe", 10.0, &[("Fe", 99.9)]))
                        .with_client_id(format!("writer-{writer}:{i}"));
                    mes.execute(&op, cmd).await.expect("concurrent write");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let chain = mes.verify_chain().await.expect("one unbroken chain");
        assert_eq!(chain.events as usize, before + 100, "{backend}");
        assert_eq!(
            mes.lots(Some("Fe"), 1000).await.unwrap().len(),
            100,
            "{backend}"
        );
    }
}
