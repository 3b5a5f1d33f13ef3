//! `ingests.json`: the record of every committed ingest (and generation) into a data
//! directory. It is the commit point of an ingest: Parquet parts named after an ingest id
//! that this file does not list are invisible to readers and removed by the next ingest,
//! so an interrupted ingest leaves nothing half-visible.

use crate::error::{IoContext, Result, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

pub const MANIFEST_FILE: &str = "ingests.json";

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(default)]
    pub ingests: Vec<IngestRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestRecord {
    pub id: String,
    /// `ingest` or `generate`.
    pub kind: String,
    pub started: String,
    pub finished: String,
    #[serde(default)]
    pub inputs: Vec<InputRecord>,
    /// Relative path of the quarantine file, when records were quarantined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputRecord {
    pub source: String,
    /// BLAKE3 of the input's bytes as read (before gunzip), hex.
    pub hash: String,
    pub bytes: u64,
    pub format: String,
    #[serde(default)]
    pub tables: BTreeMap<String, Counts>,
}

/// `read = loaded + quarantined`, per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub read: u64,
    pub loaded: u64,
    pub quarantined: u64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.read += other.read;
        self.loaded += other.loaded;
        self.quarantined += other.quarantined;
    }
}

impl Manifest {
    pub fn load(root: &Path) -> Result<Manifest> {
        let path = root.join(MANIFEST_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StoreError::Json { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(e).at(path),
        }
    }

    pub fn save(&self, root: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| StoreError::Invalid(e.to_string()))?;
        write_atomic(&root.join(MANIFEST_FILE), &bytes)
    }

    pub fn committed_ids(&self) -> HashSet<String> {
        self.ingests.iter().map(|i| i.id.clone()).collect()
    }

    /// The committed ingest that already loaded content with this hash.
    pub fn find_hash(&self, hash: &str) -> Option<(&IngestRecord, &InputRecord)> {
        self.ingests
            .iter()
            .flat_map(|i| i.inputs.iter().map(move |inp| (i, inp)))
            .find(|(_, inp)| inp.hash == hash)
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers see the old
/// or the new content, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_name(path);
    std::fs::write(&tmp, bytes).at(&tmp)?;
    std::fs::rename(&tmp, path).at(path)
}

/// A hidden sibling name (readers skip names starting with '.').
pub fn tmp_name(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}
