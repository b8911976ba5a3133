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
//!   start; cold (browser cache, and so V8's code cache, emptied before each load) and warm
//!   (scripts and styles cached; the page, which carries the API's first answers, is fetched
//!   anew either way), `--loads` each. `--profile` adds where one load's time went.
//! - **weight**: the navigation and resource timing of one cold load: bytes on the wire
//!   (`encodedBodySize`, compressed) and decoded, for the page (with its first answers) and its
//!   files, and for any API answers it fetches at load.
//!
//! The browser runs without the console and network logs the tests use
//! (`Browser::launch_quiet`): with them, DevTools follows every request, which here costs the
//! page's main thread 40-60 ms per load that a person's browser does not spend. The waits run
//! inside the page for the same reason (polling over WebDriver takes its main thread too).
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
    /// Also profile one load with V8's sampling profiler and print where its main thread's
    /// time went (JavaScript by function; the rest is style, layout, paint and idle).
    #[arg(long)]
    profile: bool,
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

/// Waits in the page (no polling over WebDriver, which would take the page's main thread
/// while it loads) until the first chart is drawn.
async fn wait_first_chart(browser: &Browser) -> Result<()> {
    let wait = "const done = arguments[arguments.length - 1];\
                const check = () => document.documentElement.dataset.ready === 'true' ? done(null) : setTimeout(check, 50);\
                check();";
    browser.driver.execute_async(wait, vec![]).await.context("waiting for the first chart")?;
    Ok(())
}

/// Empties the browser's HTTP cache (and V8's code cache with it). The Network domain is on only
/// for this: while it is on, DevTools follows every request of the page.
async fn clear_cache(browser: &Browser) -> Result<()> {
    let cdp = browser.driver.cdp();
    cdp.send_raw("Network.enable", json!({})).await?;
    cdp.send_raw("Network.clearBrowserCache", json!({})).await?;
    cdp.send_raw("Network.disable", json!({})).await?;
    Ok(())
}

/// Loads the page `loads` times (`cold`: with an empty cache each time); returns the
/// first-chart times (ms from navigation start) and prints the medians of the page's phases:
/// its script starts, the first chart's data is all there, the first chart is drawn.
async fn loads(browser: &Browser, url: &str, loads: usize, cold: bool) -> Result<Vec<f64>> {
    let mut times = Vec::new();
    let (mut script, mut data) = (Vec::new(), Vec::new());
    for _ in 0..loads {
        browser.driver.goto("about:blank").await?;
        if cold {
            clear_cache(browser).await?;
        }
        browser.driver.goto(url).await?;
        wait_first_chart(browser).await?;
        if cold {
            // Every file came over the network (a cached one has no transfer size).
            let cached = js(
                &browser.driver,
                "return performance.getEntriesByType('resource').filter(e => e.initiatorType !== 'fetch' && e.transferSize === 0).map(e => e.name);",
            )
            .await;
            if cached.as_array().is_some_and(|c| !c.is_empty()) {
                bail!("a cold load took files from the cache: {cached}");
            }
        }
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

/// Prints the last load's timeline (ms from navigation start): the page's own response, each
/// file and API answer (sent, first byte, done), and the page's marks and paints.
async fn timeline(browser: &Browser) {
    let t = js(
        &browser.driver,
        "const n = performance.getEntriesByType('navigation')[0];\
         const r = (e) => [e.name.replace(location.origin, ''), e.startTime, e.responseStart, e.responseEnd];\
         return {\
           files: [r(n), ...performance.getEntriesByType('resource').map(r)],\
           marks: [...performance.getEntriesByType('mark'), ...performance.getEntriesByType('paint')]\
             .map(m => [m.name, m.startTime]),\
           dom: [['domInteractive', n.domInteractive], ['DOMContentLoaded', n.domContentLoadedEventStart]],\
         };",
    )
    .await;
    println!("  timeline of the last load (ms): sent, first byte, done");
    for f in t["files"].as_array().into_iter().flatten() {
        let at = |i: usize| f[i].as_f64().unwrap_or(f64::NAN);
        let name: String = f[0].as_str().unwrap_or("?").chars().take(60).collect();
        println!("    {:>6.0} {:>6.0} {:>6.0}  {name}", at(1), at(2), at(3));
    }
    for m in t["dom"].as_array().into_iter().chain(t["marks"].as_array()).flatten() {
        println!("    {:>6.0}  {}", m[1].as_f64().unwrap_or(f64::NAN), m[0].as_str().unwrap_or("?"));
    }
}

/// One load (a reload, which keeps the renderer and so the profiler) under V8's sampling
/// profiler: the 30 functions with the most self time, from navigation to the first chart and a
/// little after; "(program)" is Chromium's own work (style, layout, paint, parsing).
async fn profile_load(browser: &Browser, url: &str) -> Result<()> {
    let cdp = browser.driver.cdp();
    browser.driver.goto(url).await?;
    wait_until(&browser.driver, "document.documentElement.dataset.ready === 'true'", "the first chart", WAIT)
        .await;
    cdp.send_raw("Profiler.enable", json!({})).await?;
    cdp.send_raw("Profiler.setSamplingInterval", json!({"interval": 200})).await?;
    cdp.send_raw("Profiler.start", json!({})).await?;
    browser.driver.refresh().await?;
    wait_until(&browser.driver, "document.documentElement.dataset.ready === 'true'", "the first chart", WAIT)
        .await;
    let first =
        js(&browser.driver, "return performance.getEntriesByName('explore:first-chart')[0].startTime;")
            .await
            .as_f64()
            .unwrap_or(f64::NAN);
    let profile = cdp.send_raw("Profiler.stop", json!({})).await?;
    cdp.send_raw("Profiler.disable", json!({})).await?;
    let profile = &profile["profile"];
    let mut names = std::collections::HashMap::new();
    for node in profile["nodes"].as_array().context("profile nodes")? {
        let frame = &node["callFrame"];
        let file = frame["url"]
            .as_str()
            .unwrap_or("")
            .rsplit('/')
            .next()
            .unwrap_or("")
            .split('?')
            .next()
            .unwrap_or("");
        let name = format!(
            "{} {}:{}",
            frame["functionName"].as_str().filter(|n| !n.is_empty()).unwrap_or("(anonymous)"),
            file,
            frame["lineNumber"].as_i64().unwrap_or(-1) + 1
        );
        names.insert(node["id"].as_i64().unwrap_or(0), name);
    }
    // Each sample's time is the previous one's plus its delta, in µs.
    let start_us = profile["startTime"].as_f64().unwrap_or(0.0);
    let samples = profile["samples"].as_array().context("samples")?;
    let deltas = profile["timeDeltas"].as_array().context("time deltas")?;
    let mut t = start_us;
    let mut stamps = Vec::new();
    for (id, dt) in samples.iter().zip(deltas) {
        t += dt.as_f64().unwrap_or(0.0);
        stamps.push((t, names.get(&id.as_i64().unwrap_or(0)).cloned().unwrap_or_default()));
    }
    let end_us = profile["endTime"].as_f64().unwrap_or(t);
    let mut total: std::collections::HashMap<String, f64> = std::collections::HashMap::new();
    for w in stamps.windows(2) {
        *total.entry(w[1].1.clone()).or_default() += (w[1].0 - w[0].0) / 1e3;
    }
    let mut total: Vec<_> = total.into_iter().collect();
    total.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!(
        "profile of one load (first chart at {first:.0} ms; profile spans {:.0} ms): self time",
        (end_us - start_us) / 1e3
    );
    for (name, ms) in total.iter().take(30) {
        println!("    {ms:>7.1} ms  {name}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let page = format!("{}/explore", args.url.trim_end_matches('/'));
    let Some(browser) = Browser::launch_quiet().await else { bail!("chromium and chromedriver are needed") };
    let version = browser.driver.cdp().send_raw("Browser.getVersion", json!({})).await?;
    println!("browser: {}", version["product"].as_str().unwrap_or("?"));
    browser.driver.set_script_timeout(Duration::from_secs(120)).await?;

    // Warm the server (first requests fault its pages in) before measuring anything.
    loads(&browser, &page, 3, false).await?;

    let cold = loads(&browser, &page, args.loads, true).await?;
    println!("load to first chart, cold cache: {}", percentiles(cold));
    timeline(&browser).await;

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
    // The page's HTML holds the API's answers to its first requests (src/http/explore/
    // first_answers.rs); "fetched" is what the page asked the API for at load (none when it
    // used them).
    println!(
        "weight: page, its first answers and files {:.1} kB on the wire ({:.1} kB decoded); \
         API answers fetched at load {:.1} kB ({:.1} kB decoded)",
        own / 1e3,
        own_decoded / 1e3,
        data / 1e3,
        data_decoded / 1e3
    );

    if args.profile {
        profile_load(&browser, &page).await?;
    }
    let warm = loads(&browser, &page, args.loads, false).await?;
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
