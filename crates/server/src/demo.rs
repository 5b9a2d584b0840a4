//! The demo plant: a fresh SQLite MES loaded with the reference plant's master data and demo
//! users, and the twin running in accelerated real time on its own thread, recording every
//! heat in the MES as it happens. The speed (simulated seconds per real second) can be changed
//! while it runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lodestone_mes::command::Command;
use lodestone_mes::model::Role;
use lodestone_mes::twin_recorder::{plant_commands, MesRecorder};
use lodestone_mes::{Envelope, Mes, MesError};
use lodestone_twin::model::Twin;
use lodestone_twin::plant::Plant;
use serde::{Deserialize, Serialize};

use crate::auth::Authed;
use crate::problem::{Json as JsonBody, Problem, ProblemDetails};
use crate::Shared;

/// The reference plant the demo runs.
pub const REFERENCE_PLANT: &str = include_str!("../../../examples/plant/baotou-50kt.toml");

/// Default speed: one simulated hour per second.
pub const DEFAULT_SPEED: f64 = 3600.0;
/// Fastest allowed: a simulated day per second.
pub const MAX_SPEED: f64 = 86_400.0;
/// Real time between twin steps.
const STEP: Duration = Duration::from_millis(200);

/// Demo logins: (user, name, roles, password).
pub const USERS: [(&str, &str, &[Role], &str); 5] = [
    ("admin", "Ada Admin", &[Role::Admin], "lodestone-admin"),
    (
        "operator",
        "Oscar Operator",
        &[Role::Operator],
        "lodestone-operator",
    ),
    ("qa", "Quinn QA", &[Role::Qa], "lodestone-qa"),
    (
        "qa-manager",
        "Morgan QA Manager",
        &[Role::QaManager],
        "lodestone-qa-manager",
    ),
    (
        "planner",
        "Pat Planner",
        &[Role::Planner],
        "lodestone-planner",
    ),
];
/// The twin's own account (it records as the plant).
pub const TWIN_USER: (&str, &str) = ("twin", "twin-demo-password");

/// The running demo.
pub struct Demo {
    plant: Plant,
    epoch: chrono::DateTime<chrono::Utc>,
    speed_bits: Arc<AtomicU64>,
    sim_s_bits: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: std::sync::Mutex<Option<JoinHandle<Result<u64, MesError>>>>,
    health: Arc<std::sync::Mutex<TwinHealth>>,
}

/// How the twin's writing goes: what the MES refused (people acting on the plant's lots), and
/// why the twin stopped if it did.
#[derive(Debug, Clone, Default)]
struct TwinHealth {
    refused: u64,
    last_refusal: Option<String>,
    failure: Option<String>,
}

impl Demo {
    /// Creates the demo database at `url` (a new SQLite file) with the master data and the
    /// demo users, and starts the twin at `speed`.
    pub async fn start(url: &str, speed: f64) -> Result<(Mes, Demo), MesError> {
        let mut plant = Plant::from_toml("examples/plant/baotou-50kt.toml", REFERENCE_PLANT)
            .map_err(|e| MesError::File(e.to_string()))?;
        // Run until stopped, measuring from the start.
        plant.simulation.days = 100.0 * 365.0;
        plant.simulation.warmup_days = 0.0;
        let mes = Mes::create(url).await?;
        let admin = mes
            .bootstrap_admin(USERS[0].0, USERS[0].1, USERS[0].3)
            .await?;
        let mut setup: Vec<Envelope> = USERS[1..]
            .iter()
            .map(|(id, name, roles, password)| Command::CreateUser {
                id: id.to_string(),
                name: name.to_string(),
                roles: roles.to_vec(),
                password: password.to_string(),
            })
            .chain(std::iter::once(Command::CreateUser {
                id: TWIN_USER.0.into(),
                name: "Plant twin".into(),
                roles: vec![Role::Admin],
                password: TWIN_USER.1.into(),
            }))
            .map(Envelope::from)
            .collect();
        setup.extend(plant_commands(&plant).into_iter().map(Envelope::from));
        mes.execute_batch(&admin, &setup).await?;
        // The plant's calendar starts at midnight today (UTC).
        let epoch = chrono::Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_else(chrono::Utc::now);
        let speed_bits = Arc::new(AtomicU64::new(speed.to_bits()));
        let sim_s_bits = Arc::new(AtomicU64::new(0f64.to_bits()));
        let stop = Arc::new(AtomicBool::new(false));
        let health = Arc::new(std::sync::Mutex::new(TwinHealth::default()));
        let thread = {
            let (plant, url) = (plant.clone(), url.to_string());
            let (speed_bits, sim_s_bits, stop, health) = (
                speed_bits.clone(),
                sim_s_bits.clone(),
                stop.clone(),
                health.clone(),
            );
            std::thread::Builder::new()
                .name("lodestone-twin".into())
                .spawn(move || {
                    let twin = Clocks {
                        epoch,
                        speed_bits: &speed_bits,
                        sim_s_bits: &sim_s_bits,
                        stop: &stop,
                    };
                    let outcome = run_twin(&plant, &url, &twin, &health);
                    if let Err(e) = &outcome {
                        tracing::error!(error = %e, "the demo plant's twin stopped");
                        if let Ok(mut h) = health.lock() {
                            h.failure = Some(e.to_string());
                        }
                    }
                    outcome
                })
                .map_err(|e| MesError::File(format!("cannot start the twin thread: {e}")))?
        };
        Ok((
            mes,
            Demo {
                plant,
                epoch,
                speed_bits,
                sim_s_bits,
                stop,
                thread: std::sync::Mutex::new(Some(thread)),
                health,
            },
        ))
    }

    /// The plant's clock now.
    pub fn clock(&self) -> chrono::DateTime<chrono::Utc> {
        let s = f64::from_bits(self.sim_s_bits.load(Ordering::Relaxed));
        self.epoch + chrono::Duration::milliseconds((s * 1000.0) as i64)
    }

    /// Simulated seconds per real second.
    pub fn speed(&self) -> f64 {
        f64::from_bits(self.speed_bits.load(Ordering::Relaxed))
    }

    /// Flake demand of the plant, kg per day.
    pub fn plan_kg_per_day(&self) -> f64 {
        self.plant
            .grade
            .iter()
            .map(|g| g.demand_t_per_month)
            .sum::<f64>()
            * 1000.0
            * 12.0
            / 365.0
    }

    /// Stops the twin after its current step and writes what it has buffered; returns the
    /// events it recorded.
    pub fn stop(&self) -> Result<u64, MesError> {
        self.stop.store(true, Ordering::Relaxed);
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        match handle {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(MesError::Corrupt("the twin thread panicked".into()))),
            None => Ok(0),
        }
    }
}

/// The twin thread's view of the demo's clock and controls.
struct Clocks<'a> {
    epoch: chrono::DateTime<chrono::Utc>,
    speed_bits: &'a AtomicU64,
    sim_s_bits: &'a AtomicU64,
    stop: &'a AtomicBool,
}

/// The twin's thread: its own runtime and MES connection; each step advances the plant by
/// speed × step and writes what happened. Commands the MES refuses (a user held the lot the
/// twin was about to consume, say) are skipped and counted, so the plant keeps running.
fn run_twin(
    plant: &Plant,
    url: &str,
    clocks: &Clocks<'_>,
    health: &std::sync::Mutex<TwinHealth>,
) -> Result<u64, MesError> {
    let Clocks {
        epoch,
        speed_bits,
        sim_s_bits,
        stop,
    } = *clocks;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| MesError::File(format!("cannot start the twin's runtime: {e}")))?;
    let mes = runtime.block_on(Mes::open(url))?;
    let session = runtime.block_on(mes.login(TWIN_USER.0, TWIN_USER.1))?;
    let mut recorder = MesRecorder::new(&runtime, &mes, &session, plant, epoch)
        .with_qa_signature(TWIN_USER.1, 8.0)
        .skipping_refused_commands();
    {
        let mut twin = Twin::new(plant, plant.simulation.seed, &mut recorder);
        let mut last_logged: Option<std::time::Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(STEP);
            let speed = f64::from_bits(speed_bits.load(Ordering::Relaxed));
            let to = twin.now_s() + speed * STEP.as_secs_f64();
            twin.advance_to(to);
            twin.recorder_mut().flush_now()?;
            sim_s_bits.store(to.to_bits(), Ordering::Relaxed);
            let (refused, last) = twin.recorder_mut().refusals();
            if let Ok(mut h) = health.lock() {
                if h.refused != refused {
                    // Logged at most every 10 s: a held raw lot is refused at every heat.
                    if last_logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                        tracing::warn!(
                            refused,
                            last = last.unwrap_or(""),
                            "the MES refused twin commands; skipped"
                        );
                        last_logged = Some(std::time::Instant::now());
                    }
                    h.refused = refused;
                    h.last_refusal = last.map(str::to_string);
                }
            }
        }
    }
    let events = recorder.finish()?;
    runtime.block_on(mes.close());
    Ok(events)
}

/// The demo's state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DemoStatus {
    /// Whether a demo plant runs (false when there is none, or its twin stopped).
    pub running: bool,
    /// The plant's clock.
    #[schema(format = DateTime)]
    pub clock: Option<String>,
    /// Simulated seconds per real second.
    pub speed: Option<f64>,
    /// Twin commands the MES refused and the twin skipped (people acting on the plant's lots
    /// and orders: a held raw lot cannot be consumed, say).
    pub refused_commands: Option<u64>,
    /// The latest refusal, in words.
    pub last_refusal: Option<String>,
    /// Why the twin stopped, if it did.
    pub failure: Option<String>,
}

impl DemoStatus {
    fn of(demo: Option<&Demo>) -> Self {
        let health = demo
            .and_then(|d| d.health.lock().ok().map(|h| h.clone()))
            .unwrap_or_default();
        DemoStatus {
            running: demo.is_some() && health.failure.is_none(),
            clock: demo.map(|d| lodestone_mes::model::format_timestamp(d.clock())),
            speed: demo.map(Demo::speed),
            refused_commands: demo.map(|_| health.refused),
            last_refusal: health.last_refusal,
            failure: health.failure,
        }
    }
}

/// `GET /api/demo`.
#[utoipa::path(
    get,
    path = "/api/demo",
    tag = "demo",
    summary = "The demo plant: clock and speed",
    responses((status = 200, description = "The demo plant: clock and speed", body = DemoStatus), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn status(State(state): State<Shared>, _: Authed) -> Json<DemoStatus> {
    Json(DemoStatus::of(state.demo.as_ref()))
}

/// Body of `POST /api/demo`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpeedRequest {
    /// Simulated seconds per real second (0 pauses).
    #[schema(minimum = 0, maximum = 86400)]
    pub speed: f64,
}

/// `POST /api/demo`: sets the speed (admins and planners).
#[utoipa::path(
    post,
    path = "/api/demo",
    tag = "demo",
    summary = "Sets the demo speed (admins and planners)",
    request_body = SpeedRequest,
    responses((status = 200, description = "Sets the demo speed (admins and planners)", body = DemoStatus), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 404, response = ProblemDetails), (status = 415, response = ProblemDetails), (status = 422, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn set_speed(
    State(state): State<Shared>,
    Authed(session): Authed,
    JsonBody(request): JsonBody<SpeedRequest>,
) -> Result<Json<DemoStatus>, Problem> {
    let Some(demo) = &state.demo else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "no demo plant runs on this server (start it with `lodestone serve --demo`)",
        ));
    };
    if !session
        .roles
        .iter()
        .any(|r| matches!(r, Role::Admin | Role::Planner))
    {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!(
                "user '{}' may not change the demo's speed; it needs the admin or planner role",
                session.user
            ),
        ));
    }
    if !(request.speed >= 0.0 && request.speed <= MAX_SPEED) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "speed: {} is not allowed; expected 0 (paused) to {MAX_SPEED} simulated seconds per second",
                request.speed
            ),
        ));
    }
    demo.speed_bits
        .store(request.speed.to_bits(), Ordering::Relaxed);
    Ok(Json(DemoStatus::of(Some(demo))))
}
