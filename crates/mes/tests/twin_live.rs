//! A live plant that people act on: when QA holds the raw lots the twin is about to consume,
//! the MES refuses the twin's draws. A recorder for a live demo skips and counts the refused
//! commands and keeps the plant running; a strict recorder (batch runs) stops at the first.

use lodestone_mes::model::LotStatus;
use lodestone_mes::twin_recorder::{plant_commands, MesRecorder};
use lodestone_mes::{Command, Envelope, Mes, Session};
use lodestone_twin::model::Twin;
use lodestone_twin::plant::Plant;

const DAY_S: f64 = 86_400.0;

fn hold_every_raw_lot(runtime: &tokio::runtime::Runtime, mes: &Mes, admin: &Session) -> usize {
    runtime.block_on(async {
        let lots = mes.lots(None, 1000).await.unwrap();
        let raw: Vec<Envelope> = lots
            .iter()
            .filter(|l| l.status == LotStatus::Available && l.supplier_lot.is_some())
            .map(|l| Envelope::from(Command::HoldLot { lot: l.id.clone() }))
            .collect();
        mes.execute_batch(admin, &raw).await.unwrap();
        raw.len()
    })
}

fn setup(dir: &tempfile::TempDir) -> (tokio::runtime::Runtime, Mes, Session, Plant) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mes = runtime
        .block_on(Mes::create(dir.path().join("live.db").to_str().unwrap()))
        .unwrap();
    let admin = runtime
        .block_on(mes.bootstrap_admin("twin", "Plant twin", "twin-password"))
        .unwrap();
    let text = include_str!("../../../examples/plant/baotou-50kt.toml");
    let mut plant = Plant::from_toml("baotou-50kt.toml", text).unwrap();
    plant.simulation.days = 365.0;
    plant.simulation.warmup_days = 0.0;
    let setup: Vec<Envelope> = plant_commands(&plant)
        .into_iter()
        .map(Envelope::from)
        .collect();
    runtime.block_on(mes.execute_batch(&admin, &setup)).unwrap();
    (runtime, mes, admin, plant)
}

fn epoch() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc)
}

#[test]
fn a_live_recorder_skips_what_the_mes_refuses_and_keeps_the_plant_running() {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, mes, admin, plant) = setup(&dir);
    let mut recorder =
        MesRecorder::new(&runtime, &mes, &admin, &plant, epoch()).skipping_refused_commands();
    let mut twin = Twin::new(&plant, 1, &mut recorder);
    twin.advance_to(DAY_S);
    twin.recorder_mut().flush_now().unwrap();
    assert_eq!(twin.recorder_mut().refusals().0, 0);
    let held = hold_every_raw_lot(&runtime, &mes, &admin);
    assert!(held > 5, "{held}");
    twin.advance_to(2.0 * DAY_S);
    twin.recorder_mut()
        .flush_now()
        .expect("the live recorder keeps going");
    let (refused, last) = twin.recorder_mut().refusals();
    let last = last.unwrap_or_default().to_string();
    assert!(refused > 0);
    assert!(last.contains("held"), "{last}");
    drop(twin);
    let events = recorder.finish().unwrap();
    assert!(events > 1000, "{events}");
    // The second day was still recorded: heats started after the hold.
    let orders = runtime.block_on(mes.orders()).unwrap();
    let late = orders
        .iter()
        .filter(|o| o.started_at.as_deref() > Some("2026-12-02T00:00:00"))
        .count();
    assert!(late > 5, "{late} heats started on day 2");
    runtime.block_on(mes.verify_chain()).unwrap();
}

#[test]
fn a_strict_recorder_stops_at_the_first_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, mes, admin, plant) = setup(&dir);
    let mut recorder = MesRecorder::new(&runtime, &mes, &admin, &plant, epoch());
    let mut twin = Twin::new(&plant, 1, &mut recorder);
    twin.advance_to(DAY_S);
    twin.recorder_mut().flush_now().unwrap();
    hold_every_raw_lot(&runtime, &mes, &admin);
    twin.advance_to(2.0 * DAY_S);
    let e = twin.recorder_mut().flush_now().unwrap_err();
    assert!(e.to_string().contains("refused"), "{e}");
}

#[test]
fn a_refused_shift_release_still_releases_the_other_drums() {
    use lodestone_mes::command::SignatureInput;
    use lodestone_mes::model::{Disposition, SignatureMeaning};
    let dir = tempfile::tempdir().unwrap();
    let (runtime, mes, admin, plant) = setup(&dir);
    let mut recorder = MesRecorder::new(&runtime, &mes, &admin, &plant, epoch())
        .with_qa_signature("twin-password", 8.0)
        .skipping_refused_commands();
    let mut twin = Twin::new(&plant, 1, &mut recorder);
    // Drums made in the first hours are pending until their lab verdict and a shift release.
    twin.advance_to(7.0 * 3600.0);
    twin.recorder_mut().flush_now().unwrap();
    let pending: Vec<String> = runtime
        .block_on(mes.lots(None, 1000))
        .unwrap()
        .into_iter()
        .filter(|l| l.id.contains("-D") && l.disposition == Disposition::Pending)
        .map(|l| l.id)
        .collect();
    assert!(pending.len() >= 6, "{pending:?}");
    // QA rejects one of them by hand: the twin's release of the shift names it.
    let rejected = pending[0].clone();
    runtime
        .block_on(mes.execute(
            &admin,
            Envelope::from(Command::RejectLot {
                lot: rejected.clone(),
                signature: Some(SignatureInput {
                    user: "twin".into(),
                    password: "twin-password".into(),
                    meaning: SignatureMeaning::Approval,
                }),
            }),
        ))
        .unwrap();
    // By two days every one of them has its lab verdict and a shift release.
    twin.advance_to(2.0 * DAY_S);
    twin.recorder_mut().flush_now().unwrap();
    let (refused, last) = twin.recorder_mut().refusals();
    assert!(
        refused >= 1,
        "the release naming the rejected drum was refused"
    );
    assert!(last.unwrap_or_default().contains(&rejected), "{last:?}");
    drop(twin);
    recorder.finish().unwrap();
    runtime.block_on(async {
        assert_eq!(
            mes.lot(&rejected).await.unwrap().disposition,
            Disposition::Rejected
        );
        // The others were released (or held, for a heat out of specification), none left
        // pending by the refused release.
        let mut released = 0;
        for drum in &pending[1..] {
            match mes.lot(drum).await.unwrap().disposition {
                Disposition::Released => released += 1,
                Disposition::Held => {}
                other => panic!("{drum} is {other}"),
            }
        }
        assert!(
            released * 10 >= (pending.len() - 1) * 8,
            "{released} of {}",
            pending.len() - 1
        );
    });
}
