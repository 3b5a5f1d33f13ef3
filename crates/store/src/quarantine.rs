//! Records that could not be loaded, kept with where they came from and why, one JSON object
//! per line in `quarantine/<ingest id>.jsonl`. Huge records are kept as a bounded excerpt
//! plus their length and byte offset, so the source can still be located.

use crate::error::{IoContext, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// At most this much of a record's text is copied into the quarantine file.
pub const MAX_EXCERPT: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineEntry {
    pub source: String,
    /// 1-based line where the record starts (for CSV, the record's line).
    pub line: u64,
    /// Byte offset of the record in the (decompressed) input.
    pub offset: u64,
    /// The table the record was meant for, or "" when that could not be told.
    pub table: String,
    pub reason: String,
    /// The record's text, or its first [`MAX_EXCERPT`] bytes.
    pub raw: String,
    pub raw_bytes: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl QuarantineEntry {
    pub fn new(source: &str, line: u64, offset: u64, table: &str, reason: String, raw: &[u8]) -> Self {
        let truncated = raw.len() > MAX_EXCERPT;
        let mut end = raw.len().min(MAX_EXCERPT);
        // Cut on a character boundary when the text is UTF-8.
        while end > 0 && end < raw.len() && (raw[end] & 0xC0) == 0x80 {
            end -= 1;
        }
        QuarantineEntry {
            source: source.to_string(),
            line,
            offset,
            table: table.to_string(),
            reason,
            raw: String::from_utf8_lossy(&raw[..end]).into_owned(),
            raw_bytes: raw.len() as u64,
            truncated,
        }
    }
}

/// Appends entries to a staged quarantine file, created on the first entry.
pub struct QuarantineWriter {
    path: PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
    pub count: u64,
}

impl QuarantineWriter {
    pub fn new(path: PathBuf) -> Self {
        QuarantineWriter {
            path,
            out: None,
            count: 0,
        }
    }

    pub fn write(&mut self, entry: &QuarantineEntry) -> Result<()> {
        if self.out.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir).at(dir)?;
            }
            let f = std::fs::File::create(&self.path).at(&self.path)?;
            self.out = Some(std::io::BufWriter::new(f));
        }
        if let Some(out) = self.out.as_mut() {
            let line = serde_json::to_string(entry).unwrap_or_default();
            writeln!(out, "{line}").at(&self.path)?;
        }
        self.count += 1;
        Ok(())
    }

    /// Flushes and returns the file's path when anything was written.
    pub fn finish(mut self) -> Result<Option<PathBuf>> {
        match self.out.take() {
            Some(mut out) => {
                out.flush().at(&self.path)?;
                out.get_ref().sync_all().at(&self.path)?;
                Ok(Some(self.path))
            }
            None => Ok(None),
        }
    }
}

/// Reads a quarantine file back (for tests and tools).
pub fn read_quarantine(path: &Path) -> Result<Vec<QuarantineEntry>> {
    let text = std::fs::read_to_string(path).at(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|source| crate::StoreError::Json {
                path: path.to_path_buf(),
                source,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_records_keep_a_bounded_excerpt() {
        let raw = "é".repeat(MAX_EXCERPT); // 2 bytes per char
        let e = QuarantineEntry::new("f", 3, 10, "T", "bad".into(), raw.as_bytes());
        assert!(e.truncated);
        assert_eq!(e.raw_bytes, 2 * MAX_EXCERPT as u64);
        assert!(e.raw.len() <= MAX_EXCERPT);
        assert!(e.raw.chars().all(|c| c == 'é'));
    }
}
