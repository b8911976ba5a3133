//! The scenario explorer (`GET /explore`) in a real browser: headless Chromium driven over
//! WebDriver (`browser_support`), against the real router on a loopback port serving the demo
//! snapshot.
//!
//! Every test checks the numbers the page shows against the API's own answers for the same
//! inputs, and ends with [`assert_clean`]: no console message, and no request to anything but
//! the page's own loopback origin (from Chromium's network log). Screenshots go to
//! `target/explore-screenshots/` (not in git).
//!
//! Locally, the tests skip when Chromium or chromedriver is missing; under `CI=true` they fail.
//! They run one at a time (a browser per test would otherwise compete for the two cores).

mod browser_support;
mod http_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use browser_support::{Browser, js, wait_until};
use chrono::{Days, NaiveDate};
use http_support::{TestServer, config};
use mechafil_api::demo::{demo_network_data_later, demo_snapshot};
use mechafil_api::http::explore::{CHARTS, LineDef, Values};
use mechafil_api::http::{AppState, Served};
use serde_json::{Value, json};
use thirtyfour::prelude::*;

/// One browser at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const WAIT: Duration = Duration::from_secs(30);

async fn demo_server() -> TestServer {
    let demo = demo_snapshot();
    let served = Served::new(demo.meta, demo.data).expect("demo snapshot");
    TestServer::start(AppState::new(config(), Ok(served))).await
}

fn screenshot_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("explore-screenshots").join(format!("{name}.png"))
}

/// Opens `url` and waits until the first chart is drawn with history and a current forecast.
async fn open(browser: &Browser, url: &str) {
    browser.driver.goto(url).await.expect("navigate");
    wait_until(&browser.driver, "document.documentElement.dataset.ready === 'true'", "the first chart", WAIT)
        .await;
    wait_current(browser).await;
}

/// Waits until the forecast is current for the inputs shown and the address bar holds them
/// (the page updates it once the view rests).
async fn wait_current(browser: &Browser) {
    wait_until(
        &browser.driver,
        "document.body.dataset.state === 'current' && document.body.dataset.urlPending === undefined",
        "a current forecast",
        WAIT,
    )
    .await;
}

/// The paths of the API requests the page has sent since it loaded, in order.
async fn api_requests(browser: &Browser) -> Vec<String> {
    let paths = js(
        &browser.driver,
        "return performance.getEntriesByType('resource').filter(e => e.initiatorType === 'fetch')\
           .map(e => new URL(e.name).pathname);",
    )
    .await;
    serde_json::from_value(paths).expect("paths")
}

/// Waits until every chart is drawn with the latest answer (the page draws charts out of view
/// only when they come near it or the view rests).
async fn wait_all_drawn(browser: &Browser) {
    wait_until(
        &browser.driver,
        "!document.querySelector('figure.chart[data-drawn]')",
        "every chart drawn",
        WAIT,
    )
    .await;
}

/// Types `text` into the input named `name`, replacing what it holds (select all, then type,
/// as a person does).
async fn type_into(browser: &Browser, name: &str, text: &str) {
    let input = browser.driver.find(By::Name(name)).await.unwrap_or_else(|_| panic!("input {name}"));
    input.send_keys(Key::Control + "a").await.unwrap();
    input.send_keys(text).await.unwrap();
}

/// Presses `key` `times` times on the element with `id`.
async fn press(browser: &Browser, id: &str, key: Key, times: usize) {
    let element = browser.driver.find(By::Id(id)).await.unwrap_or_else(|_| panic!("element #{id}"));
    for _ in 0..times {
        element.send_keys(key.clone()).await.unwrap();
    }
}

/// The values the page's inputs hold, by parameter name (numbers as typed, booleans).
async fn shown_inputs(browser: &Browser) -> BTreeMap<String, Value> {
    let shown = js(
        &browser.driver,
        "const out = {}; for (const row of document.querySelectorAll('#params .param')) { \
           const input = row.querySelector('[name]'); \
           out[input.name] = {value: input.type === 'checkbox' ? input.checked : input.value, \
                              isDefault: row.classList.contains('is-default')}; } return out;",
    )
    .await;
    shown.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The scenario the inputs show, as a `/simulate` body: the values the person set (defaults
/// left out, so the API fills them from the snapshot exactly as the page does).
async fn shown_scenario(browser: &Browser) -> serde_json::Map<String, Value> {
    let mut body = serde_json::Map::new();
    for (name, input) in shown_inputs(browser).await {
        if input["isDefault"] == true {
            continue;
        }
        let value = match &input["value"] {
            Value::Bool(b) => json!(b),
            Value::String(s) => json!(s.parse::<f64>().unwrap_or_else(|_| panic!("{name} shows {s:?}"))),
            other => panic!("{name}: {other}"),
        };
        body.insert(name, value);
    }
    body
}

/// The date the value tables are for.
async fn readout_date(browser: &Browser) -> NaiveDate {
    let text = browser.driver.find(By::Id("at-date")).await.unwrap().text().await.unwrap();
    text[..10].parse().unwrap_or_else(|_| panic!("readout date {text:?}"))
}

/// The charts on the page, by id.
async fn shown_charts(browser: &Browser) -> Vec<String> {
    let ids = js(
        &browser.driver,
        "return [...document.querySelectorAll('figure.chart')].map(f => f.dataset.chart);",
    )
    .await;
    ids.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

/// Every value cell of the tables: (chart, line, kind) -> the exact number, `None` for "—".
async fn shown_values(browser: &Browser) -> BTreeMap<(String, String, String), Option<f64>> {
    let cells = js(
        &browser.driver,
        "return [...document.querySelectorAll('figure.chart td[data-kind]')].map(td => [\
           td.closest('figure').dataset.chart, td.closest('tr').dataset.line, td.dataset.kind, \
           td.dataset.value === undefined ? null : td.dataset.value, td.textContent]);",
    )
    .await;
    let mut out = BTreeMap::new();
    for cell in cells.as_array().unwrap() {
        let key = (
            cell[0].as_str().unwrap().into(),
            cell[1].as_str().unwrap().into(),
            cell[2].as_str().unwrap().into(),
        );
        let text = cell[4].as_str().unwrap();
        let value = cell[3].as_str().map(|v| v.parse::<f64>().unwrap());
        // What is printed is the exact value rounded to 6 significant digits.
        if let Some(v) = value {
            let printed: f64 =
                text.replace(',', "").parse().unwrap_or_else(|_| panic!("{key:?} prints {text:?}"));
            assert!((printed - v).abs() <= 5e-6 * v.abs(), "{key:?}: prints {text} for {v}");
        } else {
            assert!(text == "—" || key.2 == "bands", "{key:?}: no value but prints {text:?}");
        }
        out.insert(key, value);
    }
    out
}

/// Value of one series of a dated answer (`series_dates` + arrays) on `date`.
fn value_on(dates: &Value, values: &Value, date: NaiveDate) -> Option<f64> {
    let start: NaiveDate = dates["start_date"].as_str()?.parse().unwrap();
    let step = dates["timestep_days"].as_i64().unwrap();
    let offset = (date - start).num_days();
    if offset < 0 || offset % step != 0 {
        return None;
    }
    values.as_array().unwrap().get((offset / step) as usize)?.as_f64()
}

/// A line's forecast on `date` from a `/simulate` answer (a ratio line divides, as the page does).
fn forecast_on(answer: &Value, line: &LineDef, date: NaiveDate) -> Option<f64> {
    let get = |s: &str| value_on(&answer["input"]["series_dates"][s], &answer["simulation_output"][s], date);
    match line.forecast {
        Values::Series(s) => get(s),
        Values::Ratio(a, b) => Some(get(a)? / get(b)?),
    }
}

/// Asserts that the page shows, for every line of every chart on it, the forecast of
/// `scenario` on the readout date exactly as `/simulate` answers it.
async fn assert_forecast_matches(
    browser: &Browser,
    server: &TestServer,
    scenario: &serde_json::Map<String, Value>,
) -> usize {
    let date = readout_date(browser).await;
    let mut body = scenario.clone();
    let outputs: Vec<&str> = CHARTS
        .iter()
        .flat_map(|c| c.lines)
        .flat_map(|l| match l.forecast {
            Values::Series(s) => vec![s],
            Values::Ratio(a, b) => vec![a, b],
        })
        .collect();
    body.insert("output".into(), json!(outputs));
    let (status, answer) = server.post("/simulate", &Value::Object(body)).await;
    assert_eq!(status, 200, "{answer}");
    let shown = shown_values(browser).await;
    let mut compared = 0;
    for chart_id in shown_charts(browser).await {
        let chart = CHARTS.iter().find(|c| c.id == chart_id).unwrap();
        for line in chart.lines {
            let expected = forecast_on(&answer, line, date);
            let key = (chart_id.clone(), line.id.to_string(), "forecast".to_string());
            let got = shown.get(&key).copied().unwrap_or_else(|| panic!("no cell {key:?}"));
            match (got, expected) {
                (Some(g), Some(e)) => {
                    assert_eq!(g.to_bits(), e.to_bits(), "{key:?} on {date}: page {g}, API {e}");
                    compared += 1;
                }
                (None, None) => {}
                (g, e) => panic!("{key:?} on {date}: page {g:?}, API {e:?}"),
            }
        }
    }
    compared
}

/// No console message at all, and every request went to `origin` (the page's loopback
/// origin) or stayed in the page (`data:`/`blob:`).
async fn assert_clean(browser: &Browser, origin: &str) {
    assert_clean_but(browser, origin, None).await;
}

/// [`assert_clean`], but tolerating console lines that contain `expected` and come from the
/// network layer: Chromium logs every answer with status 400 or more ("Failed to load
/// resource"), including the API's 422s that the page asks for and shows next to a field.
async fn assert_clean_but(browser: &Browser, origin: &str, expected: Option<&str>) {
    let console: Vec<_> = browser
        .console()
        .await
        .into_iter()
        .filter(|m| {
            !expected.is_some_and(|e| m.message.contains(e) && m.source.as_deref() == Some("network"))
        })
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let urls = browser.requested_urls().await;
    assert!(!urls.is_empty(), "the network log recorded no request");
    let foreign: Vec<&String> = urls
        .iter()
        .filter(|u| {
            !u.starts_with(&format!("{origin}/"))
                && !u.starts_with("data:")
                && !u.starts_with("blob:")
                && *u != "about:blank"
        })
        .collect();
    assert!(foreign.is_empty(), "requests outside {origin}: {foreign:?}");
    assert!(origin.starts_with("http://127.0.0.1:"), "{origin} is not loopback");
    // The page's own view of it: every resource it loaded came from its origin.
    let resources =
        js(&browser.driver, "return performance.getEntriesByType('resource').map(e => e.name);").await;
    for name in resources.as_array().unwrap() {
        let name = name.as_str().unwrap();
        assert!(name.starts_with(&format!("{origin}/")), "resource from elsewhere: {name}");
    }
}

#[tokio::test]
async fn the_page_shows_history_and_forecast_as_the_api_answers_them() {
    let _serial = SERIAL.lock().await;
    let Some(browser) = Browser::launch().await else { return };
    let server = demo_server().await;
    open(&browser, &server.url("/explore")).await;
    let driver = &browser.driver;
    // The page came with the API's answers to its first requests (history, the model's
    // history, the default forecast), so it drew its charts without asking for any.
    assert_eq!(api_requests(&browser).await, Vec::<String>::new());

    // Source, dates and the demo banner are on the page.
    let banner = driver.find(By::Id("demo-banner")).await.expect("demo banner");
    assert!(banner.is_displayed().await.unwrap());
    assert!(banner.text().await.unwrap().contains("Demo data"));
    let source = driver.find(By::Id("source")).await.unwrap().text().await.unwrap();
    assert!(
        source.contains("demo") && source.contains("2022-10-10") && source.contains("2025-09-09"),
        "{source}"
    );

    // Every parameter has an input named after it, with its bounds and default.
    let served = server.state.served().unwrap();
    for p in mechafil_core::Param::ALL {
        let input = driver.find(By::Name(p.name())).await.unwrap_or_else(|_| panic!("no input {p}"));
        let help = driver.find(By::Id(format!("help-{}", p.name()))).await.unwrap().text().await.unwrap();
        if let Some(bounds) = p.bounds() {
            assert_eq!(input.attr("min").await.unwrap().unwrap().parse::<f64>().unwrap(), bounds.min, "{p}");
            assert_eq!(input.attr("max").await.unwrap().unwrap().parse::<f64>().unwrap(), bounds.max, "{p}");
            assert!(help.contains("allowed"), "{p}: {help}");
        }
        assert!(help.contains("default"), "{p}: {help}");
        let label =
            driver.find(By::Css(format!("label[for='p-{}']", p.name()))).await.unwrap().text().await.unwrap();
        assert!(label.contains(p.rule().unit), "{p}: label {label:?} lacks {:?}", p.rule().unit);
    }
    // rbp's default is the snapshot's 30-day median, shown rounded to 6 significant digits.
    let smoothed = served.simulator.snapshot().smoothed;
    let rbp_help = driver.find(By::Id("help-rbp")).await.unwrap().text().await.unwrap();
    assert!(rbp_help.contains("30-day median"), "{rbp_help}");
    let rbp_box: f64 =
        driver.find(By::Name("rbp")).await.unwrap().value().await.unwrap().unwrap().parse().unwrap();
    assert!((rbp_box - smoothed.raw_byte_power).abs() <= 5e-6 * smoothed.raw_byte_power, "{rbp_box}");

    // The forecast's last date: every line equals POST /simulate {} there.
    let end = readout_date(&browser).await;
    let compared = assert_forecast_matches(&browser, &server, &serde_json::Map::new()).await;
    assert!(compared >= 6, "compared only {compared} values");
    let (_, default_answer) = server.post("/simulate", &json!({"output": "circ_supply"})).await;
    assert_eq!(end.to_string(), default_answer["input"]["sim_end_date"].as_str().unwrap());

    // The first history date: data lines equal /historical-data, model lines /simulate/full.
    press(&browser, "at", Key::Home, 1).await;
    let first = readout_date(&browser).await;
    assert_eq!(first, "2022-10-10".parse::<NaiveDate>().unwrap());
    let (_, hist) = server.get("/historical-data").await;
    let model_series: Vec<&str> =
        CHARTS.iter().flat_map(|c| c.lines).filter_map(|l| l.model_history).flat_map(parts).collect();
    let (_, model) =
        server.post("/simulate/full", &json!({"forecast_length_days": 1, "output": model_series})).await;
    let shown = shown_values(&browser).await;
    for chart_id in shown_charts(&browser).await {
        let chart = CHARTS.iter().find(|c| c.id == chart_id).unwrap();
        for line in chart.lines {
            let expected = match (line.data_history, line.model_history) {
                (Some(values), _) => {
                    combine(values, |f| value_on(&hist["data"]["field_meta"][f], &hist["data"][f], first))
                }
                (None, Some(values)) => combine(values, |s| {
                    value_on(&model["input"]["series_dates"][s], &model["simulation_output"][s], first)
                }),
                (None, None) => None,
            };
            let key = (chart_id.clone(), line.id.to_string(), "history".to_string());
            let got = shown[&key];
            assert_eq!(
                got.map(f64::to_bits),
                expected.map(f64::to_bits),
                "{key:?} on {first}: page {got:?}, API {expected:?}"
            );
            assert!(got.is_some(), "{key:?}: no history on {first}");
        }
    }

    // History and forecast share one weekly axis, from the history's first Monday to the
    // forecast's last.
    let days = js(driver, "return document.getElementById('at').max;").await;
    let n_days: i64 = days.as_str().unwrap().parse().unwrap();
    assert_eq!(first + Days::new(7 * n_days as u64), end);

    // Charts out of view are drawn once the view rests.
    wait_all_drawn(&browser).await;
    browser.screenshot_full(&screenshot_path("desktop")).await;
    browser.viewport(390, 844, true).await;
    // The charts follow the new width; none is wider than the screen.
    wait_until(
        driver,
        "[...document.querySelectorAll('figure.chart canvas')].every(c => c.getBoundingClientRect().right <= 390) \
         && document.documentElement.scrollWidth <= 390",
        "charts that fit a phone's width",
        WAIT,
    )
    .await;
    wait_all_drawn(&browser).await;
    browser.screenshot_full(&screenshot_path("phone")).await;
    assert_clean(&browser, &server.base).await;
    browser.quit().await;
    server.stop().await;
}

fn parts(values: Values) -> Vec<&'static str> {
    match values {
        Values::Series(s) => vec![s],
        Values::Ratio(a, b) => vec![a, b],
    }
}

fn combine(values: Values, get: impl Fn(&str) -> Option<f64>) -> Option<f64> {
    match values {
        Values::Series(s) => get(s),
        Values::Ratio(a, b) => Some(get(a)? / get(b)?),
    }
}

#[tokio::test]
async fn knobs_redraw_from_the_api_and_the_link_reproduces_the_view() {
    let _serial = SERIAL.lock().await;
    let Some(browser) = Browser::launch().await else { return };
    let server = demo_server().await;
    open(&browser, &server.url("/explore")).await;
    let driver = &browser.driver;
    let before = shown_values(&browser).await;

    // A person types some values, moves a slider with the keyboard and ticks a box.
    type_into(&browser, "rbp", "4.25").await;
    type_into(&browser, "forecast_length_days", "1826").await;
    type_into(&browser, "fil_plus_m", "12").await;
    press(&browser, "r-rr", Key::Left, 30).await;
    driver.find(By::Name("use_available_supply")).await.unwrap().click().await.unwrap();
    // Charts: add pledge and onboarding, drop network power.
    for id in ["c-pledge", "c-onboarding", "c-power"] {
        driver.find(By::Id(id)).await.unwrap().click().await.unwrap();
    }
    wait_current(&browser).await;

    let scenario = shown_scenario(&browser).await;
    assert_eq!(scenario["rbp"], json!(4.25));
    assert_eq!(scenario["forecast_length_days"], json!(1826.0));
    assert_eq!(scenario["use_available_supply"], json!(true));
    let rr = scenario["rr"].as_f64().expect("rr set by the slider");
    let default_rr = server.state.served().unwrap().simulator.snapshot().smoothed.renewal_rate;
    assert!((rr - (default_rr - 0.030)).abs() < 0.0015, "rr {rr} after 30 steps down from {default_rr}");
    let charts = shown_charts(&browser).await;
    assert!(charts.contains(&"pledge".to_string()) && !charts.contains(&"power".to_string()), "{charts:?}");

    // At the new forecast's end, and 20 weeks before it, the page shows the API's answer.
    let (_, answer) =
        server.post("/simulate", &json!({"forecast_length_days": 1826, "output": "circ_supply"})).await;
    assert_eq!(readout_date(&browser).await.to_string(), answer["input"]["sim_end_date"].as_str().unwrap());
    assert!(assert_forecast_matches(&browser, &server, &scenario).await >= 6);
    press(&browser, "at", Key::Left, 20).await;
    assert!(assert_forecast_matches(&browser, &server, &scenario).await >= 6);
    let changed = shown_values(&browser).await;
    assert_ne!(before, changed);

    // While the slider moves, a chart out of view waits; scrolled into view, it is drawn at
    // once with the latest answer (its table always is current).
    type_into(&browser, "rbp", "4.5").await;
    wait_until(driver, "document.body.dataset.state === 'current'", "a current forecast", WAIT).await;
    let waiting = js(
        driver,
        "return [...document.querySelectorAll('figure.chart[data-drawn]')].map(f => f.dataset.chart);",
    )
    .await;
    // Seven charts do not fit a 900-pixel window.
    let last = waiting.as_array().unwrap().last().and_then(Value::as_str).expect("a chart out of view");
    // Intersection observers report in the frame after a scroll: two frames later it is drawn.
    let drawn = driver
        .execute_async(
            "const [id, done] = arguments; const figure = document.querySelector(`figure[data-chart='${id}']`); \
             figure.scrollIntoView(); \
             requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => done(!figure.dataset.drawn))));",
            vec![json!(last)],
        )
        .await
        .unwrap();
    assert_eq!(drawn.json(), &json!(true), "{last} not drawn once in view");
    wait_all_drawn(&browser).await;
    type_into(&browser, "rbp", "4.25").await;
    wait_current(&browser).await;
    assert_eq!(shown_values(&browser).await, changed);

    // The link reproduces the view: the same inputs, charts, date and numbers in a fresh load.
    wait_current(&browser).await;
    let url = driver.current_url().await.unwrap().to_string();
    for expected in
        ["rbp=4.25", "forecast_length_days=1826", "fil_plus_m=12", "use_available_supply=true", "at="]
    {
        assert!(url.contains(expected), "{url} lacks {expected}");
    }
    let inputs = shown_inputs(&browser).await;
    let date = readout_date(&browser).await;
    driver.goto("about:blank").await.unwrap();
    open(&browser, &url).await;
    // A link that sets knobs asks for its own forecast (and, as it sets use_available_supply,
    // the model's history); the history in the page is the same for every view.
    let asked = api_requests(&browser).await;
    assert_eq!(asked, ["/simulate/full", "/simulate"], "{asked:?}");
    assert_eq!(shown_inputs(&browser).await, inputs);
    assert_eq!(shown_charts(&browser).await, charts);
    assert_eq!(readout_date(&browser).await, date);
    assert_eq!(shown_values(&browser).await, changed);

    // Reset brings the defaults back (and the default forecast).
    driver.find(By::Id("reset")).await.unwrap().click().await.unwrap();
    wait_current(&browser).await;
    assert!(shown_scenario(&browser).await.is_empty());
    assert!(assert_forecast_matches(&browser, &server, &serde_json::Map::new()).await >= 6);
    assert_clean(&browser, &server.base).await;
    browser.quit().await;
    server.stop().await;
}

#[tokio::test]
async fn invalid_inputs_show_the_api_message_and_failures_mark_the_numbers() {
    let _serial = SERIAL.lock().await;
    let Some(browser) = Browser::launch().await else { return };
    let server = demo_server().await;
    open(&browser, &server.url("/explore")).await;
    let driver = &browser.driver;

    // rr x qa_renew_relative_multiplier above 1: the API names the multiplier.
    type_into(&browser, "rr", "0.9").await;
    wait_current(&browser).await;
    let valid = shown_values(&browser).await;
    type_into(&browser, "qa_renew_relative_multiplier", "2").await;
    wait_until(driver, "document.body.dataset.state === 'invalid'", "the invalid state", WAIT).await;
    let (status, error) =
        server.post("/simulate", &json!({"rr": 0.9, "qa_renew_relative_multiplier": 2})).await;
    assert_eq!(status, 422);
    let expected = error["details"][0]["message"].as_str().unwrap();
    assert_eq!(error["details"][0]["field"], "qa_renew_relative_multiplier");
    let message = driver.find(By::Id("err-qa_renew_relative_multiplier")).await.unwrap();
    assert!(message.is_displayed().await.unwrap());
    assert_eq!(message.text().await.unwrap(), expected);
    let input = driver.find(By::Name("qa_renew_relative_multiplier")).await.unwrap();
    assert_eq!(input.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
    // The charts keep the last valid numbers, marked as not current.
    assert_eq!(shown_values(&browser).await, valid);
    let states =
        js(driver, "return [...document.querySelectorAll('figure.chart')].map(f => f.dataset.state);").await;
    assert!(states.as_array().unwrap().iter().all(|s| s == "invalid"), "{states}");
    browser.screenshot_full(&screenshot_path("invalid")).await;

    // A value out of its range: the API's message for that field.
    type_into(&browser, "qa_renew_relative_multiplier", "1").await;
    type_into(&browser, "fil_plus_m", "0").await;
    wait_until(driver, "!document.getElementById('err-fil_plus_m').hidden", "the fil_plus_m message", WAIT)
        .await;
    let (_, error) = server.post("/simulate", &json!({"rr": 0.9, "fil_plus_m": 0})).await;
    let text = driver.find(By::Id("err-fil_plus_m")).await.unwrap().text().await.unwrap();
    assert_eq!(text, error["details"][0]["message"].as_str().unwrap());
    assert!(
        driver
            .find(By::Id("err-qa_renew_relative_multiplier"))
            .await
            .unwrap()
            .attr("hidden")
            .await
            .unwrap()
            .is_some()
    );

    // Fixed: the message goes, the forecast is current and right.
    type_into(&browser, "fil_plus_m", "10").await;
    wait_current(&browser).await;
    assert!(driver.find(By::Id("err-fil_plus_m")).await.unwrap().attr("hidden").await.unwrap().is_some());
    let scenario = shown_scenario(&browser).await;
    assert!(assert_forecast_matches(&browser, &server, &scenario).await >= 6);
    let current = shown_values(&browser).await;
    let invalid_answer = "/simulate - Failed to load resource: the server responded with a status of 422";
    assert_clean_but(&browser, &server.base, Some(invalid_answer)).await;

    // The API goes away: the next change fails, and the numbers are marked as not current.
    let origin = server.base.clone();
    server.stop().await;
    type_into(&browser, "rbp", "3").await;
    wait_until(driver, "document.body.dataset.state === 'failed'", "the failed state", WAIT).await;
    let notice = driver.find(By::Id("notice")).await.unwrap();
    assert!(notice.is_displayed().await.unwrap());
    assert!(
        notice.text().await.unwrap().contains("could not reach the API"),
        "{}",
        notice.text().await.unwrap()
    );
    assert_eq!(shown_values(&browser).await, current);
    let states =
        js(driver, "return [...document.querySelectorAll('figure.chart')].map(f => f.dataset.state);").await;
    assert!(states.as_array().unwrap().iter().all(|s| s == "failed"), "{states}");
    // The failed request is in the console (a network error); nothing else may be.
    let console = browser.console().await;
    assert!(
        console.iter().all(|m| m.level == "SEVERE"
            && m.message.contains("/simulate")
            && m.message.contains("Failed to load")),
        "{console:#?}"
    );
    let urls = browser.requested_urls().await;
    assert!(urls.iter().all(|u| u.starts_with(&format!("{origin}/"))), "{urls:?}");
    browser.quit().await;
}

/// A loopback proxy in front of the API that can hold POST requests, to watch the page while a
/// request is in flight, and counts how many are in flight at once.
struct GateProxy {
    base: String,
    gate: tokio::sync::watch::Sender<bool>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    posts: Arc<std::sync::Mutex<Vec<(String, Value)>>>,
}

struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl GateProxy {
    async fn start(upstream: String) -> GateProxy {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, Method, Uri};
        use axum::response::IntoResponse;
        let (gate, open) = tokio::sync::watch::channel(true);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let posts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let client = reqwest::Client::new();
        let (in_flight2, max2, posts2) = (in_flight.clone(), max_in_flight.clone(), posts.clone());
        let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (client, upstream, mut open) = (client.clone(), upstream.clone(), open.clone());
            let (in_flight, max_in_flight, posts) = (in_flight2.clone(), max2.clone(), posts2.clone());
            async move {
                let _guard = (method == Method::POST).then(|| {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max_in_flight.fetch_max(now, Ordering::SeqCst);
                    let parsed = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    posts.lock().unwrap().push((uri.path().to_string(), parsed));
                    InFlight(in_flight.clone())
                });
                if method == Method::POST {
                    open.wait_for(|open| *open).await.unwrap();
                }
                let mut request = client.request(method, format!("{upstream}{uri}")).body(body);
                for name in ["content-type", "accept"] {
                    if let Some(v) = headers.get(name) {
                        request = request.header(name, v);
                    }
                }
                let response = request.send().await.expect("upstream");
                let status = response.status();
                let mut out = axum::http::HeaderMap::new();
                for (name, value) in response.headers() {
                    if name != "content-length" && name != "transfer-encoding" && name != "content-encoding" {
                        out.insert(name.clone(), value.clone());
                    }
                }
                let bytes = response.bytes().await.expect("upstream body");
                (status, out, bytes).into_response()
            }
        };
        let app = axum::Router::new().fallback(handler);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        GateProxy { base, gate, in_flight, max_in_flight, posts }
    }
}

#[tokio::test]
async fn one_request_at_a_time_and_numbers_in_flight_are_marked() {
    let _serial = SERIAL.lock().await;
    let Some(browser) = Browser::launch().await else { return };
    let server = demo_server().await;
    let proxy = GateProxy::start(server.base.clone()).await;
    open(&browser, &format!("{}/explore", proxy.base)).await;
    let driver = &browser.driver;
    let shown = shown_values(&browser).await;
    let posts_before = proxy.posts.lock().unwrap().len();
    // At load the model's history and the first forecast go out together; from here on, one
    // request at a time.
    proxy.max_in_flight.store(0, Ordering::SeqCst);

    // Hold the API's answers and move a slider ten steps.
    proxy.gate.send_replace(false);
    press(&browser, "r-rbp", Key::Right, 10).await;
    wait_until(driver, "document.body.dataset.state === 'updating'", "the updating state", WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(proxy.in_flight.load(Ordering::SeqCst), 1, "one request waits, no more");
    // What is drawn is the old answer, marked as such.
    assert_eq!(shown_values(&browser).await, shown);
    let states = js(driver, "return [...document.querySelectorAll('figure.chart')].map(f => [f.dataset.state, f.getAttribute('aria-busy')]);").await;
    assert!(states.as_array().unwrap().iter().all(|s| s[0] == "updating" && s[1] == "true"), "{states}");
    let badge = driver.find(By::Css("figure.chart .badge")).await.unwrap().text().await.unwrap();
    assert!(badge.contains("updating"), "{badge:?}");
    browser.screenshot_full(&screenshot_path("updating")).await;

    // Let them through: the requests went one at a time, fewer than the slider's steps, and
    // the last one is for the slider's final value, which the page then shows.
    proxy.gate.send_replace(true);
    wait_current(&browser).await;
    assert_eq!(proxy.max_in_flight.load(Ordering::SeqCst), 1);
    let posts = proxy.posts.lock().unwrap()[posts_before..].to_vec();
    assert!(!posts.is_empty() && posts.len() < 10, "{} requests for 10 slider steps", posts.len());
    let scenario = shown_scenario(&browser).await;
    let (path, last) = posts.last().unwrap();
    assert_eq!(path, "/simulate");
    assert_eq!(last["rbp"], scenario["rbp"], "the last request is for the final value");
    assert!(assert_forecast_matches(&browser, &server, &scenario).await >= 6);
    assert_clean(&browser, &proxy.base).await;
    browser.quit().await;
    server.stop().await;
}

#[tokio::test]
async fn downloads_hold_what_is_shown() {
    let _serial = SERIAL.lock().await;
    let Some(browser) = Browser::launch().await else { return };
    let server = demo_server().await;
    open(&browser, &server.url("/explore?rbp=3.5&charts=circ_supply,lock_ratio&at=2030-01-07")).await;
    let driver = &browser.driver;
    let date = readout_date(&browser).await;
    assert_eq!(date, "2030-01-07".parse::<NaiveDate>().unwrap());
    let shown = shown_values(&browser).await;

    driver.find(By::Id("download-csv")).await.unwrap().click().await.unwrap();
    driver.find(By::Id("download-json")).await.unwrap().click().await.unwrap();
    let csv_path = browser.downloads.join("mechafil-explore-2025-09-09.csv");
    let json_path = browser.downloads.join("mechafil-explore-2025-09-09.json");
    let started = std::time::Instant::now();
    while !(csv_path.is_file() && json_path.is_file()) {
        assert!(
            started.elapsed() < WAIT,
            "downloads did not arrive: {:?}",
            std::fs::read_dir(&browser.downloads).unwrap().collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Chrome writes to a temporary name and renames when done; wait for settled contents.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Plain CSV: no quoting needed (no commas in the names), one row per date of the axis.
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert!(!csv.contains('"'), "{}", &csv[..200]);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[0], "date");
    let circ_column = "Circulating supply: circulating supply forecast (FIL)";
    let ratio_column = "Lock ratio: locked / circulating forecast (ratio)";
    assert!(header.contains(&"Lock ratio: locked / circulating history (ratio)"), "{header:?}");
    let row: Vec<&str> = lines
        .find(|l| l.starts_with(&date.to_string()))
        .expect("the readout date's row")
        .split(',')
        .collect();
    assert_eq!(row.len(), header.len());
    let column =
        |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("{name} in {header:?}"));
    let circ: f64 = row[column(circ_column)].parse().unwrap();
    let key = |c: &str, l: &str| (c.to_string(), l.to_string(), "forecast".to_string());
    assert_eq!(Some(circ), shown[&key("circ_supply", "circ")]);
    let ratio: f64 = row[column(ratio_column)].parse().unwrap();
    assert_eq!(Some(ratio), shown[&key("lock_ratio", "lock_ratio")]);

    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(doc["snapshot"]["source"], "demo");
    assert_eq!(doc["scenario"]["rbp"], json!(3.5));
    let k = doc["dates"].as_array().unwrap().iter().position(|d| d == &json!(date.to_string())).unwrap();
    let charts = doc["charts"].as_array().unwrap();
    assert_eq!(
        charts.iter().map(|c| c["id"].as_str().unwrap()).collect::<Vec<_>>(),
        ["circ_supply", "lock_ratio"]
    );
    let forecast = charts[0]["series"].as_array().unwrap().iter().find(|s| s["kind"] == "forecast").unwrap();
    assert_eq!(forecast["values"][k].as_f64(), Some(circ));
    assert_eq!(charts[0]["unit"], "FIL");
    assert_clean(&browser, &server.base).await;
    browser.quit().await;
    server.stop().await;
}

#[tokio::test]
async fn a_browser_at_the_root_gets_the_page() {
    let _serial = SERIAL.lock().await;
    let Some(browser) = Browser::launch().await else { return };
    let server = demo_server().await;
    open(&browser, &server.url("/")).await;
    assert_eq!(browser.driver.title().await.unwrap(), "MechaFil scenario explorer");
    // The link keeps the page's own path.
    type_into(&browser, "rbp", "2").await;
    wait_current(&browser).await;
    let url = browser.driver.current_url().await.unwrap();
    assert_eq!(url.path(), "/");
    assert!(url.query().unwrap().contains("rbp=2"));
    assert_clean(&browser, &server.base).await;
    browser.quit().await;
    server.stop().await;
}

/// The scenario the page's forecast used (its `/simulate` echo), every parameter but the
/// forecast length: what the page pins and what its bands start from.
fn echo_scenario(echo: &Value) -> serde_json::Map<String, Value> {
    mechafil_core::Param::ALL
        .iter()
        .filter(|p| **p != mechafil_core::Param::ForecastLengthDays)
        .map(|p| (p.name().to_string(), echo[p.name()].clone()))
        .collect()
}

/// The analyses' name of each line on the page, by (chart, line).
fn analysis_lines(charts: &[String]) -> Vec<(&'static str, &'static LineDef)> {
    CHARTS
        .iter()
        .filter(|c| charts.iter().any(|id| id == c.id))
        .flat_map(|c| c.lines.iter().map(move |l| (c.id, l)))
        .collect()
}

#[tokio::test]
async fn bands_come_from_the_ensemble_and_the_pinned_scenario_from_the_comparison() {
    let _serial = SERIAL.lock().await;
    let Some(browser) = Browser::launch().await else { return };
    let server = demo_server().await;
    open(&browser, &server.url("/explore?charts=power,lock_ratio,roi&at=2030-01-07")).await;
    let driver = &browser.driver;
    let date = readout_date(&browser).await;
    let charts = shown_charts(&browser).await;
    let lines = analysis_lines(&charts);
    let outputs: Vec<&str> = lines.iter().map(|(_, l)| l.analysis_series).collect();
    let (_, default) = server.post("/simulate", &json!({"output": "circ_supply"})).await;
    let default_scenario = echo_scenario(&default["input"]);

    // Bands: the page's p5 and p95 are the ensemble's, for the spread it states (the API's
    // default spread: rbp lognormal sd 25 %, rr and fpr normal sd 0.05; 200 members, seed 0).
    driver.find(By::Id("bands")).await.unwrap().click().await.unwrap();
    wait_until(driver, "document.body.dataset.bandsState === 'current'", "current bands", WAIT).await;
    let rbp = default_scenario["rbp"].as_f64().unwrap();
    let mut base = default_scenario.clone();
    base.insert("forecast_length_days".into(), json!(3650));
    let ensemble_body = json!({
        "base": base, "members": 200, "seed": 0,
        "vary": {"rbp": {"dist": "lognormal", "sd": rbp * 25.0 / 100.0},
                 "rr": {"dist": "normal", "sd": 0.05}, "fpr": {"dist": "normal", "sd": 0.05}},
        "output": outputs, "quantiles": [5, 25, 50, 75, 95], "resolution": "weekly",
    });
    let (status, ensemble) = server.post("/analyze/ensemble", &ensemble_body).await;
    assert_eq!(status, 200, "{ensemble}");
    let cells = js(
        driver,
        "return [...document.querySelectorAll('td[data-kind=bands]')].map(td => \
           [td.closest('figure').dataset.chart, td.closest('tr').dataset.line, td.dataset.lo || null, td.dataset.hi || null]);",
    )
    .await;
    let mut compared = 0;
    for cell in cells.as_array().unwrap() {
        let (chart, line_id) = (cell[0].as_str().unwrap(), cell[1].as_str().unwrap());
        let (_, line) = lines.iter().find(|(c, l)| *c == chart && l.id == line_id).unwrap();
        let s = line.analysis_series;
        let dates = &ensemble["series_dates"][s];
        for (k, q) in [(2, "p5"), (3, "p95")] {
            let expected = value_on(dates, &ensemble["bands"][s][q], date);
            let got = cell[k].as_str().map(|v| v.parse::<f64>().unwrap());
            assert_eq!(got.map(f64::to_bits), expected.map(f64::to_bits), "{chart}/{line_id} {q} on {date}");
            compared += usize::from(got.is_some());
        }
    }
    assert!(compared >= 8, "compared {compared} band edges");

    // Pin the default scenario, then move away from it: the dashed line stays the default's
    // forecast (from /analyze/compare) and the difference is the current minus the pinned.
    driver.find(By::Id("pin")).await.unwrap().click().await.unwrap();
    wait_until(driver, "document.body.dataset.pinState === 'current'", "a current comparison", WAIT).await;
    type_into(&browser, "rbp", "5").await;
    type_into(&browser, "lock_target", "0.25").await;
    wait_until(
        driver,
        "document.body.dataset.state === 'current' && document.body.dataset.pinState === 'current' \
         && document.body.dataset.bandsState === 'current' && document.body.dataset.urlPending === undefined",
        "everything current",
        WAIT,
    )
    .await;
    let scenario = shown_scenario(&browser).await;
    assert!(assert_forecast_matches(&browser, &server, &scenario).await >= 4);
    let (_, current) =
        server.post("/simulate", &json!({"rbp": 5, "lock_target": 0.25, "output": "circ_supply"})).await;
    let mut baseline = default_scenario.clone();
    baseline.insert("forecast_length_days".into(), json!(3650));
    let compare_body = json!({
        "baseline": baseline, "scenarios": {"current": echo_scenario(&current["input"])},
        "output": outputs, "resolution": "weekly",
    });
    let (status, compare) = server.post("/analyze/compare", &compare_body).await;
    assert_eq!(status, 200, "{compare}");
    let shown = shown_values(&browser).await;
    for (chart, line) in &lines {
        let key = |kind: &str| (chart.to_string(), line.id.to_string(), kind.to_string());
        let s = line.analysis_series;
        let pinned = value_on(&compare["series_dates"][s], &compare["series"][s]["baseline"], date);
        assert_eq!(
            shown[&key("pinned")].map(f64::to_bits),
            pinned.map(f64::to_bits),
            "{chart}/{} pinned",
            line.id
        );
        // The pinned scenario is the default forecast, as /simulate computes it.
        let direct = forecast_on(&default_full(&server).await, line, date);
        match (pinned, direct) {
            (Some(a), Some(b)) => {
                assert!((a - b).abs() <= 1e-12 * b.abs(), "{chart}/{}: {a} vs {b}", line.id)
            }
            (a, b) => assert_eq!(a, b, "{chart}/{}", line.id),
        }
        if let (Some(f), Some(p)) = (shown[&key("forecast")], shown[&key("pinned")]) {
            assert_eq!(shown[&key("diff")], Some(f - p), "{chart}/{} diff", line.id);
        }
    }
    browser.screenshot_full(&screenshot_path("bands-and-pin")).await;

    // The link brings back the bands and the pinned scenario with the same numbers.
    let url = driver.current_url().await.unwrap().to_string();
    assert!(url.contains("bands=1") && url.contains("pin.rbp="), "{url}");
    driver.goto("about:blank").await.unwrap();
    browser.driver.goto(&url).await.unwrap();
    wait_until(
        driver,
        "document.documentElement.dataset.ready === 'true' && document.body.dataset.state === 'current' \
         && document.body.dataset.pinState === 'current' && document.body.dataset.bandsState === 'current'",
        "everything current after reload",
        WAIT,
    )
    .await;
    assert_eq!(shown_values(&browser).await, shown);

    // A spread the API refuses: its message next to the spread's box.
    type_into(&browser, "spread_rr", "-1").await;
    wait_until(driver, "document.body.dataset.bandsState === 'invalid'", "refused bands", WAIT).await;
    let mut refused = ensemble_body.clone();
    refused["vary"]["rr"]["sd"] = json!(-1.0);
    let (status, error) = server.post("/analyze/ensemble", &refused).await;
    assert_eq!(status, 422);
    let message = driver.find(By::Id("err-spread_rr")).await.unwrap().text().await.unwrap();
    assert_eq!(message, error["details"][0]["message"].as_str().unwrap());
    let invalid_answer =
        "/analyze/ensemble - Failed to load resource: the server responded with a status of 422";
    assert_clean_but(&browser, &server.base, Some(invalid_answer)).await;
    browser.quit().await;
    server.stop().await;
}

/// `POST /simulate {}` with every series the charts use (the default forecast).
async fn default_full(server: &TestServer) -> Value {
    let outputs: Vec<&str> = CHARTS.iter().flat_map(|c| c.lines).flat_map(|l| parts(l.forecast)).collect();
    let (status, answer) = server.post("/simulate", &json!({"output": outputs})).await;
    assert_eq!(status, 200);
    answer
}

/// The page pins every request to the snapshot it was rendered on (the API may run as several
/// machines that refresh at different times). When the server no longer holds that snapshot
/// (here: this machine's data was replaced, and it has no store to load the old one from), the
/// page says so and offers a reload, which starts afresh on the new data.
#[tokio::test]
async fn a_snapshot_the_server_no_longer_holds_is_said_and_a_reload_starts_afresh() {
    let _serial = SERIAL.lock().await;
    let Some(browser) = Browser::launch().await else { return };
    let server = demo_server().await;
    open(&browser, &server.url("/explore")).await;
    let driver = &browser.driver;
    let old_id = server.state.served().unwrap().snapshot_id.clone();
    let pinned = js(
        driver,
        "return JSON.parse(document.getElementById('explore-config').textContent).snapshot.snapshot_id;",
    )
    .await;
    assert_eq!(pinned, old_id);

    // The demo moved a day later: another snapshot.
    let (mut meta, data) = (demo_snapshot().meta, demo_network_data_later(1));
    meta.current_date = data.snapshot.current_date;
    meta.start_date = data.snapshot.start_date;
    server.state.replace_served(Served::new(meta, data).expect("valid"));
    let new_id = server.state.served().unwrap().snapshot_id.clone();
    assert_ne!(new_id, old_id);

    type_into(&browser, "rbp", "3").await;
    wait_until(
        driver,
        "document.getElementById('notice').textContent.includes('no longer holds')",
        "the notice that the snapshot is gone",
        WAIT,
    )
    .await;
    let notice = driver.find(By::Id("notice")).await.unwrap().text().await.unwrap();
    assert!(notice.contains(&old_id) && notice.contains("Reload"), "{notice}");
    browser.screenshot_full(&screenshot_path("snapshot-gone")).await;
    driver
        .find(By::XPath("//div[@id='notice']//button[text()='Reload']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until(driver, "document.documentElement.dataset.ready === 'true'", "the reloaded page", WAIT).await;
    wait_current(&browser).await;
    let pinned = js(
        driver,
        "return JSON.parse(document.getElementById('explore-config').textContent).snapshot.snapshot_id;",
    )
    .await;
    assert_eq!(pinned, new_id, "the reloaded page is on the new snapshot");
    // The link it reloaded says which snapshot it was made on, and the page says the server
    // now serves another; it no longer says the snapshot is gone.
    let notice = driver.find(By::Id("notice")).await.unwrap().text().await.unwrap();
    assert!(!notice.contains("no longer holds"), "{notice}");
    assert!(notice.is_empty() || notice.contains("now serves the snapshot of"), "{notice}");
    browser.quit().await;
    server.stop().await;
}
