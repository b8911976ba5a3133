//! `GET /explore`: the scenario explorer, a web page where moving a slider redraws the forecast,
//! next to the network's history, from new answers of this API. (`GET /` serves it too when the
//! client prefers HTML, as browsers do; see [`root`].)
//!
//! The page is plain HTML, CSS and hand-written JavaScript under `mechafil-api/assets/explore/`,
//! plus the vendored charting library uPlot (`assets/explore/vendor/uplot/VERSION.md` says which
//! version and how to update it). Everything is embedded in the binary with `include_str!`, so
//! the page works offline and on Fly with no build step and no CDN, and it talks only to its own
//! origin: every response here carries [`CONTENT_SECURITY_POLICY`].
//!
//! What the page must not hard-code comes from the server, rendered into the page as a JSON
//! blob (`<script type="application/json" id="explore-config">`, which a CSP without inline
//! scripts allows because it is data, not code): the parameters' units, ranges and defaults from
//! `mechafil_core::rules` and the served snapshot ([`param_configs`]), the snapshot's source and
//! dates, and the chart catalogue ([`CHARTS`]: which history field and which forecast series
//! each chart draws, and in what unit). `tests/explore.rs` checks the catalogue against
//! `/historical-data`'s `field_meta` and the core's series names; `tests/explore_browser.rs`
//! drives the page in headless Chromium.

pub mod first_answers;

use std::sync::LazyLock;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mechafil_core::{Param, ParamDefault, ParamKind, SmoothedMetrics};
use serde::Serialize;

use super::error::ApiError;
use super::precompressed::Precompressed;
use super::state::{AppState, Served, SnapshotRef};
use crate::network_data::SnapshotSource;

/// The page's policy: scripts, styles, images and API calls from this origin only; no inline
/// script or style, no plug-ins, no framing, no form posts, no `<base>` rewriting.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The vendored uPlot's version (also in `assets/explore/vendor/uplot/VERSION.md`).
pub const UPLOT_VERSION: &str = "1.6.32";

const INDEX_HTML: &str = include_str!("../../../assets/explore/index.html");

/// One embedded file served under `/explore/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// The page's files. Their URLs carry a hash of their bytes (`?v=`), so they can be cached for
/// good: a new binary with a changed file changes the URL.
static ASSETS: [Asset; 4] = [
    Asset {
        name: "explore.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../assets/explore/explore.js"),
    },
    Asset {
        name: "explore.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../../assets/explore/explore.css"),
    },
    Asset {
        name: "uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../../assets/explore/vendor/uplot/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../../assets/explore/vendor/uplot/uPlot.min.css"),
    },
];

/// The icon, made by `assets/explore/make_favicon.py`. Served at `/favicon.ico`, where browsers
/// look for it on every page of the origin (a 404 there is a console error).
const FAVICON: &[u8] = include_bytes!("../../../assets/explore/favicon.ico");

/// 64-bit FNV-1a of `bytes` as hex: a cache-busting version for asset URLs, not a security
/// hash (the files are our own and embedded).
fn content_hash(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The page template with every asset URL filled in (done once: the assets are constants).
static TEMPLATE: LazyLock<String> = LazyLock::new(|| {
    let mut html = INDEX_HTML.to_string();
    for asset in &ASSETS {
        let placeholder = format!("{{{{asset:{}}}}}", asset.name);
        let url = format!("/explore/{}?v={}", asset.name, content_hash(asset.body));
        assert!(html.contains(&placeholder), "index.html lacks {placeholder}");
        html = html.replace(&placeholder, &url);
    }
    html
});

/// How the page presents one parameter: its rule (from `mechafil_core::rules`), its default on
/// the served snapshot, and the range its slider covers.
#[derive(Debug, Clone, Serialize)]
pub struct ParamConfig {
    /// The request field, e.g. `rbp`; the page's input has this `name`.
    pub name: &'static str,
    /// A short human label.
    pub label: &'static str,
    /// The unit, empty for dimensionless numbers.
    pub unit: &'static str,
    /// The rule's description.
    pub description: &'static str,
    /// `knob`, `number`, `days` or `bool`.
    pub kind: &'static str,
    /// Lower bound (`None` for booleans).
    pub min: Option<f64>,
    /// Whether the lower bound itself is excluded.
    pub min_exclusive: bool,
    /// Upper bound (included).
    pub max: Option<f64>,
    /// The bounds in words, e.g. `0 <= x <= 1`.
    pub bounds: Option<String>,
    /// The value used when the page sends none: a number, or a boolean for `use_available_supply`.
    pub default: serde_json::Value,
    /// Where the default comes from: `snapshot` (its 30-day median) or `fixed`.
    pub default_from: &'static str,
    /// The slider's range and step; the number box beside it takes any allowed value.
    pub slider: Option<Slider>,
}

/// The range a slider covers. Presentation only: the allowed values are the rule's bounds, which
/// the number box accepts and the API enforces.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Slider {
    /// Left end.
    pub min: f64,
    /// Right end.
    pub max: f64,
    /// Step.
    pub step: f64,
}

/// A short label for each parameter (exhaustive, so a new parameter must be labelled here).
fn label(param: Param) -> &'static str {
    match param {
        Param::Rbp => "Raw-byte onboarding",
        Param::Rr => "Renewal rate",
        Param::Fpr => "FIL+ share of onboarding",
        Param::LockTarget => "Pledge lock target",
        Param::ForecastLengthDays => "Forecast length",
        Param::SectorDurationDays => "Sector duration",
        Param::FilPlusM => "FIL+ QA multiplier",
        Param::QaRenewRelativeMultiplier => "QA renewal relative to raw-byte",
        Param::BurnBoost => "Gas burn multiplier",
        Param::UseAvailableSupply => "Pledge on available supply",
    }
}

/// The slider's range for a parameter whose default is `default`. The rule's bounds are often
/// far wider than what anyone explores (onboarding up to 10,000 PiB/day), and a slider over the
/// whole range could not pick today's values; so sliders cover a useful range around the
/// default, inside the bounds, and the number box takes the rest.
fn slider(param: Param, default: f64) -> Option<Slider> {
    let s = |min: f64, max: f64, step: f64| Some(Slider { min, max, step });
    match param {
        // Up to three times today's onboarding, and at least 10 PiB/day.
        Param::Rbp => s(0.0, (3.0 * default).ceil().max(10.0), 0.01),
        Param::Rr | Param::Fpr | Param::LockTarget => s(0.0, 1.0, 0.001),
        Param::ForecastLengthDays => s(1.0, mechafil_core::MAX_FORECAST_DAYS as f64, 1.0),
        // Filecoin sectors commit for 180 days to 5 years.
        Param::SectorDurationDays => s(180.0, 1825.0, 1.0),
        Param::FilPlusM => s(1.0, 20.0, 0.1),
        Param::QaRenewRelativeMultiplier => s(0.0, 2.0, 0.01),
        Param::BurnBoost => s(0.0, 10.0, 0.1),
        Param::UseAvailableSupply => None,
    }
}

/// The default of `param` on a snapshot with these smoothed metrics, and where it comes from.
fn default_value(param: Param, smoothed: &SmoothedMetrics) -> (serde_json::Value, &'static str) {
    match param.rule().default {
        ParamDefault::Smoothed => {
            let value = match param {
                Param::Rbp => smoothed.raw_byte_power,
                Param::Rr => smoothed.renewal_rate,
                Param::Fpr => smoothed.filplus_rate,
                other => unreachable!("{other} has no smoothed default"),
            };
            (serde_json::json!(value), "snapshot")
        }
        // Whole days are written as integers, as /simulate echoes them.
        ParamDefault::Value(v) if param.is_integer() => (serde_json::json!(v as u64), "fixed"),
        ParamDefault::Value(v) => (serde_json::json!(v), "fixed"),
        ParamDefault::Flag(b) => (serde_json::json!(b), "fixed"),
        ParamDefault::ForecastLength(days) => (serde_json::json!(days), "fixed"),
    }
}

/// Every parameter of `/simulate`, as the page presents it on `served`.
pub fn param_configs(served: &Served) -> Vec<ParamConfig> {
    let smoothed = &served.simulator.snapshot().smoothed;
    Param::ALL
        .into_iter()
        .map(|param| {
            let rule = param.rule();
            let (default, default_from) = default_value(param, smoothed);
            ParamConfig {
                name: param.name(),
                label: label(param),
                unit: rule.unit,
                description: rule.description,
                kind: match rule.kind {
                    ParamKind::Knob => "knob",
                    ParamKind::Number => "number",
                    ParamKind::Days => "days",
                    ParamKind::Bool => "bool",
                },
                min: rule.bounds.map(|b| b.min),
                min_exclusive: rule.bounds.is_some_and(|b| b.min_exclusive),
                max: rule.bounds.map(|b| b.max),
                bounds: rule.bounds.map(|b| b.describe()),
                slider: slider(param, default.as_f64().unwrap_or(0.0)),
                default,
                default_from,
            }
        })
        .collect()
}

/// Where a line's values come from: one series, or the ratio of two on the same dates.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Values {
    /// The values of one series or field.
    Series(&'static str),
    /// `numerator / denominator`, date by date.
    Ratio(&'static str, &'static str),
}

/// One line of a chart: its history and its forecast.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LineDef {
    /// Identifier, unique within the chart.
    pub id: &'static str,
    /// Legend label.
    pub label: &'static str,
    /// The measured history: fields of `/historical-data` (weekly). `None` when the snapshot
    /// has no such history; then [`LineDef::model_history`] is drawn instead.
    pub data_history: Option<Values>,
    /// The model's own series over the history days (`/simulate/full`), for what the data does
    /// not measure (rewards, pledge, returns) or lacks (supply in imported snapshots).
    pub model_history: Option<Values>,
    /// The forecast from `/simulate` (weekly).
    pub forecast: Values,
    /// The same forecast's name in the analyses (`/analyze/*`), which know `lock_ratio`.
    pub analysis_series: &'static str,
}

/// One chart of the page.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ChartDef {
    /// Identifier, used in the URL (`charts=`) and the page's markup.
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// The unit of every line (history and forecast alike).
    pub unit: &'static str,
    /// One sentence on what is drawn.
    pub description: &'static str,
    /// Shown when the URL does not say which charts to show.
    pub shown_by_default: bool,
    /// Its lines.
    pub lines: &'static [LineDef],
}

const fn line(
    id: &'static str,
    label: &'static str,
    data_history: Option<Values>,
    model_history: Option<Values>,
    forecast: Values,
    analysis_series: &'static str,
) -> LineDef {
    LineDef { id, label, data_history, model_history, forecast, analysis_series }
}

use Values::{Ratio, Series};

/// The charts the page offers, in display order. History and forecast of a line share the
/// chart's unit; `tests/explore.rs` checks the units against `/historical-data`'s `field_meta`.
pub const CHARTS: &[ChartDef] = &[
    ChartDef {
        id: "power",
        title: "Network power",
        unit: "EiB",
        description: "Raw-byte and quality-adjusted (QA) power of the network.",
        shown_by_default: true,
        lines: &[
            line(
                "raw",
                "raw-byte",
                Some(Series("network_raw_power_eib")),
                None,
                Series("rb_total_power_eib"),
                "rb_total_power_eib",
            ),
            line(
                "qa",
                "QA",
                Some(Series("network_qa_power_eib")),
                None,
                Series("qa_total_power_eib"),
                "qa_total_power_eib",
            ),
        ],
    },
    ChartDef {
        id: "onboarding",
        title: "Onboarding",
        unit: "PiB/day",
        description: "Power onboarded per day, raw-byte and quality-adjusted.",
        shown_by_default: false,
        lines: &[
            line(
                "raw",
                "raw-byte",
                Some(Series("historical_onboarded_rb_power_pib")),
                None,
                Series("rb_day_onboarded_power_pib"),
                "rb_day_onboarded_power_pib",
            ),
            line(
                "qa",
                "QA",
                Some(Series("historical_onboarded_qa_power_pib")),
                None,
                Series("qa_day_onboarded_power_pib"),
                "qa_day_onboarded_power_pib",
            ),
        ],
    },
    ChartDef {
        id: "renewal_rate",
        title: "Renewal rate",
        unit: "ratio",
        description: "Share of expiring raw-byte power that is renewed.",
        shown_by_default: false,
        lines: &[line(
            "rr",
            "renewal rate",
            Some(Series("historical_renewal_rate")),
            None,
            Series("full_renewal_rate"),
            "full_renewal_rate",
        )],
    },
    ChartDef {
        id: "circ_supply",
        title: "Circulating supply",
        unit: "FIL",
        description: "FIL in circulation.",
        shown_by_default: true,
        lines: &[line(
            "circ",
            "circulating supply",
            Some(Series("circ_supply")),
            Some(Series("circ_supply")),
            Series("circ_supply"),
            "circ_supply",
        )],
    },
    ChartDef {
        id: "locked",
        title: "Locked FIL",
        unit: "FIL",
        description: "FIL locked as sector pledge and as vesting block rewards.",
        shown_by_default: true,
        lines: &[line(
            "locked",
            "locked",
            Some(Series("locked_fil")),
            Some(Series("network_locked")),
            Series("network_locked"),
            "network_locked",
        )],
    },
    ChartDef {
        id: "lock_ratio",
        title: "Lock ratio",
        unit: "ratio",
        description: "Locked FIL divided by circulating supply.",
        shown_by_default: true,
        lines: &[line(
            "lock_ratio",
            "locked / circulating",
            Some(Ratio("locked_fil", "circ_supply")),
            Some(Ratio("network_locked", "circ_supply")),
            Ratio("network_locked", "circ_supply"),
            "lock_ratio",
        )],
    },
    ChartDef {
        id: "rewards",
        title: "Daily block rewards",
        unit: "FIL/day",
        description: "FIL minted as block rewards per day (history: the model over the snapshot's history).",
        shown_by_default: true,
        lines: &[line(
            "reward",
            "block rewards",
            None,
            Some(Series("day_network_reward")),
            Series("day_network_reward"),
            "day_network_reward",
        )],
    },
    ChartDef {
        id: "pledge",
        title: "Pledge per sector",
        unit: "FIL/sector",
        description: "Initial pledge of a new 32 GiB QA sector (history: the model over the snapshot's history).",
        shown_by_default: false,
        lines: &[line(
            "pledge",
            "pledge",
            None,
            Some(Series("day_pledge_per_QAP")),
            Series("day_pledge_per_QAP"),
            "day_pledge_per_QAP",
        )],
    },
    ChartDef {
        id: "roi",
        title: "1-year sector ROI",
        unit: "ratio",
        description: "Rewards of a sector over the year from its start date, over its pledge; by start date, \
                      so the forecast ends 364 days before the window.",
        shown_by_default: true,
        lines: &[line(
            "roi",
            "1-year ROI",
            None,
            Some(Series("1y_sector_roi")),
            Series("1y_sector_roi"),
            "1y_sector_roi",
        )],
    },
];

/// The fields of `values`.
fn fields(values: Option<Values>) -> Vec<&'static str> {
    match values {
        None => vec![],
        Some(Series(a)) => vec![a],
        Some(Ratio(a, b)) => vec![a, b],
    }
}

/// The catalogue's data-history fields that `served` can return, each once.
pub fn history_fields(served: &Served) -> Vec<&'static str> {
    let available = super::historical::field_names(served);
    let mut wanted: Vec<&'static str> = Vec::new();
    for line in CHARTS.iter().flat_map(|c| c.lines) {
        for field in fields(line.data_history) {
            if available.contains(&field) && !wanted.contains(&field) {
                wanted.push(field);
            }
        }
    }
    wanted
}

/// What the page knows before its first request, rendered into it as JSON.
#[derive(Debug, Serialize)]
pub struct PageConfig {
    /// The API version.
    pub version: &'static str,
    /// The served snapshot (source, dates and id: the page pins its requests to it).
    pub snapshot: SnapshotRef,
    /// When the served snapshot was fetched (shown in the page's header).
    pub fetched_at: chrono::DateTime<chrono::Utc>,
    /// Every parameter of `/simulate`.
    pub params: Vec<ParamConfig>,
    /// The chart catalogue.
    pub charts: &'static [ChartDef],
    /// The catalogue's `/historical-data` fields that this snapshot has (a snapshot imported
    /// from the reference format has no supply history); the page asks for exactly these.
    pub history_fields: Vec<&'static str>,
    /// The vendored uPlot version (shown in the page's footer).
    pub uplot_version: &'static str,
}

/// The page's configuration on `served`.
pub fn page_config(served: &Served) -> PageConfig {
    PageConfig {
        version: super::VERSION,
        snapshot: served.snapshot_ref(),
        fetched_at: served.meta.fetched_at,
        params: param_configs(served),
        charts: CHARTS,
        history_fields: history_fields(served),
        uplot_version: UPLOT_VERSION,
    }
}

/// Escapes text for HTML element content and attribute values.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON that is safe inside a `<script>` element: `<`, `>` and `&` as `\u` escapes, so no
/// string in it can close the element (`</script>`) or open a comment.
fn script_safe_json(value: &impl Serialize) -> String {
    let json = serde_json::to_string(value).expect("plain data");
    json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// The page for `served`.
pub fn render_page(served: &Served) -> String {
    let config = page_config(served);
    let snapshot = &config.snapshot;
    let source = match snapshot.source {
        SnapshotSource::Demo => "demo (synthetic)",
        SnapshotSource::Spacescope => "Spacescope",
        SnapshotSource::Import => "imported file",
    };
    let source_line = format!(
        "Data: <strong>{}</strong> · history {} to <strong>{}</strong> · fetched {}",
        escape_html(source),
        snapshot.start_date,
        snapshot.current_date,
        config.fetched_at.format("%Y-%m-%d %H:%M UTC"),
    );
    let demo_banner = if snapshot.source == SnapshotSource::Demo {
        "<div id=\"demo-banner\" class=\"banner demo\" role=\"note\"><strong>Demo data.</strong> \
         These numbers come from a synthetic snapshot shaped like the Filecoin network, not from \
         measurements of it. A deployment with a Spacescope token serves real data.</div>"
    } else {
        ""
    };
    // Without its first answers the page asks the API, which then says what went wrong.
    let answers =
        first_answers::first_answers(served).map_or_else(|_| "null".into(), |a| script_safe_json(&a));
    TEMPLATE
        .replace("{{source_line}}", &source_line)
        .replace("{{demo_banner}}", demo_banner)
        .replace("{{config}}", &script_safe_json(&config))
        .replace("{{answers}}", &answers)
}

/// Headers of every response of the page and its files.
fn page_headers(content_type: &'static str, cache: &'static str) -> [(header::HeaderName, HeaderValue); 5] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
    ]
}

/// The page as a response. Not cached by clients: it carries the served snapshot's defaults,
/// dates and first answers, which change when an update lands. Made once per snapshot, as CPU
/// work (it runs two simulations) like the API's answers.
async fn page_response(state: &AppState, request: &HeaderMap) -> Response {
    match state.served() {
        Ok(served) => {
            let page = match served.explore_page.get() {
                Some(page) => page.clone(),
                None => {
                    let make = move || {
                        served.explore_page.get_or_init(|| Precompressed::new(render_page(&served))).clone()
                    };
                    match state.run_cpu(make).await {
                        Ok(page) => page,
                        Err(e) => return e.into_response(),
                    }
                }
            };
            let (encoding, body) = page.for_request(request);
            (page_headers("text/html; charset=utf-8", "no-cache"), encoding, body).into_response()
        }
        // Without a snapshot there is nothing to explore; say why in a page, as the API would
        // in JSON.
        Err(reason) => {
            let body = format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>MechaFil explorer \
                 unavailable</title></head><body><h1>No data to explore</h1><p>No snapshot can be served: \
                 {}</p><p>See <a href=\"/health\">/health</a>.</p></body></html>",
                escape_html(&reason)
            );
            (StatusCode::SERVICE_UNAVAILABLE, page_headers("text/html; charset=utf-8", "no-cache"), body)
                .into_response()
        }
    }
}

/// `GET /explore`.
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    page_response(&state, &headers).await
}

/// `GET /`: the page for clients that prefer HTML, the JSON index for everyone else (no
/// `Accept`, `*/*`, JSON), with `Vary: Accept` so caches keep the two apart.
pub async fn root(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let accept = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    let mut response = if prefers_html(&accept.join(",")) {
        page_response(&state, &headers).await
    } else {
        super::index().await.into_response()
    };
    response.headers_mut().append(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// Whether an `Accept` header ranks `text/html` above `application/json`. Each type gets the
/// quality of the most specific media range that matches it (`text/html` over `text/*` over
/// `*/*`); a tie goes to JSON, the API's own format, so `*/*` and an absent header keep
/// today's answer.
pub fn prefers_html(accept: &str) -> bool {
    quality(accept, "text", "html") > quality(accept, "application", "json")
}

/// The quality `accept` gives `kind/sub` (0 when no range matches).
fn quality(accept: &str, kind: &str, sub: &str) -> f32 {
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let Some((k, s)) = media.split_once('/') else { continue };
        let specificity = match (k == kind, s == sub, k, s) {
            (true, true, _, _) => 3,
            (true, false, _, "*") => 2,
            (false, false, "*", "*") => 1,
            _ => continue,
        };
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        if best.is_none_or(|(spec, _)| specificity > spec) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

/// The assets' bodies, gzipped once (in [`ASSETS`]' order).
static COMPRESSED_ASSETS: LazyLock<Vec<Precompressed>> =
    LazyLock::new(|| ASSETS.iter().map(|a| Precompressed::new(a.body)).collect());

/// `GET /explore/{file}`: the page's scripts and styles.
pub async fn asset(Path(file): Path<String>, request: HeaderMap) -> Response {
    match ASSETS.iter().position(|a| a.name == file) {
        // Cached for a year and never revalidated: the page links them with a content hash.
        Some(i) => {
            let (encoding, body) = COMPRESSED_ASSETS[i].for_request(&request);
            let cache = "public, max-age=31536000, immutable";
            (page_headers(ASSETS[i].content_type, cache), encoding, body).into_response()
        }
        None => ApiError::NotFound(format!("/explore/{file}")).into_response(),
    }
}

/// `GET /favicon.ico`.
pub async fn favicon() -> Response {
    (page_headers("image/x-icon", "public, max-age=86400"), FAVICON).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        let chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,\
                      image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
        let firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        let cases = [
            ("", false),
            ("*/*", false),
            ("application/json", false),
            ("application/json, text/html", false),
            ("text/html;q=0.5, application/json", false),
            ("text/html, application/json;q=0.9", true),
            ("text/html", true),
            ("text/*", true),
            ("text/*;q=0.9, application/json;q=0.95", false),
            ("TEXT/HTML", true),
            ("text/html;level=1;q=0.7, */*;q=0.8", false),
            (chrome, true),
            (firefox, true),
            ("garbage", false),
        ];
        for (accept, html) in cases {
            assert_eq!(prefers_html(accept), html, "Accept: {accept:?}");
        }
    }

    #[test]
    fn config_json_cannot_close_its_script_element() {
        let json = script_safe_json(&serde_json::json!({"x": "</script><!-- & >"}));
        assert!(!json.contains('<') && !json.contains('>') && !json.contains('&'), "{json}");
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["x"], "</script><!-- & >");
    }

    #[test]
    fn template_has_every_asset_and_placeholder() {
        for asset in &ASSETS {
            assert!(TEMPLATE.contains(&format!("/explore/{}?v=", asset.name)), "{}", asset.name);
        }
        for placeholder in ["{{source_line}}", "{{demo_banner}}", "{{config}}"] {
            assert!(TEMPLATE.contains(placeholder), "{placeholder}");
        }
    }

    #[test]
    fn content_hash_changes_with_the_bytes() {
        assert_eq!(content_hash(b""), "cbf29ce484222325");
        assert_ne!(content_hash(b"a"), content_hash(b"b"));
    }
}
