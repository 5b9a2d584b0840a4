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

/// The worked example of docs/mes.md ("OEE"; hand-computed in tests/oee.rs
/// `worked_example_of_a_melting_week`) recorded as a melting line's week: 72 heats, each an
/// order that produces a flake lot and weighs out a residue lot (scrap of another definition:
/// not a unit); one heat gets a nonconformance, one fails its specification at the lab (no NCR
/// yet), one passes. Expected: 72 units, 2 rejects; U 128/168, A 0.9375, P 417,600/432,000,
/// Q 70/72, OEE 406,000/460,800 = 0.881076.
#[tokio::test]
async fn a_recorded_week_of_heats_gives_the_worked_example() {
    use lodestone_mes::command::{ResultValue, SignatureInput};
    use lodestone_mes::model::SignatureMeaning;
    use lodestone_mes::model::{SamplingPlan, Severity, SpecLimit};
    let at = |s: i64| {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-07T00:00:00Z").unwrap()
            + chrono::Duration::seconds(s);
        Some(t.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string())
    };
    const H: i64 = 3600;
    for (backend, mes, admin, _dir) in common::backends("oee_week").await {
        let mut commands: Vec<Command> = vec![
            Command::DefineEquipment(Equipment {
                id: "vim-01".into(),
                name: "Melting line 1".into(),
                level: EquipmentLevel::Unit,
                parent: None,
                ideal_cycle_s: Some(5_800.0),
            }),
            // From JSON, as a client sends it: the class's other fields take their defaults.
            serde_json::from_value(serde_json::json!({
                "command": "define-material-class", "id": "alloy", "name": "Alloy"
            }))
            .unwrap(),
            Command::DefineMaterialDefinition(MaterialDefinition {
                id: "flake".into(),
                name: "Flake".into(),
                class: "alloy".into(),
            }),
            Command::DefineMaterialDefinition(MaterialDefinition {
                id: "residue".into(),
                name: "Dross and skull".into(),
                class: "alloy".into(),
            }),
            Command::DefineProcessSegment {
                id: "melt".into(),
                name: "melt".into(),
                equipment_level: None,
            },
            Command::DefineWorkMaster {
                id: "melt-flake".into(),
                segment: "melt".into(),
                product: "flake".into(),
                bill_kg_per_kg: Default::default(),
                parameters: Default::default(),
            },
            Command::DefineSpecification {
                definition: "flake".into(),
                name: "flake".into(),
                limits: vec![SpecLimit {
                    property: "Nd".into(),
                    min: Some(22.9),
                    max: Some(23.3),
                    target: Some(23.1),
                    unit: "wt%".into(),
                }],
                sampling: SamplingPlan::default(),
            },
        ];
        // The week of tests/oee.rs: no orders 24 h, run 40, down 4, run 40, wash 2, run 16,
        // maintenance 16, starved 2, run 24 (h).
        let mut t = 0;
        let mut running = Vec::new();
        for (state, h) in [
            (EquipmentState::NotScheduled, 24),
            (EquipmentState::Running, 40),
            (EquipmentState::UnplannedDown, 4),
            (EquipmentState::Running, 40),
            (EquipmentState::Changeover, 2),
            (EquipmentState::Running, 16),
            (EquipmentState::PlannedDown, 16),
            (EquipmentState::Starved, 2),
            (EquipmentState::Running, 24),
        ] {
            commands.push(Command::SetEquipmentState {
                equipment: "vim-01".into(),
                state,
                at: at(t),
                cause: None,
            });
            if state == EquipmentState::Running {
                running.push((t, h * H));
            }
            t += h * H;
        }
        // 24, 24, 9 and 15 heats in the four running spells, each finishing inside its spell.
        let mut heat = 0;
        for ((start, len), n) in running.into_iter().zip([24, 24, 9, 15]) {
            for j in 0..n {
                heat += 1;
                let done = start + (2 * j + 1) * len / (2 * n);
                let order = format!("H{heat:03}");
                commands.push(Command::CreateOrder {
                    id: order.clone(),
                    work_master: "melt-flake".into(),
                    planned_kg: 600.0,
                    equipment: Some("vim-01".into()),
                    priority: 0,
                });
                for action in [OrderAction::Release, OrderAction::Start] {
                    commands.push(Command::OrderAction {
                        order: order.clone(),
                        action,
                        equipment: None,
                        at: at(done - 60),
                    });
                }
                for (lot, kg, material_use, definition) in [
                    (order.clone(), 590.0, None, None),
                    (
                        format!("{order}-R"),
                        10.0,
                        Some(MaterialUse::Scrap),
                        Some("residue".to_string()),
                    ),
                ] {
                    commands.push(Command::Produce {
                        order: order.clone(),
                        lot,
                        quantity_kg: kg,
                        material_use,
                        definition,
                        composition_wt_pct: Default::default(),
                        location: None,
                        at: at(done),
                    });
                }
                commands.push(Command::OrderAction {
                    order: order.clone(),
                    action: OrderAction::Complete,
                    equipment: None,
                    at: at(done),
                });
            }
        }
        assert_eq!(heat, 72);
        commands.push(Command::RaiseNonconformance {
            id: "NCR-H010".into(),
            lot: "H010".into(),
            description: "out of specification: microstructure".into(),
            severity: Severity::Major,
        });
        for (lot, nd) in [("H020", 23.45), ("H030", 23.12)] {
            commands.push(Command::RecordResults {
                lot: lot.into(),
                sample: None,
                method: Some("ICP-OES".into()),
                at: at(150 * H),
                results: vec![ResultValue {
                    property: "Nd".into(),
                    value: nd,
                    unit: "wt%".into(),
                }],
            });
        }
        let envelopes: Vec<Envelope> = commands.into_iter().map(Envelope::from).collect();
        mes.execute_batch(&admin, &envelopes).await.unwrap();

        let r = mes
            .oee("vim-01", "2026-12-07T00:00:00Z", "2026-12-14T00:00:00Z")
            .await
            .unwrap();
        let o = &r.oee;
        assert_eq!((o.total_count, o.reject_count), (72, 2), "{backend}: {o:?}");
        assert_eq!((r.rejected_by_record, r.rejected_by_results), (1, 1));
        assert_eq!(o.not_scheduled_s, 86_400.0, "{backend}");
        assert_eq!(o.planned_downtime_s, 57_600.0);
        assert_eq!(o.planned_production_time_s, 460_800.0);
        assert_eq!(o.run_time_s, 432_000.0);
        assert!((o.utilisation - 128.0 / 168.0).abs() < 1e-15);
        assert!((o.availability - 0.9375).abs() < 1e-15);
        assert!((o.performance - 417_600.0 / 432_000.0).abs() < 1e-15);
        assert!((o.quality - 70.0 / 72.0).abs() < 1e-15);
        assert!((o.oee - 406_000.0 / 460_800.0).abs() < 1e-15, "{}", o.oee);
        assert_eq!(format!("{:.6}", o.oee), "0.881076");
        assert!(o.warnings.is_empty());
        // QA rejecting a heat that passed the lab makes it a reject too.
        let reject = Command::RejectLot {
            lot: "H030".into(),
            signature: Some(SignatureInput {
                user: admin.user.clone(),
                password: "admin-password".into(),
                meaning: SignatureMeaning::Approval,
            }),
        };
        mes.execute_batch(&admin, &[reject.into()]).await.unwrap();
        let r = mes
            .oee("vim-01", "2026-12-07T00:00:00Z", "2026-12-14T00:00:00Z")
            .await
            .unwrap();
        assert_eq!(
            (r.oee.total_count, r.oee.reject_count),
            (72, 3),
            "{backend}"
        );
    }
}
