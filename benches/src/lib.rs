//! Benchmarks and load tools for MechaFil-rs. See `benches/README.md`. What the load tools
//! share: percentiles of latencies, and a process' memory and threads from `/proc`.

use std::time::Duration;

use anyhow::{Context, Result};

/// The `p` quantile (0..=1) of `sorted` by nearest rank; zero when there are no samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A field of `/proc/<pid>/status` (Linux only), the number after its name: `VmRSS:` and
/// `VmHWM:` in KiB, `Threads:` a count.
pub fn proc_status(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status (Linux only)"))?;
    let line = status.lines().find(|l| l.starts_with(field)).with_context(|| format!("no {field}"))?;
    Ok(line.split_whitespace().nth(1).with_context(|| format!("no {field} value"))?.parse()?)
}

/// A `/proc/<pid>/status` memory field (`VmRSS:`, `VmHWM:`) in MiB.
pub fn proc_status_mib(pid: u32, field: &str) -> Result<f64> {
    Ok(proc_status(pid, field)? as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let ms = |v: u64| Duration::from_millis(v);
        let sorted: Vec<_> = (1..=101).map(ms).collect();
        assert_eq!(percentile(&sorted, 0.5), ms(51));
        assert_eq!(percentile(&sorted, 0.99), ms(100));
        assert_eq!(percentile(&sorted, 1.0), ms(101));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn this_process_has_memory_and_threads() {
        let pid = std::process::id();
        assert!(proc_status(pid, "Threads:").unwrap() >= 1);
        assert!(proc_status_mib(pid, "VmHWM:").unwrap() > 0.0);
        assert!(proc_status(pid, "NoSuchField:").is_err());
    }
}
