//! The twin driving the MES: a simulated stretch of the reference plant leaves a complete,
//! traceable record — every flake drum traces back to its heat and raw-material lots, and the
//! element balance of the period closes to the weighed quantities minus the modelled loss.

use lodestone_mes::genealogy::Direction;
use lodestone_mes::twin_recorder::{plant_commands, MesRecorder};
use lodestone_mes::{Envelope, Mes};
use lodestone_twin::model::run_replication_with;
use lodestone_twin::plant::Plant;
use sqlx::Row;

#[test]
fn a_simulated_period_traces_every_drum_and_closes_the_element_balance() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mes = runtime
        .block_on(Mes::create(dir.path().join("twin.db").to_str().unwrap()))
        .unwrap();
    let admin = runtime
        .block_on(mes.bootstrap_admin("twin", "Plant twin", "twin-password"))
        .unwrap();
    let text = include_str!("../../../examples/plant/baotou-50kt.toml");
    let mut plant = Plant::from_toml("baotou-50kt.toml", text).unwrap();
    // A simulated month (`lodestone twin run --mes` records years).
    plant.simulation.days = 30.0;
    plant.simulation.warmup_days = 0.0;
    let setup: Vec<Envelope> = plant_commands(&plant)
        .into_iter()
        .map(Envelope::from)
        .collect();
    runtime.block_on(mes.execute_batch(&admin, &setup)).unwrap();
    let epoch = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let mut recorder = MesRecorder::new(&runtime, &mes, &admin, &plant, epoch)
        .with_qa_signature("twin-password", 8.0);
    let run = run_replication_with(&plant, 1, &mut recorder);
    let events = recorder
        .finish()
        .expect("every twin event accepted by the MES");
    assert!(events > 1000, "{events}");

    runtime.block_on(async {
        mes.verify_chain().await.unwrap();
        // The work masters carry the optimiser's nominal charge as their bill: N52 ≈ 28 %
        // PrNd metal per kg charged (Pr 6.90 wt% from 24.9 % Pr metal).
        let bill: String = sqlx::query("SELECT bill FROM work_masters WHERE id = 'WM-N52'")
            .fetch_one(mes.db().pool())
            .await
            .unwrap()
            .get("bill");
        let bill: std::collections::BTreeMap<String, f64> = serde_json::from_str(&bill).unwrap();
        assert!((bill["PrNd-metal"] - 0.277).abs() < 0.01, "{bill:?}");
        assert!((bill.values().sum::<f64>() - 1.0).abs() < 1e-9);
        // Every product heat that finished is an order with a produced lot split into 3 drums.
        let heats: Vec<String> = sqlx::query(
            "SELECT sl.lot FROM step_lots sl JOIN steps s ON s.id = sl.step \
             WHERE s.kind = 'order' AND sl.direction = 'out' AND sl.lot NOT LIKE '%-R' ORDER BY sl.lot",
        )
        .fetch_all(mes.db().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("lot"))
        .collect();
        let finished: u64 = run.lines.iter().map(|l| l.heats).sum();
        assert_eq!(heats.len() as u64, finished);
        // Every drum traces back to its heat and to raw lots with supplier lot ids.
        for heat in &heats {
            let drum = format!("{heat}-D2");
            let trace = mes.trace(&drum, Direction::Backward, 10).await.unwrap();
            assert_eq!(trace.lots[1].0.id, *heat, "{drum}");
            let raw: Vec<_> = trace
                .lots
                .iter()
                .filter(|(l, d)| *d == 2 && l.supplier_lot.is_some())
                .collect();
            assert!(raw.len() >= 5, "{drum}: {} raw lots", raw.len());
        }
        // Element balance of the period: every element weighed in leaves as flake or residue,
        // and the flake in the drums is what was weighed in minus the modelled melt loss and the skull and
        // off-size flake (1 − casting yield of the melt).
        let mut totals: std::collections::BTreeMap<String, (f64, f64, f64)> = Default::default();
        for heat in &heats {
            let b = mes.element_balance(heat).await.unwrap();
            assert!(b.lots_without_chemistry.is_empty());
            for (element, flow) in b.elements {
                let t = totals.entry(element).or_default();
                t.0 += flow.in_kg;
                t.1 += flow.out_kg;
            }
            for d in 1..=3 {
                let drum = mes.lot(&format!("{heat}-D{d}")).await.unwrap();
                for (element, wt) in &drum.composition_wt_pct {
                    totals.entry(element.clone()).or_default().2 += drum.quantity_kg * wt / 100.0;
                }
            }
        }
        let casting_yield = plant.melting.as_ref().unwrap().casting_yield;
        for (element, (in_kg, out_kg, flake_kg)) in &totals {
            // The lab's assay replaces the heat's chemistry, so measured elements balance to
            // within the analytical error (0.15 % per heat, averaging out over the period).
            assert!(
                (out_kg - in_kg).abs() <= 1e-3 * in_kg.max(1.0),
                "{element}: in {in_kg} kg, out {out_kg} kg"
            );
            let loss = run.melt_loss_kg_by_element.get(element).copied().unwrap_or(0.0);
            let expected = (in_kg - loss) * casting_yield;
            // The drums carry their heat's assay (results follow genealogy), so they balance
            // to within the analytical error too.
            assert!(
                (flake_kg - expected).abs() <= 1e-3 * in_kg.max(1.0),
                "{element}: flake {flake_kg} kg, weighed {in_kg} − loss {loss} → {expected}"
            );
        }
        assert!(run.melt_loss_kg_by_element["Nd"] > 0.0);
        let nd = totals["Nd"];
        assert!(nd.0 > 1000.0, "Nd charged over the period: {} kg", nd.0);
        // The lab results are on the heats; out-of-spec heats have a nonconformance and their
        // drums are held for QA.
        let pool = mes.db().pool();
        let count = |sql: &'static str| async move {
            sqlx::query(sql)
                .fetch_one(pool)
                .await
                .unwrap()
                .get::<i64, _>("n")
        };
        let results = count("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM results").await;
        assert!(results as u64 >= 8 * run.heats_analysed, "{results}");
        let ncrs = count("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM nonconformances").await;
        assert_eq!(ncrs as u64, run.heats_out_of_spec);
        let held = count("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM lots WHERE disposition = 'held'").await;
        assert_eq!(held as u64, 4 * run.heats_out_of_spec);
        // QA released the drums of every heat that passed, one signature per shift.
        let released =
            count("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM lots WHERE disposition = 'released' AND id LIKE 'H%-D%'").await;
        assert_eq!(
            released as u64,
            3 * (run.heats_analysed - run.heats_out_of_spec)
        );
        let signatures =
            count("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM events WHERE kind = 'lots-released'").await;
        // One per shift that had passing heats (lines starve at month end: some shifts none).
        assert!((60..=91).contains(&signatures), "{signatures} shift releases in 30 days");
        let oee = mes
            .oee("line-01", "2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z")
            .await
            .unwrap();
        assert!(
            oee.oee.availability > 0.3 && oee.oee.total_count > 10,
            "{oee:?}"
        );
    });
}
