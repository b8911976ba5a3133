//! `serve` (the default command), `simulate` and `analyze`.
//!
//! ```text
//! mechafil-api [serve] [--host H] [--port P]     # HOST / PORT, default 0.0.0.0:8000
//! mechafil-api simulate [--full] --body '{"forecast_length_days": 365}'
//! mechafil-api analyze ensemble --body '{"members": 500}'
//! ```
//! `serve` opens the store, loads the active snapshot (an older good one when it fails its
//! checks, the demo when none passes or the store is empty; a store of a newer version is
//! refused),
//! listens, and refreshes from Spacescope in the background when the snapshot is stale and a
//! token is configured. SIGINT/SIGTERM drain in-flight requests, then the store closes.
//! `simulate` prints exactly what `POST /simulate` (or `/simulate/full`) would answer, offline;
//! `analyze <kind>` what `POST /analyze/<kind>` would.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpListener;

use super::{GlobalArgs, init_tracing};
use crate::commands::data::StoreCheck;
use crate::config::ApiConfig;
use crate::demo::demo_snapshot;
use crate::http::analyze::Kind;
use crate::http::error::ApiError;
use crate::http::simulate::{Resolution, simulate_json};
use crate::http::{
    self, AppState, DataSources, Served, StoreProblem, StoreProblemKind, pinning, request, schedule,
};
use crate::spacescope::SpacescopeConfig;
use crate::store::{
    DB_FILE_NAME, SnapshotStore, StoreError, StoredSnapshot, UpdateAttempt, files_moved_aside, move_aside,
};

/// Options of `serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8000)]
    pub port: u16,
}

impl ServeArgs {
    /// The options `serve` gets without command-line flags: `HOST`/`PORT` from the
    /// environment, else the defaults (for `mechafil-api` run with no subcommand).
    pub fn from_env_and_defaults() -> ServeArgs {
        use clap::{Args, FromArgMatches};
        let matches = ServeArgs::augment_args(clap::Command::new("serve")).get_matches_from(["serve"]);
        ServeArgs::from_arg_matches(&matches).expect("defaults and HOST/PORT parse")
    }
}

/// Options of `simulate`.
#[derive(clap::Args, Debug, Clone)]
pub struct SimulateArgs {
    /// Answer like `/simulate/full` (daily, whole simulation) instead of `/simulate` (weekly).
    #[arg(long)]
    pub full: bool,
    /// The request body (JSON); `@FILE` reads it from a file, `-` from stdin.
    #[arg(long, default_value = "{}")]
    pub body: String,
}

/// The snapshot store, the snapshot to serve, the last update attempt and what is wrong with
/// the store, as found at start.
struct Loaded {
    store: Option<SnapshotStore>,
    stored: StoredSnapshot,
    last_update: Option<UpdateAttempt>,
    problems: Vec<StoreProblem>,
}

fn problem(kind: StoreProblemKind, message: String) -> StoreProblem {
    StoreProblem { kind, message }
}

/// How long the `check-store` child may take before it counts as stuck on a damaged file.
const STORE_CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// What the `check-store` child process said about the store.
enum ChildCheck {
    /// It opened the store (and may have moved an unreadable file aside itself).
    Done(StoreCheck),
    /// It crashed or hung: opening this file takes the process down.
    Crashed(String),
    /// It failed with an ordinary error (in use, permissions, a newer schema): opening the store
    /// in this process reports the same error.
    Failed,
}

/// Runs `mechafil-api check-store` on `data_dir` in a child process. Some damage makes redb
/// panic while a panic is already unwinding (a poisoned lock in a destructor), which aborts the
/// process: no `catch_unwind` can stop that, so the first open of an existing file happens where
/// a crash costs nothing.
async fn check_in_child(data_dir: &Path) -> ChildCheck {
    let Ok(exe) = std::env::current_exe() else { return ChildCheck::Failed };
    let child = tokio::process::Command::new(exe)
        .arg("check-store")
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn();
    let Ok(child) = child else { return ChildCheck::Failed };
    match tokio::time::timeout(STORE_CHECK_TIMEOUT, child.wait_with_output()).await {
        Err(_) => {
            ChildCheck::Crashed(format!("it did not finish within {} s", STORE_CHECK_TIMEOUT.as_secs()))
        }
        Ok(Err(_)) => ChildCheck::Failed,
        Ok(Ok(output)) if output.status.success() => {
            let line = String::from_utf8_lossy(&output.stdout);
            serde_json::from_str(line.trim()).map_or(ChildCheck::Failed, ChildCheck::Done)
        }
        // 101: a Rust panic that escaped; no code: killed by a signal (an abort is SIGABRT).
        Ok(Ok(output)) if matches!(output.status.code(), None | Some(101)) => {
            ChildCheck::Crashed(output.status.to_string())
        }
        Ok(Ok(_)) => ChildCheck::Failed,
    }
}

/// Opens the store and picks the snapshot to serve: the active one when it passes its checks,
/// else the newest one that does, else the demo (the service still answers, labelled `demo`).
/// An existing file is first opened by a child process ([`check_in_child`]); when that crashes,
/// the file is moved aside. Whatever was wrong is logged and returned for `/health`. Fails only
/// on a store written by a newer version, which must not be served over or moved aside.
async fn load(data_dir: &Path) -> anyhow::Result<Loaded> {
    let db_file = data_dir.join(DB_FILE_NAME);
    let mut moved_by_check: Option<(PathBuf, String)> = None;
    let mut write_failed = None;
    if db_file.exists() {
        match check_in_child(data_dir).await {
            ChildCheck::Done(check) => {
                moved_by_check = check.moved_aside;
                write_failed = check.write_failed;
            }
            ChildCheck::Crashed(how) => {
                let reason = format!("opening it crashed a check process ({how})");
                let (path, why) = (db_file.clone(), reason.clone());
                let aside = tokio::task::spawn_blocking(move || move_aside(&path, &why))
                    .await?
                    .with_context(|| format!("moving the damaged store {} aside", db_file.display()))?;
                moved_by_check = Some((aside, reason));
            }
            ChildCheck::Failed => {}
        }
    }
    let dir = data_dir.to_path_buf();
    let opened = tokio::task::spawn_blocking(move || SnapshotStore::open_and_load(&dir)).await?;
    let (opened, servable, last_update) = match opened {
        Ok(found) => found,
        Err(err @ StoreError::NewerSchema { .. }) => return Err(err.into()),
        Err(err) => {
            let message = format!(
                "the snapshot store cannot be opened ({err}); serving the synthetic demo, updates disabled"
            );
            tracing::error!(dir = %data_dir.display(), "{message}");
            return Ok(Loaded {
                store: None,
                stored: demo_snapshot(),
                last_update: None,
                problems: vec![problem(StoreProblemKind::Unavailable, message)],
            });
        }
    };
    let mut problems = Vec::new();
    let moved_now = opened.moved_aside.clone().zip(opened.moved_aside_reason.clone()).or(moved_by_check);
    if let Some((aside, reason)) = &moved_now {
        problems.push(problem(
            StoreProblemKind::MovedAside,
            format!("the store file was unreadable ({reason}); it was moved aside to {} and a new, empty store was started", aside.display()),
        ));
    }
    for file in files_moved_aside(data_dir) {
        if Some(&file) != moved_now.as_ref().map(|(path, _)| path) {
            problems.push(problem(
                StoreProblemKind::MovedAside,
                format!("a damaged store file moved aside by an earlier start is kept at {}: inspect it, then remove it", file.display()),
            ));
        }
    }
    if let Some(err) = write_failed {
        let message = format!(
            "the store can be read but not written ({err}): updates will fail; move the file aside to start afresh"
        );
        tracing::error!("{message}");
        problems.push(problem(StoreProblemKind::NotWritable, message));
    }
    for rejected in &servable.rejected {
        problems.push(problem(
            StoreProblemKind::DamagedSnapshot,
            format!("the stored snapshot of {} is never served: {}", rejected.current_date, rejected.reason),
        ));
    }
    let stored = match (servable.snapshot, servable.active) {
        (Some(stored), active) => {
            if active != Some(stored.meta.current_date) {
                let message = match active {
                    Some(active) => format!(
                        "serving the stored snapshot of {} instead of the active one of {active}",
                        stored.meta.current_date
                    ),
                    None => format!(
                        "no snapshot is marked active; serving the newest good one, of {}",
                        stored.meta.current_date
                    ),
                };
                tracing::error!("{message}");
                problems.push(problem(StoreProblemKind::Fallback, message));
            }
            stored
        }
        (None, _) if !servable.rejected.is_empty() => {
            let message = "no stored snapshot passes its checks; serving the synthetic demo".to_string();
            tracing::error!("{message}");
            problems.push(problem(StoreProblemKind::Fallback, message));
            demo_snapshot()
        }
        (None, _) => {
            tracing::info!("the store is empty: serving the synthetic demo snapshot");
            demo_snapshot()
        }
    };
    Ok(Loaded { store: Some(opened.store), stored, last_update, problems })
}

fn prepare(stored: StoredSnapshot, problems: &mut Vec<StoreProblem>) -> Served {
    let label = format!("{} {}", stored.meta.source, stored.meta.current_date);
    Served::new(stored.meta, stored.data).unwrap_or_else(|err| {
        // Loaded snapshots passed NetworkData::validate; this would be a bug. The demo keeps the
        // service answering, labelled as such.
        let message =
            format!("the stored snapshot {label} cannot be served ({err}); serving the synthetic demo");
        tracing::error!("{message}");
        problems.push(problem(StoreProblemKind::Fallback, message));
        let demo = demo_snapshot();
        Served::new(demo.meta, demo.data).expect("the demo snapshot is valid")
    })
}

/// Runs the HTTP service until SIGINT/SIGTERM.
pub async fn serve(args: ServeArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    init_tracing();
    let config = ApiConfig::from_env().context("reading the service settings")?;
    let spacescope = SpacescopeConfig::from_env().context("reading the Spacescope settings")?;
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("listening on {}:{}", args.host, args.port))?;
    let loaded = load(&global.data_dir).await?;
    let (served, problems) = tokio::task::spawn_blocking(move || {
        let mut problems = loaded.problems;
        (prepare(loaded.stored, &mut problems), problems)
    })
    .await?;
    let meta = served.meta.clone();
    let data = DataSources {
        store: loaded.store,
        spacescope,
        fetch: Default::default(),
        last_update: loaded.last_update,
    };
    let grace = config.shutdown_grace;
    let state = AppState::with_data(config, Ok(served), data);
    state.set_store_problems(problems);

    let addr = listener.local_addr()?;
    let shown_host = if addr.ip().is_unspecified() { "localhost".to_string() } else { addr.ip().to_string() };
    tracing::info!(%addr, source = %meta.source, start_date = %meta.start_date, current_date = %meta.current_date, "serving");
    // The banner is for humans; a closed stdout (a supervisor that stopped reading) must not
    // take the service down, so write errors are ignored rather than panicking as println! would.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "mechafil-api listening on http://{addr} ({} snapshot, {} .. {})",
        meta.source, meta.start_date, meta.current_date
    );
    let _ = writeln!(
        out,
        "try: curl -s -X POST http://{shown_host}:{}/simulate -H 'content-type: application/json' -d '{{\"forecast_length_days\": 365, \"output\": \"circ_supply\"}}'",
        addr.port()
    );
    let _ = out.flush();
    drop(out);

    spawn_refreshes(&state);
    http::run(listener, http::router(state), shutdown_signal(), grace).await.context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

/// Refresh-on-wake (stale snapshot, token configured) and the optional daily refresh.
fn spawn_refreshes(state: &AppState) {
    let updatable = state.data().store.is_some() && state.data().spacescope.is_some();
    if !updatable {
        return;
    }
    let stale = state
        .served()
        .is_ok_and(|s| schedule::needs_refresh(&s.meta, chrono::Utc::now(), state.config().refresh_max_age));
    if stale {
        let state = state.clone();
        tokio::spawn(async move {
            tracing::info!("the served snapshot is stale: refreshing in the background");
            log_update(state.update().await);
        });
    }
    if let Some(at) = state.config().reload_trigger {
        let state = state.clone();
        tokio::spawn(schedule::run_daily(at, chrono::Utc::now, move || {
            let state = state.clone();
            async move { log_update(state.update().await) }
        }));
    }
}

fn log_update(result: Result<crate::network_data::SnapshotMeta, http::error::ApiError>) {
    match result {
        Ok(meta) => tracing::info!(current_date = %meta.current_date, "background update done"),
        Err(err) => {
            tracing::warn!(error = %err, "background update failed; still serving the previous snapshot")
        }
    }
}

/// Resolves on SIGINT (Fly's default kill signal) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}

/// Prints what the simulate endpoint would answer for `args.body`, from the active snapshot.
pub async fn simulate(args: SimulateArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let body = read_body(&args.body)?;
    let loaded = load(&global.data_dir).await?;
    let resolution = if args.full { Resolution::Daily } else { Resolution::Weekly };
    let answer = tokio::task::spawn_blocking(move || {
        let served = Arc::new(prepare(loaded.stored, &mut Vec::new()));
        let parsed = request::parse_json_object(body.as_bytes()).and_then(|mut object| {
            pinning::check_offline_pin(&mut object, &served)?;
            request::parse_simulate(&object, &served.simulator)
        });
        parsed.and_then(|request| simulate_json(&served, &request, resolution))
    })
    .await?;
    print_answer(answer)
}

/// Arguments of `analyze`.
#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    /// The analysis: ensemble, sweep, solve, sensitivity or compare.
    #[arg(value_parser = parse_kind)]
    pub kind: Kind,
    /// The request body (JSON); `@FILE` reads it from a file, `-` from stdin.
    #[arg(long, default_value = "{}")]
    pub body: String,
}

fn parse_kind(name: &str) -> Result<Kind, String> {
    Kind::from_name(name)
        .ok_or_else(|| format!("unknown analysis {name:?}; one of {}", Kind::ALL.map(Kind::name).join(", ")))
}

/// Prints what `POST /analyze/<kind>` would answer for `args.body`, from the active snapshot
/// (the same bytes; the work runs in this process, without the service's time limit).
pub async fn analyze(args: AnalyzeArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let body = read_body(&args.body)?;
    let loaded = load(&global.data_dir).await?;
    let answer = tokio::task::spawn_blocking(move || {
        let served = prepare(loaded.stored, &mut Vec::new());
        request::parse_json_object(body.as_bytes()).and_then(|mut object| {
            pinning::check_offline_pin(&mut object, &served)?;
            crate::http::analyze::run_offline(&served, args.kind, &object)
        })
    })
    .await?;
    print_answer(answer)
}

/// A `--body` argument: inline JSON, `@FILE` or `-` (stdin).
fn read_body(arg: &str) -> anyhow::Result<String> {
    Ok(match arg {
        "-" => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).context("reading stdin")?;
            text
        }
        b if b.starts_with('@') => {
            std::fs::read_to_string(&b[1..]).with_context(|| format!("reading {}", &b[1..]))?
        }
        b => b.to_string(),
    })
}

/// Prints an answer, or the error body the endpoint would give (and fails with its status).
fn print_answer(answer: Result<Vec<u8>, ApiError>) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match answer {
        Ok(json) => {
            stdout.write_all(&json)?;
            stdout.write_all(b"\n")?;
            Ok(())
        }
        Err(err) => {
            serde_json::to_writer(&mut stdout, &err.body())?;
            stdout.write_all(b"\n")?;
            bail!("{} {err}", err.status().as_u16())
        }
    }
}
