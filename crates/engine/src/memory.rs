//! The engine's memory budget: how much DataFusion's operators may hold before sorts and
//! aggregations spill to disk, its default (a fraction of the machine's memory), and the
//! byte sizes users write (`512MiB`, `4GB`, `2G`, `50%`).

use std::path::PathBuf;

/// The default memory limit is this fraction of the machine's memory (or of the cgroup's
/// limit when the process runs in a smaller one). DataFusion accounts for the large
/// buffers of sorts, aggregations and joins, not for every allocation (scanned batches in
/// flight, results being collected), so half leaves room for the rest of the process.
pub const DEFAULT_MEMORY_FRACTION: f64 = 0.5;

/// Used when the machine's memory cannot be read (not Linux).
pub const FALLBACK_MEMORY_LIMIT: usize = 4 << 30;

/// How the engine may use memory and disk.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Bytes that sorts, aggregations and joins may hold together; past it they spill to
    /// disk (or fail when they cannot). `None`: [`default_memory_limit`].
    pub memory_limit: Option<usize>,
    /// Directory of spill files; `None`: the system's temporary directory.
    pub spill_dir: Option<PathBuf>,
    /// Whether operators may spill to disk. Off, a query that needs more than the limit
    /// fails (with an error naming the limit) instead of writing temporary files.
    pub spill: bool,
    /// Partitions each scan and operator is split into; 0: one per core.
    pub target_partitions: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            memory_limit: None,
            spill_dir: None,
            spill: true,
            target_partitions: 0,
        }
    }
}

impl EngineConfig {
    /// The configuration with this memory limit (bytes).
    pub fn with_memory_limit(limit: Option<usize>) -> Self {
        EngineConfig {
            memory_limit: limit,
            ..EngineConfig::default()
        }
    }

    /// The limit in effect: the configured one or the default.
    pub fn effective_memory_limit(&self) -> usize {
        self.memory_limit.unwrap_or_else(default_memory_limit)
    }
}

/// The memory of the machine, or of the cgroup (v2) the process runs in when that is
/// smaller, in bytes; `None` when it cannot be read.
pub fn physical_memory() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| meminfo_total(&t));
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    match (total, cgroup) {
        (Some(t), Some(c)) => Some(t.min(c)),
        (t, c) => t.or(c),
    }
}

/// `MemTotal` of /proc/meminfo, in bytes.
fn meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line["MemTotal:".len()..].split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | Some("KB") => n.checked_mul(1024),
        None => Some(n),
        Some(_) => None,
    }
}

/// [`DEFAULT_MEMORY_FRACTION`] of [`physical_memory`], or [`FALLBACK_MEMORY_LIMIT`].
pub fn default_memory_limit() -> usize {
    match physical_memory() {
        Some(m) => (m as f64 * DEFAULT_MEMORY_FRACTION) as usize,
        None => FALLBACK_MEMORY_LIMIT,
    }
}

/// Parses a byte size: a number (decimals allowed) with an optional unit, case-insensitive:
/// `B`; `K`, `M`, `G`, `T` and `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024); `KB`, `MB`,
/// `GB`, `TB` (powers of 1000); or a percentage of the machine's memory (`50%`).
pub fn parse_byte_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit = unit.trim();
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size (expected e.g. 512MiB, 4GB, 2G or 50%)"))?;
    let multiplier: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "%" => {
            if !(value > 0.0 && value <= 100.0) {
                return Err(format!(
                    "'{text}': a percentage of memory must be above 0 and at most 100"
                ));
            }
            let memory = physical_memory().ok_or_else(|| {
                format!("'{text}': the machine's memory cannot be read here; give a size such as 4GiB")
            })?;
            return Ok((memory as f64 * value / 100.0) as usize);
        }
        other => {
            return Err(format!(
                "'{text}': unknown unit '{other}' (use B, K/KiB, M/MiB, G/GiB, T/TiB (powers of 1024), KB, MB, GB, TB (powers of 1000) or %)"
            ));
        }
    };
    let bytes = value * multiplier;
    if !bytes.is_finite() || bytes >= usize::MAX as f64 {
        return Err(format!("'{text}' is too large"));
    }
    if bytes < 1.0 {
        return Err(format!("'{text}': the size must be at least one byte"));
    }
    Ok(bytes as usize)
}

/// A byte count for people: `20.0 MiB`, `3.5 GiB`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_every_unit() {
        assert_eq!(parse_byte_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_byte_size("512mib"), Ok(512 << 20));
        assert_eq!(parse_byte_size("4GB"), Ok(4_000_000_000));
        assert_eq!(parse_byte_size("2G"), Ok(2 << 30));
        assert_eq!(parse_byte_size("2g"), Ok(2 << 30));
        assert_eq!(parse_byte_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_byte_size("20 MB"), Ok(20_000_000));
        assert_eq!(parse_byte_size("64K"), Ok(65_536));
        assert_eq!(parse_byte_size("1000"), Ok(1000));
        assert_eq!(parse_byte_size("1000b"), Ok(1000));
        assert_eq!(parse_byte_size(" 1TiB "), Ok(1 << 40));
    }

    #[test]
    fn bad_sizes_are_refused_with_the_reason() {
        for (text, says) in [
            ("", "is not a size"),
            ("MiB", "is not a size"),
            ("-1G", "is not a size"),
            ("1.2.3G", "is not a size"),
            ("4 gigs", "unknown unit 'gigs'"),
            ("0", "at least one byte"),
            ("0.1", "at least one byte"),
            ("0%", "above 0 and at most 100"),
            ("150%", "above 0 and at most 100"),
            ("99999999999999999999999T", "too large"),
        ] {
            let err = parse_byte_size(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn percentages_of_the_machine() {
        if let Some(m) = physical_memory() {
            assert_eq!(parse_byte_size("50%"), Ok((m as f64 * 0.5) as usize));
            assert_eq!(default_memory_limit(), (m as f64 * DEFAULT_MEMORY_FRACTION) as usize);
        }
    }

    #[test]
    fn meminfo_is_read_in_bytes() {
        let text = "MemTotal:       24542056 kB\nMemFree:        21234567 kB\n";
        assert_eq!(meminfo_total(text), Some(24_542_056 * 1024));
        assert_eq!(meminfo_total("MemFree: 1 kB\n"), None);
        assert_eq!(meminfo_total("MemTotal: lots\n"), None);
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(20 << 20), "20.0 MiB");
        assert_eq!(format_bytes(3 << 29), "1.5 GiB");
    }
}
