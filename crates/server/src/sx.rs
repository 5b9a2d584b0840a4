//! The SX case viewer: a cascade case (the TOML of `lodestone sx simulate`) in, the steady
//! state out — products with purity and recovery, and every stage's composition.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lodestone_sx::solver::solve_cancellable;
use lodestone_sx::{Case, SimulationResult};

use crate::auth::Authed;
use crate::limits::{self, Kind};
use crate::problem::{Problem, ProblemDetails};
use crate::Shared;

/// The example case the page starts from: Xu's ideal Nd/Pr cascade, 37 stages.
pub const EXAMPLE_CASE: &str = include_str!("../../../examples/sx/xu-nd-pr.toml");

/// Largest case accepted, bytes.
pub const MAX_CASE_BYTES: usize = 256 * 1024;

/// Most stages of a case on the server: real cascades have tens, the largest lines a few
/// hundred in one section. (The command-line simulator has no such limit.)
pub const MAX_STAGES: usize = 1000;

/// Most feeds and side draws of a case on the server.
pub const MAX_FEEDS: usize = 100;

/// Most unknowns per stage (the model's species and relations): a stage's Jacobian block is
/// this squared, and each Newton step factors one per stage.
pub const MAX_UNKNOWNS_PER_STAGE: usize = 64;

/// The size limits of the server's simulator, checked before any solving.
fn check_size(case: &Case) -> Result<(), Problem> {
    let too_big = |field: &str, value: usize, max: usize| {
        Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "{field}: {value} is not allowed on the server; expected at most {max} (run larger cases with `lodestone sx simulate`)"
            ),
        ))
    };
    let stages = case.cascade.stages();
    if stages > MAX_STAGES {
        return too_big("stages", stages, MAX_STAGES);
    }
    let feeds = case.cascade.feeds().len() + case.cascade.draws().len();
    if feeds > MAX_FEEDS {
        return too_big("feeds and draws", feeds, MAX_FEEDS);
    }
    let unknowns = case.model.unknowns_per_stage();
    if unknowns > MAX_UNKNOWNS_PER_STAGE {
        return too_big("model unknowns per stage", unknowns, MAX_UNKNOWNS_PER_STAGE);
    }
    Ok(())
}

/// `GET /api/sx/example`: the example case (TOML text).
#[utoipa::path(
    get,
    path = "/api/sx/example",
    tag = "calculators",
    summary = "The example cascade case (TOML)",
    responses((status = 200, description = "The example cascade case (TOML)", body = String, content_type = "text/plain"), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn example(_: Authed) -> &'static str {
    EXAMPLE_CASE
}

/// `POST /api/sx/simulate`: body a case in TOML; answer the result (docs/sx-json.md), or 422
/// naming what the case gets wrong or why the solver did not converge. At most
/// [`MAX_STAGES`] stages, [`MAX_FEEDS`] feeds and draws and [`MAX_UNKNOWNS_PER_STAGE`]
/// unknowns per stage; the solve runs behind the computation gate (503 when every slot is
/// taken), is stopped at the computation time limit, and stops when the client goes away.
#[utoipa::path(
    post,
    path = "/api/sx/simulate",
    tag = "calculators",
    summary = "Steady state of a solvent-extraction cascade case (TOML, as `lodestone sx simulate`)",
    description = "Limits: the case at most 256 KiB, 1000 stages, 100 feeds and side draws, 64 model unknowns per stage (422 beyond). At most `--max-computations` solves and charges run at once (503 with Retry-After beyond); a solve is stopped after `--compute-timeout-s` (503), and when the client disconnects.",
    request_body(content = String, description = "Cascade case, TOML (at most 256 KiB, 1000 stages, 100 feeds and draws)", content_type = "text/plain"),
    responses((status = 200, description = "Steady state of a solvent-extraction cascade case (TOML, as `lodestone sx simulate`)", body = SimulationResult), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 413, response = ProblemDetails), (status = 422, response = ProblemDetails), (status = 500, response = ProblemDetails), (status = 503, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn simulate(
    State(state): State<Shared>,
    _: Authed,
    body: String,
) -> Result<Json<SimulationResult>, Problem> {
    if body.len() > MAX_CASE_BYTES {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the case is {} bytes; at most {MAX_CASE_BYTES} are accepted",
                body.len()
            ),
        ));
    }
    let case = Case::from_toml(&body)
        .map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    check_size(&case)?;
    // Solving is CPU work (milliseconds to seconds): off the request threads, behind the gate.
    // The flag is set only when the answer is no longer wanted (client gone, or the gate's
    // timer fired and answered 503), so a stopped solve's result is never sent.
    let solution = limits::run(&state, Kind::Computation, "SX simulate", move |cancel| {
        solve_cancellable(
            &case.cascade,
            case.model.as_ref(),
            &case.solver,
            cancel.flag(),
        )
        .map(|solution| {
            SimulationResult::build(
                &case.cascade,
                case.model.as_ref(),
                &solution,
                case.unit,
                &case.flow_unit,
            )
        })
    })
    .await?;
    solution
        .map(Json)
        .map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
}
