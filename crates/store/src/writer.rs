//! Writing a table's rows as Parquet parts: split by day of the time column, sorted by time
//! within a part (so row-group and page statistics on the time column prune well), each
//! column compressed with LZ4 or zstd (see [`codec_for`]), written under a staging
//! directory and moved into place only when the ingest commits.

use crate::datadir::{DataDir, Partition};
use crate::error::{IoContext, Result, StoreError};
use crate::part_stats::{PartStats, StagedPart};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array, new_null_array};
use arrow::compute::{SortOptions, concat_batches, sort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, SchemaRef, TimestampNanosecondType};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{DEFAULT_DICTIONARY_PAGE_SIZE_LIMIT, EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use schema::TableSchema;
use schema::values::NANOS_PER_DAY;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Rows per row group: small enough that a time range inside one day skips most of a part
/// (and the time column's page statistics skip pages inside a group), large enough that
/// the per-group work of a scan stays small: every column a scan reads gets a reader per
/// row group, and for a zstd column chunk Parquet creates a zstd compression and
/// decompression context, each probing the CPU (`cpuid`, which traps in a virtual
/// machine). 64 Ki-row groups: 5,411 contexts and 12.31 G instructions for the RMM pack
/// at 100 M rows; 128 Ki: 3,052 and 11.75 G, same data size.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;
/// Rows per data page.
const DATA_PAGE_ROWS: usize = 8 * 1024;
/// Rows buffered per (table, day) before a part is written.
pub const PART_ROWS: usize = 1_000_000;
/// Bytes buffered across all partitions before the largest is written early.
pub const BUFFER_BYTES: usize = 768 * 1024 * 1024;

/// Parquet settings of a part of `table`. Statistics are kept where they prune: page-level
/// on the time column (the parts are sorted by it), chunk-level on other non-string
/// columns; min/max of every string value would cost more than the rest of the write and
/// prune nothing in unsorted columns.
pub fn writer_properties(table: &TableSchema) -> WriterProperties {
    properties_builder(table).build()
}

/// [`writer_properties`] tuned to the content of `batch`: a column gets a dictionary only
/// where its values repeat within a row group (device ids and names, signers, folders),
/// not where they are mostly distinct (event times, report ids, hashes of unique files).
/// Parquet's dictionary encoder hashes and compares every value, and for distinct columns
/// the dictionary outgrows its page limit and is dropped anyway, after the work is done;
/// the sorted time column is delta-encoded instead, and left uncompressed: zstd took 1.5 %
/// off its delta-encoded pages, and every query in a time window decompressed them all.
pub fn writer_properties_for(table: &TableSchema, batch: &RecordBatch) -> WriterProperties {
    let mut b = properties_builder(table);
    let time_col = table.time_column();
    for (field, col) in batch.schema().fields().iter().zip(batch.columns()) {
        let path = ColumnPath::from(field.name().as_str());
        if Some(field.name().as_str()) == time_col && matches!(col.data_type(), DataType::Timestamp(..)) {
            b = b
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path.clone(), Encoding::DELTA_BINARY_PACKED)
                .set_column_compression(path, Compression::UNCOMPRESSED);
        } else if !dictionary_pays(col.as_ref()) {
            b = b
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_compression(path.clone(), codec_for(col.as_ref(), false))
                .set_column_data_page_size_limit(path, PLAIN_PAGE_BYTES);
        } else {
            b = b.set_column_compression(path, codec_for(col.as_ref(), true));
        }
    }
    b.build()
}

/// The codec of a column: LZ4 unless zstd makes what its pages hold smaller by a fifth
/// ([`ZSTD_PAYS`]), as estimated from a sample. Reading is what a hunt pays for: LZ4
/// decompresses several times faster, and a shared scan decompresses nearly every page of
/// the columns it reads for its matching rows (they are spread over the whole window).
/// zstd keeps the columns where its entropy coding pays: hashes (hexadecimal text, half
/// the size), folder paths, report ids. At 100 M rows, zstd everywhere: 4.77 GB, and the
/// RMM pack 9.65 G instructions; LZ4 everywhere: 6.24 GB, 7.86 G (see docs/store.md).
///
/// The sample is the first [`CODEC_SAMPLE_ROWS`] rows. Without a dictionary, their values
/// as a plain page holds them. With one, a row group's pages are its dictionary (the
/// sample's distinct values, scaled to the distinct values of a row group) and its keys,
/// bit-packed and about as large under either codec: a column of a few dozen device ids
/// is mostly keys, and zstd, which halves the ids, gains little on the whole.
fn codec_for(col: &dyn Array, dictionary: bool) -> Compression {
    let Some((sample, rows, distinct)) = codec_sample(col, dictionary) else {
        return Compression::LZ4_RAW;
    };
    let lz4 = lz4_flex::block::compress(&sample).len() as f64;
    // zstd's own level 1, as Parquet's default `ZstdLevel` writes.
    let Ok(zstd) = zstd::bulk::compress(&sample, 1).map(|z| z.len() as f64) else {
        return Compression::LZ4_RAW;
    };
    let (lz4, zstd) = if dictionary {
        let group = col.len().min(ROW_GROUP_ROWS) as f64;
        let per_group = match estimate_distinct(distinct as f64, rows as f64) {
            Some(total) => distinct_in_group(total, group),
            None => group,
        };
        let scale = (per_group / distinct.max(1) as f64).max(1.0);
        let keys = group * per_group.max(2.0).log2().ceil() / 8.0;
        (lz4 * scale + keys, zstd * scale + keys)
    } else {
        (lz4, zstd)
    };
    if lz4 > zstd * ZSTD_PAYS {
        Compression::ZSTD(ZstdLevel::default())
    } else {
        Compression::LZ4_RAW
    }
}

/// zstd is chosen when LZ4's output would be this many times larger.
const ZSTD_PAYS: f64 = 1.25;
/// Rows sampled to choose a column's codec.
const CODEC_SAMPLE_ROWS: usize = 4096;

/// What `codec_for` compresses: the sampled rows' values (only the distinct ones for a
/// dictionary) as Parquet lays them out (strings end to end, numbers as their
/// little-endian bytes), the rows sampled and their distinct values. `None` for an
/// empty sample or a type without such a layout.
fn codec_sample(col: &dyn Array, dictionary: bool) -> Option<(Vec<u8>, usize, usize)> {
    let n = col.len().min(CODEC_SAMPLE_ROWS);
    let data = col.slice(0, n).to_data();
    let values: Vec<&[u8]> = match col.data_type() {
        DataType::Utf8 => {
            let a = col.as_string::<i32>();
            (0..n)
                .filter(|&i| a.is_valid(i))
                .map(|i| a.value(i).as_bytes())
                .collect()
        }
        DataType::Binary => {
            let a = col.as_binary::<i32>();
            (0..n).filter(|&i| a.is_valid(i)).map(|i| a.value(i)).collect()
        }
        t => {
            let width = t.primitive_width()?;
            let start = data.offset() * width;
            let rows = data.buffers().first()?.as_slice().get(start..start + n * width)?;
            rows.chunks_exact(width).collect()
        }
    };
    let mut seen: HashSet<&[u8]> = HashSet::new();
    let mut out = Vec::new();
    for v in values {
        if !dictionary || seen.insert(v) {
            out.extend_from_slice(v);
        }
    }
    let distinct = if dictionary { seen.len() } else { n };
    (!out.is_empty()).then_some((out, n, distinct))
}

/// Bytes per data page of a column written without a dictionary (report ids, process ids,
/// command lines): a query reads such a column for its matching rows only, and every page
/// holding one is decompressed whole; 8 K rows of 8-byte ids are 64 KiB.
const PLAIN_PAGE_BYTES: usize = 16 * 1024;

/// Rows sampled (evenly spaced) to estimate a column's number of distinct values.
const CARDINALITY_SAMPLE: usize = 4096;
/// Batches smaller than this keep Parquet's default (a dictionary): too small to matter.
const SMALL_BATCH: usize = 1024;

/// Whether a dictionary pays for `col`: the distinct values of a row group, estimated from
/// an evenly spaced sample (counted exactly in batches up to the sample's size), are at most
/// half its rows and fit Parquet's dictionary page. Small batches keep the dictionary
/// (Parquet's default).
///
/// The estimate matters: a sample of 1,024 rows of a column of 1,617 device ids sees about
/// 760 distinct values, "mostly distinct" at a glance, yet each id repeats 40 times in a
/// 64 K-row group. Written plain, such a column took 2.8 MB per row group instead of
/// about 0.15 MB, and every page a query touched for one matching row was decompressed
/// whole.
fn dictionary_pays(col: &dyn Array) -> bool {
    let n = col.len();
    if n < SMALL_BATCH {
        return true;
    }
    // Every row of a batch up to the sample's size, else an evenly spaced sample.
    let k = n.min(CARDINALITY_SAMPLE);
    let step = n / k;
    let rows = (0..k).map(|i| i * step);
    // (distinct values in the sample, their bytes)
    let (distinct, bytes) = match col.data_type() {
        DataType::Utf8 => {
            let a = col.as_string::<i32>();
            let set = rows.map(|i| a.value(i)).collect::<HashSet<_>>();
            (set.len(), set.iter().map(|v| v.len()).sum::<usize>())
        }
        DataType::Binary => {
            let a = col.as_binary::<i32>();
            let set = rows.map(|i| a.value(i)).collect::<HashSet<_>>();
            (set.len(), set.iter().map(|v| v.len()).sum::<usize>())
        }
        DataType::Int64 => {
            let a = col.as_primitive::<arrow::datatypes::Int64Type>();
            let d = rows.map(|i| a.value(i)).collect::<HashSet<_>>().len();
            (d, 8 * d)
        }
        DataType::Timestamp(..) => {
            let a = col.as_primitive::<TimestampNanosecondType>();
            let d = rows.map(|i| a.value(i)).collect::<HashSet<_>>().len();
            (d, 8 * d)
        }
        DataType::Float64 => {
            let a = col.as_primitive::<arrow::datatypes::Float64Type>();
            let d = rows.map(|i| a.value(i).to_bits()).collect::<HashSet<_>>().len();
            (d, 8 * d)
        }
        _ => return true,
    };
    let group = n.min(ROW_GROUP_ROWS) as f64;
    let per_group = if k == n {
        distinct as f64
    } else {
        let Some(total) = estimate_distinct(distinct as f64, k as f64) else {
            return false;
        };
        distinct_in_group(total, group)
    };
    let value_bytes = bytes as f64 / distinct.max(1) as f64;
    per_group * 2.0 <= group && per_group * value_bytes <= DEFAULT_DICTIONARY_PAGE_SIZE_LIMIT as f64
}

/// The distinct values expected in `group` rows of a column of `total` equally frequent
/// distinct values.
fn distinct_in_group(total: f64, group: f64) -> f64 {
    total * (1.0 - (-group / total).exp())
}

/// The number of distinct values `D` of a column in which `k` rows drawn from it held `d`
/// distinct values, for values equally frequent: the `D` with `D·(1 − e^(−k/D)) = d`.
/// `None` when (nearly) every drawn value was distinct: nothing bounds `D`.
fn estimate_distinct(d: f64, k: f64) -> Option<f64> {
    if d >= k - 1.0 {
        return None;
    }
    let seen = |x: f64| x * (1.0 - (-k / x).exp());
    let (mut lo, mut hi) = (d.max(1.0), d.max(1.0) * 2.0);
    while seen(hi) < d {
        lo = hi;
        hi *= 2.0;
    }
    for _ in 0..64 {
        let mid = (lo + hi) / 2.0;
        if seen(mid) < d {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}

fn properties_builder(table: &TableSchema) -> parquet::file::properties::WriterPropertiesBuilder {
    let time_col = table.time_column();
    let mut b = WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(DATA_PAGE_ROWS)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_created_by("quarry".to_string());
    for c in &table.columns {
        let level = if Some(c.name.as_str()) == time_col {
            EnabledStatistics::Page
        } else if matches!(c.ty.to_arrow(), DataType::Utf8 | DataType::Binary) {
            continue;
        } else {
            EnabledStatistics::Chunk
        };
        b = b.set_column_statistics_enabled(ColumnPath::from(c.name.as_str()), level);
    }
    if let Some(idx) = time_col.and_then(|c| table.column_index(c)) {
        b = b.set_sorting_columns(Some(vec![SortingColumn {
            column_idx: idx as i32,
            descending: false,
            nulls_first: true,
        }]));
    }
    b
}

/// Puts `batch` in the shape of `schema`: columns by name, missing ones null ("" for
/// strings), so parts of one table written at different times agree.
pub fn align(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch.clone());
    }
    let rows = batch.num_rows();
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) if c.data_type() == f.data_type() => Ok(c.clone()),
            Some(c) => arrow::compute::cast(c, f.data_type()).map_err(StoreError::from),
            None if f.data_type() == &DataType::Utf8 => {
                Ok(Arc::new(arrow::array::StringArray::from(vec![""; rows])) as ArrayRef)
            }
            None => Ok(new_null_array(f.data_type(), rows)),
        })
        .collect::<Result<_>>()?;
    let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(schema.clone(), columns, &options)?)
}

/// Splits a batch by the day of its time column.
pub fn split_by_day(batch: &RecordBatch, time_col: Option<&str>) -> Result<Vec<(Partition, RecordBatch)>> {
    let Some(name) = time_col else {
        return Ok(vec![(Partition::All, batch.clone())]);
    };
    let Some(col) = batch.column_by_name(name) else {
        return Ok(vec![(Partition::NoTime, batch.clone())]);
    };
    let Some(times) = col.as_primitive_opt::<TimestampNanosecondType>() else {
        return Err(StoreError::Invalid(format!("time column '{name}' is not a datetime")));
    };
    let key = |i: usize| times.is_valid(i).then(|| times.value(i).div_euclid(NANOS_PER_DAY));
    let n = times.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let first = key(0);
    if (1..n).all(|i| key(i) == first) {
        return Ok(vec![(partition_of_key(first), batch.clone())]);
    }
    let mut groups: BTreeMap<Option<i64>, Vec<u32>> = BTreeMap::new();
    for i in 0..n {
        groups.entry(key(i)).or_default().push(i as u32);
    }
    groups
        .into_iter()
        .map(|(k, idx)| Ok((partition_of_key(k), take_record_batch(batch, &UInt32Array::from(idx))?)))
        .collect()
}

fn partition_of_key(day: Option<i64>) -> Partition {
    match day {
        Some(d) => Partition::of_nanos(d.saturating_mul(NANOS_PER_DAY)),
        None => Partition::NoTime,
    }
}

/// Sorts a batch by its time column (nulls first), keeping the order of equal times.
pub fn sort_by_time(batch: &RecordBatch, time_col: Option<&str>) -> Result<RecordBatch> {
    let Some(col) = time_col.and_then(|n| batch.column_by_name(n)) else {
        return Ok(batch.clone());
    };
    if let Some(t) = col.as_primitive_opt::<TimestampNanosecondType>()
        && t.null_count() == 0
        && t.values().windows(2).all(|w| w[0] <= w[1])
    {
        return Ok(batch.clone());
    }
    let idx = sort_to_indices(
        col,
        Some(SortOptions {
            descending: false,
            nulls_first: true,
        }),
        None,
    )?;
    Ok(take_record_batch(batch, &idx)?)
}

/// Writes the parts of one ingest under its staging directory and remembers where each goes.
pub struct PartWriter {
    dir: DataDir,
    ingest_id: String,
    staging: PathBuf,
    next: usize,
    /// The parts written, to be put in place by [`crate::part_stats::place`].
    pub staged: Vec<StagedPart>,
    pub rows_written: u64,
    pub bytes_written: u64,
}

impl PartWriter {
    pub fn new(dir: &DataDir, ingest_id: &str, staging: PathBuf) -> Self {
        PartWriter {
            dir: dir.clone(),
            ingest_id: ingest_id.to_string(),
            staging,
            next: 0,
            staged: Vec::new(),
            rows_written: 0,
            bytes_written: 0,
        }
    }

    /// A writer whose part numbers start after `first`, so that several writers of one
    /// ingest (generator threads) never pick the same file name.
    pub fn starting_at(dir: &DataDir, ingest_id: &str, staging: PathBuf, first: usize) -> Self {
        let mut w = PartWriter::new(dir, ingest_id, staging);
        w.next = first;
        w
    }

    /// Writes one part of `table` in `partition`: the batches aligned to the table's schema,
    /// concatenated and sorted by time.
    pub fn write(&mut self, table: &TableSchema, partition: Partition, batches: &[RecordBatch]) -> Result<()> {
        let schema: SchemaRef = Arc::new(table.arrow_schema());
        let mut aligned = batches.iter().map(|b| align(b, &schema)).collect::<Result<Vec<_>>>()?;
        // One batch needs no copy.
        let batch = if aligned.len() == 1 {
            aligned.remove(0)
        } else {
            concat_batches(&schema, &aligned)?
        };
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let time_col = table.time_column();
        let batch = sort_by_time(&batch, time_col)?;
        self.next += 1;
        let file_name = format!("part-{}-{:05}.parquet", self.ingest_id, self.next);
        let rel = PathBuf::from(&table.name).join(partition.dir_name()).join(&file_name);
        let staged = self.staging.join("tables").join(&rel);
        if let Some(parent) = staged.parent() {
            std::fs::create_dir_all(parent).at(parent)?;
        }
        let file = std::fs::File::create(&staged).at(&staged)?;
        let mut w = ArrowWriter::try_new(file, schema, Some(writer_properties_for(table, &batch)))?;
        w.write(&batch)?;
        let file = w.into_inner()?;
        file.sync_all().at(&staged)?;
        let bytes = file.metadata().at(&staged)?.len();
        self.bytes_written += bytes;
        self.rows_written += batch.num_rows() as u64;
        self.staged.push(StagedPart {
            staged,
            target: self
                .dir
                .table_dir(&table.name)
                .join(partition.dir_name())
                .join(file_name),
            bytes,
            stats: PartStats::of_batch(&batch, time_col),
        });
        Ok(())
    }
}

/// Buffers rows per (table, partition) and writes a part when one is large enough or when
/// the buffers together pass [`BUFFER_BYTES`].
pub struct Partitioner {
    pending: HashMap<(String, Partition), (Vec<RecordBatch>, usize, usize)>,
    pending_bytes: usize,
}

impl Default for Partitioner {
    fn default() -> Self {
        Self::new()
    }
}

impl Partitioner {
    pub fn new() -> Self {
        Partitioner {
            pending: HashMap::new(),
            pending_bytes: 0,
        }
    }

    /// Buffers `batch` of `table`; `schema_of` gives the current schema of any table (the
    /// registry of the ingest), used when a part is written.
    pub fn push(
        &mut self,
        table: &str,
        batch: RecordBatch,
        schema_of: &dyn Fn(&str) -> TableSchema,
        writer: &mut PartWriter,
    ) -> Result<()> {
        let schema = schema_of(table);
        for (partition, part) in split_by_day(&batch, schema.time_column())? {
            let bytes = part.get_array_memory_size();
            let key = (table.to_string(), partition);
            let entry = self.pending.entry(key.clone()).or_default();
            entry.1 += part.num_rows();
            entry.2 += bytes;
            entry.0.push(part);
            self.pending_bytes += bytes;
            if entry.1 >= PART_ROWS {
                self.flush_key(&key, &schema, writer)?;
            }
        }
        while self.pending_bytes > BUFFER_BYTES {
            let Some(key) = self.pending.iter().max_by_key(|(_, v)| v.2).map(|(k, _)| k.clone()) else {
                break;
            };
            self.flush_key(&key, &schema_of(&key.0), writer)?;
        }
        Ok(())
    }

    fn flush_key(&mut self, key: &(String, Partition), table: &TableSchema, writer: &mut PartWriter) -> Result<()> {
        if let Some((batches, _, bytes)) = self.pending.remove(key) {
            self.pending_bytes = self.pending_bytes.saturating_sub(bytes);
            writer.write(table, key.1, &batches)?;
        }
        Ok(())
    }

    /// Writes everything still buffered.
    pub fn finish(&mut self, schema_of: &dyn Fn(&str) -> TableSchema, writer: &mut PartWriter) -> Result<()> {
        let mut keys: Vec<_> = self.pending.keys().cloned().collect();
        keys.sort();
        for key in keys {
            self.flush_key(&key, &schema_of(&key.0), writer)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray, TimestampNanosecondArray};

    fn table() -> TableSchema {
        schema::Catalog::builtin()
            .get("DeviceFileCertificateInfo")
            .map(|t| t.as_ref().clone())
            .expect("built-in table")
    }

    /// `n` rows: distinct report ids and times, a signer from three.
    fn batch(n: usize) -> RecordBatch {
        let table = table();
        let schema: SchemaRef = Arc::new(table.arrow_schema());
        let rows = RecordBatch::try_from_iter([
            (
                "Timestamp",
                Arc::new(TimestampNanosecondArray::from_iter_values(
                    (0..n as i64).map(|i| i * 1_000),
                )) as ArrayRef,
            ),
            (
                "ReportId",
                Arc::new(Int64Array::from_iter_values(0..n as i64)) as ArrayRef,
            ),
            (
                "Signer",
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| ["Microsoft Windows", "Google LLC", "Zoom"][i % 3]),
                )) as ArrayRef,
            ),
            (
                "SHA1",
                Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("{i:040x}")))) as ArrayRef,
            ),
        ])
        .expect("batch");
        align(&rows, &schema).expect("aligned")
    }

    #[test]
    fn distinct_columns_skip_the_dictionary_and_time_is_delta_encoded() {
        let props = writer_properties_for(&table(), &batch(10_000));
        let path = |c: &str| ColumnPath::from(c);
        assert!(!props.dictionary_enabled(&path("ReportId")));
        assert!(!props.dictionary_enabled(&path("SHA1")));
        assert!(props.dictionary_enabled(&path("Signer")));
        // Columns of one value (all "" or all null) keep the dictionary.
        assert!(props.dictionary_enabled(&path("Issuer")));
        assert!(!props.dictionary_enabled(&path("Timestamp")));
        assert_eq!(props.encoding(&path("Timestamp")), Some(Encoding::DELTA_BINARY_PACKED));
        assert_eq!(props.compression(&path("Timestamp")), Compression::UNCOMPRESSED);
        assert_eq!(props.encoding(&path("ReportId")), None);
        // Columns without a dictionary get small pages; the others Parquet's default.
        assert_eq!(props.column_data_page_size_limit(&path("ReportId")), PLAIN_PAGE_BYTES);
        assert_eq!(props.column_data_page_size_limit(&path("SHA1")), PLAIN_PAGE_BYTES);
        assert_eq!(
            props.column_data_page_size_limit(&path("Signer")),
            props.data_page_size_limit()
        );
    }

    /// A column gets zstd where it makes the column's pages a fifth smaller than LZ4: hex
    /// hashes and counters without a dictionary; a dictionary of long hex ids (zstd's
    /// gain on the whole is its gain on the dictionary); not a column of a few values,
    /// whose pages are keys, nor random bytes.
    #[test]
    fn columns_get_zstd_only_where_it_pays() {
        let zstd = |c: Compression| matches!(c, Compression::ZSTD(_));
        let n = 20_000;
        let hashes = StringArray::from_iter_values(
            (0..n).map(|i: u64| format!("{:040x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15))),
        );
        assert!(zstd(codec_for(&hashes, false)));
        let ids = Int64Array::from_iter_values(0..n as i64);
        assert!(zstd(codec_for(&ids, false)));
        let many_ids = StringArray::from_iter_values(
            (0..n).map(|i| format!("{:040x}", (i % 5_000).wrapping_mul(0x9E37_79B9_7F4A_7C15))),
        );
        assert!(zstd(codec_for(&many_ids, true)));
        let few =
            StringArray::from_iter_values((0..n).map(|i| ["Microsoft Windows", "Google LLC", "Zoom"][i as usize % 3]));
        assert_eq!(codec_for(&few, true), Compression::LZ4_RAW);
        let mut state = 1u64;
        let random = Int64Array::from_iter_values((0..n).map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as i64
        }));
        assert_eq!(codec_for(&random, false), Compression::LZ4_RAW);
        // Nothing to sample: LZ4, which costs nothing to read.
        assert_eq!(
            codec_for(&StringArray::from(vec![None::<&str>; 10]), false),
            Compression::LZ4_RAW
        );
        // What the properties of a part say.
        let props = writer_properties_for(&table(), &batch(10_000));
        assert!(zstd(props.compression(&ColumnPath::from("SHA1"))));
        assert_eq!(props.compression(&ColumnPath::from("Signer")), Compression::LZ4_RAW);
    }

    /// The data pages of a part as written: a column without a dictionary is cut in pages
    /// of about [`PLAIN_PAGE_BYTES`], one with a dictionary in pages of 8 K rows.
    #[test]
    fn plain_columns_are_written_in_small_pages() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let tmp = tempfile::tempdir().expect("tmp");
        let b = batch(20_000);
        let table = table();
        let path = tmp.path().join("p.parquet");
        let file = std::fs::File::create(&path).expect("file");
        let mut w = ArrowWriter::try_new(file, b.schema(), Some(writer_properties_for(&table, &b))).expect("writer");
        w.write(&b).expect("write");
        w.close().expect("close");
        let reader = SerializedFileReader::new(std::fs::File::open(&path).expect("file")).expect("reader");
        let group = reader.get_row_group(0).expect("row group");
        let pages = |column: &str| {
            let i = b.schema().index_of(column).expect("column");
            let mut sizes = Vec::new();
            for page in group.get_column_page_reader(i).expect("pages") {
                let page = page.expect("page");
                if page.page_type() != parquet::basic::PageType::DICTIONARY_PAGE {
                    sizes.push(page.num_values());
                }
            }
            sizes
        };
        // 20,000 report ids of 8 bytes: pages of at most 2,048 rows (16 KiB).
        let report = pages("ReportId");
        assert!(report.len() >= 10, "{report:?}");
        assert!(report.iter().all(|&n| n <= 2_048), "{report:?}");
        assert_eq!(report.iter().sum::<u32>(), 20_000);
        // The signer's dictionary keys: 8 K-row pages.
        assert_eq!(pages("Signer"), [8_192, 8_192, 3_616]);
    }

    #[test]
    fn row_groups_hold_128k_rows() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let tmp = tempfile::tempdir().expect("tmp");
        let b = batch(140_000);
        let path = tmp.path().join("p.parquet");
        let file = std::fs::File::create(&path).expect("file");
        let mut w = ArrowWriter::try_new(file, b.schema(), Some(writer_properties_for(&table(), &b))).expect("writer");
        w.write(&b).expect("write");
        w.close().expect("close");
        let reader = SerializedFileReader::new(std::fs::File::open(&path).expect("file")).expect("reader");
        let rows: Vec<i64> = reader.metadata().row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(rows, [131_072, 8_928]);
    }

    /// `n` rows whose `DeviceId` is one of `devices` ids, drawn pseudo-randomly.
    fn devices(n: usize, devices: u64) -> RecordBatch {
        let table = table();
        let schema: SchemaRef = Arc::new(table.arrow_schema());
        // splitmix64: no arithmetic pattern for the evenly spaced sample to fall in step with.
        let mix = |i: u64| {
            let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let ids = StringArray::from_iter_values((0..n as u64).map(|i| format!("{:040x}", mix(i) % devices)));
        let rows = RecordBatch::try_from_iter([("DeviceId", Arc::new(ids) as ArrayRef)]).expect("batch");
        align(&rows, &schema).expect("aligned")
    }

    #[test]
    fn repeated_values_keep_the_dictionary_even_when_a_sample_sees_many() {
        let path = ColumnPath::from("DeviceId");
        // 1,617 devices: a 4,096-row sample sees most of them (the old rule, "over half
        // of 1,024 sampled rows distinct", dropped the dictionary), but each id repeats
        // about 40 times per 64 K-row group.
        assert!(writer_properties_for(&table(), &devices(200_000, 1_617)).dictionary_enabled(&path));
        assert!(writer_properties_for(&table(), &devices(200_000, 20_000)).dictionary_enabled(&path));
        // 60 K distinct 40-byte ids: a row group's would not fit a 1 MiB dictionary page.
        assert!(!writer_properties_for(&table(), &devices(200_000, 60_000)).dictionary_enabled(&path));
        // All distinct.
        assert!(!writer_properties_for(&table(), &devices(200_000, 200_000)).dictionary_enabled(&path));
    }

    #[test]
    fn distinct_values_are_estimated_from_a_sample() {
        assert_eq!(estimate_distinct(4096.0, 4096.0), None);
        assert_eq!(estimate_distinct(4095.0, 4096.0), None);
        for total in [10.0, 1_617.0, 20_000.0, 100_000.0] {
            let seen = total * (1.0 - (-4096.0_f64 / total).exp());
            let est = estimate_distinct(seen, 4096.0).expect("bounded");
            assert!((est - total).abs() / total < 1e-6, "{total}: {est}");
        }
    }

    #[test]
    fn small_batches_keep_the_defaults() {
        let props = writer_properties_for(&table(), &batch(100));
        assert!(props.dictionary_enabled(&ColumnPath::from("ReportId")));
        assert!(props.dictionary_enabled(&ColumnPath::from("SHA1")));
        // The time column is sorted whatever the size: delta encoding always pays.
        assert_eq!(
            props.encoding(&ColumnPath::from("Timestamp")),
            Some(Encoding::DELTA_BINARY_PACKED)
        );
    }

    #[test]
    fn tuned_parts_read_back_unchanged() {
        let tmp = tempfile::tempdir().expect("tmp");
        let b = batch(5_000);
        let table = table();
        let file = std::fs::File::create(tmp.path().join("p.parquet")).expect("file");
        let mut w = ArrowWriter::try_new(file, b.schema(), Some(writer_properties_for(&table, &b))).expect("writer");
        w.write(&b).expect("write");
        w.close().expect("close");
        let file = std::fs::File::open(tmp.path().join("p.parquet")).expect("file");
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("reader")
            .build()
            .expect("reader");
        let read: Vec<RecordBatch> = reader.collect::<std::result::Result<_, _>>().expect("batches");
        assert_eq!(concat_batches(&b.schema(), &read).expect("concat"), b);
    }
}
