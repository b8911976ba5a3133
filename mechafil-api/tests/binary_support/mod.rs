//! The `mechafil-api` binary started as users run it, for the tests that need a process of its
//! own (signals, restarts, crashes, memory): `serve` on a free loopback port.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_mechafil-api");

/// `mechafil-api serve` on a free loopback port, its log (stderr) in a file.
pub struct Binary {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    log: PathBuf,
}

impl Binary {
    /// Starts the binary on `data_dir` with `env` on top of a clean environment (no tokens).
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Binary {
        let log = data_dir.with_extension("log");
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--host", "127.0.0.1", "--port", "0"])
            .env("MECHAFIL_DATA_DIR", data_dir)
            .env_remove("SPACESCOPE_TOKEN")
            .env_remove("SPACESCOPE_AUTH_FILE")
            .env_remove("ADMIN_TOKEN")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start mechafil-api");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let Some(base) = line.split_whitespace().find(|w| w.starts_with("http://")) else {
            let _ = child.wait();
            panic!("no address in {line:?}; log:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        };
        Binary { base: base.to_string(), child, log }
    }

    /// Runs the binary on `data_dir` expecting it to exit by itself; its status and log.
    pub fn run_to_exit(data_dir: &Path) -> (std::process::ExitStatus, String) {
        let output = Command::new(BIN)
            .args(["serve", "--host", "127.0.0.1", "--port", "0"])
            .env("MECHAFIL_DATA_DIR", data_dir)
            .env_remove("SPACESCOPE_TOKEN")
            .env_remove("SPACESCOPE_AUTH_FILE")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .output()
            .unwrap();
        (output.status, String::from_utf8_lossy(&output.stderr).into_owned())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = reqwest::Client::new().post(format!("{}{path}", self.base)).json(body).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit within 20 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
