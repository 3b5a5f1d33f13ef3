//! The reader thread of an ingest: hashes each input (skipping content ingested before),
//! recognises its format and cuts it into jobs for the workers.

use super::route::{InputContext, Position, Routing};
use super::source::{self, FileFormat, Line};
use super::{Format, IngestOptions, InputReport, Job, Msg};
use crate::error::{IoContext, Result, StoreError};
use crate::manifest::Manifest;
use crate::progress::Progress;
use crate::quarantine::QuarantineEntry;
use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

pub(crate) fn read_inputs(
    paths: &[(String, PathBuf)],
    manifest: &Manifest,
    opts: &IngestOptions,
    progress: &Progress,
    jobs: SyncSender<Job>,
    msgs: SyncSender<Msg>,
) {
    let mut seen: HashMap<String, String> = HashMap::new();
    for (i, (display, path)) in paths.iter().enumerate() {
        let result = (|| -> Result<InputReport> {
            let (hash, bytes) = source::hash_file(path)?;
            let mut report = InputReport {
                source: display.clone(),
                bytes,
                hash: hash.clone(),
                ..InputReport::default()
            };
            if !opts.force {
                if let Some((prev, _)) = manifest.find_hash(&hash) {
                    report.skipped = Some(format!("already ingested by {} at {}", prev.id, prev.finished));
                    progress.add_bytes(bytes);
                    return Ok(report);
                }
                if let Some(other) = seen.get(&hash) {
                    report.skipped = Some(format!("same content as {other}"));
                    progress.add_bytes(bytes);
                    return Ok(report);
                }
            }
            seen.insert(hash, display.clone());
            report.format = read_one(i, display, path, opts, progress, &jobs)?.name().to_string();
            Ok(report)
        })();
        let msg = match result {
            Ok(r) => Msg::Input(i, r),
            Err(e) => Msg::Failed(e),
        };
        let failed = matches!(msg, Msg::Failed(_));
        if msgs.send(msg).is_err() || failed {
            return;
        }
    }
}

/// Reads one input into jobs; returns the format it was read as.
fn read_one(
    input: usize,
    display: &str,
    path: &Path,
    opts: &IngestOptions,
    progress: &Progress,
    jobs: &SyncSender<Job>,
) -> Result<FileFormat> {
    let counter = progress.clone();
    let (mut reader, is_parquet) = source::open(path, Box::new(move |n| counter.add_bytes(n)))?;
    let default_table = opts
        .table
        .clone()
        .or_else(|| source::table_from_file_name(Path::new(display)).filter(|t| known_table(t)));
    let routing = match opts.format {
        Format::Defender => Routing::Defender,
        Format::LogAnalytics => Routing::LogAnalytics,
        Format::Json => Routing::Plain,
        _ => Routing::Auto,
    };
    let ctx = Arc::new(InputContext {
        source: display.to_string(),
        default_table: default_table.clone(),
        routing,
    });
    let send = |job: Job| jobs.send(job).map_err(|_| StoreError::Invalid("ingest stopped".into()));
    let format = match opts.format {
        Format::Parquet => FileFormat::Parquet,
        _ if is_parquet => FileFormat::Parquet,
        Format::Csv => {
            source::sniff(reader.as_mut(), path)?;
            FileFormat::Csv
        }
        Format::Json | Format::Defender | Format::LogAnalytics => match source::sniff(reader.as_mut(), path)? {
            Some(FileFormat::JsonDocument) => FileFormat::JsonDocument,
            _ => FileFormat::JsonLines,
        },
        Format::Auto => match source::sniff(reader.as_mut(), path)? {
            Some(f) => f,
            None => return Ok(FileFormat::JsonLines), // empty input: nothing to read
        },
    };
    match format {
        FileFormat::JsonLines => {
            let mut line_no: u64 = 1;
            let mut offset: u64 = 0;
            let mut chunk = Vec::with_capacity(source::CHUNK_BYTES + 4096);
            let (mut first_line, mut first_offset) = (1, 0);
            let mut rejected = Vec::new();
            loop {
                let before = chunk.len();
                match source::read_line_bounded(reader.as_mut(), &mut chunk, opts.max_record_bytes, path)? {
                    Line::Eof => break,
                    Line::Complete => {
                        offset += (chunk.len() - before) as u64 + 1;
                        chunk.push(b'\n');
                    }
                    Line::TooLong { len } => {
                        let reason = format!(
                            "record of {len} bytes is longer than the limit of {} bytes",
                            opts.max_record_bytes
                        );
                        let mut entry = QuarantineEntry::new(
                            display,
                            line_no,
                            offset,
                            default_table.as_deref().unwrap_or(""),
                            reason,
                            &chunk[before..],
                        );
                        entry.raw_bytes = len;
                        entry.truncated = true;
                        rejected.push(entry);
                        chunk.truncate(before);
                        // The chunk's line and offset bookkeeping restarts after the long line.
                        let text = std::mem::replace(&mut chunk, Vec::with_capacity(source::CHUNK_BYTES + 4096));
                        if !text.is_empty() {
                            send(Job::Lines {
                                input,
                                ctx: ctx.clone(),
                                text,
                                first_line,
                                first_offset,
                            })?;
                        }
                        offset += len + 1;
                        first_line = line_no + 1;
                        first_offset = offset;
                    }
                }
                line_no += 1;
                if chunk.len() >= source::CHUNK_BYTES {
                    let text = std::mem::replace(&mut chunk, Vec::with_capacity(source::CHUNK_BYTES + 4096));
                    send(Job::Lines {
                        input,
                        ctx: ctx.clone(),
                        text,
                        first_line,
                        first_offset,
                    })?;
                    first_line = line_no;
                    first_offset = offset;
                }
                if !rejected.is_empty() {
                    send(Job::Rejected {
                        input,
                        entries: std::mem::take(&mut rejected),
                    })?;
                }
            }
            if !chunk.is_empty() {
                send(Job::Lines {
                    input,
                    ctx,
                    text: chunk,
                    first_line,
                    first_offset,
                })?;
            }
        }
        FileFormat::JsonDocument => {
            let mut text = Vec::new();
            reader.read_to_end(&mut text).at(path)?;
            send(Job::Document { input, ctx, text })?;
        }
        FileFormat::Csv => read_csv(input, display, path, reader, ctx, &send)?,
        FileFormat::Parquet => {
            drop(reader);
            let file = std::fs::File::open(path).at(path)?;
            progress.add_bytes(file.metadata().map(|m| m.len()).unwrap_or(0));
            let builder =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
                    StoreError::Input {
                        path: path.to_path_buf(),
                        message: e.to_string(),
                    }
                })?;
            let mut first_row = 0u64;
            for batch in builder.with_batch_size(8192).build()? {
                let batch = batch?;
                let n = batch.num_rows() as u64;
                send(Job::Arrow {
                    input,
                    ctx: ctx.clone(),
                    batch,
                    first_row,
                })?;
                first_row += n;
            }
        }
    }
    Ok(format)
}

/// A table Quarry knows by name (a file named after it names its table).
fn known_table(name: &str) -> bool {
    schema::Catalog::builtin().get(name).is_some()
}

fn read_csv(
    input: usize,
    display: &str,
    path: &Path,
    reader: Box<dyn BufRead + Send>,
    ctx: Arc<InputContext>,
    send: &dyn Fn(Job) -> Result<()>,
) -> Result<()> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(reader);
    let headers = rdr.byte_headers().map_err(|e| StoreError::Input {
        path: path.to_path_buf(),
        message: format!("cannot read the CSV header: {e}"),
    })?;
    let mut names = Vec::with_capacity(headers.len());
    for h in headers.iter() {
        let h = String::from_utf8_lossy(h).trim().to_string();
        // Log Analytics exports name datetime columns "TimeGenerated [UTC]".
        let h = match h.strip_suffix("[UTC]") {
            Some(base) => base.trim_end().to_string(),
            None => h,
        };
        if h.ends_with("[Local Time]") || h.contains(" [") {
            return Err(StoreError::Input {
                path: path.to_path_buf(),
                message: format!("column '{h}' holds datetimes in an unknown time zone; export with times in UTC"),
            });
        }
        names.push(h);
    }
    let headers = Arc::new(names);
    let mut records = Vec::with_capacity(source::CSV_CHUNK_RECORDS);
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let p = rec.position();
                let pos = Position {
                    line: p.map(|p| p.line()).unwrap_or(0),
                    offset: p.map(|p| p.byte()).unwrap_or(0),
                };
                records.push((pos, std::mem::take(&mut rec)));
            }
            Err(e) => {
                // csv errors other than I/O are per record (bad UTF-8 is not checked here).
                if let csv::ErrorKind::Io(_) = e.kind() {
                    return Err(StoreError::Input {
                        path: path.to_path_buf(),
                        message: e.to_string(),
                    });
                }
                let pos = e.position().map(|p| (p.line(), p.byte())).unwrap_or((0, 0));
                send(Job::Rejected {
                    input,
                    entries: vec![QuarantineEntry::new(
                        display,
                        pos.0,
                        pos.1,
                        ctx.default_table.as_deref().unwrap_or(""),
                        format!("CSV: {e}"),
                        b"",
                    )],
                })?;
            }
        }
        if records.len() >= source::CSV_CHUNK_RECORDS {
            send(Job::Csv {
                input,
                ctx: ctx.clone(),
                headers: headers.clone(),
                records: std::mem::take(&mut records),
            })?;
        }
    }
    if !records.is_empty() {
        send(Job::Csv {
            input,
            ctx,
            headers,
            records,
        })?;
    }
    Ok(())
}
