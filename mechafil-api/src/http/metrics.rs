//! `GET /metrics`: the service's counters in the Prometheus text format (version 0.0.4), for
//! operators: requests and latencies by route and status, the CPU budget's queue and refusals,
//! the admission of large bodies, the serve loop's connections and timeouts, update attempts and
//! their outcomes, the served snapshot's age.
//!
//! Written by hand rather than with a metrics crate: a few counters and one histogram family,
//! all in memory, rendered on demand; the format is a handful of lines of text. Labels are
//! bounded: `route` is the matched route template (or `unmatched`), `status` an HTTP status.
//! Like `/health`, rendering reads only memory.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::VERSION;
use super::server::connection_stats;
use super::state::AppState;

/// Upper bounds of the latency histogram's buckets, seconds.
const BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The counters `/metrics` reports that are not kept elsewhere.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latencies: Mutex<BTreeMap<String, Histogram>>,
    updates: Mutex<BTreeMap<&'static str, u64>>,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Observations at or below each bound of [`BUCKETS`] (not cumulative; summed when rendered).
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// How an update attempt ended, for `mechafil_update_attempts_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMetric {
    /// A new snapshot is stored and served.
    Updated,
    /// It failed before its deadline (Spacescope, validation, storage).
    Failed,
    /// It was stopped at its deadline.
    DeadlineExceeded,
}

impl Metrics {
    /// Counts one answered request.
    pub fn record_request(&self, route: &str, status: u16, latency: Duration) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((route.to_string(), status))
            .or_default() += 1;
        let seconds = latency.as_secs_f64();
        let mut latencies = self.latencies.lock().unwrap_or_else(|e| e.into_inner());
        let histogram = latencies.entry(route.to_string()).or_default();
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            histogram.buckets[i] += 1;
        }
        histogram.sum += seconds;
        histogram.count += 1;
    }

    /// Counts one update attempt.
    pub fn record_update(&self, outcome: UpdateMetric) {
        let label = match outcome {
            UpdateMetric::Updated => "updated",
            UpdateMetric::Failed => "failed",
            UpdateMetric::DeadlineExceeded => "deadline_exceeded",
        };
        *self.updates.lock().unwrap_or_else(|e| e.into_inner()).entry(label).or_default() += 1;
    }
}

/// Middleware: times every request and counts it by route and status.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route =
        request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_string();
    let response = next.run(request).await;
    state.metrics().record_request(&route, response.status().as_u16(), started.elapsed());
    response
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let body = render(&state);
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], body)
        .into_response()
}

/// A label value with `\`, `"` and newlines escaped, as the format requires.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0 += name;
        if !labels.is_empty() {
            let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", label(v))).collect();
            let _ = write!(self.0, "{{{}}}", inner.join(","));
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// The whole exposition.
pub fn render(state: &AppState) -> String {
    let metrics = state.metrics();
    let mut out = Out(String::with_capacity(8192));

    out.family("mechafil_build_info", "gauge", "The running version.");
    out.sample("mechafil_build_info", &[("version", VERSION)], 1);
    out.single(
        "mechafil_uptime_seconds",
        "gauge",
        "Seconds since the process started serving.",
        (chrono::Utc::now() - state.started_at()).num_seconds(),
    );

    out.family(
        "mechafil_http_requests_total",
        "counter",
        "HTTP requests answered, by route template and status.",
    );
    for ((route, status), count) in metrics.requests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        out.sample(
            "mechafil_http_requests_total",
            &[("route", route), ("status", &status.to_string())],
            count,
        );
    }
    out.family(
        "mechafil_http_request_duration_seconds",
        "histogram",
        "Time from a request's head to its answer's head, by route template.",
    );
    let latencies = metrics.latencies.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for (route, histogram) in &latencies {
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
            cumulative += count;
            let le = bound.to_string();
            out.sample(
                "mechafil_http_request_duration_seconds_bucket",
                &[("route", route), ("le", &le)],
                cumulative,
            );
        }
        out.sample(
            "mechafil_http_request_duration_seconds_bucket",
            &[("route", route), ("le", "+Inf")],
            histogram.count,
        );
        out.sample("mechafil_http_request_duration_seconds_sum", &[("route", route)], histogram.sum);
        out.sample("mechafil_http_request_duration_seconds_count", &[("route", route)], histogram.count);
    }

    let cpu = state.cpu().stats();
    out.single("mechafil_cpu_permits", "gauge", "CPU jobs that can run at once.", cpu.permits);
    out.single("mechafil_cpu_jobs_running", "gauge", "CPU jobs running now.", cpu.running);
    out.single(
        "mechafil_cpu_jobs_waiting",
        "gauge",
        "CPU jobs waiting for a permit now (the queue).",
        cpu.waiting,
    );
    out.single("mechafil_cpu_jobs_total", "counter", "CPU jobs run to completion.", cpu.jobs_total);
    out.single(
        "mechafil_cpu_rejected_total",
        "counter",
        "Requests refused with 429 because the CPU queue was full.",
        cpu.rejected_total,
    );
    out.single(
        "mechafil_cpu_timed_out_total",
        "counter",
        "Chunked requests stopped at their time limit (503).",
        cpu.timed_out_total,
    );
    let large = state.large_requests();
    out.single(
        "mechafil_large_requests_waiting",
        "gauge",
        "Requests with large bodies (/simulate/batch, /analyze/*) waiting for their turn.",
        large.waiting(),
    );
    out.single(
        "mechafil_large_requests_rejected_total",
        "counter",
        "Requests with large bodies refused with 429 because their queue was full.",
        large.rejected_total(),
    );

    let conns = connection_stats();
    out.single("mechafil_connections_open", "gauge", "Open client connections.", conns.open);
    out.single(
        "mechafil_connections_accepted_total",
        "counter",
        "Client connections accepted.",
        conns.accepted_total,
    );
    out.single(
        "mechafil_connections_refused_total",
        "counter",
        "Connections closed at once because the connection limit was reached.",
        conns.refused_total,
    );
    out.single(
        "mechafil_connections_header_timeouts_total",
        "counter",
        "Connections closed because a request head did not arrive in time (slow or idle).",
        conns.header_timeouts_total,
    );
    out.single(
        "mechafil_connections_write_stalls_total",
        "counter",
        "Connections closed because the client stopped reading its answer.",
        conns.write_stalls_total,
    );

    out.family("mechafil_update_attempts_total", "counter", "Update attempts by this process, by outcome.");
    let updates = metrics.updates.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for outcome in ["updated", "failed", "deadline_exceeded"] {
        out.sample(
            "mechafil_update_attempts_total",
            &[("outcome", outcome)],
            updates.get(outcome).copied().unwrap_or(0),
        );
    }
    out.single(
        "mechafil_update_in_progress",
        "gauge",
        "1 while an update runs.",
        u8::from(state.update_in_progress()),
    );
    if let Some(last) = state.last_update() {
        let ok = matches!(last.outcome, crate::store::UpdateOutcome::Updated { .. });
        out.single(
            "mechafil_last_update_finished_timestamp_seconds",
            "gauge",
            "When the last recorded update attempt ended (Unix time).",
            last.finished_at.timestamp(),
        );
        out.single(
            "mechafil_last_update_success",
            "gauge",
            "1 when the last recorded update attempt stored a new snapshot, else 0.",
            u8::from(ok),
        );
    }

    if let Ok(served) = state.served() {
        let age = (chrono::Utc::now() - served.meta.fetched_at).num_seconds();
        out.single(
            "mechafil_snapshot_age_seconds",
            "gauge",
            "Age of the served snapshot's data (since it was fetched).",
            age,
        );
        out.family("mechafil_snapshot_info", "gauge", "The served snapshot.");
        let current = served.meta.current_date.to_string();
        out.sample(
            "mechafil_snapshot_info",
            &[("source", served.meta.source.as_str()), ("current_date", &current)],
            1,
        );
    }
    out.single(
        "mechafil_store_problems",
        "gauge",
        "Problems found with the snapshot store (see /health's store_problems).",
        state.store_problems().len(),
    );
    out.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fall_in_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.record_request("/simulate", 200, Duration::from_micros(800));
        metrics.record_request("/simulate", 200, Duration::from_millis(20));
        metrics.record_request("/simulate", 422, Duration::from_secs(60));
        let latencies = metrics.latencies.lock().unwrap();
        let h = &latencies["/simulate"];
        assert_eq!(h.count, 3);
        assert_eq!(h.buckets[0], 1); // <= 1 ms
        assert_eq!(h.buckets[4], 1); // <= 25 ms
        assert_eq!(h.buckets.iter().sum::<u64>(), 2); // 60 s is only in +Inf
        assert_eq!(metrics.requests.lock().unwrap()[&("/simulate".to_string(), 422)], 1);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
