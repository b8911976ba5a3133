//! The HTTP API (axum): routes, middleware and the serve loop. `docs/API.md` is the contract.
//!
//! - [`router`] builds the app from an [`AppState`]; [`run`] serves it on a listener until a
//!   shutdown future resolves, then drains in-flight requests for a bounded time, within the
//!   connection limits and timeouts of [`server`]. Tests bind port 0 and call these directly.
//! - Request bodies are bounded before any work starts: [`body`] (size, deadline, admission of
//!   large bodies) and [`json`] (duplicate keys, a cap on the number of values).
//! - Submodules: [`request`] (parsing and validation), [`simulate`], [`historical`],
//!   [`sampling`] (weekly Mondays), [`error`] (status codes and the error body), [`state`].
//! - CPU work (simulation, serialisation) runs on the blocking pool via
//!   [`AppState::run_cpu`], never on the async workers.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};

pub mod admin;
pub mod analyze;
pub mod body;
pub mod cpu;
pub mod error;
pub mod explore;
pub mod historical;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod pinning;
pub mod precompressed;
pub mod request;
pub mod sampling;
pub mod schedule;
pub mod server;
pub mod simulate;
pub mod state;

use body::JsonObject;
use error::ApiError;
use pinning::{Answering, RequestDigest, Start};
use simulate::Resolution;
pub use state::{AppState, DataSources, Served, StoreProblem, StoreProblemKind};

/// The API version reported by `/health` and `/openapi.json`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Builds the application.
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(state.config().cors_origins.as_deref());
    Router::new()
        .route("/", get(explore::root))
        .route("/explore", get(explore::page))
        .route("/explore/{file}", get(explore::asset))
        .route("/favicon.ico", get(explore::favicon))
        .route("/health", get(health))
        .route("/simulate", post(simulate_weekly))
        .route("/simulate/full", post(simulate_daily))
        .route("/simulate/batch", post(simulate_batch))
        .route("/analyze/ensemble", post(analyze::ensemble))
        .route("/analyze/sweep", post(analyze::sweep))
        .route("/analyze/solve", post(analyze::solve))
        .route("/analyze/sensitivity", post(analyze::sensitivity))
        .route("/analyze/compare", post(analyze::compare))
        .route("/historical-data", get(historical_weekly))
        .route("/historical-data/full", get(historical_daily))
        .route("/admin/update-cache", post(admin::update_cache))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/docs", get(openapi::docs_page))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), body::admit_large_bodies))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::record))
        .with_state(state)
        .layer(CompressionLayer::new())
        .layer(cors)
        .layer(middleware::from_fn(log_request))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(CatchPanicLayer::custom(|_| ApiError::Internal("a handler panicked".into()).into_response()))
}

/// Serves `app` on `listener` with the default [`server::ServerLimits`] until `shutdown`
/// resolves, then lets in-flight requests finish for at most `grace`.
pub async fn run(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    server::serve(listener, app, shutdown, grace, server::ServerLimits::default()).await
}

fn cors_layer(origins: Option<&[String]>) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(Any)
        .expose_headers([
            header::HeaderName::from_static("x-request-id"),
            pinning::SNAPSHOT_ID_HEADER,
            header::ETAG,
        ])
        .max_age(Duration::from_secs(3600));
    match origins {
        None => layer.allow_origin(Any),
        Some(list) => {
            let values: Vec<HeaderValue> =
                list.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
            layer.allow_origin(AllowOrigin::list(values))
        }
    }
}

/// Logs one line per request with its id, status and latency.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
        .to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    tracing::info!(request_id = %id, %method, %path, status, latency_ms = format!("{latency_ms:.2}"), "request");
    response
}

async fn index() -> impl IntoResponse {
    axum::Json(json!({
        "service": "mechafil-api",
        "version": VERSION,
        "description": "MechaFil Filecoin economics: network history and forecasts",
        "docs": "/docs",
        "openapi": "/openapi.json",
        "endpoints": openapi::ENDPOINTS.iter().map(|e| json!({
            "method": e.method, "path": e.path, "summary": e.summary,
        })).collect::<Vec<_>>(),
    }))
}

async fn health(State(state): State<AppState>) -> Response {
    let (status, snapshot, reason) = match state.served() {
        Ok(served) => {
            let age_hours = (chrono::Utc::now() - served.meta.fetched_at).num_seconds() as f64 / 3600.0;
            let mut snapshot = serde_json::to_value(served.snapshot_ref()).expect("plain data");
            snapshot["fetched_at"] = json!(served.meta.fetched_at);
            snapshot["age_hours"] = json!((age_hours * 100.0).round() / 100.0);
            (StatusCode::OK, snapshot, None)
        }
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, serde_json::Value::Null, Some(reason)),
    };
    let store_problems = state.store_problems();
    let mut body = json!({
        "status": match (status == StatusCode::OK, store_problems.is_empty()) {
            (true, true) => "ok",
            (true, false) => "degraded",
            (false, _) => "unavailable",
        },
        "version": VERSION,
        "machine": state.config().machine,
        "snapshot": snapshot,
        "uptime_seconds": (chrono::Utc::now() - state.started_at()).num_seconds(),
        "last_update": state.last_update(),
        "update_in_progress": state.update_in_progress(),
        "updates_enabled": state.data().store.is_some() && state.data().spacescope.is_some(),
        "store_problems": store_problems,
    });
    if let Some(reason) = reason {
        body["error"] = json!(reason);
    }
    (status, axum::Json(body)).into_response()
}

fn served(state: &AppState) -> Result<std::sync::Arc<Served>, ApiError> {
    state.served().map_err(|reason| ApiError::Unavailable(format!("no snapshot can be served: {reason}")))
}

fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

async fn simulate_with(
    state: AppState,
    headers: HeaderMap,
    mut body: JsonObject,
    resolution: Resolution,
) -> Result<Response, ApiError> {
    let answering = match Answering::start_post(&state, &headers, &mut body).await? {
        Start::Answer(answering) => answering,
        Start::NotModified(response) => return Ok(response),
    };
    let served = Arc::clone(&answering.served);
    let body = state
        .run_cpu(move || {
            let request = request::parse_simulate(&body.0, &served.simulator)?;
            simulate::simulate_json(&served, &request, resolution)
        })
        .await??;
    Ok(answering.respond(json_response(body)))
}

async fn simulate_weekly(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Response, ApiError> {
    simulate_with(state, headers, body, Resolution::Weekly).await
}

async fn simulate_daily(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Response, ApiError> {
    simulate_with(state, headers, body, Resolution::Daily).await
}

/// Scenarios per CPU job of a batch: a few milliseconds of work, so other requests interleave.
const BATCH_CHUNK: usize = 8;

async fn simulate_batch(
    State(state): State<AppState>,
    headers: HeaderMap,
    mut body: JsonObject,
) -> Result<Response, ApiError> {
    let answering = match Answering::start_post(&state, &headers, &mut body).await? {
        Start::Answer(answering) => answering,
        Start::NotModified(response) => return Ok(response),
    };
    let served = Arc::clone(&answering.served);
    let for_parse = Arc::clone(&served);
    let batch = state.run_cpu(move || request::parse_batch(&body.0, &for_parse.simulator)).await??;
    simulate::check_batch_size(&batch)?;
    let n = batch.scenarios.len();
    let chunks: Vec<_> = (0..n).step_by(BATCH_CHUNK).map(|i| i..(i + BATCH_CHUNK).min(n)).collect();
    let batch = Arc::new(batch);
    let deadline = Instant::now() + cpu::ANALYSIS_TIME_LIMIT;
    let parallel = state.cpu().permits();
    let entries = state
        .cpu()
        .run_chunks(chunks, parallel, deadline, move |range| simulate::batch_entries(&served, &batch, range))
        .await?;
    let pieces = simulate::batch_body(entries);
    let body = axum::body::Body::from_stream(futures_util::stream::iter(
        pieces.into_iter().map(Ok::<_, std::convert::Infallible>),
    ));
    let response =
        ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
    Ok(answering.respond(response))
}

/// Query of the historical endpoints.
#[derive(Debug, Deserialize)]
pub struct HistoricalQuery {
    /// Comma-separated field names to return (default: all).
    pub fields: Option<String>,
    /// The snapshot to answer from (a snapshot id or a current_date; see [`pinning`]).
    pub snapshot: Option<String>,
}

async fn historical_with(
    state: AppState,
    request: (Method, Uri, HeaderMap),
    query: Result<Query<HistoricalQuery>, axum::extract::rejection::QueryRejection>,
    daily: bool,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    let (method, uri, headers) = request;
    let pin = pinning::query_pin(query.snapshot.as_deref())?;
    let digest = RequestDigest::new(&method, &uri, b"");
    let answering = match Answering::start(&state, &headers, pin.as_ref(), &digest).await? {
        Start::Answer(answering) => answering,
        Start::NotModified(response) => return Ok(response),
    };
    let served = Arc::clone(&answering.served);
    let body = state
        .run_cpu(move || {
            let fields = historical::parse_fields(&served, query.fields.as_deref())?;
            Ok::<_, ApiError>(historical::historical_json(&served, fields.as_deref(), daily))
        })
        .await??;
    Ok(answering.respond(json_response(body)))
}

async fn historical_weekly(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<HistoricalQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    historical_with(state, (method, uri, headers), query, false).await
}

async fn historical_daily(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<HistoricalQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    historical_with(state, (method, uri, headers), query, true).await
}

async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(request.uri().path().to_string())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
