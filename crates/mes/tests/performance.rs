//! OEE and SPC from the record, on SQLite and PostgreSQL: a shift of state events and 19,271
//! produced units reproduces the published OEE worked example, and lab results feed a chart.

mod common;

use lodestone_mes::model::{
    Equipment, EquipmentLevel, EquipmentState, MaterialDefinition, MaterialUse, OrderAction,
};
use lodestone_mes::{Command, Envelope};

#[tokio::test]
async fn a_recorded_shift_gives_the_published_oee() {
    for (backend, mes, admin, _dir) in common::backends("oee").await {
        let setup: Vec<Envelope> = vec![
            Command::DefineEquipment(Equipment {
                id: "line-1".into(),
                name: "Line 1".into(),
                level: EquipmentLevel::ProductionLine,
                parent: None,
                ideal_cycle_s: Some(1.0),
            }),
            Command::DefineMaterialClass {
                id: "parts".into(),
                name: "Parts".into(),
                receipt: Some(lodestone_mes::model::ReceiptPolicy::Certificate),
            },
            Command::DefineMaterialDefinition(MaterialDefinition {
                id: "part".into(),
                name: "Part".into(),
                class: "parts".into(),
            }),
            Command::DefineProcessSegment {
                id: "press".into(),
                name: "press".into(),
                equipment_level: None,
            },
            Command::DefineWorkMaster {
                id: "make-part".into(),
                segment: "press".into(),
                product: "part".into(),
                bill_kg_per_kg: Default::default(),
                parameters: Default::default(),
            },
            Command::CreateOrder {
                id: "SHIFT-1".into(),
                work_master: "make-part".into(),
                planned_kg: 200.0,
                equipment: Some("line-1".into()),
                priority: 0,
            },
            Command::OrderAction {
                order: "SHIFT-1".into(),
                action: OrderAction::Release,
                equipment: None,
                at: Some("2026-12-01T07:55:00Z".into()),
            },
            Command::OrderAction {
                order: "SHIFT-1".into(),
                action: OrderAction::Start,
                equipment: None,
                at: Some("2026-12-01T08:00:00Z".into()),
            },
        ]
        .into_iter()
        .map(Envelope::from)
        .collect();
        mes.execute_batch(&admin, &setup).await.unwrap();
        // mes.md (b8): 480 min shift, 60 min of breaks, 47 min of stops → run time 373 min.
        let states = [
            ("2026-12-01T08:00:00Z", EquipmentState::Running),
            ("2026-12-01T10:00:00Z", EquipmentState::UnplannedDown),
            ("2026-12-01T10:47:00Z", EquipmentState::Running),
            ("2026-12-01T12:00:00Z", EquipmentState::Break),
            ("2026-12-01T13:00:00Z", EquipmentState::Running),
        ];
        let events: Vec<Envelope> = states
            .iter()
            .map(|(at, state)| {
                Command::SetEquipmentState {
                    equipment: "line-1".into(),
                    state: *state,
                    at: Some(at.to_string()),
                    cause: None,
                }
                .into()
            })
            .collect();
        mes.execute_batch(&admin, &events).await.unwrap();
        // 19,271 units, 423 of them scrap (mes.md (b8)), spread over the running time.
        let units: Vec<Envelope> = (0..19_271)
            .map(|i| {
                let second = 8 * 3600 + (i as i64 * 7 * 3600) / 19_271;
                Command::Produce {
                    order: "SHIFT-1".into(),
                    lot: format!("U-{i:05}"),
                    quantity_kg: 0.01,
                    material_use: Some(if i % 45 == 0 && i / 45 < 423 {
                        MaterialUse::Scrap
                    } else {
                        MaterialUse::Produced
                    }),
                    definition: None,
                    composition_wt_pct: Default::default(),
                    location: None,
                    at: Some(format!(
                        "2026-12-01T{:02}:{:02}:{:02}Z",
                        second / 3600,
                        second / 60 % 60,
                        second % 60
                    )),
                }
                .into()
            })
            .collect();
        for chunk in units.chunks(5000) {
            mes.execute_batch(&admin, chunk).await.unwrap();
        }
        let r = mes
            .oee("line-1", "2026-12-01T08:00:00Z", "2026-12-01T16:00:00Z")
            .await
            .unwrap();
        let o = &r.oee;
        assert_eq!((o.total_count, o.good_count), (19_271, 18_848), "{backend}");
        assert_eq!(o.planned_production_time_s, 420.0 * 60.0, "{backend}");
        assert_eq!(o.run_time_s, 373.0 * 60.0);
        assert!((o.availability - 373.0 / 420.0).abs() < 1e-15);
        assert!((o.performance - 19_271.0 / (373.0 * 60.0)).abs() < 1e-15);
        assert!((o.quality - 18_848.0 / 19_271.0).abs() < 1e-15);
        // mes.md (b8): OEE = 0.7479365 (74.79 %), = good × ideal / planned = 18848 / 25200.
        assert!((o.oee - 0.7479365).abs() < 5e-8, "{backend}: {}", o.oee);
        assert!((o.oee - 18_848.0 / 25_200.0).abs() < 1e-15);
        assert_eq!(r.unrecorded_s, 0.0);
        // A window before any state: all idle, nothing produced.
        let early = mes
            .oee("line-1", "2026-12-01T06:00:00Z", "2026-12-01T07:00:00Z")
            .await
            .unwrap();
        assert_eq!((early.unrecorded_s, early.oee.total_count), (3600.0, 0));
        let e = mes
            .oee("line-1", "2026-12-01T09:00:00Z", "2026-12-01T08:00:00Z")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("a time after from"), "{e}");
    }
}
