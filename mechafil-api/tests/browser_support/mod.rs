//! Headless Chromium for the explorer's browser tests (`tests/explore_browser.rs`) and the page
//! measurements (`benches/src/bin/page_load.rs` includes this file with `#[path]`).
//!
//! It finds Debian's `chromium` and `chromedriver`, starts chromedriver on a free loopback port
//! in a process group of its own (Chromium starts inside it), and opens a WebDriver session with
//! a fresh profile, the browser console and network logs enabled (not for timing:
//! [`Browser::launch_quiet`]). Dropping the [`Browser`]
//! kills that process group, so a failing test leaves no browser behind.
//!
//! Without the binaries, [`Browser::launch`] returns `None` so that a local run can skip, but
//! under `CI=true` it panics: CI installs them (`.ci/run`) and must not pass by skipping.
#![allow(dead_code)] // The tests and the bench use different subsets.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use thirtyfour::common::capabilities::chromium::ChromiumLikeCapabilities;
use thirtyfour::prelude::*;

/// Chromium's flags. Headless and quiet, as the issue asks, plus a fence: every host name but
/// the loopback ones resolves to nothing and any proxied request goes to a dead loopback port,
/// so nothing can leave the machine even if something tried. The tests still prove, from the
/// network log, that the page asks only its own origin; the fence keeps a regression from
/// sending traffic while they find out.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
    "--proxy-server=http://127.0.0.1:9",
    "--window-size=1280,900",
];

/// Where Chromium and chromedriver are, or why they are not usable.
fn find_binaries() -> Result<(PathBuf, PathBuf), String> {
    let which = |name: &str| -> Option<PathBuf> {
        std::env::var_os("PATH")?
            .to_str()?
            .split(':')
            .map(|dir| Path::new(dir).join(name))
            .find(|p| p.is_file())
    };
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        // Debian's /usr/bin/chromium is a shell wrapper; the binary itself starts faster.
        .or_else(|| Some(PathBuf::from("/usr/lib/chromium/chromium")).filter(|p| p.is_file()))
        .or_else(|| which("chromium"))
        .ok_or("chromium not found (apt-get install chromium chromium-driver)")?;
    let driver = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| which("chromedriver"))
        .ok_or("chromedriver not found (apt-get install chromium-driver)")?;
    Ok((chromium, driver))
}

/// A free TCP port on 127.0.0.1 (bound and released; chromedriver binds it right after).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local address").port()
}

/// A running headless Chromium with a WebDriver session.
pub struct Browser {
    /// The session.
    pub driver: WebDriver,
    /// Where downloads land (inside the profile directory).
    pub downloads: PathBuf,
    /// chromedriver, whose process id is also its process group's id.
    chromedriver: Child,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and Chromium. `None` when they are missing and `CI` is not `true`.
    pub async fn launch() -> Option<Browser> {
        Browser::launch_with(true).await
    }

    /// [`Browser::launch`] without the console and network logs, for timing the page: the
    /// network log has DevTools report every request, which costs the page's main thread tens
    /// of milliseconds per load on a 2-vCPU machine, and a person's browser does not do that.
    /// [`Browser::console`] and [`Browser::requested_urls`] are then unavailable.
    pub async fn launch_quiet() -> Option<Browser> {
        Browser::launch_with(false).await
    }

    async fn launch_with(logs: bool) -> Option<Browser> {
        let (chromium, chromedriver) = match find_binaries() {
            Ok(found) => found,
            Err(problem) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("CI=true and the browser tests cannot run: {problem}")
            }
            Err(problem) => {
                eprintln!("skipping the browser test: {problem}");
                return None;
            }
        };
        let port = free_port();
        let mut command = Command::new(&chromedriver);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
        let profile = tempfile::tempdir().expect("profile directory");
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).expect("downloads directory");
        let driver_url = format!("http://127.0.0.1:{port}");
        let mut browser = PartialBrowser { chromedriver: Some(child), profile: Some(profile) };
        wait_for_driver(&driver_url).await;

        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(chromium.to_str().expect("UTF-8 path")).unwrap();
        for flag in CHROMIUM_FLAGS {
            caps.add_arg(flag).unwrap();
        }
        let profile_dir = browser.profile.as_ref().unwrap().path().join("profile");
        caps.add_arg(&format!("--user-data-dir={}", profile_dir.display())).unwrap();
        if logs {
            caps.set_logging_prefs("browser", thirtyfour::LoggingPrefsLogLevel::All).unwrap();
            caps.set_logging_prefs("performance", thirtyfour::LoggingPrefsLogLevel::All).unwrap();
            caps.add_experimental_option(
                "perfLoggingPrefs",
                json!({"enableNetwork": true, "enablePage": false}),
            )
            .unwrap();
        }
        caps.add_experimental_option(
            "prefs",
            json!({"download.default_directory": downloads, "download.prompt_for_download": false}),
        )
        .unwrap();
        let driver = WebDriver::new(driver_url.as_str(), caps).await.expect("WebDriver session");
        // Downloads in headless mode are allowed explicitly, into the profile's folder.
        driver
            .cdp()
            .send_raw("Browser.setDownloadBehavior", json!({"behavior": "allow", "downloadPath": downloads}))
            .await
            .expect("allow downloads");
        // Chromium opens its new-tab page at start (chrome:// resources, no network); start
        // from a blank page and empty logs so that the tests see only what their pages do.
        driver.goto("about:blank").await.expect("blank page");
        if logs {
            let _ = driver.get_log("performance").await;
            let _ = driver.get_log("browser").await;
        }
        let profile = browser.profile.take().unwrap();
        let chromedriver = browser.chromedriver.take().unwrap();
        Some(Browser { driver, downloads, chromedriver, profile })
    }

    /// Ends the session and the processes.
    pub async fn quit(self) {
        // Errors do not matter here: the process group is killed on drop anyway.
        let _ = self.driver.clone().quit().await;
        drop(self);
    }

    /// The browser console's messages (and clears them).
    pub async fn console(&self) -> Vec<thirtyfour::BrowserLogEntry> {
        self.driver.get_log("browser").await.expect("browser log")
    }

    /// Every URL the page asked for since the last call (`Network.requestWillBeSent` in the
    /// performance log, which records a request before it is sent, whether it then succeeds,
    /// fails or is blocked).
    pub async fn requested_urls(&self) -> Vec<String> {
        let entries = self.driver.get_log("performance").await.expect("performance log");
        entries
            .iter()
            .filter_map(|entry| serde_json::from_str::<Value>(&entry.message).ok())
            .filter(|m| m["message"]["method"] == "Network.requestWillBeSent")
            .filter_map(|m| m["message"]["params"]["request"]["url"].as_str().map(str::to_string))
            .collect()
    }

    /// Emulates a viewport (`mobile` for a phone: touch, device pixel ratio 2).
    pub async fn viewport(&self, width: u32, height: u32, mobile: bool) {
        self.driver
            .cdp()
            .send_raw(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": height, "deviceScaleFactor": if mobile { 2 } else { 1 }, "mobile": mobile}),
            )
            .await
            .expect("set the viewport");
    }

    /// A PNG of the whole page (beyond the viewport) at `path`. Elements with
    /// `content-visibility: auto` are rendered for it (their content out of view is not
    /// painted, and would show blank), then left as they were.
    pub async fn screenshot_full(&self, path: &Path) {
        use base64::Engine;
        let render_all = "const done = arguments[arguments.length - 1];\
            window.__skipped = [...document.querySelectorAll('*')].filter(e => getComputedStyle(e).contentVisibility === 'auto');\
            window.__skipped.forEach(e => { e.style.contentVisibility = 'visible'; });\
            requestAnimationFrame(() => requestAnimationFrame(() => done(null)));";
        self.driver.execute_async(render_all, vec![]).await.expect("render every element");
        let metrics = self.driver.cdp().send_raw("Page.getLayoutMetrics", json!({})).await.expect("layout");
        let size = &metrics["cssContentSize"];
        let (width, height) =
            (size["width"].as_f64().unwrap_or(1280.0), size["height"].as_f64().unwrap_or(900.0));
        let shot = self
            .driver
            .cdp()
            .send_raw(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true,
                       "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}),
            )
            .await
            .expect("screenshot");
        js(&self.driver, "window.__skipped.forEach(e => { e.style.contentVisibility = ''; }); return null;")
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("base64 PNG"))
            .expect("valid base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The session dies with the processes: mark it as done so that the WebDriver client
        // does not try to end it over HTTP (a blocking teardown) after a failed test.
        let _ = self.driver.clone().leak();
        kill_group(&mut self.chromedriver);
    }
}

/// chromedriver is running but the session is not open yet: kills the group if a step panics.
struct PartialBrowser {
    chromedriver: Option<Child>,
    profile: Option<tempfile::TempDir>,
}

impl Drop for PartialBrowser {
    fn drop(&mut self) {
        if let Some(child) = &mut self.chromedriver {
            kill_group(child);
        }
    }
}

/// Kills chromedriver's process group (chromedriver and the Chromium processes it started, by
/// the group's id) and reaps chromedriver.
fn kill_group(chromedriver: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", chromedriver.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = chromedriver.wait();
}

async fn wait_for_driver(url: &str) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(format!("{url}/status")).send().await
            && let Ok(body) = response.json::<Value>().await
            && body["value"]["ready"] == true
        {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "chromedriver did not start at {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `script` in the page (WebDriver "execute script") and returns its JSON result.
pub async fn js(driver: &WebDriver, script: &str) -> Value {
    driver
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
        .json()
        .clone()
}

/// Polls `script` (a JS expression returning a boolean) until true; panics after `timeout` with
/// `what` and the page's state.
pub async fn wait_until(driver: &WebDriver, script: &str, what: &str, timeout: Duration) {
    let started = Instant::now();
    loop {
        if js(driver, &format!("return !!({script});")).await == Value::Bool(true) {
            return;
        }
        if started.elapsed() > timeout {
            let state = js(
                driver,
                "return {state: document.body.dataset.state, status: (document.getElementById('status')||{}).textContent, \
                 notice: (document.getElementById('notice')||{}).textContent, ready: document.documentElement.dataset.ready};",
            )
            .await;
            panic!("timed out after {timeout:?} waiting for {what} ({script}); page: {state}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
