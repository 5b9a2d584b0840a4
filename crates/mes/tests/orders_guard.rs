//! Orders run where they can and complete only with a record (issue 12, finding 6), on SQLite
//! and PostgreSQL: an order placed on a storage zone was accepted, and an order completed with
//! nothing consumed or produced.

mod common;

use lodestone_mes::model::{Disposition, OrderAction};
use lodestone_mes::{Command, Envelope, MesError};

const PLANT: &str = include_str!("../../../examples/mes/alloy-plant.toml");

fn action(order: &str, action: OrderAction) -> Envelope {
    Command::OrderAction {
        order: order.into(),
        action,
        equipment: None,
        at: None,
    }
    .into()
}

#[tokio::test]
async fn orders_run_on_units_and_complete_only_with_consumption_and_production() {
    for (backend, mes, admin, _dir) in common::backends("orders_guard").await {
        let commands = lodestone_mes::plant::plant_commands("alloy-plant.toml", PLANT, |var| {
            Some(format!("{}-pw", var.to_lowercase()))
        })
        .unwrap();
        let envelopes: Vec<Envelope> = commands.into_iter().map(Envelope::from).collect();
        mes.execute_batch(&admin, &envelopes).await.unwrap();
        let order = |id: &str, equipment: &str| -> Envelope {
            Command::CreateOrder {
                id: id.into(),
                work_master: "VIM-SC-N52".into(),
                planned_kg: 600.0,
                equipment: Some(equipment.into()),
                priority: 0,
            }
            .into()
        };
        // A storage zone does not melt.
        let e = mes
            .execute(&admin, order("H-1", "raw-store"))
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("order.equipment")
                && text.contains("StorageZone")
                && text.contains("Unit"),
            "{backend}: {text}"
        );
        // Nor is a plain order dispatched to one.
        mes.execute(
            &admin,
            Command::CreateOrder {
                id: "H-2".into(),
                work_master: "VIM-SC-N52".into(),
                planned_kg: 600.0,
                equipment: None,
                priority: 0,
            }
            .into(),
        )
        .await
        .unwrap();
        mes.execute(&admin, action("H-2", OrderAction::Release))
            .await
            .unwrap();
        let e = mes
            .execute(
                &admin,
                Command::OrderAction {
                    order: "H-2".into(),
                    action: OrderAction::Dispatch,
                    equipment: Some("flake-store".into()),
                    at: None,
                }
                .into(),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("StorageZone"), "{backend}: {e}");

        // On the furnace: started, but nothing recorded → cannot complete.
        mes.execute(&admin, order("H-3", "vim-sc-01"))
            .await
            .unwrap();
        for a in [OrderAction::Release, OrderAction::Start] {
            mes.execute(&admin, action("H-3", a)).await.unwrap();
        }
        let e = mes
            .execute(&admin, action("H-3", OrderAction::Complete))
            .await
            .unwrap_err();
        assert!(
            matches!(e, MesError::IllegalState { .. })
                && e.to_string().contains("no consumption and no production"),
            "{backend}: {e}"
        );
        // Consumed and produced in the same batch as the completion: accepted.
        let batch: Vec<Envelope> = vec![
            Command::ReceiveLot {
                lot: "FE-1".into(),
                definition: "Fe".into(),
                quantity_kg: 400.0,
                supplier_lot: None,
                location: None,
                composition_wt_pct: [("Fe".to_string(), 99.9)].into(),
                disposition: Some(Disposition::Released),
                at: None,
            }
            .into(),
            Command::Consume {
                order: "H-3".into(),
                lot: "FE-1".into(),
                quantity_kg: 379.0,
                at: None,
            }
            .into(),
            Command::Produce {
                order: "H-3".into(),
                lot: "H-3".into(),
                quantity_kg: 375.0,
                material_use: None,
                definition: None,
                composition_wt_pct: Default::default(),
                location: None,
                at: None,
            }
            .into(),
            action("H-3", OrderAction::Complete),
        ];
        mes.execute_batch(&admin, &batch).await.unwrap();
        assert_eq!(
            mes.order("H-3").await.unwrap().state.as_str(),
            "completed",
            "{backend}"
        );
        // The product has no chemistry yet: its element losses are unknown, not 100 %.
        let balance = mes.element_balance("H-3").await.unwrap();
        assert_eq!(balance.lots_without_chemistry, vec!["H-3".to_string()]);
        assert_eq!(balance.elements["Fe"].loss_kg, None, "{backend}");
        // After the assay the balance closes; a reading above the input is a gain, signed.
        mes.execute(
            &admin,
            Command::RecordResult {
                lot: "H-3".into(),
                sample: None,
                property: "Fe".into(),
                value: 100.0,
                unit: "wt%".into(),
                method: Some("XRF".into()),
                at: None,
            }
            .into(),
        )
        .await
        .unwrap();
        let fe = mes.element_balance("H-3").await.unwrap().elements["Fe"];
        // 379 kg × 99.9 % in, 375 kg × 100 % out.
        assert!(
            (fe.loss_kg.unwrap() - (378.621 - 375.0)).abs() < 1e-9,
            "{backend}: {fe:?}"
        );

        // The audit trail says from → to, and is searched by record, user and time.
        let trail = mes
            .audit_search(Some("order:H-3"), Some("admin"), None, None, 100)
            .await
            .unwrap();
        let lines: Vec<String> = trail
            .iter()
            .map(|r| {
                serde_json::from_str::<lodestone_mes::event::Event>(&r.payload)
                    .unwrap()
                    .summary()
            })
            .collect();
        assert!(
            lines
                .iter()
                .any(|l| l == "order H-3: running → completed (complete)"),
            "{backend}: {lines:?}"
        );
        let later = mes
            .audit_search(
                Some("order:H-3"),
                None,
                Some("2100-01-01T00:00:00Z"),
                None,
                100,
            )
            .await
            .unwrap();
        assert!(later.is_empty(), "{backend}");
        let nobody = mes
            .audit_search(None, Some("op1"), None, None, 100)
            .await
            .unwrap();
        assert!(nobody.is_empty(), "{backend}: op1 did nothing");
        let e = mes
            .audit_search(None, None, Some("yesterday"), None, 10)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("from"), "{backend}: {e}");
    }
}
