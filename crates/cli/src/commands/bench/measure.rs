//! Measuring one case: wall time, bytes the data-directory scans fetched, bytes the
//! process read from the disk (Linux: `read_bytes` of /proc/self/io, which the page cache
//! does not count), and the peak resident memory of the process (Linux: the high-water
//! mark is reset by writing 5 to /proc/self/clear_refs, then read as `VmHWM` from
//! /proc/self/status).

use std::time::Instant;

/// What a piece of work took.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Measured {
    pub wall_s: f64,
    pub bytes_scanned: u64,
    /// `None` where the peak cannot be reset or read.
    pub peak_rss_bytes: Option<u64>,
    /// Bytes read from the storage device (not from the page cache); `None` where the
    /// system does not say.
    pub disk_read_bytes: Option<u64>,
}

/// Runs `work`, measuring it.
pub fn measure<T>(work: impl FnOnce() -> T) -> (T, Measured) {
    let reset = reset_peak_rss();
    let scanned = store::scan_totals();
    let disk = store::disk_reads();
    let t0 = Instant::now();
    let out = work();
    let wall_s = t0.elapsed().as_secs_f64();
    let bytes_scanned = store::scan_totals().since(scanned).bytes;
    let disk_read_bytes = disk.zip(store::disk_reads()).map(|(a, b)| b.saturating_sub(a));
    let peak_rss_bytes = if reset { peak_rss() } else { None };
    (
        out,
        Measured {
            wall_s,
            bytes_scanned,
            peak_rss_bytes,
            disk_read_bytes,
        },
    )
}

/// Resets the process's peak resident set size to its current size.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// `VmHWM` of /proc/self/status, in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm(&status)
}

fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut parts = line["VmHWM:".len()..].split_whitespace();
    let kb: u64 = parts.next()?.parse().ok()?;
    (parts.next() == Some("kB")).then(|| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let status = "Name:\tquarry\nVmPeak:\t 1000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(vm_hwm(status), Some(204_800 * 1024));
        assert_eq!(vm_hwm("VmRSS: 1 kB\n"), None);
        assert_eq!(vm_hwm("VmHWM: many\n"), None);
    }

    #[test]
    fn the_peak_follows_the_work() {
        // Touch 64 MiB: the high-water mark must see it.
        let (_, big) = measure(|| {
            let v = vec![1u8; 64 << 20];
            std::hint::black_box(v.iter().map(|b| *b as u64).sum::<u64>())
        });
        assert!(big.wall_s >= 0.0);
        if let Some(b) = big.peak_rss_bytes {
            assert!(b >= 64 << 20, "peak {b}");
        }
    }
}
