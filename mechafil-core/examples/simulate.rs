//! Run one MechaFil simulation from the command line and print every series as JSON.
//!
//! ```text
//! cargo run --release -p mechafil-core --example simulate -- \
//!     --snapshot ../shared/fixtures/reference-snapshot-2025-09-09.json --start-date 2022-10-10 \
//!     --params params.json [--repeat 1000]
//! ```
//!
//! `--snapshot` is a file in the reference service's layout (`smoothed_metrics`,
//! `historical_arrays`, `offline_data`); `--start-date` is its first history day (optional when
//! the file carries `start_date`). `params.json` holds the keys of `SimParams`
//! (`forecast_length_days`, `sector_duration_days`, `lock_target`, `rbp`, `rr`, `fpr`,
//! `fil_plus_m`, `qa_renew_relative_multiplier`, `burn_boost`, `use_available_supply`, and
//! optionally `baseline_function_eib`), `null` meaning the default, plus an optional
//! `locked_reward_zero` that overrides the snapshot's. Output: one JSON object
//! `{series name: [numbers]}` with all 44 series, NaN/inf as `null`. With `--repeat N` the
//! simulation runs N times and the mean wall time per run goes to stderr.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::Parser;
use mechafil_core::{ReferenceSnapshot, SimOutput, SimParams, Simulator};

#[derive(Parser)]
#[command(about = "Run one MechaFil simulation and print all 44 series as JSON")]
struct Args {
    /// Snapshot in the reference service's JSON layout.
    #[arg(long)]
    snapshot: PathBuf,
    /// First history day of the snapshot (YYYY-MM-DD).
    #[arg(long)]
    start_date: Option<NaiveDate>,
    /// Parameters as JSON (`SimParams` keys, plus optional `locked_reward_zero`).
    #[arg(long)]
    params: PathBuf,
    /// Run the simulation this many times and report the mean time per run on stderr.
    #[arg(long, default_value_t = 1)]
    repeat: u32,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let text = std::fs::read_to_string(&args.snapshot)
        .with_context(|| format!("reading {}", args.snapshot.display()))?;
    let reference: ReferenceSnapshot = serde_json::from_str(&text)
        .with_context(|| format!("parsing {} as a reference snapshot", args.snapshot.display()))?;
    let mut snapshot = reference.to_snapshot(args.start_date).context("converting the snapshot")?;

    let text = std::fs::read_to_string(&args.params)
        .with_context(|| format!("reading {}", args.params.display()))?;
    let mut raw: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
        .with_context(|| format!("parsing {} as a JSON object", args.params.display()))?;
    if let Some(value) = raw.remove("locked_reward_zero").filter(|v| !v.is_null()) {
        let value = value.as_f64().context("locked_reward_zero must be a number or null")?;
        snapshot.locked_reward_zero = Some(value);
    }
    let params: SimParams = serde_json::from_value(serde_json::Value::Object(raw))
        .with_context(|| format!("reading parameters from {}", args.params.display()))?;

    let sim = Simulator::new(snapshot).context("invalid snapshot")?;
    let valid = sim.validate(&params)?;
    let mut out = SimOutput::default();
    let started = Instant::now();
    for _ in 0..args.repeat {
        sim.simulate_into(&valid, &mut out);
    }
    let elapsed = started.elapsed();
    if args.repeat > 1 {
        eprintln!(
            "mean wall time per run: {:.1} µs over {} runs (F = {} days)",
            elapsed.as_secs_f64() * 1e6 / f64::from(args.repeat),
            args.repeat,
            valid.forecast_length_days()
        );
    }
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    write_json(&mut w, &out)?;
    w.flush()?;
    Ok(())
}

/// Writes `{name: [values]}` for every series, NaN/inf as `null`.
fn write_json(w: &mut impl Write, out: &SimOutput) -> Result<()> {
    w.write_all(b"{")?;
    for (i, (name, values)) in out.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(w, "\"{name}\":[")?;
        for (j, v) in values.iter().enumerate() {
            if j > 0 {
                w.write_all(b",")?;
            }
            if v.is_finite() {
                serde_json::to_writer(&mut *w, v)?;
            } else {
                w.write_all(b"null")?;
            }
        }
        w.write_all(b"]")?;
    }
    w.write_all(b"}\n")?;
    Ok(())
}
