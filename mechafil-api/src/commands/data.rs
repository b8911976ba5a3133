//! Data-layer commands: `update-cache`, `import`, `export`, `snapshots`, `activate`,
//! `check-store`.
//!
//! ```text
//! mechafil-api update-cache [--start-date D] [--current-date D] [--window-days W]
//! mechafil-api import FILE [--start-date D]
//! mechafil-api export FILE [--date D]
//! mechafil-api snapshots
//! mechafil-api activate DATE
//! mechafil-api check-store
//! ```
//! All act on the store in `--data-dir` / `$MECHAFIL_DATA_DIR`. Failures print the reason and
//! exit non-zero; the active snapshot is then unchanged.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{NaiveDate, Utc};

use super::{GlobalArgs, init_tracing};
use crate::network_data::{ExportFile, NetworkData, SnapshotMeta, SnapshotSource};
use crate::spacescope::{DEFAULT_START_DATE, FetchOptions, SpacescopeConfig};
use crate::store::{OpenedStore, SnapshotStore, UpdateOutcome};
use crate::update::update_cache;

/// The data-layer subcommands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum DataCommand {
    /// Fetch network data from Spacescope into the store and activate it.
    ///
    /// Needs SPACESCOPE_TOKEN or SPACESCOPE_AUTH_FILE. The dates pin a scenario so it can be
    /// replayed; without --current-date the latest published day is used.
    UpdateCache {
        /// First history day.
        #[arg(long, default_value_t = DEFAULT_START_DATE)]
        start_date: NaiveDate,
        /// Last history day (default: yesterday UTC, stepping back while not yet published).
        #[arg(long)]
        current_date: Option<NaiveDate>,
        /// Longest forecast, in days, to keep known expirations and pledge releases for.
        #[arg(long, default_value_t = mechafil_core::MAX_FORECAST_DAYS)]
        window_days: usize,
    },
    /// Import a snapshot JSON file (the reference service's layout, or our export) and activate it.
    Import {
        /// The JSON file.
        file: PathBuf,
        /// First history day; required when the file does not say.
        #[arg(long)]
        start_date: Option<NaiveDate>,
    },
    /// Write a stored snapshot (the active one by default) as JSON in the reference layout, with
    /// explicit dates and the supply history.
    Export {
        /// Output file (written atomically).
        file: PathBuf,
        /// The current_date of the snapshot to export.
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// List the stored snapshots and which one is active.
    Snapshots,
    /// Make the stored snapshot of DATE the active one.
    Activate {
        /// Its current_date.
        date: NaiveDate,
    },
    /// Check the store as `serve` would at start: open it (an unreadable file is moved aside),
    /// check every snapshot record it would try (checksum, consistency), and print what would be
    /// served as one JSON line. `serve` runs this in a child process before opening the store,
    /// so that damage which crashes redb outright cannot crash the service.
    CheckStore,
}

/// What `check-store` prints (one JSON line).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoreCheck {
    /// The snapshot `serve` would serve, if any.
    pub serving: Option<ServingCheck>,
    /// The `current_date` the store marks active.
    pub active: Option<NaiveDate>,
    /// Records that fail their checks: `(current_date, reason)`.
    pub rejected: Vec<(NaiveDate, String)>,
    /// Where an unreadable file was moved, and why.
    pub moved_aside: Option<(PathBuf, String)>,
    /// Why an empty write transaction failed, if it did (`None`: the store takes writes).
    pub write_failed: Option<String>,
}

/// The snapshot `check-store` found servable.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ServingCheck {
    /// Its metadata.
    pub meta: SnapshotMeta,
    /// CRC-32 of its encoding (`crc32:<hex>`), to compare with a known snapshot.
    pub fingerprint: String,
}

/// The fingerprint [`ServingCheck`] reports for `data`.
pub fn fingerprint(data: &NetworkData) -> String {
    format!("crc32:{:08x}", crc32fast::hash(&crate::store::codec::encode(data)))
}

/// Test hook (see `tests/abuse/store.rs`), debug builds only: when set, `check-store` aborts
/// as redb does on some damage, so the test can check how `serve` handles a crashed check.
#[cfg(debug_assertions)]
const CRASH_CHECK_STORE_VAR: &str = "MECHAFIL_TEST_CRASH_CHECK_STORE";

/// Runs `check-store` (see [`DataCommand::CheckStore`]).
async fn check_store(data_dir: &Path) -> anyhow::Result<()> {
    #[cfg(debug_assertions)]
    if std::env::var_os(CRASH_CHECK_STORE_VAR).is_some() {
        std::process::abort();
    }
    let dir = data_dir.to_path_buf();
    let (opened, servable, _) = tokio::task::spawn_blocking(move || SnapshotStore::open_and_load(&dir))
        .await
        .context("the store task did not finish")?
        .with_context(|| format!("opening the snapshot store in {}", data_dir.display()))?;
    // A crash here (redb panicking while it unwinds) ends this process, not the service.
    let store = opened.store.clone();
    let write_failed = tokio::task::spawn_blocking(move || store.probe_write())
        .await
        .context("the store task did not finish")?
        .err()
        .map(|e| e.to_string());
    let check = StoreCheck {
        write_failed,
        serving: servable.snapshot.map(|s| ServingCheck { fingerprint: fingerprint(&s.data), meta: s.meta }),
        active: servable.active,
        rejected: servable.rejected.into_iter().map(|r| (r.current_date, r.reason)).collect(),
        moved_aside: opened.moved_aside.zip(opened.moved_aside_reason),
    };
    println!("{}", serde_json::to_string(&check).context("serializing the report")?);
    Ok(())
}

/// Runs one data-layer command.
pub async fn run(command: DataCommand, global: &GlobalArgs) -> anyhow::Result<()> {
    init_tracing();
    if let DataCommand::CheckStore = command {
        return check_store(&global.data_dir).await;
    }
    let store = open_store(&global.data_dir).await?;
    match command {
        DataCommand::UpdateCache { start_date, current_date, window_days } => {
            let config = SpacescopeConfig::from_env()
                .context("reading the Spacescope settings")?
                .context("no Spacescope token: set SPACESCOPE_TOKEN or SPACESCOPE_AUTH_FILE")?;
            let opts = FetchOptions { start_date, current_date, window_days };
            let deadline =
                crate::config::ApiConfig::from_env().context("reading the settings")?.update_deadline;
            let meta = update_cache(&config, &store, &opts, deadline).await.context("update-cache failed")?;
            println!("activated {}", describe(&meta));
        }
        DataCommand::Import { file, start_date } => {
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let parsed: ExportFile = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a snapshot JSON file", file.display()))?;
            let data = NetworkData::from_export(&parsed, start_date)
                .with_context(|| format!("{} cannot be imported", file.display()))?;
            let meta =
                blocking(store, move |s| s.insert_and_activate(&data, SnapshotSource::Import, Utc::now()))
                    .await
                    .context("storing the imported snapshot")?;
            println!("imported and activated {}", describe(&meta));
        }
        DataCommand::Export { file, date } => {
            let stored = blocking(store, move |s| match date {
                Some(d) => s.get(d),
                None => s.active(),
            })
            .await
            .context("reading the store")?;
            let Some(stored) = stored else {
                match date {
                    Some(d) => bail!("the store holds no snapshot for {d} (see `mechafil-api snapshots`)"),
                    None => bail!("the store is empty: run `mechafil-api update-cache` or `import` first"),
                }
            };
            let json = serde_json::to_vec(&stored.data.to_export()).context("serializing the snapshot")?;
            write_atomically(&file, &json)?;
            println!("exported {} to {}", describe(&stored.meta), file.display());
        }
        DataCommand::Snapshots => {
            let (listing, last) = blocking(store, |s| Ok((s.list()?, s.last_update_attempt()?)))
                .await
                .context("reading the store")?;
            if listing.is_empty() {
                println!("the store is empty (the service would serve the built-in demo snapshot)");
            }
            for entry in &listing {
                println!("{} {}", if entry.active { "*" } else { " " }, describe(&entry.meta));
            }
            if let Some(attempt) = last {
                let outcome = match &attempt.outcome {
                    UpdateOutcome::Updated { current_date, .. } => format!("updated to {current_date}"),
                    UpdateOutcome::Failed { error } => format!("failed: {error}"),
                };
                println!("last update attempt, finished {}: {outcome}", attempt.finished_at.to_rfc3339());
            }
        }
        DataCommand::Activate { date } => {
            let meta = blocking(store, move |s| s.activate(date)).await.context("activate failed")?;
            println!("activated {}", describe(&meta));
        }
        DataCommand::CheckStore => unreachable!("handled before the store is opened"),
    }
    Ok(())
}

/// Opens the store, telling the operator when a damaged file was moved aside.
async fn open_store(data_dir: &Path) -> anyhow::Result<SnapshotStore> {
    let dir = data_dir.to_path_buf();
    let OpenedStore { store, moved_aside, moved_aside_reason } =
        tokio::task::spawn_blocking(move || SnapshotStore::open(&dir))
            .await
            .context("the store task did not finish")?
            .with_context(|| format!("opening the snapshot store in {}", data_dir.display()))?;
    if let Some(aside) = moved_aside {
        eprintln!(
            "warning: {} could not be opened ({}); it was moved to {} and a new, empty store was created",
            store.path().display(),
            moved_aside_reason.unwrap_or_default(),
            aside.display()
        );
    }
    Ok(store)
}

/// Runs a store operation on the blocking pool.
async fn blocking<T: Send + 'static>(
    store: SnapshotStore,
    op: impl FnOnce(&SnapshotStore) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> anyhow::Result<T> {
    Ok(tokio::task::spawn_blocking(move || op(&store)).await.context("the store task did not finish")??)
}

/// One line describing a snapshot.
fn describe(meta: &SnapshotMeta) -> String {
    let source = match meta.source {
        SnapshotSource::Spacescope => "spacescope",
        SnapshotSource::Import => "import",
        SnapshotSource::Demo => "demo",
    };
    format!(
        "{} (history from {}, source {source}, fetched {})",
        meta.current_date,
        meta.start_date,
        meta.fetched_at.to_rfc3339()
    )
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames it over `path`, so a
/// reader never sees a half-written file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}
