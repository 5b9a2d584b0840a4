//! Request statistics in the Prometheus text format (`GET /metrics`): requests by route and
//! status, a latency histogram per route, and the MES's event count.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx::Row;

use crate::Shared;

/// Latency bucket bounds, s.
const BUCKETS_S: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

#[derive(Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS_S.len()],
    count: u64,
    sum_s: f64,
}

/// Request counters and latency histograms, by route.
#[derive(Default)]
pub struct Metrics(Mutex<BTreeMap<String, RouteStats>>);

impl Metrics {
    fn record(&self, route: &str, status: u16, seconds: f64) {
        let Ok(mut map) = self.0.lock() else {
            return;
        };
        let r = map.entry(route.to_string()).or_default();
        *r.by_status.entry(status).or_default() += 1;
        for (i, bound) in BUCKETS_S.iter().enumerate() {
            if seconds <= *bound {
                r.buckets[i] += 1;
            }
        }
        r.count += 1;
        r.sum_s += seconds;
    }
}

/// Middleware: times every request and counts it under its route pattern.
pub async fn track(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.record(&route, status, seconds);
    // One structured line per request (the route pattern, never ids or tokens).
    if status >= 500 {
        tracing::error!(%method, route, status, ms = seconds * 1e3, "request failed");
    } else {
        tracing::info!(%method, route, status, ms = seconds * 1e3, "request");
    }
    response
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Request counts and latencies, Prometheus text format",
    responses((status = 200, description = "Request counts and latencies, Prometheus text format", body = String, content_type = "text/plain; version=0.0.4"))
)]
pub async fn render(State(state): State<Shared>) -> Response {
    let mut out = String::new();
    out.push_str("# HELP lodestone_http_requests_total HTTP requests by route and status.\n");
    out.push_str("# TYPE lodestone_http_requests_total counter\n");
    let mut hist = String::new();
    hist.push_str("# HELP lodestone_http_request_duration_seconds Request latency by route.\n");
    hist.push_str("# TYPE lodestone_http_request_duration_seconds histogram\n");
    if let Ok(map) = state.metrics.0.lock() {
        for (route, r) in map.iter() {
            for (status, n) in &r.by_status {
                let _ = writeln!(
                    out,
                    "lodestone_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
            for (bound, n) in BUCKETS_S.iter().zip(r.buckets) {
                let _ = writeln!(
                    hist,
                    "lodestone_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                hist,
                "lodestone_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                r.count
            );
            let _ = writeln!(
                hist,
                "lodestone_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                r.sum_s
            );
            let _ = writeln!(
                hist,
                "lodestone_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                r.count
            );
        }
    }
    out.push_str(&hist);
    let events = sqlx::query("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) AS n FROM events")
        .fetch_one(state.mes.db().pool())
        .await
        .ok()
        .and_then(|r| r.try_get::<i64, _>("n").ok());
    if let Some(n) = events {
        out.push_str("# HELP lodestone_mes_events Events recorded in the MES.\n");
        out.push_str("# TYPE lodestone_mes_events gauge\n");
        let _ = writeln!(out, "lodestone_mes_events {n}");
    }
    if let Some(demo) = &state.demo {
        out.push_str("# HELP lodestone_demo_speed Simulated seconds per real second.\n");
        out.push_str("# TYPE lodestone_demo_speed gauge\n");
        let _ = writeln!(out, "lodestone_demo_speed {}", demo.speed());
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out,
    )
        .into_response()
}
