//! JSON routes over the MES. Reads need a session; `POST /api/commands` executes any MES
//! command (the MES checks the session's role and records the event).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Json;
use futures_util::stream::{self, Stream};
use lodestone_mes::event::EventRecord;
use lodestone_mes::genealogy::{Direction, RecallItem, Trace};
use lodestone_mes::model::{format_timestamp, JobOrder, MaterialLot, Specification};
use lodestone_mes::performance::UnitOee;
use lodestone_mes::plant::PlantModel;
use lodestone_mes::quality::{Evaluation, LabResult, Nonconformance};
use lodestone_mes::service::{ChainReport, Receipt};
use lodestone_mes::Envelope;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::auth::Authed;
use crate::problem::{Json as JsonBody, Path, Problem, ProblemDetails, Query};
use crate::Shared;

/// `GET /healthz`: the database answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    summary = "Liveness: the database answers",
    responses((status = 200, description = "ok", body = String, content_type = "text/plain"), (status = 500, response = ProblemDetails))
)]
pub async fn healthz(State(state): State<Shared>) -> Result<&'static str, Problem> {
    sqlx::query("SELECT 1")
        .fetch_one(state.mes.db().pool())
        .await?;
    Ok("ok\n")
}

/// One melting line now.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LineNow {
    /// Unit id.
    pub id: String,
    /// Latest equipment state (running, starved, unplanned_down, planned_down, …).
    pub state: Option<String>,
    /// Since when.
    pub since: Option<String>,
    /// Order running on it.
    pub order: Option<String>,
    /// Its product.
    pub product: Option<String>,
}

/// A recently made heat.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RecentLot {
    /// Lot id.
    pub id: String,
    /// Material definition.
    pub definition: String,
    /// kg made.
    pub kg: f64,
    /// When.
    pub at: String,
    /// QA disposition.
    pub disposition: String,
}

/// The plant at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Overview {
    /// The plant's clock (the twin's in the demo, else the server's), UTC.
    pub clock: String,
    /// Last event recorded.
    pub head_seq: i64,
    /// Every unit with a state, in id order.
    pub lines: Vec<LineNow>,
    /// Flake made in the 24 h before `clock`, kg.
    pub flake_kg_24h: f64,
    /// Heats made in those 24 h.
    pub heats_24h: i64,
    /// Demand plan, kg of flake per day (demo plant), for output against plan.
    pub plan_kg_per_day: Option<f64>,
    /// Open nonconformances.
    pub open_nonconformances: i64,
    /// Lots on QA hold.
    pub held_lots: i64,
    /// Latest heats.
    pub recent: Vec<RecentLot>,
}

async fn count(state: &Shared, sql: &'static str) -> Result<i64, Problem> {
    Ok(sqlx::query(sql)
        .fetch_one(state.mes.db().pool())
        .await?
        .try_get::<i64, _>("n")?)
}

/// The overview, computed from the MES's projections.
pub async fn compute_overview(state: &Shared) -> Result<Overview, Problem> {
    let pool = state.mes.db().pool();
    let clock = match &state.demo {
        Some(demo) => demo.clock(),
        None => chrono::Utc::now(),
    };
    let day_ago = format_timestamp(clock - chrono::Duration::hours(24));
    // The equipment projection keeps each unit's latest state (the state history grows by the
    // thousand per simulated day; this stays one row per unit).
    let states = sqlx::query(
        "SELECT id AS equipment, state, state_since AS at FROM equipment \
         WHERE state IS NOT NULL ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    let running = sqlx::query(
        "SELECT id, equipment, product FROM orders WHERE state = 'running' AND equipment IS NOT NULL",
    )
    .fetch_all(pool)
    .await?;
    let mut lines = Vec::with_capacity(states.len());
    for row in states {
        let id: String = row.try_get("equipment")?;
        let order = running
            .iter()
            .find(|r| r.try_get::<String, _>("equipment").ok().as_deref() == Some(id.as_str()));
        lines.push(LineNow {
            state: Some(row.try_get("state")?),
            since: Some(row.try_get("at")?),
            order: order.and_then(|r| r.try_get("id").ok()),
            product: order.and_then(|r| r.try_get("product").ok()),
            id,
        });
    }
    let made = sqlx::query(
        "SELECT CAST(COALESCE(SUM(initial_kg), 0) AS DOUBLE PRECISION) AS kg, CAST(COUNT(*) AS BIGINT) AS n \
         FROM lots WHERE definition LIKE '%-flake' AND created_at >= $1 AND id NOT LIKE '%-D%'",
    )
    .bind(day_ago)
    .fetch_one(pool)
    .await?;
    let recent = sqlx::query(
        "SELECT id, definition, initial_kg, created_at, disposition FROM lots \
         WHERE definition LIKE '%-flake' AND id NOT LIKE '%-D%' ORDER BY created_at DESC, id DESC LIMIT 8",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(RecentLot {
            id: r.try_get("id")?,
            definition: r.try_get("definition")?,
            kg: r.try_get("initial_kg")?,
            at: r.try_get("created_at")?,
            disposition: r.try_get("disposition")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Overview {
        clock: format_timestamp(clock),
        head_seq: count(
            state,
            "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) AS n FROM events",
        )
        .await?,
        lines,
        flake_kg_24h: made.try_get("kg")?,
        heats_24h: made.try_get("n")?,
        plan_kg_per_day: state.demo.as_ref().map(|d| d.plan_kg_per_day()),
        open_nonconformances: count(
            state,
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM nonconformances WHERE state = 'open'",
        )
        .await?,
        held_lots: count(
            state,
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM lots WHERE disposition = 'held'",
        )
        .await?,
        recent,
    })
}

/// `GET /api/overview`.
#[utoipa::path(
    get,
    path = "/api/overview",
    tag = "plant",
    summary = "The plant at a glance",
    responses((status = 200, description = "The plant at a glance", body = Overview), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn overview(State(state): State<Shared>, _: Authed) -> Result<Json<Overview>, Problem> {
    Ok(Json(compute_overview(&state).await?))
}

/// `GET /api/stream`: server-sent events, an `overview` event every second.
#[utoipa::path(
    get,
    path = "/api/stream",
    tag = "plant",
    summary = "Live overview: server-sent events, an `overview` event every second",
    responses((status = 200, description = "`text/event-stream` of `overview` events (JSON data of Overview)", body = String, content_type = "text/event-stream"), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn stream(
    State(state): State<Shared>,
    _: Authed,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let events = stream::unfold((state, true), |(state, first)| async move {
        if !first {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let event = match compute_overview(&state).await {
            Ok(o) => SseEvent::default()
                .event("overview")
                .json_data(&o)
                .unwrap_or_else(|_| SseEvent::default().comment("unserialisable")),
            Err(p) => SseEvent::default().event("problem").data(p.detail),
        };
        Some((Ok(event), (state, false)))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// Query of `GET /api/lots`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LotsQuery {
    /// Only lots of this material definition.
    pub definition: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// `GET /api/lots`.
#[utoipa::path(
    get,
    path = "/api/lots",
    tag = "lots",
    summary = "Latest lots, newest first",
    params(LotsQuery),
    responses((status = 200, description = "Latest lots, newest first", body = Vec<MaterialLot>), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 422, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn lots(
    State(state): State<Shared>,
    _: Authed,
    Query(q): Query<LotsQuery>,
) -> Result<Json<Vec<MaterialLot>>, Problem> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("limit: {limit} is not allowed; expected 1 to 1000"),
        ));
    }
    Ok(Json(state.mes.lots(q.definition.as_deref(), limit).await?))
}

/// `GET /api/lots/{id}`.
#[utoipa::path(
    get,
    path = "/api/lots/{id}",
    tag = "lots",
    summary = "A lot",
    params(("id" = String, Path, description = "Lot id")),
    responses((status = 200, description = "A lot", body = MaterialLot), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 404, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn lot(
    State(state): State<Shared>,
    _: Authed,
    Path(id): Path<String>,
) -> Result<Json<MaterialLot>, Problem> {
    Ok(Json(state.mes.lot(&id).await?))
}

/// Query of `GET /api/lots/{id}/trace`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TraceQuery {
    /// `backward` (default: what went into the lot) or `forward` (where it went).
    #[param(pattern = "^(backward|forward)$")]
    pub direction: Option<String>,
    /// Levels to follow (default 20, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub depth: Option<i64>,
}

/// `GET /api/lots/{id}/trace`.
#[utoipa::path(
    get,
    path = "/api/lots/{id}/trace",
    tag = "lots",
    summary = "Genealogy of a lot: what went into it, or where it went",
    params(("id" = String, Path, description = "Lot id"), TraceQuery),
    responses((status = 200, description = "Genealogy of a lot: what went into it, or where it went", body = Trace), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 404, response = ProblemDetails), (status = 422, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn trace(
    State(state): State<Shared>,
    _: Authed,
    Path(id): Path<String>,
    Query(q): Query<TraceQuery>,
) -> Result<Json<Trace>, Problem> {
    let direction = match q.direction.as_deref().unwrap_or("backward") {
        "backward" => Direction::Backward,
        "forward" => Direction::Forward,
        other => {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("direction: '{other}' is not allowed; expected backward or forward"),
            ))
        }
    };
    let depth = q.depth.unwrap_or(20);
    if !(1..=100).contains(&depth) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("depth: {depth} is not allowed; expected 1 to 100"),
        ));
    }
    Ok(Json(state.mes.trace(&id, direction, depth).await?))
}

/// `GET /api/lots/{id}/recall`.
#[utoipa::path(
    get,
    path = "/api/lots/{id}/recall",
    tag = "lots",
    summary = "Recall scope: every lot made from this one, with where it is now",
    params(("id" = String, Path, description = "Lot id")),
    responses((status = 200, description = "Recall scope: every lot made from this one, with where it is now", body = Vec<RecallItem>), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 404, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn recall(
    State(state): State<Shared>,
    _: Authed,
    Path(id): Path<String>,
) -> Result<Json<Vec<RecallItem>>, Problem> {
    Ok(Json(state.mes.recall_scope(&id).await?))
}

/// `GET /api/lots/{id}/results`.
#[utoipa::path(
    get,
    path = "/api/lots/{id}/results",
    tag = "quality",
    summary = "Lab results that stand for a lot: its own, and for each property it has none of, those of the lot it was split from (each names the lot measured); oldest first, corrections included",
    params(("id" = String, Path, description = "Lot id")),
    responses((status = 200, description = "Lab results of a lot and, where it has none, of the lot it was split from; oldest first (corrections included)", body = Vec<LabResult>), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 404, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn results(
    State(state): State<Shared>,
    _: Authed,
    Path(id): Path<String>,
) -> Result<Json<Vec<LabResult>>, Problem> {
    state.mes.lot(&id).await?;
    Ok(Json(state.mes.effective_results(&id).await?))
}

/// `GET /api/orders`.
#[utoipa::path(
    get,
    path = "/api/orders",
    tag = "orders",
    summary = "Every job order",
    responses((status = 200, description = "Every job order", body = Vec<JobOrder>), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn orders(
    State(state): State<Shared>,
    _: Authed,
) -> Result<Json<Vec<JobOrder>>, Problem> {
    Ok(Json(state.mes.orders().await?))
}

/// `GET /api/orders/{id}`.
#[utoipa::path(
    get,
    path = "/api/orders/{id}",
    tag = "orders",
    summary = "A job order",
    params(("id" = String, Path, description = "Order id")),
    responses((status = 200, description = "A job order", body = JobOrder), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 404, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn order(
    State(state): State<Shared>,
    _: Authed,
    Path(id): Path<String>,
) -> Result<Json<JobOrder>, Problem> {
    Ok(Json(state.mes.order(&id).await?))
}

/// `GET /api/nonconformances`.
#[utoipa::path(
    get,
    path = "/api/nonconformances",
    tag = "quality",
    summary = "Every nonconformance record",
    responses((status = 200, description = "Every nonconformance record", body = Vec<Nonconformance>), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn nonconformances(
    State(state): State<Shared>,
    _: Authed,
) -> Result<Json<Vec<Nonconformance>>, Problem> {
    Ok(Json(state.mes.nonconformances(None).await?))
}

/// Query of `GET /api/oee/{unit}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OeeQuery {
    /// Start, RFC 3339 UTC.
    #[param(format = DateTime)]
    pub from: String,
    /// End, RFC 3339 UTC.
    #[param(format = DateTime)]
    pub to: String,
}

/// `GET /api/oee/{unit}`: utilisation, availability, performance, quality, OEE and TEEP by the
/// definition of docs/mes.md ("OEE"), with warnings when a figure is suspect.
#[utoipa::path(
    get,
    path = "/api/oee/{unit}",
    tag = "performance",
    summary = "OEE of a unit over a period",
    description = "Utilisation (planned production time / calendar time; no-orders time and planned downtime are its losses), availability, performance against the unit's ideal_cycle_s (reported unclamped, with a warning when clearly above 1), quality of the product's units counting the lab's verdicts (residues and by-products are not units), OEE = A × P × Q and TEEP. Definition and worked example: docs/mes.md, \"OEE\".",
    params(("unit" = String, Path, description = "Equipment id"), OeeQuery),
    responses((status = 200, description = "OEE of a unit over a period", body = UnitOee), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 404, response = ProblemDetails), (status = 422, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn oee(
    State(state): State<Shared>,
    _: Authed,
    Path(unit): Path<String>,
    Query(q): Query<OeeQuery>,
) -> Result<Json<UnitOee>, Problem> {
    Ok(Json(state.mes.oee(&unit, &q.from, &q.to).await?))
}

/// `GET /api/audit/verify`: re-checks the whole hash chain and that no event lies past its
/// head. Signed checkpoints (what finds a chain rewritten by the database's owner) are checked
/// by `lodestone mes audit verify --checkpoints FILE --key FILE`, where the key is.
#[utoipa::path(
    get,
    path = "/api/audit/verify",
    tag = "audit",
    summary = "Re-checks the whole hash chain of the audit trail",
    description = "Every event's hash and link, the head, and that no event is stored past the head (500 naming the event otherwise). A chain rewritten by the database's owner (tail deleted, events forged or re-hashed) still links up: checkpoints signed with a key kept off the server find that (`lodestone mes audit verify --checkpoints FILE --key FILE`; docs/security.md). At most `--max-chain-checks` checks run at once (503 with Retry-After beyond); a check is stopped after `--chain-check-timeout-s` (503), and when the client disconnects. The hashing runs off the request threads.",
    responses((status = 200, description = "Re-checks the whole hash chain of the audit trail", body = ChainReport), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 500, response = ProblemDetails), (status = 503, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn verify(State(state): State<Shared>, _: Authed) -> Result<Json<ChainReport>, Problem> {
    let checker = state.clone();
    let report = crate::limits::run_async(
        &state,
        crate::limits::Kind::ChainCheck,
        "audit verify",
        move || async move { checker.mes.verify_chain().await },
    )
    .await?
    // Stopped: only when the answer is no longer wanted.
    .ok_or_else(|| {
        Problem::busy(
            "audit verify: stopped (--chain-check-timeout-s)",
            crate::limits::BUSY_RETRY_S,
        )
    })?;
    Ok(Json(report?))
}

/// `GET /api/audit/{subject}`: the trail of `lot:ID`, `order:ID`, `equipment:ID`, ….
#[utoipa::path(
    get,
    path = "/api/audit/{subject}",
    tag = "audit",
    summary = "The audit trail of a subject",
    params(("subject" = String, Path, description = "`lot:ID`, `order:ID`, `equipment:ID`, `user:ID`, …")),
    responses((status = 200, description = "The audit trail of a subject", body = Vec<EventRecord>), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn audit(
    State(state): State<Shared>,
    _: Authed,
    Path(subject): Path<String>,
) -> Result<Json<Vec<EventRecord>>, Problem> {
    Ok(Json(state.mes.audit_trail(&subject).await?))
}

/// `POST /api/commands`: one MES command (`{"command": "hold-lot", "lot": "…"}`, optionally
/// with `client_id` and `reason`), executed as the session's user.
#[utoipa::path(
    post,
    path = "/api/commands",
    tag = "commands",
    summary = "Executes one MES command as the session's user",
    request_body = Envelope,
    responses((status = 201, description = "Recorded", body = Receipt), (status = 200, description = "Seen before (same client_id): the first outcome, nothing changed", body = Receipt), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 404, response = ProblemDetails), (status = 409, response = ProblemDetails), (status = 413, response = ProblemDetails), (status = 415, response = ProblemDetails), (status = 422, response = ProblemDetails), (status = 429, response = ProblemDetails), (status = 500, response = ProblemDetails), (status = 503, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn command(
    State(state): State<Shared>,
    Authed(session): Authed,
    JsonBody(envelope): JsonBody<Envelope>,
) -> Result<axum::response::Response, Problem> {
    use axum::response::IntoResponse;
    // An e-signature re-enters the user's password: a guess at it counts like a failed login,
    // and a locked id may not sign.
    let signs = signs_as(&envelope, &session.user);
    if signs {
        if let Some(wait) = state.sessions.locked_for(&session.user) {
            return Ok(crate::auth::locked_response(&session.user, wait));
        }
    }
    let receipt = match state.mes.execute(&session, envelope).await {
        Ok(receipt) => receipt,
        Err(e @ lodestone_mes::MesError::Signature(_)) if signs => {
            let mut problem = Problem::from(e);
            if state.sessions.record_failure(&session.user) {
                problem.detail.push_str(&format!(
                    "; {} failed logins or e-signatures: user '{}' is locked for {} min",
                    crate::auth::Sessions::MAX_FAILURES,
                    session.user,
                    crate::auth::Sessions::LOCKOUT.as_secs() / 60
                ));
            }
            return Err(problem);
        }
        Err(e) => return Err(e.into()),
    };
    let status = if receipt.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(receipt)).into_response())
}

/// Whether `envelope` carries an e-signature by `user` (any command's `signature` field).
fn signs_as(envelope: &Envelope, user: &str) -> bool {
    serde_json::to_value(&envelope.command).is_ok_and(|v| v["signature"]["user"] == user)
}

/// Query of `GET /api/spc`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SpcQuery {
    /// Material definition (e.g. `N52-flake`).
    pub definition: String,
    /// Property (e.g. `Pr`, `thickness`).
    pub property: String,
    /// The latest this many results (default 100, 10 to 5,000).
    #[param(minimum = 10, maximum = 5000)]
    pub last: Option<usize>,
    /// Chart: `i-mr` (default; Nelson rules), `ewma` or `cusum`.
    pub chart: Option<String>,
    /// Width of the limits in σ of the statistic (default 3; I-MR and EWMA).
    pub nsigmas: Option<f64>,
    /// Known centre (phase II): the limits use it instead of the mean of the lots charted.
    pub center: Option<f64>,
    /// Known process σ (phase II); with `center`, every lot is monitored against both.
    pub std_dev: Option<f64>,
    /// σ estimate by qcc's name: `MR` (default) or `SD`.
    pub std_dev_method: Option<String>,
    /// Lots to leave out of the limits, comma-separated lot ids; they stay on the chart, marked.
    pub exclude: Option<String>,
    /// EWMA smoothing constant λ in (0, 1] (default 0.2).
    pub lambda: Option<f64>,
    /// CUSUM decision interval h in standard errors (default 5).
    pub decision_interval: Option<f64>,
    /// CUSUM shift to detect in standard errors (default 1).
    pub se_shift: Option<f64>,
    /// CUSUM head start in [0, h) (default 0).
    pub head_start: Option<f64>,
}

/// A rule violation on a chart point.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Violation {
    /// Point index on the chart (0-based).
    pub point: usize,
    /// The lot measured (the sample's label).
    pub lot: String,
    /// The value.
    pub value: f64,
    /// Rule number (Nelson for I-MR; 1 = beyond the limits for EWMA and CUSUM).
    pub rule: u8,
    /// What the rule says.
    pub rule_text: String,
}

/// One lot on the chart.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SpcPoint {
    /// The lot (the sample's label).
    pub lot: String,
    /// Its measured value.
    pub value: f64,
    /// The plotted statistic: the value (I), the EWMA, or the upper CUSUM sum.
    pub statistic: f64,
    /// The lower CUSUM sum, plotted negative (CUSUM only).
    pub lower_sum: Option<f64>,
    /// Lower control limit at this point (−h for CUSUM).
    pub lcl: f64,
    /// Upper control limit at this point (h for CUSUM).
    pub ucl: f64,
    /// True if the lot was left out of the limits.
    pub excluded: bool,
}

/// A control chart of a property over the latest lots.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SpcChart {
    /// Material definition.
    pub definition: String,
    /// Property.
    pub property: String,
    /// Unit.
    pub unit: String,
    /// Chart: `i-mr`, `ewma` or `cusum`.
    pub chart: String,
    /// Points charted.
    pub count: usize,
    /// Centre line.
    pub center: f64,
    /// Process σ (estimated or known).
    pub std_dev: f64,
    /// True if centre and σ were given (phase II) rather than estimated.
    pub known: bool,
    /// Lower and upper control limits: the individuals limits; for EWMA those of the last
    /// point (the asymptotic ones); for CUSUM ∓h in standard errors.
    pub limits: [f64; 2],
    /// Lots left out of the limits.
    pub excluded: Vec<String>,
    /// Points breaking a rule, by lot.
    pub violations: Vec<Violation>,
    /// Every point, oldest first.
    pub points: Vec<SpcPoint>,
    /// Capability against the material's specification limits for the property, when the MES
    /// has them (Cp, Cpk, Pp, Ppk with 95 % intervals).
    pub capability: Option<lodestone_mes::spc::Capability>,
    /// The chart as SVG (violations marked).
    pub svg: String,
}

/// `GET /api/spc?definition=&property=&last=&chart=&lambda=…`.
#[utoipa::path(
    get,
    path = "/api/spc",
    tag = "quality",
    summary = "Control chart of a property (I-MR with Nelson rules, EWMA or CUSUM) with capability",
    params(SpcQuery),
    responses((status = 200, description = "Control chart of a property (I-MR with Nelson rules, EWMA or CUSUM) with capability", body = SpcChart), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 404, response = ProblemDetails), (status = 422, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn spc(
    State(state): State<Shared>,
    _: Authed,
    Query(q): Query<SpcQuery>,
) -> Result<Json<SpcChart>, Problem> {
    use lodestone_mes::spc::{
        self, table, ChartOptions, CusumOptions, EwmaOptions, Rules, Standard, StdDevMethod,
        SvgOptions,
    };
    let invalid = |e: lodestone_mes::spc::SpcError| {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
    };
    let last = q.last.unwrap_or(100);
    if !(10..=5000).contains(&last) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("last: {last} is not allowed; expected 10 to 5000 results"),
        ));
    }
    let chart_name = q.chart.as_deref().unwrap_or("i-mr");
    if !["i-mr", "ewma", "cusum"].contains(&chart_name) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("chart: '{chart_name}' is not allowed; expected i-mr, ewma or cusum"),
        ));
    }
    let misplaced = [
        ("lambda", q.lambda.is_some(), "ewma"),
        ("decision_interval", q.decision_interval.is_some(), "cusum"),
        ("se_shift", q.se_shift.is_some(), "cusum"),
        ("head_start", q.head_start.is_some(), "cusum"),
    ];
    for (name, given, chart) in misplaced {
        if given && chart != chart_name {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{name} does not apply to a {chart_name} chart; it is for chart={chart}"),
            ));
        }
    }
    if chart_name == "cusum" && q.nsigmas.is_some() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nsigmas does not apply to a cusum chart; it signals at decision_interval",
        ));
    }
    let method = q
        .std_dev_method
        .as_deref()
        .map(str::parse::<StdDevMethod>)
        .transpose()
        .map_err(invalid)?;
    let series = state.mes.measurements(&q.definition, &q.property).await?;
    if series.len() < 3 {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!(
                "'{}' of '{}' has {} results; a chart needs at least 3",
                q.property,
                q.definition,
                series.len()
            ),
        ));
    }
    let series = &series[series.len().saturating_sub(last)..];
    let values: Vec<f64> = series.iter().map(|m| m.value).collect();
    let lots: Vec<String> = series.iter().map(|m| m.lot.clone()).collect();
    // With a known centre and σ every lot is monitored against them (phase II).
    let known = q.center.is_some() && q.std_dev.is_some();
    let phase_one = if known { 0 } else { values.len() };
    let wanted: Vec<String> = q
        .exclude
        .as_deref()
        .map(|e| {
            e.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let exclude = table::resolve_labels(&lots, phase_one, &wanted).map_err(invalid)?;
    let options = ChartOptions {
        rules: Rules::nelson(),
        nsigmas: q.nsigmas.unwrap_or(3.0),
        exclude: exclude.clone(),
        standard: Standard {
            center: q.center,
            std_dev: q.std_dev,
        },
        std_dev_method: method,
        ..ChartOptions::default()
    };
    let (p1, p2) = values.split_at(phase_one);
    let groups = |v: &[f64]| v.iter().map(|&x| vec![x]).collect::<Vec<_>>();
    let svg_options = SvgOptions {
        title: Some(format!(
            "{} {} ({}), latest {} lots — {chart_name}",
            q.definition,
            q.property,
            series[0].unit,
            series.len()
        )),
        x_label: "Lot (oldest to newest)".into(),
        labels: lots.clone(),
        ..SvgOptions::default()
    };
    let violation = |point: usize, rule: u8, text: String| Violation {
        point,
        lot: lots[point].clone(),
        value: values[point],
        rule,
        rule_text: text,
    };
    let (center, std_dev, limits, violations, points, svg) = if chart_name == "cusum" {
        let defaults = CusumOptions::default();
        let cusum = CusumOptions {
            decision_interval: q.decision_interval.unwrap_or(defaults.decision_interval),
            se_shift: q.se_shift.unwrap_or(defaults.se_shift),
            head_start: q.head_start.unwrap_or(defaults.head_start),
        };
        let c = spc::cusum_chart(&groups(p1), &groups(p2), &cusum, &options).map_err(invalid)?;
        let h = c.decision_interval;
        let mut violations = Vec::new();
        for p in &c.points {
            for (crossed, side) in [(p.upper_violation, "upper"), (p.lower_violation, "lower")] {
                if crossed {
                    violations.push(violation(
                        p.index,
                        1,
                        format!("the {side} cumulative sum is beyond the decision interval"),
                    ));
                }
            }
        }
        let points = c
            .points
            .iter()
            .map(|p| SpcPoint {
                lot: lots[p.index].clone(),
                value: values[p.index],
                statistic: p.upper,
                lower_sum: Some(p.lower),
                lcl: -h,
                ucl: h,
                excluded: p.excluded,
            })
            .collect();
        let svg = spc::render_cusum_svg(&c, &svg_options);
        (c.center, c.std_dev, [-h, h], violations, points, svg)
    } else {
        let chart = if chart_name == "ewma" {
            let ewma = EwmaOptions {
                lambda: q.lambda.unwrap_or(0.2),
            };
            spc::ewma_chart(&groups(p1), &groups(p2), &ewma, &options).map_err(invalid)?
        } else {
            spc::individuals_chart(p1, p2, &options).map_err(invalid)?
        };
        let violations = chart
            .violations()
            .into_iter()
            .map(|(point, rule)| {
                let text = chart.rules.family.describe(rule).unwrap_or("").to_string();
                violation(point, rule, text)
            })
            .collect();
        let points = chart
            .points
            .iter()
            .map(|p| SpcPoint {
                lot: lots[p.index].clone(),
                value: values[p.index],
                statistic: p.statistic,
                lower_sum: None,
                lcl: p.lcl,
                ucl: p.ucl,
                excluded: p.excluded,
            })
            .collect();
        let last_point = chart.points.last().ok_or_else(|| {
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the chart has no points")
        })?;
        let limits = [last_point.lcl, last_point.ucl];
        let svg = spc::render_svg(&chart, &svg_options);
        (chart.center, chart.std_dev, limits, violations, points, svg)
    };
    let spec_limit = state
        .mes
        .specification(&q.definition)
        .await?
        .and_then(|spec| spec.limits.into_iter().find(|l| l.property == q.property));
    let included: Vec<f64> = values
        .iter()
        .enumerate()
        .filter(|(i, _)| !exclude.contains(i))
        .map(|(_, v)| *v)
        .collect();
    let capability = spec_limit.and_then(|l| {
        spc::capability(
            &included,
            center,
            std_dev,
            &spc::SpecLimits {
                lsl: l.min,
                usl: l.max,
                target: l.target,
            },
            &spc::CapabilityOptions::default(),
        )
        .ok()
    });
    Ok(Json(SpcChart {
        definition: q.definition,
        property: q.property,
        unit: series[0].unit.clone(),
        chart: chart_name.to_string(),
        count: series.len(),
        center,
        std_dev,
        known,
        limits,
        excluded: exclude.iter().map(|&i| lots[i].clone()).collect(),
        violations,
        points,
        capability,
        svg,
    }))
}

/// `GET /api/plant`.
#[utoipa::path(
    get,
    path = "/api/plant",
    tag = "plant",
    summary = "The plant model in force: equipment, materials, segments, work masters, specifications",
    responses((status = 200, description = "The plant model in force: equipment, materials, segments, work masters, specifications", body = PlantModel), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn plant(State(state): State<Shared>, _: Authed) -> Result<Json<PlantModel>, Problem> {
    Ok(Json(state.mes.plant_model().await?))
}

/// `GET /api/specifications/{definition}`.
#[utoipa::path(
    get,
    path = "/api/specifications/{definition}",
    tag = "quality",
    summary = "The specification in force for a material definition",
    params(("definition" = String, Path, description = "Material definition id")),
    responses((status = 200, description = "The specification in force for a material definition", body = Specification), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 404, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn specification(
    State(state): State<Shared>,
    _: Authed,
    Path(definition): Path<String>,
) -> Result<Json<Specification>, Problem> {
    state
        .mes
        .specification(&definition)
        .await?
        .map(Json)
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                format!("material definition '{definition}' has no specification"),
            )
        })
}

/// `GET /api/lots/{id}/evaluation`.
#[utoipa::path(
    get,
    path = "/api/lots/{id}/evaluation",
    tag = "quality",
    summary = "A lot's results checked against its specification, with the proposed disposition",
    params(("id" = String, Path, description = "Lot id")),
    responses((status = 200, description = "A lot's results checked against its specification, with the proposed disposition", body = Evaluation), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 404, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn evaluation(
    State(state): State<Shared>,
    _: Authed,
    Path(id): Path<String>,
) -> Result<Json<Evaluation>, Problem> {
    Ok(Json(state.mes.evaluate(&id).await?))
}
