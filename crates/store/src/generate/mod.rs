//! `quarry generate`: realistic, deterministic Defender XDR telemetry for N devices over D
//! days, with RMM tools planted on some devices, benign look-alikes on others, and a ground
//! truth of what was planted (see docs/store.md for its format).
//!
//! Work is split into (day, block of devices) units that run in parallel; every device-day
//! draws from its own RNG seeded by (seed, device, day), so the output does not depend on
//! the number of threads. Units write Parquet parts straight into the data directory
//! (committed like an ingest) or Defender streaming JSON / CSV files.

pub mod catalog;
pub mod device;
mod emit;
mod events;
mod process;
pub mod rmm;
pub mod sink;
mod unit;

use crate::datadir::DataDir;
use crate::error::{IoContext, Result, StoreError};
use crate::manifest::{Counts, IngestRecord, InputRecord};
use crate::progress::Progress;
use crate::writer::PartWriter;
use chrono::NaiveDate;
use device::{DAILY, Device, Plant, PlantedEvent};
use emit::{Layout, SizeHints};
use process::Image;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rmm::{Signal, ToolProfile};
use schema::values::{NANOS_PER_DAY, format_datetime};
use schema::{Catalog, TableSchema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use unit::{Parts, Unit, UnitResult, run_unit};

pub use rmm::kusto_has;

/// At most this many devices are generated together by one unit of work (blocks are
/// balanced: 100 devices make two blocks of 50, so that two threads finish together).
const DEVICE_BLOCK: usize = 64;

/// Where generated telemetry goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Parquet parts in a data directory (committed like an ingest).
    DataDir(PathBuf),
    /// Defender streaming API JSON lines, `<dir>/<Table>/<YYYY-MM-DD>-<block>.json[.gz]`.
    StreamingJson { dir: PathBuf, gzip: bool },
    /// Advanced hunting CSV exports, `<dir>/<Table>_<YYYY-MM-DD>-<block>.csv`.
    Csv(PathBuf),
}

#[derive(Clone, Debug)]
pub struct GenerateConfig {
    pub devices: usize,
    pub days: u32,
    /// First day (UTC).
    pub start: NaiveDate,
    pub seed: u64,
    /// Fraction of devices with a planted RMM tool.
    pub rmm_fraction: f64,
    /// Fraction of devices with a benign look-alike of an RMM tool.
    pub lookalike_fraction: f64,
    /// Tools to plant (names as in `rmm_indicators.json`); `None`: all.
    pub tools: Option<Vec<String>>,
    /// Multiplies the per-device daily volumes (1.0 ≈ 8,800 events per device-day).
    pub volume: f64,
    pub output: Output,
    /// Worker threads (0: one per core).
    pub threads: usize,
    pub progress: Progress,
}

impl GenerateConfig {
    pub fn new(output: Output) -> Self {
        GenerateConfig {
            devices: 20,
            days: 7,
            start: NaiveDate::from_ymd_opt(2024, 5, 1).unwrap_or_default(),
            seed: 1,
            rmm_fraction: 0.1,
            lookalike_fraction: 0.05,
            tools: None,
            volume: 1.0,
            output,
            threads: 0,
            progress: Progress::hidden(),
        }
    }

    /// The end of the generated range (exclusive), nanoseconds.
    pub fn end_nanos(&self) -> i64 {
        day_start(self.start) + self.days as i64 * NANOS_PER_DAY
    }
}

fn day_start(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_utc().timestamp_nanos_opt())
        .unwrap_or_default()
}

/// One planted (device, tool, signal): what a hunting rule for that tool and signal must
/// find (or, for a look-alike, must not find).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planted {
    pub device_id: String,
    pub device_name: String,
    pub tool: String,
    pub signal: Signal,
    /// A benign look-alike: a correct rule must NOT match it.
    pub lookalike: bool,
    /// The table the signal is in.
    pub table: String,
    pub first_seen: String,
    pub last_seen: String,
    pub count: u64,
    /// Days (YYYY-MM-DD) with activity.
    pub days: Vec<String>,
    /// The values planted.
    pub signer: String,
    pub company: String,
    pub product: String,
    pub file_name: String,
    pub folder_path: String,
    pub sha1: String,
    pub remote_url: String,
    pub report_ids: Vec<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct GroundTruth {
    pub planted: Vec<Planted>,
    pub rows: BTreeMap<String, u64>,
    /// Where the ground truth was written.
    pub path: Option<PathBuf>,
    pub files_written: usize,
    pub bytes_written: u64,
}

impl GroundTruth {
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }

    pub fn write_jsonl(&self, path: &Path) -> Result<()> {
        let mut out = String::new();
        for p in &self.planted {
            out.push_str(&serde_json::to_string(p).unwrap_or_default());
            out.push('\n');
        }
        crate::manifest::write_atomic(path, out.as_bytes())
    }

    pub fn read_jsonl(path: &Path) -> Result<Vec<Planted>> {
        let text = std::fs::read_to_string(path).at(path)?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|source| StoreError::Json {
                    path: path.to_path_buf(),
                    source,
                })
            })
            .collect()
    }
}

/// Changes whenever the generated data for a given configuration and seed changes (its rows
/// or its layout in parts), so that caches of generated data (`quarry bench`'s) know when
/// they are stale. 2: the small tables' batches are gathered per day and thread. 3: columns
/// whose values repeat within a row group (device ids and names) keep their dictionary,
/// and partition directories record their parts' stats (`_parts.json`). 4: the time column
/// is written uncompressed. 5: columns without a dictionary are written in pages of 16 KiB.
/// 6: row groups of 128 Ki rows.
pub const GENERATOR_VERSION: u32 = 6;

pub const GROUND_TRUTH_FILE: &str = "ground-truth.jsonl";
pub const TABLES: [&str; 8] = [
    DAILY[0].0, DAILY[1].0, DAILY[2].0, DAILY[3].0, DAILY[4].0, DAILY[5].0, DAILY[6].0, DAILY[7].0,
];

/// Decides which devices get which tool or look-alike.
fn plan(cfg: &GenerateConfig) -> Result<Vec<Vec<Plant>>> {
    let mut profiles = rmm::profiles();
    if let Some(names) = &cfg.tools {
        for n in names {
            if !profiles.iter().any(|p| p.tool.eq_ignore_ascii_case(n)) {
                return Err(StoreError::Invalid(format!(
                    "unknown RMM tool '{n}' (see data/rmm_indicators.json for the {} known tools)",
                    profiles.len()
                )));
            }
        }
        profiles.retain(|p| names.iter().any(|n| p.tool.eq_ignore_ascii_case(n)));
    }
    let mut plants = vec![Vec::new(); cfg.devices];
    if profiles.is_empty() || cfg.devices == 0 || cfg.days == 0 {
        return Ok(plants);
    }
    let count = |f: f64| -> usize {
        if f <= 0.0 {
            0
        } else {
            ((cfg.devices as f64 * f).round() as usize).clamp(1, cfg.devices)
        }
    };
    let n_rmm = count(cfg.rmm_fraction);
    let n_look = count(cfg.lookalike_fraction).min(cfg.devices - n_rmm);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x9E37_79B9_7F4A_7C15);
    let mut order: Vec<usize> = (0..cfg.devices).collect();
    order.shuffle(&mut rng);
    use rand::Rng;
    for (k, &d) in order.iter().take(n_rmm + n_look).enumerate() {
        let lookalike = k >= n_rmm;
        // Cycle through the tools so that every tool is planted when there are enough devices.
        let i = if lookalike { k - n_rmm } else { k };
        let base: &ToolProfile = &profiles[i % profiles.len()];
        let profile = if lookalike { base.lookalike() } else { base.clone() };
        plants[d].push(Plant {
            image: Image::of_tool(&profile),
            profile,
            lookalike,
            install_day: rng.random_range(0..cfg.days),
            activity_seed: cfg.seed.wrapping_mul(31).wrapping_add(d as u64),
        });
    }
    Ok(plants)
}

/// Generates telemetry as configured and returns the ground truth (also written next to
/// the output: `<data dir>/ground-truth.jsonl` or `<dir>/ground-truth.jsonl`).
pub fn generate(cfg: &GenerateConfig) -> Result<GroundTruth> {
    let catalog = Catalog::builtin();
    let schemas: Vec<Arc<TableSchema>> = TABLES
        .iter()
        .map(|t| {
            catalog
                .get(t)
                .cloned()
                .ok_or_else(|| StoreError::Invalid(format!("built-in table {t} is missing")))
        })
        .collect::<Result<_>>()?;
    let plants = plan(cfg)?;
    let devices: Vec<Device> = (0..cfg.devices)
        .map(|i| {
            let mut rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, i as u64, u64::MAX));
            Device::new(i, cfg.seed, &mut rng)
        })
        .collect();
    let layout = Layout::new(&schemas);
    let blocks = cfg.devices.div_ceil(DEVICE_BLOCK);
    let block_size = cfg.devices.div_ceil(blocks.max(1));
    let units: Vec<(u32, usize)> = (0..cfg.days).flat_map(|d| (0..blocks).map(move |b| (d, b))).collect();
    let expected_rows: f64 = DAILY.iter().map(|(_, n)| *n as f64).sum::<f64>() * cfg.volume;
    cfg.progress
        .set_total((expected_rows * cfg.devices as f64 * cfg.days as f64) as u64);

    let (dir, staging, id) = match &cfg.output {
        Output::DataDir(root) => {
            let dir = DataDir::create(root)?;
            (Some(dir), Some(root.join("_staging")), crate::ingest::new_ingest_id())
        }
        Output::StreamingJson { dir, .. } | Output::Csv(dir) => {
            std::fs::create_dir_all(dir).at(dir)?;
            (None, None, String::new())
        }
    };
    let _lock = match &dir {
        Some(d) => {
            let l = crate::ingest::lock(d)?;
            crate::ingest::clean_interrupted(d)?;
            Some(l)
        }
        None => None,
    };
    let staging = staging.map(|s| s.join(&id));
    let threads = if cfg.threads == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
    } else {
        cfg.threads
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<UnitResult>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<StoreError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for w in 0..threads {
            let (next, results, failure, units, devices, plants, schemas, layout) =
                (&next, &results, &failure, &units, &devices, &plants, &schemas, &layout);
            let dir = dir.clone();
            let staging = staging.clone();
            let id = id.clone();
            s.spawn(move || {
                let mut parts = match (&dir, &staging) {
                    (Some(d), Some(st)) => Some(Parts::new(PartWriter::starting_at(d, &id, st.clone(), w * 1_000_000))),
                    _ => None,
                };
                let mut hints = SizeHints::default();
                loop {
                    if failure.lock().unwrap_or_else(PoisonError::into_inner).is_some() {
                        return;
                    }
                    let u = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(day, block)) = units.get(u) else { break };
                    let unit = Unit {
                        day,
                        block,
                        block_size,
                        devices,
                        plants,
                        schemas,
                        layout,
                    };
                    match run_unit(cfg, &unit, parts.as_mut(), &mut hints) {
                        Ok(r) => results.lock().unwrap_or_else(PoisonError::into_inner).push(r),
                        Err(e) => {
                            *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                            return;
                        }
                    }
                }
                if let Some(p) = parts {
                    match p.finish(schemas) {
                        Ok(w) => results.lock().unwrap_or_else(PoisonError::into_inner).push(UnitResult {
                            staged: w.staged,
                            bytes: w.bytes_written,
                            ..UnitResult::default()
                        }),
                        Err(e) => *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e),
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
        return Err(e);
    }
    cfg.progress.finish();
    let results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    let mut truth = GroundTruth::default();
    let mut events = Vec::new();
    let mut staged = Vec::new();
    for r in results {
        for (t, n) in r.rows {
            *truth.rows.entry(t).or_default() += n;
        }
        events.extend(r.events);
        truth.bytes_written += r.bytes;
        truth.files_written += r.files + r.staged.len();
        staged.extend(r.staged);
    }
    truth.planted = ground_truth(events, &devices, &plants);
    match (&cfg.output, &dir) {
        (Output::DataDir(_), Some(d)) => {
            commit(d, &id, &staged, &schemas, &truth)?;
            if let Some(st) = &staging {
                let _ = std::fs::remove_dir_all(st);
            }
            let path = d.root().join(GROUND_TRUTH_FILE);
            truth.write_jsonl(&path)?;
            truth.path = Some(path);
        }
        (Output::StreamingJson { dir, .. } | Output::Csv(dir), _) => {
            let path = dir.join(GROUND_TRUTH_FILE);
            truth.write_jsonl(&path)?;
            truth.path = Some(path);
        }
        _ => {}
    }
    Ok(truth)
}

fn commit(
    dir: &DataDir,
    id: &str,
    staged: &[crate::part_stats::StagedPart],
    schemas: &[Arc<TableSchema>],
    truth: &GroundTruth,
) -> Result<()> {
    crate::part_stats::place(staged)?;
    for s in schemas {
        // A table that already has data keeps its (possibly grown) stored schema.
        if dir.stored_schema(&s.name)?.is_none() {
            dir.save_schema(s)?;
        }
    }
    let now = chrono::Utc::now().to_rfc3339();
    let tables = truth
        .rows
        .iter()
        .map(|(t, n)| {
            (
                t.clone(),
                Counts {
                    read: *n,
                    loaded: *n,
                    quarantined: 0,
                },
            )
        })
        .collect();
    crate::ingest::commit_record(
        dir,
        IngestRecord {
            id: id.to_string(),
            kind: "generate".into(),
            started: now.clone(),
            finished: now,
            inputs: vec![InputRecord {
                source: "quarry generate".into(),
                hash: format!("generate:{id}"),
                bytes: 0,
                format: "generated".into(),
                tables,
            }],
            quarantine: None,
        },
    )
}

fn mix(seed: u64, a: u64, b: u64) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    h.update(&a.to_le_bytes());
    h.update(&b.to_le_bytes());
    let bytes = h.finalize();
    let mut x = [0u8; 8];
    x.copy_from_slice(&bytes.as_bytes()[..8]);
    u64::from_le_bytes(x)
}

/// Folds planted events into one record per (device, tool, signal, look-alike).
fn ground_truth(events: Vec<PlantedEvent>, devices: &[Device], plants: &[Vec<Plant>]) -> Vec<Planted> {
    let mut groups: BTreeMap<(usize, String, Signal, bool), Vec<PlantedEvent>> = BTreeMap::new();
    for e in events {
        groups
            .entry((e.device, e.tool.clone(), e.signal, e.lookalike))
            .or_default()
            .push(e);
    }
    let mut out = Vec::new();
    for ((d, tool, signal, lookalike), mut evs) in groups {
        evs.sort_by_key(|e| (e.time, e.report_id));
        let Some(plant) = plants[d]
            .iter()
            .find(|p| p.profile.tool == tool && p.lookalike == lookalike)
        else {
            continue;
        };
        let p = &plant.profile;
        let mut days: Vec<String> = evs.iter().map(|e| format_datetime(e.time)[..10].to_string()).collect();
        days.dedup();
        out.push(Planted {
            device_id: devices[d].id.clone(),
            device_name: devices[d].name.clone(),
            tool,
            signal,
            lookalike,
            table: signal.table().to_string(),
            first_seen: evs.first().map(|e| format_datetime(e.time)).unwrap_or_default(),
            last_seen: evs.last().map(|e| format_datetime(e.time)).unwrap_or_default(),
            count: evs.len() as u64,
            days,
            signer: if signal == Signal::FileSignature {
                p.signer.clone()
            } else {
                String::new()
            },
            company: p.company.clone(),
            product: p.product.clone(),
            file_name: p.file_name.clone(),
            folder_path: p.folder.clone(),
            sha1: p.sha1.clone(),
            remote_url: if signal == Signal::NetworkConnection {
                p.domain.clone()
            } else {
                String::new()
            },
            report_ids: evs.iter().map(|e| e.report_id).collect(),
        });
    }
    out
}
