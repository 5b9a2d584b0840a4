//! Fuzzing the MES inputs: the plant file, the lab CSV and JSON commands never panic, and random
//! sequences of commands (many of them bad) never break the store's invariants: quantities stay
//! non-negative, the audit chain verifies, and replaying the events gives the same state.

use lodestone_mes::command::LotQuantity;
use lodestone_mes::model::{Equipment, EquipmentLevel, MaterialDefinition, OrderAction};
use lodestone_mes::{Command, Envelope, Mes};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn parsers_never_panic(text in "\\PC{0,400}") {
        let _ = lodestone_mes::plant::plant_commands("fuzz.toml", &text, |_| None);
        let _ = lodestone_mes::quality::parse_results_csv("fuzz.csv", &text);
        let _ = serde_json::from_str::<Envelope>(&text);
    }

    #[test]
    fn structured_plant_files_never_panic(
        level in "[A-Za-z]{0,12}",
        id in "\\PC{0,20}",
        kg in proptest::num::f64::ANY,
        roles in proptest::collection::vec("[a-z]{0,9}", 0..3),
    ) {
        let text = format!(
            "[[equipment]]\nid = {id:?}\nlevel = {level:?}\n[[work_master]]\nid = \"w\"\nsegment = \"s\"\nproduct = \"p\"\nbill_kg_per_kg = {{ x = {kg:?} }}\n[[user]]\nid = \"u\"\nname = \"U\"\nroles = {roles:?}\npassword = \"12345678\"\n"
        );
        let _ = lodestone_mes::plant::plant_commands("fuzz.toml", &text, |_| None);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Receive(u8, f64),
    Consume(u8, u8, f64),
    Produce(u8, u8, f64),
    Split(u8, u8, f64),
    Merge(u8, u8, u8, f64),
    Action(u8, u8),
    Ship(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let kg = prop_oneof![
        Just(-1.0),
        Just(0.0),
        Just(f64::NAN),
        0.001f64..2000.0,
        Just(1e300)
    ];
    prop_oneof![
        (any::<u8>(), kg.clone()).prop_map(|(l, k)| Op::Receive(l, k)),
        (any::<u8>(), any::<u8>(), kg.clone()).prop_map(|(o, l, k)| Op::Consume(o, l, k)),
        (any::<u8>(), any::<u8>(), kg.clone()).prop_map(|(o, l, k)| Op::Produce(o, l, k)),
        (any::<u8>(), any::<u8>(), kg.clone()).prop_map(|(s, n, k)| Op::Split(s, n, k)),
        (any::<u8>(), any::<u8>(), any::<u8>(), kg).prop_map(|(a, b, n, k)| Op::Merge(a, b, n, k)),
        (any::<u8>(), any::<u8>()).prop_map(|(o, a)| Op::Action(o, a)),
        any::<u8>().prop_map(Op::Ship),
    ]
}

fn lot(i: u8) -> String {
    format!("L{}", i % 24)
}

fn order(i: u8) -> String {
    format!("O{}", i % 4)
}

fn command(op: &Op) -> Command {
    match op {
        Op::Receive(l, kg) => Command::ReceiveLot {
            lot: lot(*l),
            definition: "metal".into(),
            quantity_kg: *kg,
            supplier_lot: None,
            location: None,
            composition_wt_pct: [("Nd".to_string(), 30.0)].into(),
            disposition: None,
            at: None,
        },
        Op::Consume(o, l, kg) => Command::Consume {
            order: order(*o),
            lot: lot(*l),
            quantity_kg: *kg,
            at: None,
        },
        Op::Produce(o, l, kg) => Command::Produce {
            order: order(*o),
            lot: lot(*l),
            quantity_kg: *kg,
            material_use: None,
            definition: None,
            composition_wt_pct: Default::default(),
            location: None,
            at: None,
        },
        Op::Split(s, n, kg) => Command::SplitLot {
            source: lot(*s),
            parts: vec![LotQuantity {
                lot: lot(*n),
                quantity_kg: *kg,
            }],
            at: None,
        },
        Op::Merge(a, b, n, kg) => Command::MergeLots {
            sources: vec![
                LotQuantity {
                    lot: lot(*a),
                    quantity_kg: *kg,
                },
                LotQuantity {
                    lot: lot(*b),
                    quantity_kg: *kg / 2.0,
                },
            ],
            lot: lot(*n),
            definition: None,
            location: None,
            at: None,
        },
        Op::Action(o, a) => Command::OrderAction {
            order: order(*o),
            action: OrderAction::ALL[*a as usize % OrderAction::ALL.len()],
            equipment: Some("unit".into()).filter(|_| a % 3 == 0),
            at: None,
        },
        Op::Ship(l) => Command::ShipLot {
            lot: lot(*l),
            customer: "ACME".into(),
            at: None,
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_command_sequences_keep_the_store_consistent(ops in proptest::collection::vec(op(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let mes = Mes::create(dir.path().join("f.db").to_str().unwrap()).await.unwrap();
            let admin = mes.bootstrap_admin("admin", "Admin", "admin-password").await.unwrap();
            let setup: Vec<Envelope> = vec![
                Command::DefineEquipment(Equipment { id: "unit".into(), name: "Unit".into(), level: EquipmentLevel::Unit, parent: None, ideal_cycle_s: None }),
                Command::DefineMaterialClass { id: "c".into(), name: "C".into(), receipt: Some(lodestone_mes::model::ReceiptPolicy::Certificate) },
                Command::DefineMaterialDefinition(MaterialDefinition { id: "metal".into(), name: "Metal".into(), class: "c".into() }),
                Command::DefineProcessSegment { id: "melt".into(), name: "melt".into(), equipment_level: None },
                Command::DefineWorkMaster { id: "wm".into(), segment: "melt".into(), product: "metal".into(), bill_kg_per_kg: Default::default(), parameters: Default::default() },
            ]
            .into_iter()
            .chain((0..4).map(|i| Command::CreateOrder { id: format!("O{i}"), work_master: "wm".into(), planned_kg: 100.0, equipment: None, priority: 0 }))
            .map(Envelope::from)
            .collect();
            mes.execute_batch(&admin, &setup).await.unwrap();
            let mut accepted = 0;
            for op in &ops {
                if mes.execute(&admin, command(op).into()).await.is_ok() {
                    accepted += 1;
                }
            }
            let lots = mes.lots(None, 1000).await.unwrap();
            for l in &lots {
                assert!(l.quantity_kg >= 0.0 && l.quantity_kg <= l.initial_kg + 1e-9, "{l:?}");
                assert!(l.quantity_kg.is_finite());
            }
            let chain = mes.verify_chain().await.unwrap();
            assert_eq!(chain.events, 1 + setup.len() as i64 + accepted);
            let orders = mes.orders().await.unwrap();
            mes.rebuild_projections().await.unwrap();
            assert_eq!(mes.lots(None, 1000).await.unwrap(), lots);
            assert_eq!(mes.orders().await.unwrap(), orders);
        });
    }
}
