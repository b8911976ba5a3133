//! The scenario explorer's HTTP side, without a browser: what `GET /explore` renders into the
//! page (the parameter rules, the snapshot's defaults, the chart catalogue) checked against the
//! rules and the API's own answers; content negotiation at `/`; the embedded assets, their
//! headers and the page's weight. `tests/explore_browser.rs` drives the page itself.

mod http_support;

use http_support::{TestServer, config};
use mechafil_api::demo::demo_snapshot;
use mechafil_api::http::explore::{CHARTS, CONTENT_SECURITY_POLICY, LineDef, Values};
use mechafil_api::http::{AppState, Served};
use mechafil_core::{Param, SeriesName};
use serde_json::{Value, json};

async fn demo_server(with_supply: bool) -> TestServer {
    let mut demo = demo_snapshot();
    if !with_supply {
        // As a snapshot imported from the reference format: no supply history.
        demo.data.supply = None;
    }
    let served = Served::new(demo.meta, demo.data).expect("demo snapshot");
    TestServer::start(AppState::new(config(), Ok(served))).await
}

async fn get_text(
    server: &TestServer,
    path: &str,
    accept: Option<&str>,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, String) {
    let mut request = server.client.get(server.url(path));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("request");
    (response.status(), response.headers().clone(), response.text().await.expect("body"))
}

/// The JSON the page carries in `<script type="application/json" id="{id}">`.
fn script_json(html: &str, id: &str) -> Value {
    let open = format!(r#"<script type="application/json" id="{id}">"#);
    let start = html.find(&open).unwrap_or_else(|| panic!("no {id} element")) + open.len();
    let end = start + html[start..].find("</script>").expect("end of the element");
    serde_json::from_str(&html[start..end]).unwrap_or_else(|e| panic!("{id}: {e}"))
}

/// The page's configuration (`explore-config`).
fn page_config(html: &str) -> Value {
    script_json(html, "explore-config")
}

#[tokio::test]
async fn the_page_carries_the_rules_and_the_snapshots_defaults() {
    let server = demo_server(true).await;
    let (status, headers, html) = get_text(&server, "/explore", None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["content-security-policy"], CONTENT_SECURITY_POLICY);
    let config = page_config(&html);

    // Every parameter of /simulate, in the rules' order, with the rules' unit and bounds.
    let params = config["params"].as_array().unwrap();
    assert_eq!(params.len(), Param::ALL.len());
    let (_, echo) = server.post("/simulate", &json!({"output": "circ_supply"})).await;
    for (p, shown) in Param::ALL.iter().zip(params) {
        let rule = p.rule();
        assert_eq!(shown["name"], p.name());
        assert_eq!(shown["unit"], rule.unit, "{p}");
        assert_eq!(shown["description"], rule.description, "{p}");
        match rule.bounds {
            Some(bounds) => {
                assert_eq!(shown["min"].as_f64(), Some(bounds.min), "{p}");
                assert_eq!(shown["max"].as_f64(), Some(bounds.max), "{p}");
                assert_eq!(shown["min_exclusive"], bounds.min_exclusive, "{p}");
                assert_eq!(shown["bounds"], bounds.describe(), "{p}");
                // The slider covers allowed values only, and the default.
                let slider = &shown["slider"];
                let (lo, hi) = (slider["min"].as_f64().unwrap(), slider["max"].as_f64().unwrap());
                assert!(
                    bounds.contains(lo) || (bounds.min_exclusive && lo > bounds.min),
                    "{p}: slider from {lo}"
                );
                assert!(bounds.contains(hi) && lo < hi, "{p}: slider to {hi}");
                let default = shown["default"].as_f64().unwrap();
                assert!(
                    lo <= default && default <= hi,
                    "{p}: default {default} outside the slider {lo}..{hi}"
                );
            }
            None => assert!(shown["min"].is_null() && shown["slider"].is_null(), "{p}"),
        }
        // The default is the value /simulate uses when the parameter is not given.
        assert_eq!(shown["default"], echo["input"][p.name()], "{p}: page default vs /simulate's echo");
    }
    let smoothed = server.state.served().unwrap().simulator.snapshot().smoothed;
    assert_eq!(params[0]["default"].as_f64(), Some(smoothed.raw_byte_power));
    assert_eq!(params[0]["default_from"], "snapshot");
    assert_eq!(config["snapshot"]["source"], "demo");
    assert_eq!(config["snapshot"]["current_date"], "2025-09-09");
    // The demo banner is in the page itself, not only drawn by its script.
    assert!(html.contains(r#"id="demo-banner""#));
    assert!(html.contains("<strong>demo (synthetic)</strong>"));
    server.stop().await;
}

#[tokio::test]
async fn the_chart_catalogue_names_what_the_api_serves_in_the_charts_units() {
    let server = demo_server(true).await;
    let (_, history) = server.get("/historical-data").await;
    let field_meta = &history["data"]["field_meta"];
    let series =
        |name: &str| SeriesName::from_name(name).unwrap_or_else(|| panic!("{name} is no output series"));
    for chart in CHARTS {
        for line in chart.lines {
            let what = format!("{}/{}", chart.id, line.id);
            match line.forecast {
                Values::Series(s) => assert_eq!(series(s).as_str(), line.analysis_series, "{what}"),
                Values::Ratio(a, b) => {
                    series(a);
                    series(b);
                    assert_eq!(
                        (a, b, line.analysis_series),
                        ("network_locked", "circ_supply", "lock_ratio"),
                        "{what}"
                    );
                }
            }
            assert!(line.data_history.is_some() || line.model_history.is_some(), "{what}: no history");
            for values in line.model_history.into_iter() {
                for s in parts(values) {
                    series(s);
                }
            }
            if let Some(values) = line.data_history {
                let fields = parts(values);
                for f in &fields {
                    let meta = &field_meta[*f];
                    assert!(meta.is_object(), "{what}: /historical-data has no {f}");
                    assert_eq!(meta["timestep_days"], 7, "{what}: {f} is weekly");
                }
                // A ratio of two like quantities is a ratio; a single field carries the chart's unit.
                let unit = match values {
                    Values::Series(f) => field_meta[f]["unit"].as_str().unwrap().to_string(),
                    Values::Ratio(a, b) => {
                        assert_eq!(field_meta[a]["unit"], field_meta[b]["unit"], "{what}");
                        "ratio".into()
                    }
                };
                assert_eq!(unit, chart.unit, "{what}: the history's unit");
            }
        }
    }
    // Every id is unique (they are used in URLs and markup).
    let mut ids: Vec<&str> = CHARTS.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), CHARTS.len());
    server.stop().await;
}

fn parts(values: Values) -> Vec<&'static str> {
    match values {
        Values::Series(s) => vec![s],
        Values::Ratio(a, b) => vec![a, b],
    }
}

#[tokio::test]
async fn without_supply_history_the_page_asks_only_for_the_fields_there_are() {
    for (with_supply, expect_supply) in [(true, true), (false, false)] {
        let server = demo_server(with_supply).await;
        let (_, _, html) = get_text(&server, "/explore", None).await;
        let fields: Vec<String> =
            serde_json::from_value(page_config(&html)["history_fields"].clone()).unwrap();
        assert_eq!(fields.iter().any(|f| f == "circ_supply"), expect_supply, "{fields:?}");
        assert!(fields.iter().any(|f| f == "network_raw_power_eib"), "{fields:?}");
        // The page's history request succeeds as it will send it.
        let (status, body) = server.get(&format!("/historical-data?fields={}", fields.join(","))).await;
        assert_eq!(status, 200, "{body}");
        server.stop().await;
    }
}

/// Each of `parts` once, in first-seen order.
fn unique(parts: impl IntoIterator<Item = &'static str>) -> Vec<&'static str> {
    let mut out = Vec::new();
    for p in parts {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn the_page_carries_the_apis_answers_to_its_first_requests() {
    for with_supply in [true, false] {
        let server = demo_server(with_supply).await;
        let (_, _, html) = get_text(&server, "/explore", None).await;
        let config = page_config(&html);
        let answers = script_json(&html, "explore-answers");
        let pin = config["snapshot"]["snapshot_id"].as_str().unwrap();

        // The history: what GET /historical-data answers for the page's fields.
        let fields: Vec<String> = serde_json::from_value(config["history_fields"].clone()).unwrap();
        assert_eq!(answers["history"]["request"]["fields"], json!(fields));
        let (status, history) =
            server.get(&format!("/historical-data?fields={}&snapshot={pin}", fields.join(","))).await;
        assert_eq!(status, 200);
        assert_eq!(answers["history"]["answer"], history, "the history, supply {with_supply}");

        // The model's history: the series of every line whose data history this snapshot lacks
        // (the supply lines of an imported snapshot, the model-only lines always).
        let uses_data = |line: &LineDef| {
            line.data_history.is_some_and(|v| parts(v).iter().all(|f| fields.iter().any(|g| g == f)))
        };
        let model_series = unique(
            CHARTS
                .iter()
                .flat_map(|c| c.lines)
                .filter(|l| !uses_data(l))
                .flat_map(|l| l.model_history.map(parts).unwrap_or_default()),
        );
        assert_eq!(model_series.contains(&"circ_supply"), !with_supply, "{model_series:?}");
        let model = &answers["model"];
        assert_eq!(
            model["request"],
            json!({"forecast_length_days": 1, "output": model_series, "snapshot": pin})
        );
        let (status, full) = server.post("/simulate/full", &model["request"]).await;
        assert_eq!(status, 200);
        assert_eq!(model["answer"], full, "the model's history, supply {with_supply}");

        // The forecast: the default scenario, the series of the charts shown by default.
        let forecast_series = unique(
            CHARTS
                .iter()
                .filter(|c| c.shown_by_default)
                .flat_map(|c| c.lines)
                .flat_map(|l| parts(l.forecast)),
        );
        let forecast = &answers["forecast"];
        assert_eq!(forecast["request"], json!({"output": forecast_series, "snapshot": pin}));
        let (status, weekly) = server.post("/simulate", &forecast["request"]).await;
        assert_eq!(status, 200);
        assert_eq!(forecast["answer"], weekly, "the forecast, supply {with_supply}");
        server.stop().await;
    }
}

#[tokio::test]
async fn the_root_answers_browsers_with_the_page_and_everyone_else_with_json() {
    let server = demo_server(true).await;
    let chrome =
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8";
    let cases = [
        (None, false),
        (Some("*/*"), false),
        (Some("application/json"), false),
        (Some("text/html;q=0.5, application/json"), false),
        (Some(chrome), true),
        (Some("text/html"), true),
    ];
    for (accept, html) in cases {
        let (status, headers, body) = get_text(&server, "/", accept).await;
        assert_eq!(status, 200, "{accept:?}");
        let vary: Vec<&str> = headers.get_all("vary").iter().map(|v| v.to_str().unwrap()).collect();
        assert!(vary.iter().any(|v| v.eq_ignore_ascii_case("accept")), "{accept:?}: Vary {vary:?}");
        if html {
            assert_eq!(headers["content-type"], "text/html; charset=utf-8", "{accept:?}");
            assert_eq!(headers["content-security-policy"], CONTENT_SECURITY_POLICY);
            assert!(body.contains("<title>MechaFil scenario explorer</title>"));
        } else {
            assert_eq!(headers["content-type"], "application/json", "{accept:?}");
            let index: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(index["service"], "mechafil-api");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn assets_are_embedded_cached_for_good_and_the_page_stays_light() {
    let server = demo_server(true).await;
    let (_, _, html) = get_text(&server, "/explore", None).await;
    // Every URL the page names is on its own origin.
    let mut urls: Vec<&str> = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for piece in html.split(attribute).skip(1) {
            urls.push(&piece[..piece.find('"').unwrap()]);
        }
    }
    assert!(urls.len() >= 6, "{urls:?}");
    for url in &urls {
        let same_page = url.starts_with('#');
        assert!(
            same_page || (url.starts_with('/') && !url.starts_with("//")),
            "{url} is not on the page's origin"
        );
    }
    // The page's own script and styles name no other origin at all.
    let mut compressed = gzip_size(&server, "/explore").await;
    for url in urls.iter().filter(|u| u.starts_with("/explore/")) {
        let response = server.client.get(server.url(url)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let headers = response.headers().clone();
        assert_eq!(headers["cache-control"], "public, max-age=31536000, immutable", "{url}");
        assert_eq!(headers["content-security-policy"], CONTENT_SECURITY_POLICY, "{url}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{url}");
        let kind = headers["content-type"].to_str().unwrap().to_string();
        assert!(kind.starts_with("text/javascript") || kind.starts_with("text/css"), "{url}: {kind}");
        let body = response.text().await.unwrap();
        if url.contains("/explore/explore.") {
            assert!(!body.contains("://"), "{url} names an absolute URL");
        }
        compressed += gzip_size(&server, url).await;
    }
    compressed += gzip_size(&server, "/favicon.ico").await;
    // The issue's budget: 200 kB compressed for the page, with the API's first answers in it.
    assert!(compressed < 200_000, "the page weighs {compressed} bytes compressed");
    eprintln!("page weight, gzip: {compressed} bytes");

    // The favicon, and an unknown asset as a JSON 404.
    let response = server.client.get(server.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "image/x-icon");
    assert_eq!(&response.bytes().await.unwrap()[..4], &[0, 0, 1, 0], "an ICO file");
    let (status, body) = server.get("/explore/nothing.js").await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("/explore/nothing.js"));
    server.stop().await;
}

/// Bytes of `path`'s body as sent to a client that accepts gzip.
async fn gzip_size(server: &TestServer, path: &str) -> usize {
    // reqwest is built without gzip here, so the body arrives as sent.
    let response =
        server.client.get(server.url(path)).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    if path != "/favicon.ico" {
        // The page and its files go out gzipped (made once, src/http/precompressed.rs).
        assert_eq!(response.headers()["content-encoding"], "gzip", "{path}");
        assert_eq!(response.headers()["vary"], "accept-encoding", "{path}");
    }
    response.bytes().await.unwrap().len()
}

#[tokio::test]
async fn without_a_snapshot_the_page_says_why() {
    let server = TestServer::start(AppState::new(config(), Err("the store is empty".into()))).await;
    let (status, headers, html) = get_text(&server, "/explore", None).await;
    assert_eq!(status, 503);
    assert_eq!(headers["content-security-policy"], CONTENT_SECURITY_POLICY);
    assert!(html.contains("No snapshot can be served: the store is empty"), "{html}");
    server.stop().await;
}
