//! `serve` (the default command), `simulate` and `analyze`.
//!
//! ```text
//! mechafil-api [serve] [--host H] [--port P]     # HOST / PORT, default 0.0.0.0:8000
//! mechafil-api simulate [--full] --body '{"forecast_length_days": 365}'
//! mechafil-api analyze ensemble --body '{"members": 500}'
//! ```
//! `serve` opens the store, loads the active snapshot (the demo when the store is empty),
//! listens, and refreshes from Spacescope in the background when the snapshot is stale and a
//! token is configured. SIGINT/SIGTERM drain in-flight requests, then the store closes.
//! `simulate` prints exactly what `POST /simulate` (or `/simulate/full`) would answer, offline;
//! `analyze <kind>` what `POST /analyze/<kind>` would.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::net::TcpListener;

use super::{GlobalArgs, init_tracing};
use crate::config::ApiConfig;
use crate::demo::demo_snapshot;
use crate::http::analyze::Kind;
use crate::http::error::ApiError;
use crate::http::simulate::{Resolution, simulate_json};
use crate::http::{self, AppState, DataSources, Served, request, schedule};
use crate::spacescope::SpacescopeConfig;
use crate::store::{SnapshotStore, StoredSnapshot, UpdateAttempt};

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

/// The snapshot store, the snapshot to serve and the last update attempt, as found at start.
struct Loaded {
    store: Option<SnapshotStore>,
    stored: StoredSnapshot,
    last_update: Option<UpdateAttempt>,
}

/// Opens the store and loads its active snapshot; the demo when the store is empty or
/// cannot be opened (the service still answers, labelled `demo`, and says why in the log).
async fn load(data_dir: &Path) -> Loaded {
    let dir = data_dir.to_path_buf();
    let opened = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let opened = SnapshotStore::open(&dir)?;
        let active = opened.store.active()?;
        let last = opened.store.last_update_attempt()?;
        Ok((opened, active, last))
    })
    .await
    .map_err(anyhow::Error::from)
    .and_then(|r| r);
    match opened {
        Ok((opened, active, last_update)) => {
            if let Some(aside) = &opened.moved_aside {
                tracing::error!(aside = %aside.display(), "the store was unreadable and was moved aside; starting empty");
            }
            let stored = active.unwrap_or_else(|| {
                tracing::info!("the store is empty: serving the synthetic demo snapshot");
                demo_snapshot()
            });
            Loaded { store: Some(opened.store), stored, last_update }
        }
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), dir = %data_dir.display(), "cannot open the snapshot store; serving the demo snapshot, updates disabled");
            Loaded { store: None, stored: demo_snapshot(), last_update: None }
        }
    }
}

fn prepare(stored: StoredSnapshot) -> Served {
    let label = format!("{} {}", stored.meta.source, stored.meta.current_date);
    Served::new(stored.meta, stored.data).unwrap_or_else(|err| {
        // Stored snapshots were validated when written; this would be a bug or a damaged
        // record. The demo keeps the service answering, labelled as such.
        tracing::error!(%err, snapshot = %label, "the stored snapshot cannot be served; serving the demo");
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
    let loaded = load(&global.data_dir).await;
    let served = tokio::task::spawn_blocking(move || prepare(loaded.stored)).await?;
    let meta = served.meta.clone();
    let data = DataSources {
        store: loaded.store,
        spacescope,
        fetch: Default::default(),
        last_update: loaded.last_update,
    };
    let grace = config.shutdown_grace;
    let state = AppState::with_data(config, Ok(served), data);

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
    let loaded = load(&global.data_dir).await;
    let resolution = if args.full { Resolution::Daily } else { Resolution::Weekly };
    let answer = tokio::task::spawn_blocking(move || {
        let served = Arc::new(prepare(loaded.stored));
        let parsed = request::parse_json_object(body.as_bytes())
            .and_then(|object| request::parse_simulate(&object, &served.simulator));
        parsed.map(|request| simulate_json(&served, &request, resolution))
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
    let loaded = load(&global.data_dir).await;
    let answer = tokio::task::spawn_blocking(move || {
        let served = prepare(loaded.stored);
        request::parse_json_object(body.as_bytes())
            .and_then(|object| crate::http::analyze::run_offline(&served, args.kind, &object))
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
