//! Shared helpers of the data-layer integration tests: a mock Spacescope on loopback that serves
//! the recorded fixtures (`shared/fixtures/spacescope/`) with injectable faults, the comparison
//! of an export with `expected-snapshot.json`, and small store helpers.
#![allow(dead_code)] // Each test file uses a different subset.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::NaiveDate;
use mechafil_api::spacescope::SpacescopeConfig;
use mechafil_core::tolerance::{PIPELINE_SCALED_TOL, compare_series};
use serde_json::Value;
use serde_json::value::RawValue;

/// The fixtures' `spacescope/` folder, or `None` (test skipped) when the fixtures are absent
/// outside CI.
pub fn spacescope_dir() -> Option<PathBuf> {
    mechafil_core::test_support::fixtures_dir().map(|d| d.join("spacescope"))
}

pub fn day(s: &str) -> NaiveDate {
    s.parse().expect("valid date")
}

/// A recorded request as `replay_server.py` keys it: path and sorted query pairs.
type RequestKey = (String, Vec<(String, String)>);
/// Requests served, in order: path and query.
type RequestLog = Arc<Mutex<Vec<(String, BTreeMap<String, String>)>>>;
/// Rows of one response: day and raw JSON row.
pub type Rows = Vec<(NaiveDate, String)>;

/// The recorded responses, loaded once per test process.
struct Recording {
    /// (path, sorted query pairs) -> body, as `replay_server.py` matches requests.
    by_request: HashMap<RequestKey, Arc<Vec<u8>>>,
    /// path -> day -> the raw JSON row, merged over every recorded window.
    rows: HashMap<String, BTreeMap<NaiveDate, String>>,
}

fn recording(dir: &Path) -> &'static Recording {
    static RECORDING: OnceLock<Recording> = OnceLock::new();
    RECORDING.get_or_init(|| {
        let index: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
        let mut by_request = HashMap::new();
        let mut rows: HashMap<String, BTreeMap<NaiveDate, String>> = HashMap::new();
        for entry in index["entries"].as_array().unwrap() {
            let path = entry["path"].as_str().unwrap().to_string();
            let mut query: Vec<(String, String)> = entry["query"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            query.sort();
            let body = std::fs::read(dir.join(entry["file"].as_str().unwrap())).unwrap();
            #[derive(serde::Deserialize)]
            struct Data<'a> {
                #[serde(borrow)]
                data: Vec<&'a RawValue>,
            }
            #[derive(serde::Deserialize)]
            struct RowDate {
                stat_date: Option<String>,
                interest_date: Option<String>,
            }
            let parsed: Data<'_> = serde_json::from_slice(&body).unwrap();
            let merged = rows.entry(path.clone()).or_default();
            for raw in parsed.data {
                let dates: RowDate = serde_json::from_str(raw.get()).unwrap();
                let date = dates.stat_date.or(dates.interest_date).unwrap();
                merged.insert(day(&date[..10]), raw.get().to_string());
            }
            by_request.insert((path, query), Arc::new(body));
        }
        Recording { by_request, rows }
    })
}

/// How the mock answers requests it has no fault for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only the recorded (path, query) pairs, like `replay_server.py`; anything else is 404.
    Strict,
    /// Any date window, cut from the recorded rows (for step-back and fault tests).
    DataBacked,
}

/// One request as the fault hook sees it.
pub struct MockRequest {
    pub path: String,
    pub query: BTreeMap<String, String>,
    /// How many times this (path, query) has been asked, this one included.
    pub seen: usize,
}

impl MockRequest {
    pub fn is(&self, path_suffix: &str) -> bool {
        self.path.ends_with(path_suffix)
    }

    pub fn window(&self) -> Option<(NaiveDate, NaiveDate)> {
        Some((day(self.query.get("start_date")?), day(self.query.get("end_date")?)))
    }

    /// Whether the query window contains `d`.
    pub fn covers(&self, d: NaiveDate) -> bool {
        self.window().is_some_and(|(s, e)| s <= d && d <= e)
    }
}

/// What to do instead of (or on top of) the normal answer.
pub enum Fault {
    /// Answer with this status and an error envelope (and a `Retry-After: 0` for 429).
    Status(u16),
    /// Wait this long, then answer normally.
    Hang(Duration),
    /// Answer 200 with this body.
    Body(String),
    /// Answer normally after editing the rows (day, raw JSON row).
    EditRows(fn(&mut Rows)),
}

pub type FaultFn = Arc<dyn Fn(&MockRequest) -> Option<Fault> + Send + Sync>;

#[derive(Clone)]
struct MockState {
    mode: Mode,
    recording: &'static Recording,
    fault: Option<FaultFn>,
    log: RequestLog,
}

/// A mock Spacescope listening on 127.0.0.1; stops when dropped.
pub struct MockSpacescope {
    pub base_url: String,
    log: RequestLog,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockSpacescope {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockSpacescope {
    pub async fn start(dir: &Path, mode: Mode, fault: Option<FaultFn>) -> MockSpacescope {
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = MockState { mode, recording: recording(dir), fault, log: log.clone() };
        let app = axum::Router::new().fallback(handle).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        MockSpacescope { base_url, log, task }
    }

    /// Every request served, in order, as `path?query` with the query sorted.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().iter().map(|(p, q)| request_key(p, q)).collect()
    }

    /// How many times requests matching `pred` were made.
    pub fn count(&self, pred: impl Fn(&str, &BTreeMap<String, String>) -> bool) -> usize {
        self.log.lock().unwrap().iter().filter(|(p, q)| pred(p, q)).count()
    }
}

pub fn request_key(path: &str, query: &BTreeMap<String, String>) -> String {
    let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if q.is_empty() { path.to_string() } else { format!("{path}?{}", q.join("&")) }
}

/// The distinct requests of `requests.log`, as [`request_key`]s.
pub fn recorded_requests(dir: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(dir.join("requests.log"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let target = line.trim().trim_start_matches("https://api.spacescope.io");
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            request_key(path, &parse_query(query))
        })
        .collect()
}

pub fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn envelope_error(status: u16, message: &str) -> Response {
    let body = serde_json::json!({"request_id": "", "code": status, "message": message, "data": null});
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    if status == 429 {
        response.headers_mut().insert("retry-after", "0".parse().unwrap());
    }
    response
}

async fn handle(State(state): State<MockState>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    let query = parse_query(uri.query().unwrap_or(""));
    let seen = {
        let mut log = state.log.lock().unwrap();
        log.push((path.clone(), query.clone()));
        log.iter().filter(|(p, q)| *p == path && *q == query).count()
    };
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_string();
    if auth.is_empty() {
        return envelope_error(401, "missing or invalid authorization header");
    }
    let request = MockRequest { path: path.clone(), query: query.clone(), seen };
    let mut edit: Option<fn(&mut Rows)> = None;
    match state.fault.as_ref().and_then(|f| f(&request)) {
        Some(Fault::Status(status)) => return envelope_error(status, "injected failure"),
        Some(Fault::Hang(d)) => tokio::time::sleep(d).await,
        Some(Fault::Body(body)) => return Response::new(Body::from(body)),
        Some(Fault::EditRows(f)) => edit = Some(f),
        None => {}
    }
    let Some(mut rows) = select_rows(&state, &path, &query) else {
        return envelope_error(404, &format!("no recorded response for {}", request_key(&path, &query)));
    };
    if let Some(f) = edit {
        f(&mut rows);
    }
    let data: Vec<&str> = rows.iter().map(|(_, r)| r.as_str()).collect();
    let body =
        format!(r#"{{"request_id":"mock","code":0,"message":"success.","data":[{}]}}"#, data.join(","));
    Response::new(Body::from(body))
}

/// The rows to answer with, or `None` for a 404.
fn select_rows(
    state: &MockState,
    path: &str,
    query: &BTreeMap<String, String>,
) -> Option<Vec<(NaiveDate, String)>> {
    let all = state.recording.rows.get(path)?;
    if state.mode == Mode::Strict {
        let key = (path.to_string(), query.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>());
        state.recording.by_request.get(&key)?;
    }
    let rows: Rows = match (query.get("start_date"), query.get("end_date")) {
        (Some(s), Some(e)) => all.range(day(s)..=day(e)).map(|(d, r)| (*d, r.clone())).collect(),
        (None, None) => all.iter().map(|(d, r)| (*d, r.clone())).collect(),
        _ => return None,
    };
    Some(rows)
}

/// A client configuration for the mock: fast timeouts and backoff so failure tests run quickly.
pub fn mock_config(base_url: &str) -> SpacescopeConfig {
    let mut config = SpacescopeConfig::new(base_url, "fixture-token").unwrap();
    config.request_timeout = Duration::from_secs(10);
    config.connect_timeout = Duration::from_secs(2);
    config.retry_base = Duration::from_millis(5);
    config.max_backoff = Duration::from_millis(40);
    config.max_retries = 3;
    config
}

/// Compares an export (as JSON) with `expected-snapshot.json`: every expected key is present
/// with the same dates, the same lengths, nulls in the same places, and each numeric field within
/// the pipeline's series-scaled tolerance; `start_vested_amt` exactly. Returns the worst error.
pub fn compare_with_expected(ours: &Value, expected: &Value) -> Result<f64, String> {
    let mut worst = 0.0_f64;
    for key in ["start_date", "current_date", "end_date"] {
        if ours[key] != expected[key] {
            return Err(format!("{key}: {} vs expected {}", ours[key], expected[key]));
        }
    }
    for section in ["smoothed_metrics", "historical_arrays", "offline_data"] {
        let exp = expected[section].as_object().ok_or(format!("expected has no {section}"))?;
        let got = ours[section].as_object().ok_or(format!("ours has no {section}"))?;
        let mut exp_keys: Vec<&String> = exp.keys().collect();
        let mut got_keys: Vec<&String> = got.keys().collect();
        exp_keys.sort();
        got_keys.sort();
        if exp_keys != got_keys {
            return Err(format!("{section}: keys {got_keys:?} vs expected {exp_keys:?}"));
        }
        for (field, e) in exp {
            let g = &got[field];
            if field == "start_vested_amt" {
                if g != e || !g.is_i64() {
                    return Err(format!("{section}.{field}: {g} vs expected {e} (an integer)"));
                }
                continue;
            }
            let as_series = |v: &Value| -> Vec<Option<f64>> {
                match v {
                    Value::Array(items) => items.iter().map(Value::as_f64).collect(),
                    other => vec![other.as_f64()],
                }
            };
            let expected_series = as_series(e);
            let got_series: Vec<f64> = as_series(g).into_iter().map(|v| v.unwrap_or(f64::NAN)).collect();
            let err = compare_series(&got_series, &expected_series, PIPELINE_SCALED_TOL)
                .map_err(|m| format!("{section}.{field}: {m}"))?;
            worst = worst.max(err);
        }
    }
    Ok(worst)
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap()
}
