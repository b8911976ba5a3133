//! The `mechafil-api` binary as users run it: `serve` on a fresh data directory (demo data),
//! persistence across restarts, graceful shutdown on SIGTERM, the offline `simulate` command,
//! and starting on a damaged store.

mod binary_support;

use std::path::Path;
use std::process::Command;

use binary_support::{BIN, Binary};
use serde_json::{Value, json};

fn cli(data_dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).env("MECHAFIL_DATA_DIR", data_dir).output().unwrap()
}

#[tokio::test]
async fn a_fresh_directory_serves_the_demo_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let server = Binary::start(dir.path(), &[]);
    let (status, health) = server.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["snapshot"]["source"], "demo");
    let (status, body) =
        server.post("/simulate", &json!({"forecast_length_days": 365, "output": "circ_supply"})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["input"]["explanation"].as_str().unwrap().contains("DEMO"));
    assert!(server.terminate().success(), "exit status after SIGTERM");
}

#[tokio::test]
async fn an_imported_snapshot_persists_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let file = mechafil_core::test_support::reference_snapshot_file();
    let out = cli(dir.path(), &["import", file.to_str().unwrap(), "--start-date", "2022-10-10"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut answers = Vec::new();
    for _ in 0..2 {
        let server = Binary::start(dir.path(), &[]);
        let (_, health) = server.get("/health").await;
        assert_eq!(health["snapshot"]["source"], "import");
        assert_eq!(health["snapshot"]["current_date"], "2025-09-09");
        answers.push(server.post("/simulate", &json!({"output": "1y_sector_roi"})).await.1);
        assert!(server.terminate().success());
    }
    assert_eq!(answers[0]["simulation_output"], answers[1]["simulation_output"]);
}

#[tokio::test]
async fn the_simulate_command_prints_what_the_endpoint_answers() {
    let dir = tempfile::tempdir().unwrap();
    let body = json!({"forecast_length_days": 120, "rr": 0.7, "output": ["circ_supply", "days"]});
    let server = Binary::start(dir.path(), &[]);
    let (_, http_answer) = server.post("/simulate/full", &body).await;
    assert!(server.terminate().success());
    let out = cli(dir.path(), &["simulate", "--full", "--body", &body.to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli_answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli_answer, http_answer);
    // Invalid input prints the same error body and fails.
    let out = cli(dir.path(), &["simulate", "--body", r#"{"rr": 3}"#]);
    assert!(!out.status.success());
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["details"][0]["field"], "rr");
    assert!(String::from_utf8_lossy(&out.stderr).contains("422"));
}

#[tokio::test]
async fn a_damaged_store_is_moved_aside_and_the_service_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mechafil.redb"), b"not a database at all").unwrap();
    let server = Binary::start(dir.path(), &[]);
    let (status, health) = server.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["snapshot"]["source"], "demo");
    assert!(server.terminate().success());
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("corrupt"))
        .collect();
    assert_eq!(aside.len(), 1, "the damaged file is kept aside");
    assert_eq!(std::fs::read(dir.path().join(&aside[0])).unwrap(), b"not a database at all");
}

#[test]
fn data_dir_works_before_and_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    for args in [vec!["--data-dir", path, "snapshots"], vec!["snapshots", "--data-dir", path]] {
        let out = Command::new(BIN).args(&args).env_remove("MECHAFIL_DATA_DIR").output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(dir.path().join("mechafil.redb").exists(), "the store was created in --data-dir");
}
