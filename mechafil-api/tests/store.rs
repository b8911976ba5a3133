//! The redb snapshot store: activation, listing, retention, persistence, an unreadable file
//! moved aside, a file held by another handle, and processes killed in the middle of a write.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use common::day;
use mechafil_api::demo::{demo_network_data, demo_network_data_later};
use mechafil_api::network_data::{NetworkData, SnapshotSource};
use mechafil_api::store::{DB_FILE_NAME, SnapshotStore, StoreError, UpdateAttempt, UpdateOutcome};

#[test]
fn insert_activate_list_and_retention() {
    let dir = tempfile::tempdir().unwrap();
    let opened = SnapshotStore::open_with_retention(dir.path(), 3).unwrap();
    assert!(opened.moved_aside.is_none());
    let store = opened.store;
    assert!(store.active().unwrap().is_none());
    assert!(store.list().unwrap().is_empty());

    for k in 0..5 {
        let meta = store
            .insert_and_activate(&demo_network_data_later(k), SnapshotSource::Spacescope, Utc::now())
            .unwrap();
        assert_eq!(meta.current_date, day("2025-09-09") + Days::new(k));
    }
    let listing = store.list().unwrap();
    let dates: Vec<_> = listing.iter().map(|l| l.meta.current_date.to_string()).collect();
    assert_eq!(dates, ["2025-09-13", "2025-09-12", "2025-09-11"], "newest three kept, newest first");
    assert_eq!(listing.iter().filter(|l| l.active).count(), 1);
    assert!(listing[0].active);

    // Activating an older one keeps it, and it survives the next insert's retention.
    let meta = store.activate(day("2025-09-11")).unwrap();
    assert_eq!(meta.current_date, day("2025-09-11"));
    assert_eq!(store.active().unwrap().unwrap().data, demo_network_data_later(2));
    let err = store.activate(day("2025-09-09")).unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    assert_eq!(store.active().unwrap().unwrap().meta.current_date, day("2025-09-11"));

    // An import of an older day is kept while active even though it is outside the newest three.
    store.insert_and_activate(&demo_network_data_later(0), SnapshotSource::Import, Utc::now()).unwrap();
    let dates: Vec<_> =
        store.list().unwrap().iter().map(|l| (l.meta.current_date.to_string(), l.active)).collect();
    assert_eq!(
        dates,
        [
            ("2025-09-13".into(), false),
            ("2025-09-12".into(), false),
            ("2025-09-11".into(), false),
            ("2025-09-09".into(), true)
        ]
    );
}

#[test]
fn same_day_replaces_and_inconsistent_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SnapshotStore::open(dir.path()).unwrap().store;
    store.insert_and_activate(&demo_network_data(), SnapshotSource::Demo, Utc::now()).unwrap();
    let meta = store.insert_and_activate(&demo_network_data(), SnapshotSource::Import, Utc::now()).unwrap();
    let listing = store.list().unwrap();
    assert_eq!(listing.len(), 1);
    assert_eq!(listing[0].meta, meta);

    let mut bad = demo_network_data_later(3);
    bad.snapshot.historical_qa_power_eib.pop();
    let err = store.insert_and_activate(&bad, SnapshotSource::Spacescope, Utc::now()).unwrap_err();
    assert!(err.to_string().contains("historical_qa_power_eib has 1065 values"), "{err}");
    assert_eq!(store.active().unwrap().unwrap().meta, meta);
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn everything_persists_and_loads_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let attempt = UpdateAttempt {
        started_at: Utc::now(),
        finished_at: Utc::now(),
        outcome: UpdateOutcome::Failed { error: "HTTP 500".into() },
    };
    {
        let store = SnapshotStore::open(dir.path()).unwrap().store;
        assert!(store.last_update_attempt().unwrap().is_none());
        store.insert_and_activate(&demo_network_data(), SnapshotSource::Demo, Utc::now()).unwrap();
        store.record_update_attempt(&attempt).unwrap();
    }
    let started = Instant::now();
    let store = SnapshotStore::open(dir.path()).unwrap().store;
    let opened = started.elapsed();
    let started = Instant::now();
    let active = store.active().unwrap().unwrap();
    let loaded = started.elapsed();
    eprintln!("open: {opened:?}, load active: {loaded:?}");
    assert_eq!(active.data, demo_network_data());
    assert_eq!(active.meta.source, SnapshotSource::Demo);
    assert_eq!(store.last_update_attempt().unwrap(), Some(attempt));
    assert!(loaded < Duration::from_millis(200), "loading took {loaded:?}");
}

#[test]
fn an_unreadable_file_is_moved_aside_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    let garbage = b"this is not a redb file, but someone's data all the same".repeat(100);
    std::fs::write(&path, &garbage).unwrap();
    let opened = SnapshotStore::open(dir.path()).unwrap();
    let aside = opened.moved_aside.expect("reported");
    assert!(aside.file_name().unwrap().to_string_lossy().starts_with("mechafil.redb.corrupt-"), "{aside:?}");
    assert_eq!(std::fs::read(&aside).unwrap(), garbage, "kept byte for byte");
    let store = opened.store;
    assert!(store.active().unwrap().is_none());
    store.insert_and_activate(&demo_network_data(), SnapshotSource::Demo, Utc::now()).unwrap();
    drop(store);

    // A second damaged file gets its own name: nothing is overwritten.
    std::fs::write(&path, &garbage[..500]).unwrap();
    let second = SnapshotStore::open(dir.path()).unwrap().moved_aside.unwrap();
    assert_ne!(second, aside);
    assert!(aside.exists() && second.exists());
}

#[test]
fn a_file_in_use_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let first = SnapshotStore::open(dir.path()).unwrap().store;
    first.insert_and_activate(&demo_network_data(), SnapshotSource::Demo, Utc::now()).unwrap();
    let err = SnapshotStore::open(dir.path()).err().expect("second open fails");
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing moved aside");
    assert!(first.active().unwrap().is_some());
}

/// Writes `data` as an export file and returns its path.
fn export_file(dir: &Path, data: &NetworkData) -> std::path::PathBuf {
    let path = dir.join("new.json");
    std::fs::write(&path, serde_json::to_vec(&data.to_export()).unwrap()).unwrap();
    path
}

fn import_process(data_dir: &Path, file: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mechafil-api"));
    command
        .arg("import")
        .arg(file)
        .env("MECHAFIL_DATA_DIR", data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// After an interrupted write the old snapshot is active, loads, and is consistent.
fn assert_old_snapshot_survived(data_dir: &Path) {
    let opened = SnapshotStore::open(data_dir).unwrap();
    assert!(opened.moved_aside.is_none(), "the file is still a readable database");
    let active = opened.store.active().unwrap().expect("an active snapshot");
    active.data.validate().unwrap();
    let listing = opened.store.list().unwrap();
    if active.meta.current_date == day("2025-09-09") {
        assert_eq!(active.data, demo_network_data());
        assert_eq!(listing.len(), 1, "the interrupted snapshot is not there");
    } else {
        // The import committed before the kill: then it is complete.
        assert_eq!(active.data, demo_network_data_later(1));
        assert_eq!(listing.len(), 2);
    }
}

#[test]
fn a_process_killed_inside_its_write_transaction_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    SnapshotStore::open(&data_dir)
        .unwrap()
        .store
        .insert_and_activate(&demo_network_data(), SnapshotSource::Demo, Utc::now())
        .unwrap();
    let file = export_file(dir.path(), &demo_network_data_later(1));
    let marker = dir.path().join("in-write-txn");

    // The test hook makes the import stop after its inserts, before its commit.
    let child =
        import_process(&data_dir, &file).env("MECHAFIL_TEST_PAUSE_BEFORE_COMMIT", &marker).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the import never reached its write transaction");
        std::thread::sleep(Duration::from_millis(10));
    }
    kill(child);

    let opened = SnapshotStore::open(&data_dir).unwrap();
    assert!(opened.moved_aside.is_none());
    let active = opened.store.active().unwrap().unwrap();
    assert_eq!(active.data, demo_network_data(), "the old snapshot is active and loads");
    assert_eq!(active.meta.source, SnapshotSource::Demo);
    assert_eq!(opened.store.list().unwrap().len(), 1, "nothing of the interrupted import remains");
    drop(opened);

    // The same import, not interrupted, then succeeds on the recovered file.
    let status = import_process(&data_dir, &file).status().unwrap();
    assert!(status.success());
    assert_eq!(
        SnapshotStore::open(&data_dir).unwrap().store.active().unwrap().unwrap().data,
        demo_network_data_later(1)
    );
}

#[test]
fn processes_killed_at_arbitrary_moments_never_damage_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let file = export_file(dir.path(), &demo_network_data_later(1));
    // Kill delays spread over a whole import (start-up, JSON parsing, validation, insert,
    // commit): which phase each kill hits depends on the machine, so this complements the
    // deterministic test above rather than replacing it.
    let full = {
        let data_dir = dir.path().join("timing");
        let started = Instant::now();
        assert!(import_process(&data_dir, &file).status().unwrap().success());
        started.elapsed()
    };
    for step in 0..8u32 {
        let data_dir = dir.path().join(format!("run{step}"));
        SnapshotStore::open(&data_dir)
            .unwrap()
            .store
            .insert_and_activate(&demo_network_data(), SnapshotSource::Demo, Utc::now())
            .unwrap();
        let child = import_process(&data_dir, &file).spawn().unwrap();
        std::thread::sleep(full.mul_f64(f64::from(step) / 7.0));
        kill(child);
        assert_old_snapshot_survived(&data_dir);
    }
}
