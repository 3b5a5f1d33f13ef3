//! The benchmark's data: a generated data directory of a given scale, cached in the work
//! directory and reused while the generator version, seed and shape are the same, and the
//! Defender streaming JSON the ingest case reads.

use miette::{IntoDiagnostic, Result, WrapErr, miette};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use store::{DataDir, GenerateConfig, Output, Progress};

/// Days of telemetry in every dataset: a week, the usual hunting window.
pub const DAYS: u32 = 7;
/// Devices whose first day is written as streaming JSON for the ingest case (at most).
pub const INGEST_DEVICES: usize = 56;
/// The marker of a bench work directory (the dataset's description).
const MANIFEST: &str = "bench-dataset.json";

/// Rows in the main tables, as `--scale` gives them: `1m`, `10m`, `100m`, or any count
/// with an optional `k`/`m` suffix (`250k`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    pub rows: u64,
}

impl Scale {
    pub fn parse(text: &str) -> std::result::Result<Scale, String> {
        let t = text.trim().to_ascii_lowercase();
        let (number, multiplier) = match t.strip_suffix('m') {
            Some(n) => (n, 1_000_000),
            None => match t.strip_suffix('k') {
                Some(n) => (n, 1_000),
                None => (t.as_str(), 1),
            },
        };
        let n: u64 = number
            .parse()
            .map_err(|_| format!("'{text}' is not a scale (expected 1m, 10m, 100m, or a row count such as 250k)"))?;
        let rows = n
            .checked_mul(multiplier)
            .ok_or_else(|| format!("'{text}' is too large"))?;
        if rows < 10_000 {
            return Err(format!("'{text}': a scale must be at least 10k rows"));
        }
        Ok(Scale { rows })
    }

    /// `1m`, `10m`, `250k`: the directory name and how reports name it.
    pub fn label(self) -> String {
        if self.rows.is_multiple_of(1_000_000) {
            format!("{}m", self.rows / 1_000_000)
        } else if self.rows.is_multiple_of(1_000) {
            format!("{}k", self.rows / 1_000)
        } else {
            self.rows.to_string()
        }
    }

    /// Devices generating about `rows` over [`DAYS`] days at the generator's volume.
    pub fn devices(self) -> usize {
        let per_device: u64 = store::generate::device::DAILY
            .iter()
            .map(|(_, n)| *n as u64)
            .sum::<u64>()
            * DAYS as u64;
        (self.rows as f64 / per_device as f64).round().max(1.0) as usize
    }
}

/// What was generated, as recorded in the work directory and the report.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Dataset {
    pub generator_version: u32,
    pub seed: u64,
    pub devices: usize,
    pub days: u32,
    pub start: String,
    /// Rows per table.
    pub tables: BTreeMap<String, u64>,
    pub rows: u64,
    /// Bytes of Parquet.
    pub bytes: u64,
    /// Generation time when this run generated the data (`None`: reused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_in_s: Option<f64>,
    /// Streaming JSON for the ingest case (written when that case first runs): rows, bytes.
    #[serde(default)]
    pub ingest_rows: u64,
    #[serde(default)]
    pub ingest_bytes: u64,
}

impl Dataset {
    fn same_shape(&self, other: &Dataset) -> bool {
        self.generator_version == other.generator_version
            && self.seed == other.seed
            && self.devices == other.devices
            && self.days == other.days
            && self.start == other.start
    }
}

/// The work directory of one scale: `data/` (Parquet), `streaming-json/`, `ingest-out/`.
pub struct Work {
    pub root: PathBuf,
}

impl Work {
    pub fn data(&self) -> PathBuf {
        self.root.join("data")
    }
    pub fn streaming_json(&self) -> PathBuf {
        self.root.join("streaming-json")
    }
    pub fn ingest_out(&self) -> PathBuf {
        self.root.join("ingest-out")
    }
    pub fn spill(&self) -> PathBuf {
        self.root.join("spill")
    }
    fn manifest(&self) -> PathBuf {
        self.root.join(MANIFEST)
    }

    /// Removes a directory the benchmark made; refuses when the work directory is not one
    /// of the benchmark's (no manifest) but holds it, so that a wrong `--work` cannot cost
    /// anyone their files.
    pub fn clear(&self, dir: &Path) -> Result<()> {
        if !dir.exists() {
            return Ok(());
        }
        if !self.manifest().exists() {
            return Err(miette!(
                "{} exists but {} is not a quarry bench work directory (no {MANIFEST}); choose another --work",
                dir.display(),
                self.root.display()
            ));
        }
        std::fs::remove_dir_all(dir)
            .into_diagnostic()
            .wrap_err_with(|| format!("removing {}", dir.display()))
    }
}

fn start_date() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap_or_default()
}

/// The dataset of `scale` in `work`: reused when its manifest matches, else generated.
pub fn prepare(
    work: &Work,
    scale: Scale,
    seed: u64,
    regenerate: bool,
    progress: bool,
    say: &dyn Fn(&str),
) -> Result<Dataset> {
    let wanted = Dataset {
        generator_version: store::generate::GENERATOR_VERSION,
        seed,
        devices: scale.devices(),
        days: DAYS,
        start: start_date().to_string(),
        tables: BTreeMap::new(),
        rows: 0,
        bytes: 0,
        generated_in_s: None,
        ingest_rows: 0,
        ingest_bytes: 0,
    };
    if !regenerate
        && let Some(found) = read_manifest(work)?
        && found.same_shape(&wanted)
        && work.data().join("ingests.json").exists()
    {
        say(&format!(
            "reusing {} rows ({} devices x {} days, generator v{}, seed {}) in {}",
            found.rows,
            found.devices,
            found.days,
            found.generator_version,
            found.seed,
            work.root.display()
        ));
        return Ok(Dataset {
            generated_in_s: None,
            ..found
        });
    }
    std::fs::create_dir_all(&work.root)
        .into_diagnostic()
        .wrap_err_with(|| format!("creating {}", work.root.display()))?;
    let holds_data = work.data().exists() || work.streaming_json().exists();
    if holds_data && !work.manifest().exists() {
        return Err(miette!(
            "{} holds data but is not a quarry bench work directory (no {MANIFEST}); choose another --work",
            work.root.display()
        ));
    }
    work.clear(&work.data())?;
    work.clear(&work.streaming_json())?;
    // The manifest is written last: an interrupted generation is redone next time.
    let _ = std::fs::remove_file(work.manifest());
    // Mark the directory as ours before writing into it, so that it can be cleared later.
    write_manifest(work, &wanted)?;

    say(&format!(
        "generating about {} rows: {} devices x {DAYS} days, seed {seed}, into {}",
        scale.rows,
        wanted.devices,
        work.data().display()
    ));
    let t0 = Instant::now();
    let truth = store::generate(&GenerateConfig {
        devices: wanted.devices,
        days: DAYS,
        start: start_date(),
        seed,
        progress: Progress::new(progress),
        ..GenerateConfig::new(Output::DataDir(work.data()))
    })
    .into_diagnostic()
    .wrap_err("generating the benchmark data")?;
    let secs = t0.elapsed().as_secs_f64();
    let rows = truth.total_rows();
    say(&format!(
        "generated {rows} rows in {secs:.1} s ({:.0} rows/s)",
        rows as f64 / secs.max(1e-9)
    ));

    let dataset = Dataset {
        tables: truth.rows.clone(),
        rows,
        bytes: dir_bytes(&work.data().join("tables")),
        generated_in_s: Some(secs),
        ..wanted
    };
    write_manifest(work, &dataset)?;
    Ok(dataset)
}

/// Writes the Defender streaming JSON of the ingest case (the first day of at most
/// [`INGEST_DEVICES`] devices, same seed) unless the work directory has it already.
pub fn ensure_streaming_json(work: &Work, dataset: &mut Dataset, say: &dyn Fn(&str)) -> Result<()> {
    if dataset.ingest_rows > 0 && work.streaming_json().exists() {
        return Ok(());
    }
    work.clear(&work.streaming_json())?;
    let devices = dataset.devices.min(INGEST_DEVICES);
    say(&format!(
        "writing Defender streaming JSON (first day of {devices} devices) for the ingest case"
    ));
    let json = store::generate(&GenerateConfig {
        devices,
        days: 1,
        start: start_date(),
        seed: dataset.seed,
        ..GenerateConfig::new(Output::StreamingJson {
            dir: work.streaming_json(),
            gzip: false,
        })
    })
    .into_diagnostic()
    .wrap_err("writing the streaming JSON")?;
    // The ground truth is not telemetry: ingest must not see it.
    if let Some(p) = &json.path {
        std::fs::remove_file(p)
            .into_diagnostic()
            .wrap_err_with(|| format!("removing {}", p.display()))?;
    }
    dataset.ingest_rows = json.total_rows();
    dataset.ingest_bytes = dir_bytes(&work.streaming_json());
    write_manifest(work, dataset)
}

fn read_manifest(work: &Work) -> Result<Option<Dataset>> {
    match std::fs::read_to_string(work.manifest()) {
        Ok(text) => Ok(serde_json::from_str(&text).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e)
            .into_diagnostic()
            .wrap_err_with(|| format!("reading {}", work.manifest().display())),
    }
}

fn write_manifest(work: &Work, d: &Dataset) -> Result<()> {
    let text = serde_json::to_string_pretty(&Dataset {
        generated_in_s: None,
        ..d.clone()
    })
    .into_diagnostic()?;
    std::fs::write(work.manifest(), text)
        .into_diagnostic()
        .wrap_err_with(|| format!("writing {}", work.manifest().display()))
}

/// Bytes of the files under `p` (0 when it does not exist).
pub fn dir_bytes(p: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(p) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Reads every file under `p` once, so that a case does not pay for a cold page cache
/// (before every case of a warm benchmark).
pub fn warm(p: &Path) {
    let Ok(entries) = std::fs::read_dir(p) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            warm(&path);
        } else if let Ok(mut f) = std::fs::File::open(&path) {
            let _ = std::io::copy(&mut f, &mut std::io::sink());
        }
    }
}

/// The data directory of the dataset.
pub fn data_dir(work: &Work) -> DataDir {
    DataDir::open(work.data())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales() {
        assert_eq!(Scale::parse("1m"), Ok(Scale { rows: 1_000_000 }));
        assert_eq!(Scale::parse("10M"), Ok(Scale { rows: 10_000_000 }));
        assert_eq!(Scale::parse("100m"), Ok(Scale { rows: 100_000_000 }));
        assert_eq!(Scale::parse("250k"), Ok(Scale { rows: 250_000 }));
        assert_eq!(Scale::parse("20000"), Ok(Scale { rows: 20_000 }));
        for bad in ["", "m", "1g", "-1m", "1.5m", "5k", "99999999999999999999m"] {
            assert!(Scale::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Scale { rows: 1_000_000 }.label(), "1m");
        assert_eq!(Scale { rows: 250_000 }.label(), "250k");
        assert_eq!(Scale { rows: 20_001 }.label(), "20001");
    }

    #[test]
    fn devices_for_a_scale() {
        // 8,834 events per device-day at volume 1, seven days.
        assert_eq!(Scale { rows: 1_000_000 }.devices(), 16);
        assert_eq!(Scale { rows: 10_000_000 }.devices(), 162);
        assert_eq!(Scale { rows: 100_000_000 }.devices(), 1617);
        assert_eq!(Scale { rows: 10_000 }.devices(), 1);
    }

    #[test]
    fn a_foreign_directory_is_never_cleared() {
        let tmp = tempfile::tempdir().expect("tmp");
        let work = Work {
            root: tmp.path().to_path_buf(),
        };
        std::fs::create_dir_all(work.data()).expect("dir");
        std::fs::write(work.data().join("precious"), "x").expect("file");
        let err = work.clear(&work.data()).expect_err("refused");
        assert!(format!("{err}").contains("not a quarry bench work directory"), "{err}");
        assert!(work.data().join("precious").exists());
        let err = prepare(&work, Scale { rows: 10_000 }, 1, false, false, &|_| {}).expect_err("refused");
        assert!(format!("{err}").contains("not a quarry bench work directory"), "{err}");
        assert!(work.data().join("precious").exists());
    }
}
