//! The scenario explorer (`GET /explore`) measured in a real browser on loopback: page load to
//! the first chart, page weight, and slider move to redrawn chart.
//!
//! ```text
//! cargo build --release -p mechafil-api -p benches
//! target/release/mechafil-api serve --host 127.0.0.1 --port 8300 &     # demo snapshot
//! target/release/page_load --url http://127.0.0.1:8300 [--loads 30] [--moves 400]
//! ```
//! It drives Debian's headless Chromium through chromedriver (the browser tests' launcher,
//! `mechafil-api/tests/browser_support`, included below) and reads the page's own marks:
//! - **load**: `performance.mark('explore:first-chart')`, set by `explore.js` in the first
//!   animation frame after the charts hold both history and a forecast, in ms from navigation
//!   start; cold (browser cache disabled) and warm (assets cached; the page and the API's data
//!   are fetched anew either way), `--loads` each.
//! - **weight**: the navigation and resource timing of one cold load: bytes on the wire
//!   (`encodedBodySize`, compressed) and decoded, for the page's own files and for the API's
//!   answers it loads.
//! - **slider**: the `rbp` slider dragged at 60 input events per second (a person's drag), one
//!   step of 0.05 PiB/day per event, sweeping up and down, `--moves` events; every
//!   `performance.measure('explore:redraw')` the page records runs from an input event to the
//!   animation frame after the chart holding that input's forecast (10 years, weekly) was drawn.
//!   Requests are coalesced and one is in flight at a time, so an event that arrives while a
//!   request runs waits for it: the percentiles include that wait.
//!
//! Figures and the machine: `benches/README.md`. No timing is asserted anywhere.

#[path = "../../../mechafil-api/tests/browser_support/mod.rs"]
mod browser_support;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use browser_support::{Browser, js, wait_until};
use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Page load, weight and slider redraw of /explore in headless Chromium")]
struct Args {
    /// The running API.
    #[arg(long, default_value = "http://127.0.0.1:8300")]
    url: String,
    /// Page loads per cache state.
    #[arg(long, default_value_t = 30)]
    loads: usize,
    /// Slider input events.
    #[arg(long, default_value_t = 400)]
    moves: usize,
}

const WAIT: Duration = Duration::from_secs(60);

fn percentiles(mut values: Vec<f64>) -> String {
    if values.is_empty() {
        return "no samples".into();
    }
    values.sort_by(f64::total_cmp);
    let at = |p: f64| values[((values.len() - 1) as f64 * p).round() as usize];
    format!(
        "n {}, p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        values.len(),
        at(0.5),
        at(0.95),
        values[values.len() - 1]
    )
}

/// Loads the page `loads` times; returns the first-chart times (ms from navigation start) and
/// prints the medians of the page's phases: its script starts, the first chart's data is all
/// there, the first chart is drawn.
async fn loads(browser: &Browser, url: &str, loads: usize) -> Result<Vec<f64>> {
    let mut times = Vec::new();
    let (mut script, mut data) = (Vec::new(), Vec::new());
    for _ in 0..loads {
        browser.driver.goto("about:blank").await?;
        browser.driver.goto(url).await?;
        wait_until(
            &browser.driver,
            "document.documentElement.dataset.ready === 'true'",
            "the first chart",
            WAIT,
        )
        .await;
        let t =
            js(&browser.driver, "return performance.getEntriesByName('explore:first-chart')[0].startTime;")
                .await;
        times.push(t.as_f64().context("first-chart mark")?);
        let phases = js(
            &browser.driver,
            "return ['explore:script', 'explore:data'].map(n => performance.getEntriesByName(n)[0].startTime);",
        )
        .await;
        script.push(phases[0].as_f64().context("script mark")?);
        data.push(phases[1].as_f64().context("data mark")?);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    if !times.is_empty() {
        println!(
            "  medians: script starts {:.0} ms, data there {:.0} ms, first chart {:.0} ms",
            median(script),
            median(data),
            median(times.clone())
        );
    }
    Ok(times)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let page = format!("{}/explore", args.url.trim_end_matches('/'));
    let Some(browser) = Browser::launch().await else { bail!("chromium and chromedriver are needed") };
    let version = browser.driver.cdp().send_raw("Browser.getVersion", json!({})).await?;
    println!("browser: {}", version["product"].as_str().unwrap_or("?"));
    browser.driver.set_script_timeout(Duration::from_secs(120)).await?;
    let cdp = browser.driver.cdp();
    cdp.send_raw("Network.enable", json!({})).await?;

    // Warm the server (first requests fault its pages in) before measuring anything.
    loads(&browser, &page, 3).await?;

    cdp.send_raw("Network.setCacheDisabled", json!({"cacheDisabled": true})).await?;
    let cold = loads(&browser, &page, args.loads).await?;
    println!("load to first chart, cold cache: {}", percentiles(cold));

    // Weight, from the last cold load's timing entries.
    let entries = js(
        &browser.driver,
        "return [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]\
           .map(e => ({name: e.name, type: e.initiatorType, wire: e.encodedBodySize, decoded: e.decodedBodySize}));",
    )
    .await;
    let (mut own, mut own_decoded, mut data, mut data_decoded) = (0.0, 0.0, 0.0, 0.0);
    for e in entries.as_array().context("timing entries")? {
        let (wire, decoded) = (e["wire"].as_f64().unwrap_or(0.0), e["decoded"].as_f64().unwrap_or(0.0));
        let name = e["name"].as_str().unwrap_or("");
        let is_data = e["type"] == "fetch";
        println!("  {:>8.0} B wire {:>8.0} B decoded  {}", wire, decoded, name.replace(&args.url, ""));
        if is_data {
            (data, data_decoded) = (data + wire, data_decoded + decoded);
        } else {
            (own, own_decoded) = (own + wire, own_decoded + decoded);
        }
    }
    println!(
        "weight: page {:.1} kB on the wire ({:.1} kB decoded); its API data {:.1} kB ({:.1} kB decoded)",
        own / 1e3,
        own_decoded / 1e3,
        data / 1e3,
        data_decoded / 1e3
    );

    cdp.send_raw("Network.setCacheDisabled", json!({"cacheDisabled": false})).await?;
    let warm = loads(&browser, &page, args.loads).await?;
    println!("load to first chart, warm cache: {}", percentiles(warm));

    // The slider: a scripted drag at 60 events per second, then wait for the last answer.
    browser.driver.goto(&page).await?;
    wait_until(&browser.driver, "document.body.dataset.state === 'current'", "a current forecast", WAIT)
        .await;
    js(&browser.driver, "performance.clearMeasures('explore:redraw'); return null;").await;
    let drag = r#"
        const [moves, done] = [arguments[0], arguments[arguments.length - 1]];
        const slider = document.getElementById('r-rbp');
        const [lo, hi] = [Number(slider.min), Number(slider.max)];
        let value = Number(slider.value), direction = 1, i = 0;
        const step = () => {
          if (i++ >= moves) {
            const settle = () => document.body.dataset.state === 'current' ? done(null) : setTimeout(settle, 20);
            return settle();
          }
          value += direction * 0.05;
          if (value > hi * 0.8 || value < lo + 0.5) direction = -direction;
          slider.value = value.toFixed(2);
          slider.dispatchEvent(new Event('input', { bubbles: true }));
          setTimeout(step, 1000 / 60);
        };
        step();
    "#;
    browser.driver.execute_async(drag, vec![json!(args.moves)]).await?;
    let measures =
        js(&browser.driver, "return performance.getEntriesByName('explore:redraw').map(m => m.duration);")
            .await;
    let redraws: Vec<f64> =
        measures.as_array().context("measures")?.iter().filter_map(Value::as_f64).collect();
    let posts = js(
        &browser.driver,
        "return performance.getEntriesByType('resource').filter(e => e.name.endsWith('/simulate')).length;",
    )
    .await;
    println!("slider move -> chart redrawn (10-year forecast): {}", percentiles(redraws));
    println!("  {} input events, {} /simulate requests", args.moves, posts);
    browser.quit().await;
    Ok(())
}
