//! The acceptance scenario end to end, against the fixtures' own replay server
//! (`shared/fixtures/spacescope/replay_server.py`, Python standard library only): the
//! `mechafil-api update-cache` binary fetches into a fresh store, `export` writes the snapshot,
//! and the export reproduces `expected-snapshot.json` while the server saw exactly the distinct
//! requests of `requests.log`.
//!
//! Needs `python3`; without it the test is skipped, except under `CI=true` where it fails.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::*;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn update_cache_and_export_against_the_replay_server() {
    let Some(dir) = spacescope_dir() else { return };
    let work = tempfile::tempdir().unwrap();
    let served_log = work.path().join("served.log");
    let spawned = Command::new("python3")
        .arg(dir.join("replay_server.py"))
        .args(["--port", "0", "--quiet", "--token", "Bearer fixture-token", "--log"])
        .arg(&served_log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut server = match spawned {
        Ok(child) => Server(child),
        Err(e) => {
            let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(!in_ci, "python3 is required under CI: {e}");
            eprintln!("SKIPPED: python3 not available: {e}");
            return;
        }
    };
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base_url =
        line.trim().strip_prefix("REPLAY-READY ").unwrap_or_else(|| panic!("unexpected: {line:?}"));

    let data_dir = work.path().join("data");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mechafil-api"))
            .args(args)
            .env("MECHAFIL_DATA_DIR", &data_dir)
            .env("SPACESCOPE_BASE_URL", base_url)
            // Quotes and a missing `Bearer ` are tolerated; the server checks the full header.
            .env("SPACESCOPE_TOKEN", "\"fixture-token\"")
            .env_remove("SPACESCOPE_AUTH_FILE")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let started = std::time::Instant::now();
    let out = run(&[
        "update-cache",
        "--start-date",
        "2022-10-10",
        "--current-date",
        "2025-09-09",
        "--window-days",
        "3650",
    ]);
    eprintln!("update-cache against replay_server.py: {:?}", started.elapsed());
    assert!(out.contains("activated 2025-09-09") && out.contains("source spacescope"), "{out}");
    let exported = work.path().join("export.json");
    run(&["export", exported.to_str().unwrap()]);

    let worst = compare_with_expected(&read_json(&exported), &read_json(&dir.join("expected-snapshot.json")))
        .unwrap();
    eprintln!("worst scaled error: {worst:.3e}");

    let served: Vec<String> = std::fs::read_to_string(&served_log)
        .unwrap()
        .lines()
        .map(|l| {
            // "<time> <client> GET <path?query> auth=yes -> 200 <bytes> <file>"
            let fields: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(fields[5], "->", "{l}");
            assert_eq!(fields[6], "200", "every request was answered: {l}");
            let (path, query) = fields[3].split_once('?').unwrap_or((fields[3], ""));
            request_key(path, &parse_query(query))
        })
        .collect();
    let distinct: BTreeSet<String> = served.iter().cloned().collect();
    assert_eq!(served.len(), distinct.len(), "no request repeated");
    assert_eq!(distinct, recorded_requests(&dir));
}
