//! [`SnapshotStore`]: the redb file (`$MECHAFIL_DATA_DIR/mechafil.redb`) holding the fetched,
//! imported and demo snapshots, which one is active, and the outcome of the last update attempt.
//!
//! Invariants:
//! - A snapshot is keyed by its `current_date`; storing one for the same day replaces it.
//! - Inserting and activating is one write transaction: an update that fails, is partial or is
//!   killed never replaces or damages the active snapshot (redb commits atomically; an
//!   interrupted transaction is rolled back when the file is next opened).
//! - Only consistent snapshots are stored ([`NetworkData::validate`] runs before every insert and
//!   activation).
//! - Retention keeps the newest [`DEFAULT_RETENTION`] snapshots (by date) plus the active one.
//! - A file that cannot be opened as our database is renamed aside (`mechafil.redb.corrupt-<UTC
//!   time>`), never overwritten or deleted, and a fresh one is created; [`OpenedStore`] reports it.
//!
//! The methods are synchronous (redb is): call them from async code with
//! `tokio::task::spawn_blocking` (the store is `Clone`, an `Arc` inside). Snapshots are stored in
//! the binary encoding of [`codec`], so loading the active one takes about a millisecond.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::network_data::{NetworkData, NetworkDataError, SnapshotMeta, SnapshotSource};

pub mod codec;

/// The database file's name inside the data directory.
pub const DB_FILE_NAME: &str = "mechafil.redb";
/// Snapshots kept (the newest by date), plus the active one wherever it falls.
pub const DEFAULT_RETENTION: usize = 5;
/// Version of the table layout below, stored under [`STATE`]`["schema"]`.
const SCHEMA_VERSION: u32 = 1;

/// Encoded [`NetworkData`] ([`codec`]) by `current_date` (days from the common era).
const SNAPSHOTS: TableDefinition<i32, &[u8]> = TableDefinition::new("snapshots");
/// [`SnapshotMeta`] as JSON, same keys as [`SNAPSHOTS`]: listing never decodes the snapshots.
const METAS: TableDefinition<i32, &[u8]> = TableDefinition::new("snapshot_meta");
/// Singletons: `schema` (u32), `active` (the active key, i32), `last_update_attempt` (JSON).
const STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("state");

/// Test hook (see `tests/store.rs`), debug builds only: when this variable names a file, a write
/// transaction creates that file after its inserts and then waits 30 s before committing, so a
/// test can kill the process in the middle of a write.
#[cfg(debug_assertions)]
const PAUSE_BEFORE_COMMIT_VAR: &str = "MECHAFIL_TEST_PAUSE_BEFORE_COMMIT";

/// The snapshot store. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct SnapshotStore {
    db: Arc<Database>,
    path: PathBuf,
    retention: usize,
}

impl std::fmt::Debug for SnapshotStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotStore").field("path", &self.path).field("retention", &self.retention).finish()
    }
}

// Shared by the HTTP handlers and the update task.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SnapshotStore>();
};

/// An opened store, and where a damaged file was moved, if one was.
pub struct OpenedStore {
    /// The store.
    pub store: SnapshotStore,
    /// The path the unreadable previous file was renamed to.
    pub moved_aside: Option<PathBuf>,
}

/// A snapshot and its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSnapshot {
    /// Dates, source, age.
    pub meta: SnapshotMeta,
    /// The snapshot.
    pub data: NetworkData,
}

/// One entry of [`SnapshotStore::list`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotListing {
    /// The snapshot's metadata.
    pub meta: SnapshotMeta,
    /// Whether it is the active one.
    pub active: bool,
}

/// The outcome of one `update-cache` run, kept for `/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateAttempt {
    /// When the update started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// What happened.
    pub outcome: UpdateOutcome,
}

/// Whether an update replaced the active snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum UpdateOutcome {
    /// A new snapshot was stored and activated.
    Updated {
        /// Its first day.
        start_date: NaiveDate,
        /// Its last day.
        current_date: NaiveDate,
    },
    /// Nothing changed.
    Failed {
        /// The reason, as shown to the operator.
        error: String,
    },
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A filesystem operation on the data directory failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Another process holds the database open.
    #[error("{} is open in another process (is `mechafil-api serve` running?)", path.display())]
    InUse {
        /// The database file.
        path: PathBuf,
    },
    /// redb reported an error.
    #[error("database {op}: {source}")]
    Db {
        /// The operation.
        op: &'static str,
        /// redb's error.
        source: Box<redb::Error>,
    },
    /// A stored record cannot be decoded.
    #[error("stored {what} cannot be read: {detail}")]
    Decode {
        /// Which record, e.g. `snapshot for 2025-09-09`.
        what: String,
        /// Why.
        detail: String,
    },
    /// The database file cannot be opened even after moving the old one aside.
    #[error("{} cannot be opened: {reason}", path.display())]
    Unreadable {
        /// The database file.
        path: PathBuf,
        /// redb's reason.
        reason: String,
    },
    /// The snapshot to store is inconsistent.
    #[error("refusing to store an inconsistent snapshot: {0}")]
    Invalid(#[from] NetworkDataError),
    /// No snapshot for that date.
    #[error("the store holds no snapshot for {0}")]
    NotFound(NaiveDate),
}

fn db_err<E: Into<redb::Error>>(op: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Db { op, source: Box::new(e.into()) }
}

fn key_of(day: NaiveDate) -> i32 {
    day.num_days_from_ce()
}

/// The day of a key. Keys are only ever written by [`key_of`], so the fallback is unreachable
/// in practice; it keeps a damaged key an error message rather than a panic.
fn day_of(key: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(key).unwrap_or(NaiveDate::MIN)
}

/// Why the file could not be opened: whether moving it aside and starting afresh is right.
enum OpenFailure {
    /// The file is not (or no longer) a database we can read: move it aside.
    Unreadable(String),
    /// Anything else (in use, permissions): report, leave the file alone.
    Other(StoreError),
}

impl SnapshotStore {
    /// Opens (creating if needed) the store in `data_dir`, keeping the newest
    /// [`DEFAULT_RETENTION`] snapshots plus the active one.
    pub fn open(data_dir: &Path) -> Result<OpenedStore, StoreError> {
        Self::open_with_retention(data_dir, DEFAULT_RETENTION)
    }

    /// [`Self::open`] with another retention (at least 1).
    pub fn open_with_retention(data_dir: &Path, retention: usize) -> Result<OpenedStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            action: "creating the data directory",
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DB_FILE_NAME);
        let retention = retention.max(1);
        match open_database(&path) {
            Ok(db) => Ok(OpenedStore {
                store: SnapshotStore { db: Arc::new(db), path, retention },
                moved_aside: None,
            }),
            Err(OpenFailure::Other(e)) => Err(e),
            Err(OpenFailure::Unreadable(reason)) => {
                let aside = aside_path(&path);
                tracing::error!(path = %path.display(), aside = %aside.display(), %reason, "database unreadable; moving it aside");
                std::fs::rename(&path, &aside).map_err(|source| StoreError::Io {
                    action: "moving the unreadable database aside from",
                    path: path.clone(),
                    source,
                })?;
                let db = open_database(&path).map_err(|f| match f {
                    OpenFailure::Other(e) => e,
                    OpenFailure::Unreadable(reason) => StoreError::Unreadable { path: path.clone(), reason },
                })?;
                Ok(OpenedStore {
                    store: SnapshotStore { db: Arc::new(db), path, retention },
                    moved_aside: Some(aside),
                })
            }
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The active snapshot, or `None` when the store is empty.
    pub fn active(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err("begin read"))?;
        let state = txn.open_table(STATE).map_err(db_err("open state"))?;
        let Some(key) = read_active(&state)? else { return Ok(None) };
        let snapshots = txn.open_table(SNAPSHOTS).map_err(db_err("open snapshots"))?;
        let metas = txn.open_table(METAS).map_err(db_err("open metadata"))?;
        load(&snapshots, &metas, key).map(Some)
    }

    /// The stored snapshot for `current_date`, if any.
    pub fn get(&self, current_date: NaiveDate) -> Result<Option<StoredSnapshot>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err("begin read"))?;
        let snapshots = txn.open_table(SNAPSHOTS).map_err(db_err("open snapshots"))?;
        let metas = txn.open_table(METAS).map_err(db_err("open metadata"))?;
        let key = key_of(current_date);
        if snapshots.get(key).map_err(db_err("read snapshot"))?.is_none() {
            return Ok(None);
        }
        load(&snapshots, &metas, key).map(Some)
    }

    /// Validates `data`, stores it under its `current_date` (replacing one of the same day) and
    /// makes it active, then applies retention, all in one write transaction.
    pub fn insert_and_activate(
        &self,
        data: &NetworkData,
        source: SnapshotSource,
        fetched_at: DateTime<Utc>,
    ) -> Result<SnapshotMeta, StoreError> {
        data.validate()?;
        let meta = SnapshotMeta {
            start_date: data.snapshot.start_date,
            current_date: data.snapshot.current_date,
            source,
            fetched_at,
        };
        let bytes = codec::encode(data);
        let meta_json = serde_json::to_vec(&meta).expect("SnapshotMeta serializes");
        let key = key_of(meta.current_date);
        let txn = self.db.begin_write().map_err(db_err("begin write"))?;
        {
            let mut snapshots = txn.open_table(SNAPSHOTS).map_err(db_err("open snapshots"))?;
            let mut metas = txn.open_table(METAS).map_err(db_err("open metadata"))?;
            let mut state = txn.open_table(STATE).map_err(db_err("open state"))?;
            snapshots.insert(key, bytes.as_slice()).map_err(db_err("insert snapshot"))?;
            metas.insert(key, meta_json.as_slice()).map_err(db_err("insert metadata"))?;
            state.insert("active", key.to_le_bytes().as_slice()).map_err(db_err("set active"))?;
            // Keep the newest `retention` days, plus the active one (just inserted) wherever it
            // falls: an import of an older day must not be dropped as it is activated.
            let keys: Vec<i32> = metas
                .iter()
                .map_err(db_err("list metadata"))?
                .map(|entry| entry.map(|(k, _)| k.value()))
                .collect::<Result<_, _>>()
                .map_err(db_err("list metadata"))?;
            for old in keys.into_iter().rev().skip(self.retention).filter(|k| *k != key) {
                snapshots.remove(old).map_err(db_err("remove old snapshot"))?;
                metas.remove(old).map_err(db_err("remove old metadata"))?;
            }
        }
        pause_before_commit_for_tests();
        txn.commit().map_err(db_err("commit"))?;
        Ok(meta)
    }

    /// Every stored snapshot, newest `current_date` first, with the active one marked.
    pub fn list(&self) -> Result<Vec<SnapshotListing>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err("begin read"))?;
        let active = read_active(&txn.open_table(STATE).map_err(db_err("open state"))?)?;
        let metas = txn.open_table(METAS).map_err(db_err("open metadata"))?;
        let mut out = Vec::new();
        for entry in metas.iter().map_err(db_err("list metadata"))?.rev() {
            let (key, value) = entry.map_err(db_err("list metadata"))?;
            let key = key.value();
            out.push(SnapshotListing { meta: parse_meta(key, value.value())?, active: Some(key) == active });
        }
        Ok(out)
    }

    /// Makes the stored snapshot for `current_date` the active one (after checking it loads and
    /// is consistent).
    pub fn activate(&self, current_date: NaiveDate) -> Result<SnapshotMeta, StoreError> {
        let key = key_of(current_date);
        let txn = self.db.begin_write().map_err(db_err("begin write"))?;
        let meta = {
            let snapshots = txn.open_table(SNAPSHOTS).map_err(db_err("open snapshots"))?;
            let metas = txn.open_table(METAS).map_err(db_err("open metadata"))?;
            if snapshots.get(key).map_err(db_err("read snapshot"))?.is_none() {
                return Err(StoreError::NotFound(current_date));
            }
            let stored = load(&snapshots, &metas, key)?;
            stored.data.validate()?;
            let mut state = txn.open_table(STATE).map_err(db_err("open state"))?;
            state.insert("active", key.to_le_bytes().as_slice()).map_err(db_err("set active"))?;
            stored.meta
        };
        txn.commit().map_err(db_err("commit"))?;
        Ok(meta)
    }

    /// Records the outcome of an update attempt (replacing the previous record).
    pub fn record_update_attempt(&self, attempt: &UpdateAttempt) -> Result<(), StoreError> {
        let json = serde_json::to_vec(attempt).expect("UpdateAttempt serializes");
        let txn = self.db.begin_write().map_err(db_err("begin write"))?;
        {
            let mut state = txn.open_table(STATE).map_err(db_err("open state"))?;
            state.insert("last_update_attempt", json.as_slice()).map_err(db_err("record update attempt"))?;
        }
        txn.commit().map_err(db_err("commit"))
    }

    /// The last recorded update attempt.
    pub fn last_update_attempt(&self) -> Result<Option<UpdateAttempt>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err("begin read"))?;
        let state = txn.open_table(STATE).map_err(db_err("open state"))?;
        let Some(value) = state.get("last_update_attempt").map_err(db_err("read update attempt"))? else {
            return Ok(None);
        };
        serde_json::from_slice(value.value())
            .map(Some)
            .map_err(|e| StoreError::Decode { what: "last update attempt".into(), detail: e.to_string() })
    }
}

fn read_active(state: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<Option<i32>, StoreError> {
    let Some(value) = state.get("active").map_err(db_err("read active"))? else { return Ok(None) };
    let bytes: [u8; 4] = value.value().try_into().map_err(|_| StoreError::Decode {
        what: "active marker".into(),
        detail: format!("{} bytes instead of 4", value.value().len()),
    })?;
    Ok(Some(i32::from_le_bytes(bytes)))
}

fn load(
    snapshots: &impl ReadableTable<i32, &'static [u8]>,
    metas: &impl ReadableTable<i32, &'static [u8]>,
    key: i32,
) -> Result<StoredSnapshot, StoreError> {
    let current_date = day_of(key);
    let bytes =
        snapshots.get(key).map_err(db_err("read snapshot"))?.ok_or(StoreError::NotFound(current_date))?;
    let data = codec::decode(bytes.value()).map_err(|e| StoreError::Decode {
        what: format!("snapshot for {current_date}"),
        detail: e.to_string(),
    })?;
    let meta_bytes =
        metas.get(key).map_err(db_err("read metadata"))?.ok_or(StoreError::NotFound(current_date))?;
    Ok(StoredSnapshot { meta: parse_meta(key, meta_bytes.value())?, data })
}

fn parse_meta(key: i32, bytes: &[u8]) -> Result<SnapshotMeta, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Decode {
        what: format!("metadata for {}", day_of(key)),
        detail: e.to_string(),
    })
}

/// Opens or creates the file and makes sure our tables and schema version are there.
fn open_database(path: &Path) -> Result<Database, OpenFailure> {
    // redb's debug builds panic on some corruptions instead of returning `Corrupted`; either way
    // the file is unreadable.
    let opened = std::panic::catch_unwind(|| Database::create(path))
        .map_err(|_| OpenFailure::Unreadable("redb panicked while opening it".into()))?;
    let db = opened.map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => {
            OpenFailure::Other(StoreError::InUse { path: path.to_path_buf() })
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if !matches!(io.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData) =>
        {
            OpenFailure::Other(StoreError::Io { action: "opening", path: path.to_path_buf(), source: io })
        }
        other => OpenFailure::Unreadable(other.to_string()),
    })?;
    let unreadable = |e: redb::Error| OpenFailure::Unreadable(e.to_string());
    let txn = db.begin_write().map_err(|e| unreadable(e.into()))?;
    {
        let mut state = txn.open_table(STATE).map_err(|e| unreadable(e.into()))?;
        txn.open_table(SNAPSHOTS).map_err(|e| unreadable(e.into()))?;
        txn.open_table(METAS).map_err(|e| unreadable(e.into()))?;
        let schema = state.get("schema").map_err(|e| unreadable(e.into()))?.map(|v| v.value().to_vec());
        match schema {
            None => {
                state
                    .insert("schema", SCHEMA_VERSION.to_le_bytes().as_slice())
                    .map_err(|e| unreadable(e.into()))?;
            }
            Some(v) if v == SCHEMA_VERSION.to_le_bytes() => {}
            Some(v) => return Err(OpenFailure::Unreadable(format!("unknown schema version bytes {v:?}"))),
        }
    }
    txn.commit().map_err(|e| unreadable(e.into()))?;
    Ok(db)
}

/// `<file>.corrupt-<UTC time>`, with a counter if that exists already (never overwrite).
fn aside_path(path: &Path) -> PathBuf {
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    let base = format!("{}.corrupt-{stamp}", path.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{base}-{n}"));
        n += 1;
    }
    candidate
}

/// Only in debug builds (the ones `cargo test` runs): a release binary ignores the variable.
fn pause_before_commit_for_tests() {
    #[cfg(debug_assertions)]
    if let Some(marker) = std::env::var_os(PAUSE_BEFORE_COMMIT_VAR) {
        let _ = std::fs::write(&marker, b"in write transaction");
        std::thread::sleep(std::time::Duration::from_secs(30));
    }
}
