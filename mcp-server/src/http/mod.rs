//! The streamable HTTP transport: an axum app serving MCP at `/mcp` (and `/mcp/`) and `GET /health`.
//!
//! The app keeps **no state that a restart could lose**. rmcp's `StreamableHttpService` runs in
//! stateless mode (`legacy_session_mode = false`): every POST is answered on its own, whatever
//! protocol version the client speaks (the 2026-07-28 per-request flow, or `initialize` for
//! 2025-11-25 back to 2024-11-05). Around it, [`mcp_endpoint`] adds what clients of the older
//! flows expect and what rmcp's stateless mode does not do:
//!
//! - **A session id on `initialize`.** Some clients refuse to continue without `Mcp-Session-Id`,
//!   so the `initialize` answer carries a fresh random one. It is never stored: rmcp's stateless
//!   mode ignores the header, so any id (an old one from before a restart included) is accepted.
//! - **SSE or JSON by `Accept`.** rmcp wants both media types listed and then always picks one
//!   framing; here a client listing `text/event-stream` gets SSE (`data:` lines), one that accepts
//!   only JSON (or `*/*`, or sends no `Accept`) gets plain JSON, from a second rmcp service
//!   configured with `json_response`.
//! - **`notifications/initialized` sent with an id** (a JSON-RPC request by shape, which rmcp
//!   would reject) is answered as a `ping` with that id: an empty result, so a client waiting for
//!   a reply gets one.
//!
//! rmcp itself checks `Host` (DNS rebinding; `MCP_ALLOWED_HOSTS` adds public names) and, when a
//! list of origins is configured, `Origin`. tower-http adds CORS headers (exposing
//! `Mcp-Session-Id`), and an optional bearer token (`MCP_AUTH_TOKEN`) guards `/mcp`.
//!
//! Every request is bounded before any work starts ([`HttpLimits`]): headers within a deadline
//! and a bounded number of connections ([`serve`]), the body within a size limit and a deadline,
//! large or value-heavy bodies only a few at a time ([`body`]), and the JSON checked for its
//! number of values and depth without building a tree ([`scan`]) before rmcp parses it.

pub mod body;
pub mod scan;
pub mod serve;

pub use serve::serve;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use futures_util::StreamExt;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::config::{HttpConfig, OriginPolicy};
use crate::tools::MechafilServer;

/// The bounds every HTTP request is held to (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Time for a request's headers to arrive, and for a kept-alive connection to start its
    /// next request.
    pub header_read_timeout: Duration,
    /// Time for a request's body to arrive once its headers have.
    pub body_timeout: Duration,
    /// Most open connections.
    pub max_connections: usize,
    /// Largest body.
    pub max_body_bytes: usize,
    /// Bodies up to this size (and [`HttpLimits::small_body_values`]) need no permit.
    pub small_body_bytes: usize,
    /// Bodies with more JSON values than this need a permit.
    pub small_body_values: usize,
    /// Most large requests in flight.
    pub max_large_requests: usize,
    /// Most JSON values in one body.
    pub max_json_values: usize,
    /// Deepest JSON nesting in one body.
    pub max_json_depth: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(20),
            max_connections: 512,
            // Six per-day lists of 7,300 numbers at full precision are about 1 MB.
            max_body_bytes: 2 * 1024 * 1024,
            small_body_bytes: 64 * 1024,
            small_body_values: 2_000,
            max_large_requests: 4,
            max_json_values: 60_000,
            max_json_depth: 32,
        }
    }
}

const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");

type McpService = StreamableHttpService<MechafilServer, NeverSessionManager>;

#[derive(Clone)]
struct McpEndpoint {
    /// Answers in SSE framing.
    sse: McpService,
    /// Answers plain JSON when the handler's first message is the final answer.
    json: McpService,
    auth_token: Option<Arc<str>>,
    limits: HttpLimits,
    /// Permits for large requests ([`HttpLimits::max_large_requests`]).
    large: Arc<Semaphore>,
}

/// The HTTP app. `shutdown` ends open SSE streams when cancelled, so a graceful shutdown does
/// not wait for them.
pub fn router(server: MechafilServer, config: &HttpConfig, shutdown: CancellationToken) -> Router {
    let mut rmcp_config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_sse_retry(None)
        .with_max_request_body_bytes(config.limits.max_body_bytes)
        .with_cancellation_token(shutdown)
        .with_allowed_hosts(config.host_allow_list());
    if let OriginPolicy::List(origins) = &config.allowed_origins {
        rmcp_config = rmcp_config.with_allowed_origins(origins.clone());
    }
    let make = |json_response: bool| {
        let server = server.clone();
        StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(NeverSessionManager::default()),
            rmcp_config.clone().with_json_response(json_response),
        )
    };
    let endpoint = McpEndpoint {
        sse: make(false),
        json: make(true),
        auth_token: config.auth_token.as_deref().map(Arc::from),
        limits: config.limits,
        large: Arc::new(Semaphore::new(config.limits.max_large_requests.max(1))),
    };

    Router::new()
        .route("/mcp", any(mcp_endpoint))
        .route("/mcp/", any(mcp_endpoint))
        .with_state(endpoint)
        .route("/health", get(health))
        .layer(cors_layer(&config.allowed_origins))
}

fn cors_layer(origins: &OriginPolicy) -> CorsLayer {
    let allow_origin = match origins {
        OriginPolicy::Any => AllowOrigin::any(),
        OriginPolicy::List(list) => {
            AllowOrigin::list(list.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
        }
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        // MCP clients send Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID and, from
        // 2026-07-28, Mcp-Method/Mcp-Name/Mcp-Param-*: mirroring admits them all.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([MCP_SESSION_ID, MCP_PROTOCOL_VERSION, header::WWW_AUTHENTICATE])
        .max_age(Duration::from_secs(24 * 3600))
}

/// `GET /health`: the process is up. It does not call the API, so a platform health check
/// never wakes (or waits for) the API.
async fn health() -> impl IntoResponse {
    axum::Json(json!({
        "status": "ok",
        "service": "mechafil-mcp",
        "version": env!("CARGO_PKG_VERSION"),
        "transport": "streamable-http",
        "endpoint": "/mcp",
    }))
}

/// How the client wants answers framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `text/event-stream` with `data:` lines.
    Sse,
    /// One `application/json` body.
    Json,
}

/// Picks the framing from the `Accept` headers: SSE when the client lists `text/event-stream`,
/// JSON when it accepts `application/json` (or any type, or sends no `Accept`), `None` when it
/// accepts neither. Entries with `q=0` are refusals.
pub fn framing(headers: &HeaderMap) -> Option<Framing> {
    let values: Vec<&str> = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect();
    if values.is_empty() {
        return Some(Framing::Json);
    }
    let accepted: Vec<String> = values
        .iter()
        .flat_map(|value| value.split(','))
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let media = parts.next()?.trim().to_ascii_lowercase();
            let refused = parts.any(|param| {
                let param = param.trim().replace(' ', "");
                param.eq_ignore_ascii_case("q=0")
                    || (param.starts_with("q=0.") && param[4..].bytes().all(|b| b == b'0'))
            });
            (!refused && !media.is_empty()).then_some(media)
        })
        .collect();
    let has = |media: &str| accepted.iter().any(|a| a == media);
    if has("text/event-stream") {
        Some(Framing::Sse)
    } else if has("application/json") || has("application/*") || has("*/*") {
        Some(Framing::Json)
    } else {
        None
    }
}

fn plain(status: StatusCode, message: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message.to_string()).into_response()
}

/// Compares without stopping at the first difference, so response time does not reveal how much
/// of a guessed token is right.
fn same_token(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = given.len() ^ expected.len();
    for (i, byte) in expected.iter().enumerate() {
        difference |= usize::from(byte ^ given.get(i).copied().unwrap_or(0));
    }
    difference == 0
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, given)| {
            scheme.eq_ignore_ascii_case("bearer") && same_token(given.trim().as_bytes(), token.as_bytes())
        })
}

/// A notification sent with an id becomes a `ping` with that id (see the module docs); every
/// other body is left for rmcp to judge. `facts` come from the body's [`scan`].
fn normalize_body(body: Bytes, facts: &scan::Facts) -> Bytes {
    match (&facts.method, &facts.id) {
        (Some(method), Some(id)) if method.starts_with("notifications/") => {
            tracing::debug!(method, "notification sent with an id: answering it as a ping");
            Bytes::from(json!({ "jsonrpc": "2.0", "id": id, "method": "ping" }).to_string())
        }
        _ => body,
    }
}

/// A JSON-RPC error answer with `status` (the request's `id` when it had one).
fn jsonrpc_error(status: StatusCode, id: Option<Value>, code: i32, message: String) -> Response {
    let body = json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// `response` with `permit` held until its body has been sent (SSE answers stream on after the
/// handler returns).
fn hold_until_sent(response: Response, permit: Option<OwnedSemaphorePermit>) -> Response {
    let Some(permit) = permit else { return response };
    let (parts, body) = response.into_parts();
    let stream = body.into_data_stream().map(move |chunk| {
        let _held = &permit;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

async fn mcp_endpoint(State(endpoint): State<McpEndpoint>, request: Request) -> Response {
    if let Some(token) = &endpoint.auth_token
        && !authorized(request.headers(), token)
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer"), (header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Unauthorized: this MCP server needs Authorization: Bearer <MCP_AUTH_TOKEN>",
        )
            .into_response();
    }
    if request.method() != Method::POST {
        // GET (server-to-client stream) and DELETE (end session) have no meaning without
        // sessions: rmcp answers 405 with `Allow: POST`, as the specification allows.
        return endpoint.sse.handle(request).await.into_response();
    }

    let Some(framing) = framing(request.headers()) else {
        return plain(
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable: the client must accept application/json or text/event-stream",
        );
    };
    let (mut parts, body) = request.into_parts();
    let limits = endpoint.limits;
    let deadline = tokio::time::Instant::now() + limits.body_timeout;
    let content_length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (body, mut permit) = match body::read(body, content_length, &limits, &endpoint.large, deadline).await
    {
        Ok(read) => read,
        Err(err) => {
            let (status, close) = match err {
                body::BodyError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, true),
                body::BodyError::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, true),
                body::BodyError::Busy => (StatusCode::SERVICE_UNAVAILABLE, false),
                body::BodyError::Read(_) => (StatusCode::BAD_REQUEST, true),
            };
            let mut response =
                plain(status, &format!("{}: {err}", status.canonical_reason().unwrap_or("Error")));
            if close {
                // The rest of the body may still be on its way: do not read it.
                response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            } else {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            return response;
        }
    };
    let scan_limits =
        scan::ScanLimits { max_values: limits.max_json_values, max_depth: limits.max_json_depth };
    let facts = match scan::scan(&body, scan_limits) {
        Ok(facts) => facts,
        // rmcp answers a body that is not JSON with its parse error.
        Err(scan::Refusal { error: scan::ScanError::NotJson(_), .. }) => scan::Facts::default(),
        Err(scan::Refusal { error, id }) => {
            return jsonrpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                id,
                -32600,
                format!(
                    "{error}: send per-day lists of at most 7300 values, name series for provide_plot instead of \
                     sending their numbers, and split large requests"
                ),
            );
        }
    };
    // A small body with many values still builds a large tree in rmcp: it needs a permit too.
    if permit.is_none() && facts.values > limits.small_body_values {
        match body::large_permit(&endpoint.large, deadline).await {
            Ok(taken) => permit = Some(taken),
            Err(_) => {
                let mut response = plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable: too many large requests at once",
                );
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return response;
            }
        }
    }
    let initialize = facts.method.as_deref() == Some("initialize");
    let body = normalize_body(body, &facts);
    // rmcp requires both media types in Accept; the framing was chosen above.
    parts.headers.insert(header::ACCEPT, HeaderValue::from_static("application/json, text/event-stream"));
    let request = Request::from_parts(parts, Body::from(body));
    let service = match framing {
        Framing::Sse => &endpoint.sse,
        Framing::Json => &endpoint.json,
    };
    let mut response = service.handle(request).await.into_response();
    if initialize && response.status().is_success() {
        let session_id = uuid::Uuid::new_v4().simple().to_string();
        if let Ok(value) = HeaderValue::from_str(&session_id) {
            response.headers_mut().insert(MCP_SESSION_ID, value);
        }
    }
    hold_until_sent(response, permit)
}

/// Binds `config.bind` and serves the app until `shutdown` is cancelled.
pub async fn run(
    server: MechafilServer,
    config: &HttpConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let listener =
        TcpListener::bind(config.bind).await.with_context(|| format!("cannot listen on {}", config.bind))?;
    tracing::info!(
        address = %listener.local_addr()?,
        hosts = ?config.host_allow_list(),
        auth = config.auth_token.is_some(),
        "MCP server listening at /mcp (streamable HTTP, stateless)"
    );
    let app = router(server, config, shutdown.child_token());
    serve(listener, app, config.limits, shutdown, config.shutdown_grace).await.context("HTTP server failed")
}

/// Completes on SIGINT or SIGTERM (Fly stops machines with SIGINT by default,
/// most other platforms with SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received; shutting down"),
        () = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn framing_follows_accept() {
        for (values, expected) in [
            (&["application/json, text/event-stream"][..], Some(Framing::Sse)),
            (&["text/event-stream"], Some(Framing::Sse)),
            (&["application/json"], Some(Framing::Json)),
            (&["*/*"], Some(Framing::Json)),
            (&[], Some(Framing::Json)),
            (&["application/json", "text/event-stream;q=0"], Some(Framing::Json)),
            (&["text/event-stream; q=0.000, application/*"], Some(Framing::Json)),
            (&["text/html"], None),
            (&["application/json;q=0"], None),
        ] {
            assert_eq!(framing(&accept(values)), expected, "{values:?}");
        }
    }

    #[test]
    fn notifications_with_an_id_become_pings() {
        let normalize = |text: &'static str| {
            let body = Bytes::from(text);
            let facts =
                scan::scan(&body, scan::ScanLimits { max_values: 100, max_depth: 8 }).unwrap_or_default();
            normalize_body(body, &facts)
        };
        let body = normalize(r#"{"jsonrpc":"2.0","id":7,"method":"notifications/initialized"}"#);
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            json!({"jsonrpc": "2.0", "id": 7, "method": "ping"})
        );
        for untouched in [
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#,
            "not json",
        ] {
            assert_eq!(normalize(untouched), Bytes::from(untouched));
        }
    }

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert!(authorized(&headers("Bearer s3cret"), "s3cret"));
        assert!(authorized(&headers("bearer s3cret"), "s3cret"));
        assert!(!authorized(&headers("Bearer s3cre"), "s3cret"));
        assert!(!authorized(&headers("Bearer s3cret2"), "s3cret"));
        assert!(!authorized(&headers("Basic s3cret"), "s3cret"));
        assert!(!authorized(&HeaderMap::new(), "s3cret"));
    }
}
