//! One unit of work of the generator: a block of devices on one day, drawn, emitted per
//! table in time order, and written as parts (or as streaming JSON / CSV files).

use super::device::{self, Device, Plant, PlantedEvent};
use super::emit::{Layout, SizeHints};
use super::events::{self, Events};
use super::{GenerateConfig, Output, TABLES, day_start, mix, sink};
use crate::datadir::Partition;
use crate::error::{IoContext, Result};
use crate::writer::PartWriter;
use arrow::array::RecordBatch;
use chrono::NaiveDate;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use schema::TableSchema;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

#[derive(Default)]
pub(super) struct UnitResult {
    pub(super) rows: BTreeMap<String, u64>,
    pub(super) events: Vec<PlantedEvent>,
    pub(super) staged: Vec<crate::part_stats::StagedPart>,
    pub(super) files: usize,
    pub(super) bytes: u64,
}

/// One unit of work: a block of devices on one day.
pub(super) struct Unit<'a> {
    pub(super) day: u32,
    pub(super) block: usize,
    pub(super) block_size: usize,
    pub(super) devices: &'a [Device],
    pub(super) plants: &'a [Vec<Plant>],
    pub(super) schemas: &'a [Arc<TableSchema>],
    pub(super) layout: &'a Layout,
}

/// Batches of a unit with fewer rows than this (the small tables: `DeviceInfo`,
/// `DeviceLogonEvents`, `DeviceFileCertificateInfo`) are gathered per day over the units a
/// thread runs and written as one part: a part per unit would make scans of those tables
/// open hundreds of files of a few thousand rows. (Not tied to the row group size: the
/// large tables' batches of a unit are written as parts of their own, and gathering them
/// too would hold a million rows per table and thread in memory.)
const SMALL_BATCH_ROWS: usize = 64 * 1024;

/// A thread's writer of parts, and its small batches of the current day.
pub(super) struct Parts {
    writer: PartWriter,
    day: Option<(u32, NaiveDate)>,
    /// Per table (in `DAILY` order): batches waiting, and their rows.
    pending: Vec<(Vec<RecordBatch>, usize)>,
}

impl Parts {
    pub(super) fn new(writer: PartWriter) -> Self {
        Parts {
            writer,
            day: None,
            pending: vec![(Vec::new(), 0); TABLES.len()],
        }
    }

    /// Writes the small batches of the previous day when a unit of another day starts.
    fn start_day(&mut self, day: u32, date: NaiveDate, schemas: &[Arc<TableSchema>]) -> Result<()> {
        if self.day.is_some_and(|(d, _)| d != day) {
            self.flush(schemas)?;
        }
        self.day = Some((day, date));
        Ok(())
    }

    fn write(&mut self, t: usize, schema: &TableSchema, date: NaiveDate, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() >= SMALL_BATCH_ROWS {
            return self.writer.write(schema, Partition::Day(date), &[batch]);
        }
        let Some(entry) = self.pending.get_mut(t) else {
            return self.writer.write(schema, Partition::Day(date), &[batch]);
        };
        entry.1 += batch.num_rows();
        entry.0.push(batch);
        if entry.1 >= crate::writer::PART_ROWS {
            let batches = std::mem::take(&mut entry.0);
            entry.1 = 0;
            self.writer.write(schema, Partition::Day(date), &batches)?;
        }
        Ok(())
    }

    fn flush(&mut self, schemas: &[Arc<TableSchema>]) -> Result<()> {
        let Some((_, date)) = self.day else {
            return Ok(());
        };
        for (entry, schema) in self.pending.iter_mut().zip(schemas) {
            let batches = std::mem::take(&mut entry.0);
            entry.1 = 0;
            if !batches.is_empty() {
                self.writer.write(schema, Partition::Day(date), &batches)?;
            }
        }
        Ok(())
    }

    pub(super) fn finish(mut self, schemas: &[Arc<TableSchema>]) -> Result<PartWriter> {
        self.flush(schemas)?;
        Ok(self.writer)
    }
}

pub(super) fn run_unit(
    cfg: &GenerateConfig,
    unit: &Unit,
    mut parts: Option<&mut Parts>,
    hints: &mut SizeHints,
) -> Result<UnitResult> {
    let Unit {
        day,
        block,
        block_size,
        devices,
        plants,
        schemas,
        layout,
    } = *unit;
    let first = (block * block_size).min(devices.len());
    let last = (first + block_size).min(devices.len());
    let date = cfg.start + chrono::Duration::days(day as i64);
    let start = day_start(date);
    if let Some(p) = parts.as_deref_mut() {
        p.start_day(day, date, schemas)?;
    }
    let mut events = Events::with_capacity(last - first, cfg.volume);
    let mut result = UnitResult::default();
    for dev in &devices[first..last] {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, dev.index as u64, day as u64));
        let before = events.len();
        let planted = events::draw_day(
            dev,
            day,
            cfg.days - 1,
            start,
            cfg.volume,
            &plants[dev.index],
            &mut rng,
            &mut events,
        );
        cfg.progress.add_rows((events.len() - before) as u64);
        result.events.extend(planted);
    }
    let mut text = String::new();
    for (i, schema) in schemas.iter().enumerate() {
        let batch = layout.batch(i, &events, devices, hints);
        *result.rows.entry(schema.name.clone()).or_default() += batch.num_rows() as u64;
        match &cfg.output {
            Output::DataDir(_) => {
                if let Some(p) = parts.as_deref_mut() {
                    p.write(i, schema, date, batch)?;
                }
            }
            Output::StreamingJson { dir, gzip } => {
                text.clear();
                sink::write_streaming_json(&batch, schema, device::TENANT_ID, &mut text);
                let d = dir.join(&schema.name);
                std::fs::create_dir_all(&d).at(&d)?;
                let name = format!(
                    "{}-{block:04}.json{}",
                    date.format("%Y-%m-%d"),
                    if *gzip { ".gz" } else { "" }
                );
                result.bytes += write_text(&d.join(name), &text, *gzip)?;
                result.files += 1;
            }
            Output::Csv(dir) => {
                text.clear();
                text.push_str(&sink::csv_header(schema));
                sink::write_csv(&batch, schema, &mut text);
                let name = format!("{}_{}-{block:04}.csv", schema.name, date.format("%Y-%m-%d"));
                result.bytes += write_text(&dir.join(name), &text, false)?;
                result.files += 1;
            }
        }
    }
    Ok(result)
}

fn write_text(path: &Path, text: &str, gzip: bool) -> Result<u64> {
    let bytes = if gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).at(path)?;
        e.finish().at(path)?
    } else {
        text.as_bytes().to_vec()
    };
    crate::manifest::write_atomic(path, &bytes)?;
    Ok(bytes.len() as u64)
}
