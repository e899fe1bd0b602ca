//! What the benches share: percentiles, units and the process's peak RSS.
#![allow(dead_code, reason = "each bench uses its own part")]

use std::time::Duration;

/// The `percentile` (1-100) of `times`, nearest rank.
pub fn percentile(times: &mut [Duration], percentile: usize) -> Duration {
    times.sort_unstable();
    let index = (times.len() * percentile)
        .div_ceil(100)
        .clamp(1, times.len())
        - 1;
    times[index]
}

pub fn median(times: &mut [Duration]) -> Duration {
    percentile(times, 50)
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[expect(clippy::cast_precision_loss, reason = "sizes far below 2^52 bytes")]
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A multi-threaded tokio runtime, as the console and the local core run on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The bytes of the files in a folder (a state file and its log segments).
pub fn folder_bytes(folder: &std::path::Path) -> u64 {
    std::fs::read_dir(folder)
        .expect("folder")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// VmHWM from /proc/self/status: the most resident memory the process has had, in MiB.
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// VmRSS from /proc/self/status: the resident memory now, in MiB.
pub fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    mib(kib * 1024)
}

/// Resets VmHWM (Linux: writing 5 to clear_refs), so the peak of a later phase stands alone.
pub fn reset_peak_rss() {
    if let Err(error) = std::fs::write("/proc/self/clear_refs", "5") {
        println!("(cannot reset the peak RSS: {error}; figures include earlier phases)");
    }
}
