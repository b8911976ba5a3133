//! Which snapshot a request is answered from, and the headers that name it. Several machines
//! can serve the API, each with its own store and refreshing on its own, so a client that needs a
//! consistent series of answers pins the snapshot it started with.
//!
//! - A request pins a snapshot with `"snapshot"` in a POST body or `?snapshot=` on a GET: a
//!   snapshot id ([`NetworkData::snapshot_id`], safe when data is revised) or a `current_date`.
//!   [`Answering::resolve`] answers from the served snapshot when it matches, else from this
//!   machine's store (loaded on demand and prepared once: at most [`MAX_PREPARED`] prepared
//!   snapshots, the served one included), else refuses with 409 and what this machine holds
//!   ([`HeldSnapshot`]); another replica may hold it, so clients retry or start afresh.
//! - Every answer computed from a snapshot carries `X-Snapshot-Id`, and an `ETag` made of the
//!   snapshot id and a digest of the request (method, path, query and body bytes): the answers are
//!   deterministic, so a request that repeats one whose `ETag` it holds (`If-None-Match`) is
//!   answered 304 before any work.
//!
//! [`NetworkData::snapshot_id`]: crate::network_data::NetworkData::snapshot_id

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::body::JsonObject;
use super::error::ApiError;
use super::state::{AppState, Served};
use crate::network_data::{SNAPSHOT_ID_LEN, SnapshotSource};
use crate::store::SnapshotStore;

/// The header naming the snapshot an answer was computed on.
pub const SNAPSHOT_ID_HEADER: HeaderName = HeaderName::from_static("x-snapshot-id");

/// Prepared snapshots in memory at most: the served one and one pinned other. A prepared
/// snapshot is a few MB (its data, the model's precomputed vectors, output buffers); more
/// pinned snapshots take turns (loading one costs milliseconds).
pub const MAX_PREPARED: usize = 2;

/// A snapshot a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// By [`Served::snapshot_id`].
    Id(String),
    /// By `current_date` (whatever data this machine holds for that day).
    Date(NaiveDate),
}

impl Pin {
    /// Parses a pin: 16 hex digits (an id) or `YYYY-MM-DD` (a `current_date`).
    pub fn parse(text: &str) -> Result<Pin, String> {
        let text = text.trim();
        if text.len() == SNAPSHOT_ID_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Pin::Id(text.to_ascii_lowercase()));
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map(Pin::Date).map_err(|_| {
            format!(
                "expected a snapshot id ({SNAPSHOT_ID_LEN} hex digits, as `snapshot_id` in answers and \
                 /health) or a current_date (YYYY-MM-DD), not {text:?}"
            )
        })
    }

    fn matches(&self, id: &str, current_date: NaiveDate) -> bool {
        match self {
            Pin::Id(wanted) => wanted == id,
            Pin::Date(day) => *day == current_date,
        }
    }
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pin::Id(id) => f.write_str(id),
            Pin::Date(day) => write!(f, "of {day}"),
        }
    }
}

/// Removes the `"snapshot"` field from a POST body and parses it (422 when it is not a pin).
pub fn take_body_pin(body: &mut Map<String, Value>) -> Result<Option<Pin>, ApiError> {
    match body.remove("snapshot") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Pin::parse(&text).map(Some).map_err(|e| ApiError::field("snapshot", e)),
        Some(other) => Err(ApiError::field(
            "snapshot",
            format!("expected a string (a snapshot id or a current_date), not {other}"),
        )),
    }
}

/// For the CLI's `simulate` and `analyze`, which answer from the active snapshot only: takes the
/// body's pin out and refuses it (as the service's 409 would) unless `served` is that snapshot.
pub fn check_offline_pin(body: &mut Map<String, Value>, served: &Served) -> Result<(), ApiError> {
    match take_body_pin(body)? {
        Some(pin) if !pin.matches(&served.snapshot_id, served.meta.current_date) => {
            Err(not_held(&pin, served, Vec::new()))
        }
        _ => Ok(()),
    }
}

/// Parses a `?snapshot=` query value.
pub fn query_pin(value: Option<&str>) -> Result<Option<Pin>, ApiError> {
    value.filter(|v| !v.is_empty()).map(Pin::parse).transpose().map_err(|e| ApiError::field("snapshot", e))
}

/// A snapshot this machine can answer from (the `held` list of a 409).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldSnapshot {
    /// Its id.
    pub snapshot_id: String,
    /// Its last history day.
    pub current_date: NaiveDate,
    /// Where it came from.
    pub source: SnapshotSource,
}

/// The digest of a request that, with the snapshot id, makes its `ETag`.
#[derive(Debug, Clone)]
pub struct RequestDigest(String);

impl RequestDigest {
    /// Of a request with a body (`body` as received, before parsing).
    pub fn new(method: &Method, uri: &Uri, body: &[u8]) -> RequestDigest {
        let mut hash = Sha256::new();
        for part in [method.as_str().as_bytes(), b" ", uri.path().as_bytes(), b"?"] {
            hash.update(part);
        }
        hash.update(uri.query().unwrap_or("").as_bytes());
        hash.update(b"\n");
        hash.update(body);
        RequestDigest(hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect())
    }
}

/// What pinning keeps between requests (part of [`AppState`]).
#[derive(Default)]
pub struct PinnedSnapshots {
    /// The one prepared snapshot besides the served one (see [`MAX_PREPARED`]).
    other: Mutex<Option<Arc<Served>>>,
    /// Ids of stored snapshots by `current_date`, with the fetch time of the record they were
    /// computed for (a record refetched for the same day may hold other data).
    ids: Mutex<HashMap<NaiveDate, (DateTime<Utc>, String)>>,
    /// One load from the store at a time: requests pinning the same snapshot wait for it once.
    loading: tokio::sync::Mutex<()>,
}

/// How a request starts: answered 304 at once, or to be answered from a snapshot.
pub enum Start {
    /// `If-None-Match` holds the answer's `ETag`: this is the whole answer.
    NotModified(Response),
    /// Compute the answer from this snapshot, then [`Answering::respond`].
    Answer(Answering),
}

/// The snapshot a request is answered from, and the answer's `ETag`.
pub struct Answering {
    /// The snapshot.
    pub served: Arc<Served>,
    etag: HeaderValue,
}

impl Answering {
    /// The snapshot `pin` asks for (the served one without a pin).
    pub async fn resolve(
        state: &AppState,
        pin: Option<&Pin>,
        digest: &RequestDigest,
    ) -> Result<Answering, ApiError> {
        let served = snapshot_for(state, pin).await?;
        let etag = HeaderValue::from_str(&format!("\"{}-{}\"", served.snapshot_id, digest.0))
            .expect("hex digits and a dash");
        Ok(Answering { served, etag })
    }

    /// How a POST starts: its body's pin taken out and resolved, `If-None-Match` checked.
    pub async fn start_post(
        state: &AppState,
        headers: &HeaderMap,
        body: &mut JsonObject,
    ) -> Result<Start, ApiError> {
        let pin = take_body_pin(&mut body.0)?;
        Answering::start(state, headers, pin.as_ref(), &body.1).await
    }

    /// How a request with `pin` and `digest` starts (`If-None-Match` checked).
    pub async fn start(
        state: &AppState,
        headers: &HeaderMap,
        pin: Option<&Pin>,
        digest: &RequestDigest,
    ) -> Result<Start, ApiError> {
        let answering = Answering::resolve(state, pin, digest).await?;
        Ok(match answering.not_modified(headers) {
            Some(response) => Start::NotModified(response),
            None => Start::Answer(answering),
        })
    }

    /// 304 (with the snapshot's headers) when `headers` hold this answer's `ETag` in
    /// `If-None-Match`.
    pub fn not_modified(&self, headers: &HeaderMap) -> Option<Response> {
        let wanted = self.etag.to_str().expect("ascii");
        let matches =
            headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).any(|list| {
                list.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == wanted)
            });
        matches.then(|| self.respond(StatusCode::NOT_MODIFIED.into_response()))
    }

    /// `response` with the headers naming the snapshot and the answer.
    pub fn respond(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        headers.insert(SNAPSHOT_ID_HEADER, HeaderValue::from_str(&self.served.snapshot_id).expect("hex"));
        headers.insert(header::ETAG, self.etag.clone());
        response
    }
}

/// The snapshot `pin` asks for: see the module documentation.
async fn snapshot_for(state: &AppState, pin: Option<&Pin>) -> Result<Arc<Served>, ApiError> {
    let current = super::served(state)?;
    let Some(pin) = pin else { return Ok(current) };
    let pinned = state.pinned();
    let matching = |served: &Arc<Served>| pin.matches(&served.snapshot_id, served.meta.current_date);
    if matching(&current) {
        return Ok(current);
    }
    let cached = || pinned.other.lock().unwrap_or_else(|e| e.into_inner()).clone().filter(matching);
    if let Some(other) = cached() {
        return Ok(other);
    }
    let _one_load_at_a_time = pinned.loading.lock().await;
    if let Some(other) = cached() {
        return Ok(other);
    }
    let Some(store) = state.data().store.clone() else {
        return Err(not_held(pin, &current, Vec::new()));
    };
    let (for_job, wanted) = (state.clone(), pin.clone());
    let (found, stored) = state.run_cpu(move || find_in_store(&for_job, &store, &wanted)).await??;
    match found {
        Some(served) => {
            let served = Arc::new(served);
            *pinned.other.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&served));
            Ok(served)
        }
        None => Err(not_held(pin, &current, stored)),
    }
}

fn not_held(pin: &Pin, current: &Served, stored: Vec<HeldSnapshot>) -> ApiError {
    let mut held = vec![HeldSnapshot {
        snapshot_id: current.snapshot_id.clone(),
        current_date: current.meta.current_date,
        source: current.meta.source,
    }];
    held.extend(stored.into_iter().filter(|h| h.snapshot_id != current.snapshot_id));
    ApiError::SnapshotNotHeld { requested: pin.to_string(), held }
}

/// Looks for `pin` among the stored snapshots: the prepared snapshot when one matches, and
/// what the store holds (for the 409 otherwise). Records that fail their checks are skipped.
fn find_in_store(
    state: &AppState,
    store: &SnapshotStore,
    pin: &Pin,
) -> Result<(Option<Served>, Vec<HeldSnapshot>), ApiError> {
    let listing = store.list().map_err(|e| ApiError::Internal(format!("listing the store: {e}")))?;
    let ids = &state.pinned().ids;
    let mut held = Vec::new();
    for entry in listing {
        let (day, fetched_at) = (entry.meta.current_date, entry.meta.fetched_at);
        let known = ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&day)
            .filter(|(at, _)| *at == fetched_at)
            .cloned();
        let id = match known {
            Some((_, id)) if !pin.matches(&id, day) => id,
            _ => {
                let stored = match store.get(day) {
                    Ok(Some(stored)) => stored,
                    Ok(None) => continue, // removed since the listing
                    Err(err) => {
                        tracing::warn!(current_date = %day, %err, "a stored snapshot cannot be loaded for a pinned request");
                        continue;
                    }
                };
                let id = stored.data.snapshot_id();
                ids.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(day, (stored.meta.fetched_at, id.clone()));
                if pin.matches(&id, day) {
                    let served = Served::new(stored.meta, stored.data).map_err(|e| {
                        ApiError::Internal(format!("preparing the stored snapshot of {day}: {e}"))
                    })?;
                    return Ok((Some(served), held));
                }
                id
            }
        };
        held.push(HeldSnapshot { snapshot_id: id, current_date: day, source: entry.meta.source });
    }
    Ok((None, held))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_ids_or_dates() {
        assert_eq!(Pin::parse("0123456789ABCDEF"), Ok(Pin::Id("0123456789abcdef".into())));
        assert_eq!(Pin::parse(" 2025-09-09 "), Ok(Pin::Date(NaiveDate::from_ymd_opt(2025, 9, 9).unwrap())));
        for bad in ["", "0123456789abcde", "0123456789abcdefa", "0123456789abcdeg", "2025-13-01", "latest"] {
            assert!(Pin::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_body_pin_is_taken_out_of_the_body() {
        let mut body: Map<String, Value> =
            serde_json::from_str(r#"{"rr": 0.5, "snapshot": "2025-09-09"}"#).unwrap();
        assert!(matches!(take_body_pin(&mut body), Ok(Some(Pin::Date(_)))));
        assert_eq!(Value::Object(body), serde_json::json!({"rr": 0.5}));
        let mut body: Map<String, Value> = serde_json::from_str(r#"{"snapshot": 7}"#).unwrap();
        let err = take_body_pin(&mut body).unwrap_err();
        assert_eq!(err.details()[0].field, "snapshot");
    }

    #[test]
    fn request_digests_cover_the_method_path_query_and_body() {
        let uri = |u: &str| u.parse::<Uri>().unwrap();
        let d = |m: &Method, u: &str, b: &[u8]| RequestDigest::new(m, &uri(u), b).0;
        let base = d(&Method::POST, "/simulate", b"{}");
        assert_eq!(base.len(), 16);
        assert_eq!(base, d(&Method::POST, "/simulate", b"{}"));
        for other in [
            d(&Method::GET, "/simulate", b"{}"),
            d(&Method::POST, "/simulate/full", b"{}"),
            d(&Method::POST, "/simulate?x", b"{}"),
            d(&Method::POST, "/simulate", b"{ }"),
        ] {
            assert_ne!(base, other);
        }
    }
}
