//! The batching calculator: a batch plan (the alloy plan TOML of `lodestone alloy batch`) in,
//! the least-cost weigh list out, from the `alloy` optimiser.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lodestone_alloy::{charge, parse_plan, AlloyError, Charge, ChargeRequest};

use crate::auth::Authed;
use crate::limits::{self, Kind};
use crate::problem::{Problem, ProblemDetails};
use crate::Shared;

/// The example plan the page starts from.
pub const EXAMPLE_PLAN: &str = include_str!("../../../examples/alloy/n52-low-boron-600kg.toml");

/// Largest plan accepted, bytes.
pub const MAX_PLAN_BYTES: usize = 256 * 1024;

/// Most lots in a plan on the server: a melt shop's open stock is tens of lots.
pub const MAX_LOTS: usize = 500;

/// Most lots charged in whole pieces (each an integer variable of the optimiser, whose
/// branch-and-bound work can grow exponentially with their number).
pub const MAX_PIECE_LOTS: usize = 40;

/// The size limits of the server's optimiser, checked before any solving.
fn check_size(request: &ChargeRequest) -> Result<(), Problem> {
    let too_big = |field: &str, value: usize, max: usize| {
        Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "{field}: {value} is not allowed on the server; expected at most {max} (run larger plans with `lodestone alloy batch`)"
            ),
        ))
    };
    if request.lots.len() > MAX_LOTS {
        return too_big("lot", request.lots.len(), MAX_LOTS);
    }
    let pieces = request.lots.iter().filter(|l| l.piece_kg.is_some()).count();
    if pieces > MAX_PIECE_LOTS {
        return too_big("lots charged in pieces", pieces, MAX_PIECE_LOTS);
    }
    Ok(())
}

/// `GET /api/alloy/example`: the example plan (TOML text).
#[utoipa::path(
    get,
    path = "/api/alloy/example",
    tag = "calculators",
    summary = "The example batch plan (TOML)",
    responses((status = 200, description = "The example batch plan (TOML)", body = String, content_type = "text/plain"), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn example(_: Authed) -> &'static str {
    EXAMPLE_PLAN
}

/// `POST /api/alloy/charge`: body a batch plan in TOML; answer the charge (weigh list, cost,
/// predicted and aimed composition), or 422 naming what the plan or the stock cannot meet.
#[utoipa::path(
    post,
    path = "/api/alloy/charge",
    tag = "calculators",
    summary = "Least-cost charge of a heat from a batch plan (TOML, as `lodestone alloy batch`)",
    description = "Limits: the plan at most 256 KiB, 500 lots, 40 of them charged in pieces (422 beyond). At most `--max-computations` solves and charges run at once (503 with Retry-After beyond); a charge is given up after `--compute-timeout-s` (503).",
    request_body(content = String, description = "Batch plan, TOML (at most 256 KiB, 500 lots, 40 charged in pieces)", content_type = "text/plain"),
    responses((status = 200, description = "Least-cost charge of a heat from a batch plan (TOML, as `lodestone alloy batch`)", body = Charge), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 413, response = ProblemDetails), (status = 422, response = ProblemDetails), (status = 500, response = ProblemDetails), (status = 503, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn charge_plan(
    State(state): State<Shared>,
    _: Authed,
    body: String,
) -> Result<Json<Charge>, Problem> {
    if body.len() > MAX_PLAN_BYTES {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the plan is {} bytes; at most {MAX_PLAN_BYTES} are accepted",
                body.len()
            ),
        ));
    }
    let request = parse_plan(&body).map_err(alloy_problem)?;
    check_size(&request)?;
    // The optimiser is CPU work (about a millisecond, up to tens with whole pieces): off the
    // request threads, behind the gate. It has no cancellation hook, so a charge past the time
    // limit keeps its slot until it returns (the size limits keep that short).
    let result = limits::run(&state, Kind::Computation, "alloy charge", move |_| {
        charge(&request)
    })
    .await?;
    result.map(Json).map_err(alloy_problem)
}

fn alloy_problem(e: AlloyError) -> Problem {
    match e {
        AlloyError::Infeasible { reasons } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the heat cannot be charged to grade: {}",
                reasons.join("; ")
            ),
        ),
        AlloyError::Solver(message) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("optimiser failure: {message}"),
        ),
        other => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, other.to_string()),
    }
}
