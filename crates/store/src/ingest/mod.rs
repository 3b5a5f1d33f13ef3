//! Ingest of exported telemetry into the data directory (`quarry ingest`).
//!
//! Pipeline: one reader thread expands and reads the inputs (gunzip, format sniffing) and
//! cuts them into chunks; worker threads convert chunks into Arrow batches per table
//! ([`route`], [`builder`]); the calling thread splits batches by day, writes sorted Parquet
//! parts to a staging directory and records quarantined records. The ingest commits by
//! moving the parts into place and appending itself to `ingests.json`; until then readers do
//! not see its parts (see [`crate::manifest`]).

pub mod builder;
pub mod convert;
pub mod dom;
mod read;
pub mod route;
pub mod source;

use crate::datadir::{DataDir, QUARANTINE_DIR, TABLES_DIR, part_ingest_id};
use crate::error::{IoContext, Result, StoreError};
use crate::manifest::{Counts, IngestRecord, InputRecord, Manifest};
use crate::progress::Progress;
use crate::quarantine::{QuarantineEntry, QuarantineWriter};
use crate::writer::{PartWriter, Partitioner};
use builder::SchemaRegistry;
use route::{ChunkOutput, ChunkProcessor, InputContext, Position};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

pub use route::valid_table_name;

/// `--format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Recognise the format from the content.
    #[default]
    Auto,
    /// Defender XDR streaming API JSON (storage account lines or Event Hub messages).
    Defender,
    /// Log Analytics / Sentinel JSON export (the table from `Type`).
    LogAnalytics,
    /// Plain JSON records of the table named by `--table` (or the file name).
    Json,
    /// CSV with a header row (Advanced hunting / Log Analytics exports).
    Csv,
    Parquet,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "auto" => Format::Auto,
            "defender" | "streaming" | "event-hub" | "eventhub" => Format::Defender,
            "log-analytics" | "sentinel" | "la" => Format::LogAnalytics,
            "json" | "jsonl" | "ndjson" => Format::Json,
            "csv" => Format::Csv,
            "parquet" => Format::Parquet,
            other => {
                return Err(format!(
                    "unknown format '{other}' (expected auto, defender, log-analytics, json, csv or parquet)"
                ));
            }
        })
    }
}

#[derive(Clone, Debug)]
pub struct IngestOptions {
    pub format: Format,
    /// The table of every record that does not name its own (`--table`).
    pub table: Option<String>,
    /// Ingest inputs whose content was ingested before.
    pub force: bool,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Records longer than this are quarantined with an excerpt instead of being parsed.
    pub max_record_bytes: usize,
    pub progress: Progress,
    /// Test hook: stop with an error after the parts are in place but before the commit,
    /// as a crash there would.
    #[doc(hidden)]
    pub fail_before_commit: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            format: Format::Auto,
            table: None,
            force: false,
            threads: 0,
            max_record_bytes: 64 * 1024 * 1024,
            progress: Progress::hidden(),
            fail_before_commit: false,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct InputReport {
    /// The path as given (or `-`).
    pub source: String,
    pub format: String,
    pub bytes: u64,
    pub hash: String,
    /// Set when the input was not read because its content was ingested before.
    pub skipped: Option<String>,
    pub tables: BTreeMap<String, Counts>,
}

#[derive(Clone, Debug, Default)]
pub struct IngestReport {
    pub id: String,
    pub inputs: Vec<InputReport>,
    /// The quarantine file of this ingest, when anything was quarantined.
    pub quarantine_file: Option<PathBuf>,
    pub files_written: usize,
    pub rows_written: u64,
    pub bytes_written: u64,
}

impl IngestReport {
    /// Counts per table over all inputs; records whose table could not be told are under "".
    pub fn totals(&self) -> BTreeMap<String, Counts> {
        let mut out: BTreeMap<String, Counts> = BTreeMap::new();
        for i in &self.inputs {
            for (t, c) in &i.tables {
                out.entry(t.clone()).or_default().add(*c);
            }
        }
        out
    }

    pub fn quarantined(&self) -> u64 {
        self.totals().values().map(|c| c.quarantined).sum()
    }
}

/// A new ingest id: sortable by time, unique across processes.
pub fn new_ingest_id() -> String {
    let now = chrono::Utc::now();
    let mut h = blake3::Hasher::new();
    h.update(&std::process::id().to_le_bytes());
    h.update(&now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
    let tag = h.finalize().to_hex();
    format!("{}-{}", now.format("%Y%m%dT%H%M%S%.3fZ"), &tag[..6])
}

/// An exclusive lock on a data directory for the duration of an ingest or generation.
pub struct DirLock {
    _file: std::fs::File,
}

pub fn lock(dir: &DataDir) -> Result<DirLock> {
    std::fs::create_dir_all(dir.root()).at(dir.root())?;
    let path = dir.root().join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .at(&path)?;
    file.lock().at(&path)?;
    Ok(DirLock { _file: file })
}

/// Removes what interrupted ingests left: staging directories and parts of uncommitted
/// ingests. Must be called with the directory locked.
pub fn clean_interrupted(dir: &DataDir) -> Result<()> {
    let staging = dir.root().join("_staging");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).at(&staging)?;
    }
    let committed = dir.manifest()?.committed_ids();
    let tables = dir.root().join(TABLES_DIR);
    let Ok(entries) = std::fs::read_dir(&tables) else {
        return Ok(());
    };
    for t in entries.flatten() {
        let Ok(parts) = std::fs::read_dir(t.path()) else {
            continue;
        };
        for p in parts.flatten() {
            let Ok(files) = std::fs::read_dir(p.path()) else {
                continue;
            };
            for f in files.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                let stale = match part_ingest_id(&name) {
                    Some(id) => !committed.contains(id),
                    None => name.starts_with('.') && name.ends_with(".tmp"),
                };
                if stale {
                    std::fs::remove_file(f.path()).at(f.path())?;
                }
            }
        }
    }
    Ok(())
}

pub(crate) enum Job {
    Lines {
        input: usize,
        ctx: Arc<InputContext>,
        text: Vec<u8>,
        first_line: u64,
        first_offset: u64,
    },
    Document {
        input: usize,
        ctx: Arc<InputContext>,
        text: Vec<u8>,
    },
    Csv {
        input: usize,
        ctx: Arc<InputContext>,
        headers: Arc<Vec<String>>,
        records: Vec<(Position, csv::ByteRecord)>,
    },
    Arrow {
        input: usize,
        ctx: Arc<InputContext>,
        batch: arrow::record_batch::RecordBatch,
        first_row: u64,
    },
    /// Records that were rejected while reading (too long).
    Rejected {
        input: usize,
        entries: Vec<QuarantineEntry>,
    },
}

pub(crate) enum Msg {
    Chunk(usize, ChunkOutput),
    Input(usize, InputReport),
    Failed(StoreError),
}

/// Ingests `args` (paths, directories, globs, `-`) into `dir`.
pub fn ingest(dir: &DataDir, args: &[String], opts: &IngestOptions) -> Result<IngestReport> {
    if let Some(t) = &opts.table
        && !valid_table_name(t)
    {
        return Err(StoreError::Invalid(format!("invalid table name '{t}'")));
    }
    let inputs = source::expand(args)?;
    let dir = DataDir::create(dir.root())?;
    let _lock = lock(&dir)?;
    clean_interrupted(&dir)?;
    let id = new_ingest_id();
    let started = chrono::Utc::now().to_rfc3339();
    let staging = dir.root().join("_staging").join(&id);
    std::fs::create_dir_all(&staging).at(&staging)?;
    let result = run(&dir, &id, &staging, inputs, opts, &started);
    if result.is_err() && !opts.fail_before_commit {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

fn run(
    dir: &DataDir,
    id: &str,
    staging: &Path,
    inputs: Vec<Option<PathBuf>>,
    opts: &IngestOptions,
    started: &str,
) -> Result<IngestReport> {
    let manifest = dir.manifest()?;
    let mut stored = Vec::new();
    for name in dir.table_names()? {
        if let Some(s) = dir.stored_schema(&name)? {
            stored.push(s);
        }
    }
    let registry = SchemaRegistry::new(stored);
    // stdin is spooled to a file first, so it is hashed (and skipped) like any input.
    let mut paths = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        match input {
            Some(p) => paths.push((p.display().to_string(), p.clone())),
            None => {
                let spool = staging.join(format!("stdin-{i}"));
                let mut f = std::fs::File::create(&spool).at(&spool)?;
                std::io::copy(&mut std::io::stdin().lock(), &mut f).at(&spool)?;
                f.flush().at(&spool)?;
                paths.push(("-".to_string(), spool));
            }
        }
    }
    let total_bytes: u64 = paths
        .iter()
        .filter_map(|(_, p)| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = opts.progress.clone();
    progress.set_total(total_bytes);

    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
    } else {
        opts.threads
    };
    let (job_tx, job_rx) = sync_channel::<Job>(threads * 2);
    let (msg_tx, msg_rx) = sync_channel::<Msg>(threads * 2);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let mut reports: Vec<InputReport> = vec![InputReport::default(); paths.len()];
    let mut quarantine = QuarantineWriter::new(staging.join("quarantine.jsonl"));
    let mut writer = PartWriter::new(dir, id, staging.to_path_buf());
    let mut partitioner = Partitioner::new();
    let mut failure: Option<StoreError> = None;

    std::thread::scope(|s| {
        {
            let msg_tx = msg_tx.clone();
            let manifest = &manifest;
            let paths = &paths;
            let progress = progress.clone();
            s.spawn(move || read::read_inputs(paths, manifest, opts, &progress, job_tx, msg_tx));
        }
        for _ in 0..threads {
            let job_rx = job_rx.clone();
            let msg_tx = msg_tx.clone();
            let registry = &registry;
            s.spawn(move || work(&job_rx, &msg_tx, registry));
        }
        drop(msg_tx);
        let schema_of = |t: &str| registry.table(t);
        for msg in msg_rx {
            if failure.is_some() {
                continue; // drain so the other threads finish
            }
            let step = match msg {
                Msg::Input(i, report) => {
                    let counts = std::mem::take(&mut reports[i].tables);
                    reports[i] = report;
                    reports[i].tables = counts;
                    Ok(())
                }
                Msg::Failed(e) => Err(e),
                Msg::Chunk(i, out) => absorb(
                    i,
                    out,
                    &mut reports,
                    &mut quarantine,
                    &mut partitioner,
                    &mut writer,
                    &schema_of,
                    &progress,
                ),
            };
            if let Err(e) = step {
                failure = Some(e);
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    partitioner.finish(&|t: &str| registry.table(t), &mut writer)?;
    let quarantine_staged = quarantine.finish()?;
    progress.finish();

    let mut report = IngestReport {
        id: id.to_string(),
        inputs: reports,
        quarantine_file: None,
        files_written: writer.staged.len(),
        rows_written: writer.rows_written,
        bytes_written: writer.bytes_written,
    };
    let processed: Vec<&InputReport> = report.inputs.iter().filter(|i| i.skipped.is_none()).collect();
    if processed.is_empty() {
        let _ = std::fs::remove_dir_all(staging);
        return Ok(report);
    }

    // Commit: parts into place (still invisible), schemas, quarantine, then the manifest.
    crate::part_stats::place(&writer.staged)?;
    let schemas = registry.snapshot();
    let touched: std::collections::BTreeSet<&String> = processed
        .iter()
        .flat_map(|i| i.tables.iter())
        .filter(|(t, c)| !t.is_empty() && c.loaded > 0)
        .map(|(t, _)| t)
        .collect();
    for t in touched {
        if let Some(s) = schemas.get(t) {
            dir.save_schema(s)?;
        }
    }
    let mut quarantine_rel = None;
    if let Some(q) = quarantine_staged {
        let qdir = dir.root().join(QUARANTINE_DIR);
        std::fs::create_dir_all(&qdir).at(&qdir)?;
        let dest = qdir.join(format!("{id}.jsonl"));
        std::fs::rename(&q, &dest).at(&dest)?;
        quarantine_rel = Some(format!("{QUARANTINE_DIR}/{id}.jsonl"));
        report.quarantine_file = Some(dest);
    }
    if opts.fail_before_commit {
        return Err(StoreError::Invalid("simulated failure before commit".into()));
    }
    let record = IngestRecord {
        id: id.to_string(),
        kind: "ingest".into(),
        started: started.to_string(),
        finished: chrono::Utc::now().to_rfc3339(),
        inputs: report
            .inputs
            .iter()
            .filter(|i| i.skipped.is_none())
            .map(|i| InputRecord {
                source: i.source.clone(),
                hash: i.hash.clone(),
                bytes: i.bytes,
                format: i.format.clone(),
                tables: i.tables.clone(),
            })
            .collect(),
        quarantine: quarantine_rel,
    };
    commit_record(dir, record)?;
    let _ = std::fs::remove_dir_all(staging);
    Ok(report)
}

/// Appends a record to the manifest: the commit point.
pub(crate) fn commit_record(dir: &DataDir, record: IngestRecord) -> Result<()> {
    let mut manifest: Manifest = dir.manifest()?;
    manifest.ingests.push(record);
    manifest.save(dir.root())
}

#[allow(clippy::too_many_arguments)]
fn absorb(
    input: usize,
    out: ChunkOutput,
    reports: &mut [InputReport],
    quarantine: &mut QuarantineWriter,
    partitioner: &mut Partitioner,
    writer: &mut PartWriter,
    schema_of: &dyn Fn(&str) -> schema::TableSchema,
    progress: &Progress,
) -> Result<()> {
    let mut rows = 0;
    for (t, c) in out.counts {
        rows += c.read;
        reports[input].tables.entry(t).or_default().add(c);
    }
    progress.add_rows(rows);
    for e in &out.quarantine {
        quarantine.write(e)?;
    }
    for (table, batch) in out.batches {
        partitioner.push(&table, batch, schema_of, writer)?;
    }
    Ok(())
}

fn work(jobs: &Mutex<Receiver<Job>>, out: &SyncSender<Msg>, registry: &SchemaRegistry) {
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(PoisonError::into_inner);
            rx.recv()
        };
        let Ok(job) = job else { return };
        let (input, output) = match job {
            Job::Lines {
                input,
                ctx,
                text,
                first_line,
                first_offset,
            } => {
                let mut p = ChunkProcessor::new(ctx, registry, false);
                let mut offset = first_offset;
                let mut start = 0;
                let ends = memchr::memchr_iter(b'\n', &text).chain(std::iter::once(text.len()));
                for (line, end) in (first_line..).zip(ends) {
                    let l = &text[start..end];
                    let rec = l.strip_suffix(b"\r").unwrap_or(l);
                    // Records start with '{': only a line starting with blank can be blank.
                    let blank =
                        rec.first().is_none_or(u8::is_ascii_whitespace) && rec.iter().all(u8::is_ascii_whitespace);
                    if !blank {
                        p.json_text(rec, Position { line, offset });
                    }
                    offset += l.len() as u64 + 1;
                    start = end + 1;
                    if start > text.len() {
                        break;
                    }
                }
                (input, p.finish())
            }
            Job::Document { input, ctx, text } => {
                let mut p = ChunkProcessor::new(ctx, registry, false);
                for (start, end, line) in source::split_document(&text) {
                    p.json_text(
                        &text[start..end],
                        Position {
                            line,
                            offset: start as u64,
                        },
                    );
                }
                (input, p.finish())
            }
            Job::Csv {
                input,
                ctx,
                headers,
                records,
            } => {
                let mut p = ChunkProcessor::new(ctx, registry, true);
                for (pos, r) in &records {
                    p.csv_record(&headers, r, *pos);
                }
                (input, p.finish())
            }
            Job::Arrow {
                input,
                ctx,
                batch,
                first_row,
            } => {
                let mut p = ChunkProcessor::new(ctx, registry, false);
                p.arrow_batch(&batch, first_row);
                (input, p.finish())
            }
            Job::Rejected { input, entries } => {
                let mut o = ChunkOutput::default();
                for e in entries {
                    let c = o.counts.entry(e.table.clone()).or_default();
                    c.read += 1;
                    c.quarantined += 1;
                    o.quarantine.push(e);
                }
                (input, o)
            }
        };
        if out.send(Msg::Chunk(input, output)).is_err() {
            return;
        }
    }
}
