//! `import` and `export` through the real binary: the reference service's snapshot file
//! round-trips every number exactly (through the store's binary encoding), our own export
//! round-trips byte for byte, dates are inferred or checked, and bad requests fail clearly.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use mechafil_api::demo::demo_network_data;
use mechafil_api::network_data::{ExportFile, NetworkData};
use serde_json::Value;

fn cli(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mechafil-api"))
        .args(args)
        .env("MECHAFIL_DATA_DIR", data_dir)
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn failed(out: Output) -> String {
    assert!(!out.status.success(), "unexpected success: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).unwrap()
}

/// Asserts every number under `expected[section]` equals ours bit for bit.
fn assert_same_numbers(ours: &Value, expected: &Value, path: &str) {
    match (ours, expected) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, e) in b {
                assert!(a.contains_key(key), "{path}.{key} is missing");
                assert_same_numbers(&a[key], e, &format!("{path}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: length");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_same_numbers(x, y, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            assert_eq!(x.is_f64(), y.is_f64(), "{path}: integer vs float");
            assert_eq!(x.as_f64().unwrap().to_bits(), y.as_f64().unwrap().to_bits(), "{path}: {x} vs {y}");
        }
        (x, y) => assert_eq!(x, y, "{path}"),
    }
}

#[test]
fn reference_snapshot_round_trips_exactly() {
    let Some(fixtures) = mechafil_core::test_support::fixtures_dir() else { return };
    let reference_file = fixtures.join("reference-snapshot-2025-09-09.json");
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");

    let err = failed(cli(&data_dir, &["import", reference_file.to_str().unwrap()]));
    assert!(err.contains("no start_date"), "{err}");
    let out = ok(cli(&data_dir, &["import", reference_file.to_str().unwrap(), "--start-date", "2022-10-10"]));
    assert!(out.contains("2025-09-09") && out.contains("source import"), "{out}");

    let exported = dir.path().join("out.json");
    ok(cli(&data_dir, &["export", exported.to_str().unwrap()]));
    let ours = read_json(&exported);
    let reference = read_json(&reference_file);
    for section in ["smoothed_metrics", "historical_arrays", "offline_data"] {
        assert_same_numbers(&ours[section], &reference[section], section);
        assert_eq!(
            ours[section].as_object().unwrap().len(),
            reference[section].as_object().unwrap().len(),
            "{section}: no key added"
        );
    }
    assert_eq!(ours["start_date"], "2022-10-10");
    assert_eq!(ours["current_date"], "2025-09-09");
    assert_eq!(ours["historical_arrays_start_dates"]["raw_byte_power"], "2025-03-13");
    assert!(ours.get("supply_history").is_none(), "the reference format has no supply history");
    assert!(ours.get("end_date").is_none(), "the reference file gives no end_date, so none is invented");

    // Our export names its dates, so importing it needs no --start-date, and a conflicting one
    // is refused.
    let err = failed(cli(&data_dir, &["import", exported.to_str().unwrap(), "--start-date", "2022-10-11"]));
    assert!(err.contains("start_date 2022-10-11 was given but the file says 2022-10-10"), "{err}");
    ok(cli(&data_dir, &["import", exported.to_str().unwrap()]));
    let again = dir.path().join("again.json");
    ok(cli(&data_dir, &["export", again.to_str().unwrap()]));
    assert_eq!(std::fs::read(&exported).unwrap(), std::fs::read(&again).unwrap(), "byte-identical");
}

#[test]
fn our_export_round_trips_with_supply_and_dates() {
    let data = demo_network_data();
    let json = serde_json::to_string(&data.to_export()).unwrap();
    let file: ExportFile = serde_json::from_str(&json).unwrap();
    let back = NetworkData::from_export(&file, None).unwrap();
    assert_eq!(mechafil_api::store::codec::encode(&back), mechafil_api::store::codec::encode(&data));
    let value: Value = serde_json::from_str(&json).unwrap();
    let keys: std::collections::BTreeSet<&str> =
        value.as_object().unwrap().keys().map(String::as_str).collect();
    let expected = [
        "start_date",
        "current_date",
        "end_date",
        "smoothed_metrics",
        "historical_arrays",
        "offline_data",
        "historical_arrays_start_dates",
        "supply_history",
    ];
    assert_eq!(keys, expected.into_iter().collect());
    assert_eq!(value["supply_history"]["circulating_fil"].as_array().unwrap().len(), 1066);
}

#[test]
fn export_import_snapshots_and_activate_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let out_file = dir.path().join("x.json");
    let err = failed(cli(&data_dir, &["export", out_file.to_str().unwrap()]));
    assert!(err.contains("the store is empty"), "{err}");
    assert!(ok(cli(&data_dir, &["snapshots"])).contains("the store is empty"));

    // Two snapshots: the demo's day and the next.
    let demo = demo_network_data();
    let mut file = demo.to_export();
    std::fs::write(&out_file, serde_json::to_vec(&file).unwrap()).unwrap();
    ok(cli(&data_dir, &["import", out_file.to_str().unwrap()]));
    let next_day = |d: &mut Option<chrono::NaiveDate>| *d = d.map(|d| d.succ_opt().unwrap());
    next_day(&mut file.start_date);
    next_day(&mut file.current_date);
    next_day(&mut file.end_date);
    let dates = file.historical_arrays_start_dates.as_mut().unwrap();
    for d in [&mut dates.raw_byte_power, &mut dates.renewal_rate, &mut dates.filplus_rate] {
        *d = d.succ_opt().unwrap();
    }
    let supply = file.supply_history.as_mut().unwrap();
    supply.start_date = supply.start_date.succ_opt().unwrap();
    std::fs::write(&out_file, serde_json::to_vec(&file).unwrap()).unwrap();
    ok(cli(&data_dir, &["import", out_file.to_str().unwrap()]));

    let listing = ok(cli(&data_dir, &["snapshots"]));
    let lines: Vec<&str> = listing.lines().collect();
    assert!(lines[0].starts_with("* 2025-09-10") && lines[1].starts_with("  2025-09-09"), "{listing}");
    ok(cli(&data_dir, &["activate", "2025-09-09"]));
    assert!(ok(cli(&data_dir, &["snapshots"])).contains("* 2025-09-09"));
    let err = failed(cli(&data_dir, &["activate", "2024-01-01"]));
    assert!(err.contains("no snapshot for 2024-01-01"), "{err}");

    // `export --date` picks a stored one that is not active; an unknown date fails.
    let exported = dir.path().join("y.json");
    ok(cli(&data_dir, &["export", exported.to_str().unwrap(), "--date", "2025-09-10"]));
    assert_eq!(read_json(&exported)["current_date"], "2025-09-10");
    let err = failed(cli(&data_dir, &["export", exported.to_str().unwrap(), "--date", "2020-01-01"]));
    assert!(err.contains("no snapshot for 2020-01-01"), "{err}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, b"{\"offline_data\": 3}").unwrap();
    let err = failed(cli(&data_dir, &["import", bad.to_str().unwrap()]));
    assert!(err.contains("is not a snapshot JSON file"), "{err}");
}
