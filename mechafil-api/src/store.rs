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
//! - Every snapshot record carries a checksum (CRC-32 of the encoded snapshot and its metadata, in
//!   the metadata record), verified with [`NetworkData::validate`] and the dates on every load: a
//!   record that fails is never returned, and [`SnapshotStore::load_servable`] falls back to the
//!   newest good one, listing what it passed over. Records written before checksums existed get
//!   theirs when the file is first opened by this version, if they decode and validate.
//! - A file that cannot be opened as our database (an error, or a panic of redb's, while opening or
//!   first reading it; `serve` also when a child process checking it crashes) is renamed aside (`mechafil.redb.corrupt-<UTC time>`), never overwritten or
//!   deleted, and a fresh one is created; [`OpenedStore`] reports it, and
//!   [`files_moved_aside`] finds such files later.
//! - A file written by a newer version of this layout ([`SCHEMA_VERSION`]) is left alone and
//!   refused ([`StoreError::NewerSchema`]): rolling a deploy back must not hide the data.
//!
//! The methods are synchronous (redb is): call them from async code with
//! `tokio::task::spawn_blocking` (the store is `Clone`, an `Arc` inside). Snapshots are stored in
//! the binary encoding of [`codec`], so loading the active one takes about a millisecond.

use std::panic::{AssertUnwindSafe, catch_unwind};
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
/// Version of the table layout below, stored under [`STATE`]`["schema"]`. The record checksums
/// did not change it: older versions read checksummed records and ignore the extra metadata key.
pub const SCHEMA_VERSION: u32 = 1;

/// Encoded [`NetworkData`] ([`codec`]) by `current_date` (days from the common era).
const SNAPSHOTS: TableDefinition<i32, &[u8]> = TableDefinition::new("snapshots");
/// [`SnapshotMeta`] as JSON plus `"checksum"` ([`StoredMeta`]), same keys as [`SNAPSHOTS`]:
/// listing never decodes the snapshots.
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
    db: Arc<GuardedDatabase>,
    path: PathBuf,
    retention: usize,
}

impl std::fmt::Debug for SnapshotStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotStore").field("path", &self.path).field("retention", &self.retention).finish()
    }
}

/// The database, closed inside `catch_unwind`: closing a damaged file can panic in redb (it writes
/// its allocator state back), and a panic while the last handle drops (at shutdown, or while an
/// earlier panic unwinds) must not take the process down with it.
struct GuardedDatabase(Option<Database>);

impl Drop for GuardedDatabase {
    fn drop(&mut self) {
        if let Some(db) = self.0.take()
            && catch_unwind(AssertUnwindSafe(move || drop(db))).is_err()
        {
            tracing::error!("redb panicked while closing the database; the file may be damaged");
        }
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
    /// Why it was unreadable.
    pub moved_aside_reason: Option<String>,
}

/// What [`SnapshotStore::load_servable`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Servable {
    /// The snapshot to serve: the active one when it passes its checks, else the newest stored
    /// one that does; `None` when none does (or the store is empty).
    pub snapshot: Option<StoredSnapshot>,
    /// The `current_date` the store marks active.
    pub active: Option<NaiveDate>,
    /// The records tried before `snapshot` and why each was refused (active first).
    pub rejected: Vec<RejectedSnapshot>,
}

/// A stored snapshot that failed its checks.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedSnapshot {
    /// Its key.
    pub current_date: NaiveDate,
    /// What failed.
    pub reason: String,
}

/// The metadata record: the snapshot's metadata and the checksum of the whole record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredMeta {
    #[serde(flatten)]
    meta: SnapshotMeta,
    /// `crc32:<8 hex digits>` over the encoded snapshot and [`meta_bytes`]; absent in records
    /// written before checksums existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checksum: Option<String>,
}

/// The canonical bytes of `meta` that the checksum covers.
fn meta_bytes(meta: &SnapshotMeta) -> Vec<u8> {
    serde_json::to_vec(meta).expect("SnapshotMeta serializes")
}

/// The checksum of a record: its encoded snapshot and its metadata.
fn checksum(snapshot: &[u8], meta: &SnapshotMeta) -> String {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(snapshot);
    hasher.update(&meta_bytes(meta));
    format!("crc32:{:08x}", hasher.finalize())
}

/// The metadata record of a snapshot (with its checksum).
fn meta_record(snapshot: &[u8], meta: &SnapshotMeta) -> Vec<u8> {
    let stored = StoredMeta { meta: meta.clone(), checksum: Some(checksum(snapshot, meta)) };
    serde_json::to_vec(&stored).expect("StoredMeta serializes")
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
    /// The file was written by a newer version of the store layout; it is left untouched.
    #[error(
        "{} was written by a newer mechafil-api (store schema {found}; this build reads schema \
         {supported}): run that version or newer, or move the file aside to start afresh",
        path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The schema version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
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
                store: SnapshotStore { db: Arc::new(GuardedDatabase(Some(db))), path, retention },
                moved_aside: None,
                moved_aside_reason: None,
            }),
            Err(OpenFailure::Other(e)) => Err(e),
            Err(OpenFailure::Unreadable(reason)) => {
                let aside = move_aside(&path, &reason)?;
                let db = open_database(&path).map_err(|f| match f {
                    OpenFailure::Other(e) => e,
                    OpenFailure::Unreadable(reason) => StoreError::Unreadable { path: path.clone(), reason },
                })?;
                Ok(OpenedStore {
                    store: SnapshotStore { db: Arc::new(GuardedDatabase(Some(db))), path, retention },
                    moved_aside: Some(aside),
                    moved_aside_reason: Some(reason),
                })
            }
        }
    }

    /// Opens the store in `data_dir` and reads what a server needs at start: the snapshot to
    /// serve ([`Self::load_servable`]) and the last update attempt. A panic or a database error
    /// during those first reads means the file is damaged in a way opening did not show: it is
    /// then moved aside like an unreadable file and a fresh store is opened. Damaged *records*
    /// are not a reason to move the file: they are passed over and listed in
    /// [`Servable::rejected`].
    ///
    /// Some damage makes redb panic again while the first panic unwinds (a poisoned lock in a
    /// destructor), which aborts the process: no `catch_unwind` stops that. `serve` therefore
    /// first runs this in a child process (`mechafil-api check-store`) and moves the file aside
    /// when the child crashes.
    pub fn open_and_load(
        data_dir: &Path,
    ) -> Result<(OpenedStore, Servable, Option<UpdateAttempt>), StoreError> {
        let opened = Self::open(data_dir)?;
        let first_reads = catch_unwind(AssertUnwindSafe(|| {
            let servable = opened.store.load_servable()?;
            // A damaged record of the last attempt costs only that line of /health.
            let last = opened.store.last_update_attempt().unwrap_or_else(|err| {
                tracing::warn!(error = %err, "the last update attempt cannot be read; ignoring it");
                None
            });
            Ok::<_, StoreError>((servable, last))
        }));
        let reason = match first_reads {
            Ok(Ok((servable, last))) => return Ok((opened, servable, last)),
            Ok(Err(err)) => err.to_string(),
            Err(panic) => format!("redb panicked while reading it: {}", panic_message(&*panic)),
        };
        let path = opened.store.path.clone();
        let retention = opened.store.retention;
        // Not closed: closing lets redb write to the file (its allocator state), and a damaged
        // file is moved aside exactly as it was found. One leaked handle, once, at start.
        std::mem::forget(opened);
        let aside = move_aside(&path, &reason)?;
        let db = open_database(&path).map_err(|f| match f {
            OpenFailure::Other(e) => e,
            OpenFailure::Unreadable(reason) => StoreError::Unreadable { path: path.clone(), reason },
        })?;
        let opened = OpenedStore {
            store: SnapshotStore { db: Arc::new(GuardedDatabase(Some(db))), path, retention },
            moved_aside: Some(aside),
            moved_aside_reason: Some(reason),
        };
        Ok((opened, Servable { snapshot: None, active: None, rejected: Vec::new() }, None))
    }

    fn db(&self) -> &Database {
        self.db.0.as_ref().expect("only taken when dropped")
    }

    /// Commits an empty write transaction: opening only reads a store that is in order, and
    /// some damage shows only when redb writes (updates would then fail, or crash the process).
    /// `check-store` runs this, in the child process `serve` starts, so that such damage is
    /// found at start, where a crash costs nothing.
    pub fn probe_write(&self) -> Result<(), StoreError> {
        let txn = self.db().begin_write().map_err(db_err("begin write"))?;
        txn.open_table(STATE).map_err(db_err("open state"))?;
        txn.commit().map_err(db_err("commit"))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The active snapshot (checked), or `None` when the store is empty. An error when the
    /// active record fails its checks; [`Self::load_servable`] falls back instead.
    pub fn active(&self) -> Result<Option<StoredSnapshot>, StoreError> {
        let txn = self.db().begin_read().map_err(db_err("begin read"))?;
        let state = txn.open_table(STATE).map_err(db_err("open state"))?;
        let Some(key) = read_active(&state)? else { return Ok(None) };
        let snapshots = txn.open_table(SNAPSHOTS).map_err(db_err("open snapshots"))?;
        let metas = txn.open_table(METAS).map_err(db_err("open metadata"))?;
        load(&snapshots, &metas, key).map(Some)
    }

    /// The stored snapshot for `current_date`, if any.
    pub fn get(&self, current_date: NaiveDate) -> Result<Option<StoredSnapshot>, StoreError> {
        let txn = self.db().begin_read().map_err(db_err("begin read"))?;
        let snapshots = txn.open_table(SNAPSHOTS).map_err(db_err("open snapshots"))?;
        let metas = txn.open_table(METAS).map_err(db_err("open metadata"))?;
        let key = key_of(current_date);
        if snapshots.get(key).map_err(db_err("read snapshot"))?.is_none() {
            return Ok(None);
        }
        load(&snapshots, &metas, key).map(Some)
    }

    /// The snapshot to serve: the active one if it passes its checks (checksum, decoding,
    /// [`NetworkData::validate`], dates), else the newest stored one that does, with the records
    /// passed over and why. Errors only when the database itself cannot be read.
    pub fn load_servable(&self) -> Result<Servable, StoreError> {
        let txn = self.db().begin_read().map_err(db_err("begin read"))?;
        let state = txn.open_table(STATE).map_err(db_err("open state"))?;
        let snapshots = txn.open_table(SNAPSHOTS).map_err(db_err("open snapshots"))?;
        let metas = txn.open_table(METAS).map_err(db_err("open metadata"))?;
        let active = read_active(&state).unwrap_or_else(|err| {
            tracing::error!(error = %err, "the active marker cannot be read; falling back to the newest good snapshot");
            None
        });
        let mut keys: Vec<i32> = snapshots
            .iter()
            .map_err(db_err("list snapshots"))?
            .map(|entry| entry.map(|(k, _)| k.value()))
            .collect::<Result<_, _>>()
            .map_err(db_err("list snapshots"))?;
        keys.reverse();
        if let Some(active) = active {
            keys.retain(|k| *k != active);
            keys.insert(0, active);
        }
        let mut rejected = Vec::new();
        for key in keys {
            match load(&snapshots, &metas, key) {
                Ok(stored) => {
                    return Ok(Servable { snapshot: Some(stored), active: active.map(day_of), rejected });
                }
                Err(StoreError::Db { op, source }) => return Err(StoreError::Db { op, source }),
                Err(err) => {
                    tracing::error!(current_date = %day_of(key), error = %err, "a stored snapshot fails its checks; not serving it");
                    rejected.push(RejectedSnapshot { current_date: day_of(key), reason: err.to_string() });
                }
            }
        }
        Ok(Servable { snapshot: None, active: active.map(day_of), rejected })
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
        let meta_json = meta_record(&bytes, &meta);
        let key = key_of(meta.current_date);
        let txn = self.db().begin_write().map_err(db_err("begin write"))?;
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
        let txn = self.db().begin_read().map_err(db_err("begin read"))?;
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
        let txn = self.db().begin_write().map_err(db_err("begin write"))?;
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
        let txn = self.db().begin_write().map_err(db_err("begin write"))?;
        {
            let mut state = txn.open_table(STATE).map_err(db_err("open state"))?;
            state.insert("last_update_attempt", json.as_slice()).map_err(db_err("record update attempt"))?;
        }
        txn.commit().map_err(db_err("commit"))
    }

    /// The last recorded update attempt.
    pub fn last_update_attempt(&self) -> Result<Option<UpdateAttempt>, StoreError> {
        let txn = self.db().begin_read().map_err(db_err("begin read"))?;
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

/// Loads the record under `key` and checks it: checksum, decoding, [`NetworkData::validate`],
/// and that the key, the metadata and the data agree on the dates.
fn load(
    snapshots: &impl ReadableTable<i32, &'static [u8]>,
    metas: &impl ReadableTable<i32, &'static [u8]>,
    key: i32,
) -> Result<StoredSnapshot, StoreError> {
    let current_date = day_of(key);
    let what = || format!("snapshot for {current_date}");
    let bytes =
        snapshots.get(key).map_err(db_err("read snapshot"))?.ok_or(StoreError::NotFound(current_date))?;
    let meta_bytes =
        metas.get(key).map_err(db_err("read metadata"))?.ok_or(StoreError::NotFound(current_date))?;
    let stored = parse_stored_meta(key, meta_bytes.value())?;
    match &stored.checksum {
        Some(expected) => {
            let found = checksum(bytes.value(), &stored.meta);
            if *expected != found {
                return Err(StoreError::Decode {
                    what: what(),
                    detail: format!(
                        "checksum mismatch (stored {expected}, computed {found}): the record was altered on disk"
                    ),
                });
            }
        }
        None => {
            tracing::warn!(%current_date, "a snapshot record without checksum (written by an older version)")
        }
    }
    let data = codec::decode(bytes.value())
        .map_err(|e| StoreError::Decode { what: what(), detail: e.to_string() })?;
    data.validate()?;
    let meta = stored.meta;
    if meta.current_date != current_date
        || data.snapshot.current_date != current_date
        || data.snapshot.start_date != meta.start_date
    {
        return Err(StoreError::Decode {
            what: what(),
            detail: format!(
                "dates disagree: key {current_date}, metadata {} .. {}, data {} .. {}",
                meta.start_date, meta.current_date, data.snapshot.start_date, data.snapshot.current_date
            ),
        });
    }
    Ok(StoredSnapshot { meta, data })
}

fn parse_stored_meta(key: i32, bytes: &[u8]) -> Result<StoredMeta, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Decode {
        what: format!("metadata for {}", day_of(key)),
        detail: e.to_string(),
    })
}

fn parse_meta(key: i32, bytes: &[u8]) -> Result<SnapshotMeta, StoreError> {
    parse_stored_meta(key, bytes).map(|stored| stored.meta)
}

/// Opens or creates the file, makes sure our tables and schema version are there, and gives
/// records written before checksums existed their checksum. A panic anywhere in it (redb panics
/// on some corruptions instead of returning an error), in `Database::create` or after it (where
/// version 0.1.0 had no guard), means the file is unreadable.
fn open_database(path: &Path) -> Result<Database, OpenFailure> {
    let created = catch_unwind(|| Database::create(path)).map_err(|panic| {
        OpenFailure::Unreadable(format!("redb panicked while opening it: {}", panic_message(&*panic)))
    })?;
    let db = created.map_err(|e| match e {
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
    let prepared = catch_unwind(AssertUnwindSafe(|| prepare_database(&db, path))).unwrap_or_else(|panic| {
        Err(OpenFailure::Unreadable(format!("redb panicked after opening it: {}", panic_message(&*panic))))
    });
    match prepared {
        Ok(()) => Ok(db),
        Err(failure) => {
            // Not closed: closing lets redb write to the file (its allocator state). A damaged
            // file is moved aside as it was found, a newer version's left untouched.
            std::mem::forget(db);
            Err(failure)
        }
    }
}

/// Makes sure the opened file has our tables, this schema version and a checksum on every record.
fn prepare_database(db: &Database, path: &Path) -> Result<(), OpenFailure> {
    let unreadable = |e: redb::Error| OpenFailure::Unreadable(e.to_string());
    // A write transaction costs an fsync at its commit (tens of ms on a slow volume, and `serve`
    // opens the file twice at start: see `check-store`), so a store that is already in order is
    // only read.
    if store_is_in_order(db).map_err(unreadable)? {
        return Ok(());
    }
    let txn = db.begin_write().map_err(|e| unreadable(e.into()))?;
    {
        let mut state = txn.open_table(STATE).map_err(|e| unreadable(e.into()))?;
        let snapshots = txn.open_table(SNAPSHOTS).map_err(|e| unreadable(e.into()))?;
        let mut metas = txn.open_table(METAS).map_err(|e| unreadable(e.into()))?;
        let schema = state.get("schema").map_err(|e| unreadable(e.into()))?.map(|v| v.value().to_vec());
        match schema.as_deref().map(<[u8; 4]>::try_from) {
            None => {
                state
                    .insert("schema", SCHEMA_VERSION.to_le_bytes().as_slice())
                    .map_err(|e| unreadable(e.into()))?;
            }
            Some(Ok(v)) if u32::from_le_bytes(v) == SCHEMA_VERSION => {}
            Some(Ok(v)) if u32::from_le_bytes(v) > SCHEMA_VERSION => {
                // Dropping the transaction aborts it: the file is not touched.
                return Err(OpenFailure::Other(StoreError::NewerSchema {
                    path: path.to_path_buf(),
                    found: u32::from_le_bytes(v),
                    supported: SCHEMA_VERSION,
                }));
            }
            Some(_) => {
                return Err(OpenFailure::Unreadable(format!("unknown schema version bytes {schema:?}")));
            }
        }
        add_missing_checksums(&snapshots, &mut metas).map_err(unreadable)?;
    }
    txn.commit().map_err(|e| unreadable(e.into()))
}

/// Whether the file already has our tables, this schema version and a checksum on every record,
/// so that opening it needs no write. A newer schema is left to the write path, which refuses it.
fn store_is_in_order(db: &Database) -> Result<bool, redb::Error> {
    let txn = db.begin_read()?;
    let tables = (txn.open_table(STATE), txn.open_table(SNAPSHOTS), txn.open_table(METAS));
    let (Ok(state), Ok(_), Ok(metas)) = tables else { return Ok(false) };
    let schema = state.get("schema")?.map(|v| v.value().to_vec());
    if schema.as_deref() != Some(SCHEMA_VERSION.to_le_bytes().as_slice()) {
        return Ok(false);
    }
    for entry in metas.iter()? {
        let (_, value) = entry?;
        if serde_json::from_slice::<StoredMeta>(value.value()).is_ok_and(|m| m.checksum.is_none()) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Gives every record without a checksum (written before they existed) its checksum, when the
/// record decodes and validates; one that does not is left as it is and will be refused on load.
fn add_missing_checksums(
    snapshots: &impl ReadableTable<i32, &'static [u8]>,
    metas: &mut redb::Table<'_, i32, &'static [u8]>,
) -> Result<(), redb::Error> {
    let mut legacy = Vec::new();
    for entry in metas.iter()? {
        let (key, value) = entry?;
        if let Ok(stored) = serde_json::from_slice::<StoredMeta>(value.value())
            && stored.checksum.is_none()
        {
            legacy.push((key.value(), stored.meta));
        }
    }
    for (key, meta) in legacy {
        let Some(bytes) = snapshots.get(key)? else { continue };
        let bytes = bytes.value().to_vec();
        match codec::decode(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|d| d.validate().map_err(|e| e.to_string()))
        {
            Ok(()) => {
                metas.insert(key, meta_record(&bytes, &meta).as_slice())?;
                tracing::info!(current_date = %day_of(key), "added a checksum to a snapshot record written by an older version");
            }
            Err(reason) => {
                tracing::error!(current_date = %day_of(key), %reason, "a snapshot record without checksum fails its checks; leaving it unchanged")
            }
        }
    }
    Ok(())
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Renames the unreadable database file at `path` aside (`<file>.corrupt-<UTC time>`, never
/// overwriting anything), logging why; returns the new path.
pub fn move_aside(path: &Path, reason: &str) -> Result<PathBuf, StoreError> {
    let aside = aside_path(path);
    tracing::error!(path = %path.display(), aside = %aside.display(), %reason, "database unreadable; moving it aside");
    std::fs::rename(path, &aside).map_err(|source| StoreError::Io {
        action: "moving the unreadable database aside from",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(aside)
}

/// The files of `data_dir` that an earlier start moved aside (`mechafil.redb.corrupt-*`), oldest
/// first: kept for an operator to inspect, and reported until they are removed.
pub fn files_moved_aside(data_dir: &Path) -> Vec<PathBuf> {
    let prefix = format!("{DB_FILE_NAME}.corrupt-");
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    files.sort();
    files
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
