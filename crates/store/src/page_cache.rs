//! Advice to the kernel about the pages of the data directory's files
//! (`posix_fadvise`): scans read parts at random and ask for what they will read before
//! they read it; benchmarks drop the data from the page cache. Advice only: on other
//! systems than Linux, or where a file system ignores it, reads are the same.

/// `(start, len)` ranges sorted by start, with those that touch or overlap merged.
pub(crate) fn coalesce(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (start, len) in ranges {
        match out.last_mut() {
            Some((s, l)) if start <= *s + *l => *l = (*l).max(start + len - *s),
            _ => out.push((start, len)),
        }
    }
    out
}

#[derive(Clone, Copy)]
pub(crate) enum Advice {
    /// Reads at random offsets: no read-ahead.
    Random,
    /// Start reading this range now.
    WillNeed,
    /// Drop the range's clean pages from the page cache.
    DontNeed,
}

/// Drops the files under `dir` (every file, in every directory below it) from the page
/// cache, so that the next reads of them go to the disk: benchmarks of data that is not in
/// memory (`quarry bench --cold`). Returns the files dropped. Pages not yet written back
/// stay. Only on Linux; elsewhere an error says so.
pub fn drop_from_page_cache(dir: &std::path::Path) -> std::io::Result<usize> {
    if !cfg!(target_os = "linux") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "dropping files from the page cache (posix_fadvise) is supported on Linux only",
        ));
    }
    let mut files = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files += drop_from_page_cache(&path)?;
        } else {
            advise(&std::fs::File::open(&path)?, 0, 0, Advice::DontNeed);
            files += 1;
        }
    }
    Ok(files)
}

/// What this process (all its threads) has read from the storage device so far, rather
/// than from the page cache: `read_bytes` of /proc/self/io (Linux; `None` elsewhere). The
/// difference around a piece of work tells how cold its data was.
pub fn disk_reads() -> Option<u64> {
    io_read_bytes(&std::fs::read_to_string("/proc/self/io").ok()?)
}

fn io_read_bytes(io: &str) -> Option<u64> {
    io.lines()
        .find_map(|l| l.strip_prefix("read_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

/// `posix_fadvise` of `len` bytes from `start` (0: to the end). Advice only: an error (a
/// file system that ignores it) changes nothing, and other systems get none.
#[cfg(target_os = "linux")]
pub(crate) fn advise(file: &std::fs::File, start: u64, len: u64, advice: Advice) {
    let advice = match advice {
        Advice::Random => rustix::fs::Advice::Random,
        Advice::WillNeed => rustix::fs::Advice::WillNeed,
        Advice::DontNeed => rustix::fs::Advice::DontNeed,
    };
    let _ = rustix::fs::fadvise(file, start, std::num::NonZeroU64::new(len), advice);
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn advise(_file: &std::fs::File, _start: u64, _len: u64, _advice: Advice) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesce_sorts_and_merges_what_touches() {
        assert_eq!(coalesce(vec![]), vec![]);
        assert_eq!(
            coalesce(vec![(100, 10), (0, 10), (10, 5), (105, 20), (200, 0), (300, 1)]),
            vec![(0, 15), (100, 25), (200, 0), (300, 1)]
        );
        // A range inside another.
        assert_eq!(coalesce(vec![(0, 100), (10, 5)]), vec![(0, 100)]);
    }

    #[test]
    fn disk_reads_of_the_process() {
        let io = "rchar: 10\nwchar: 2\nsyscr: 1\nread_bytes: 4096\nwrite_bytes: 0\ncancelled_write_bytes: 0\n";
        assert_eq!(io_read_bytes(io), Some(4096));
        assert_eq!(io_read_bytes("rchar: 10\n"), None);
        assert_eq!(io_read_bytes("read_bytes: x\n"), None);
        if cfg!(target_os = "linux") {
            assert!(disk_reads().is_some());
        }
    }

    #[test]
    fn files_are_dropped_from_the_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("one"), b"1").unwrap();
        std::fs::write(dir.path().join("a/b/two"), b"2").unwrap();
        let dropped = drop_from_page_cache(dir.path());
        if cfg!(target_os = "linux") {
            assert_eq!(dropped.unwrap(), 2);
        } else {
            assert!(dropped.unwrap_err().to_string().contains("Linux"));
        }
        // The files read the same after.
        assert_eq!(std::fs::read(dir.path().join("a/b/two")).unwrap(), b"2");
        assert!(drop_from_page_cache(&dir.path().join("missing")).is_err());
    }
}
