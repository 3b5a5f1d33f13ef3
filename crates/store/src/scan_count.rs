//! Process-wide totals of what data-directory scans read: every Parquet reader our table
//! providers create counts the bytes it fetches. Benchmarks take the difference around a
//! piece of work (a hunt, whose plans run inside the hunt crate, has no plan to ask
//! [`crate::scan_metrics`] about).

use crate::page_cache;
use bytes::Bytes;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::ParquetFileReaderFactory;
use datafusion::datasource::physical_plan::parquet::{CachedParquetFileReaderFactory, ParquetFileMetrics};
use datafusion::execution::cache::cache_manager::FileMetadataCache;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::file::metadata::ParquetMetaData;
use std::collections::BTreeSet;
use std::future::Future;
use std::ops::Range;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

static BYTES: AtomicU64 = AtomicU64::new(0);

/// What the data-directory scans of this process have read so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanTotals {
    /// Bytes fetched from Parquet files (column chunks and pages; what DataFusion's
    /// `bytes_scanned` metric counts).
    pub bytes: u64,
}

impl ScanTotals {
    /// What was read between `earlier` and `self`.
    pub fn since(self, earlier: ScanTotals) -> ScanTotals {
        ScanTotals {
            bytes: self.bytes.saturating_sub(earlier.bytes),
        }
    }
}

/// The totals so far (they only grow).
pub fn scan_totals() -> ScanTotals {
    ScanTotals {
        bytes: BYTES.load(Ordering::Relaxed),
    }
}

/// DataFusion's reader factory, counting what its readers fetch; its readers present
/// the given string columns, where dictionary-encoded, as dictionaries (see
/// [`crate::dictionary`]).
#[derive(Debug)]
pub(crate) struct CountingReaderFactory {
    inner: CachedParquetFileReaderFactory,
    local: Arc<datafusion::object_store::local::LocalFileSystem>,
    dictionaries: Arc<BTreeSet<String>>,
}

impl CountingReaderFactory {
    /// Over the local file system, reading `dictionaries` as dictionaries.
    ///
    /// Footers are kept in `footers` (the session's file metadata cache, as long as its
    /// engine lives): a part is immutable (a new part gets a new name), and a hunt opens
    /// the same parts several times (a sample to choose the keys of a shared scan, the
    /// scan, the rules' constant subqueries).
    pub fn local(dictionaries: BTreeSet<String>, footers: Arc<FileMetadataCache>) -> Self {
        let local = Arc::new(datafusion::object_store::local::LocalFileSystem::new());
        CountingReaderFactory {
            inner: CachedParquetFileReaderFactory::new(local.clone(), footers),
            local,
            dictionaries: Arc::new(dictionaries),
        }
    }
}

impl ParquetFileReaderFactory for CountingReaderFactory {
    fn create_reader(
        &self,
        partition_index: usize,
        partitioned_file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> datafusion::error::Result<Box<dyn AsyncFileReader + Send>> {
        let path = self.local.path_to_filesystem(&partitioned_file.object_meta.location)?;
        let file_metrics =
            ParquetFileMetrics::new(partition_index, partitioned_file.object_meta.location.as_ref(), metrics);
        let inner = self
            .inner
            .create_reader(partition_index, partitioned_file, metadata_size_hint, metrics)?;
        Ok(Box::new(CountingReader {
            inner,
            dictionaries: self.dictionaries.clone(),
            path,
            file: None,
            bytes_scanned: file_metrics.bytes_scanned,
        }))
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

struct CountingReader {
    /// DataFusion's reader, for the footer and the page index.
    inner: Box<dyn AsyncFileReader + Send>,
    dictionaries: Arc<BTreeSet<String>>,
    /// The file, read in place for column chunks and pages.
    path: PathBuf,
    file: Option<std::fs::File>,
    bytes_scanned: datafusion::physical_plan::metrics::Count,
}

impl CountingReader {
    /// Reads `ranges` of the local file on the calling thread: the data directory is a
    /// local disk, mostly in the page cache, and a read there takes less than handing it
    /// to a thread of the blocking pool and waking the scan again (what the object store
    /// does for every request).
    fn read(&mut self, ranges: &[Range<u64>]) -> parquet::errors::Result<Vec<Bytes>> {
        let n: u64 = ranges.iter().map(|r| r.end.saturating_sub(r.start)).sum();
        BYTES.fetch_add(n, Ordering::Relaxed);
        self.bytes_scanned.add(n as usize);
        let io = |e: std::io::Error| {
            parquet::errors::ParquetError::External(Box::new(std::io::Error::new(
                e.kind(),
                format!("cannot read {}: {e}", self.path.display()),
            )))
        };
        let file = open(&mut self.file, &self.path).map_err(io)?;
        // Pages read after the filter are many small ranges: where the page cache does not
        // hold them, each would be a disk read after the last. Asking for them all first
        // lets the disk read them together (cold, the RMM pack at 100 M rows: 1.5–2.3 s →
        // 1.0–1.8 s); where the cache holds them, the advice costs no measurable time.
        if ranges.len() > 1 {
            let spans = ranges
                .iter()
                .map(|r| (r.start, r.end.saturating_sub(r.start)))
                .collect();
            for (start, len) in page_cache::coalesce(spans) {
                page_cache::advise(file, start, len, page_cache::Advice::WillNeed);
            }
        }
        ranges
            .iter()
            .map(|r| {
                let len = usize::try_from(r.end.saturating_sub(r.start))
                    .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))?;
                read_range(file, r.start, len).map(Bytes::from).map_err(io)
            })
            .collect()
    }
}

/// The file at `path`, opened the first time it is needed, for reads at random: the
/// kernel reads no more than is asked (or advised, see [`CountingReader::read`]).
/// Its read-ahead would otherwise turn each read of a column chunk or a page into a read
/// of megabytes around it (up to the device's `read_ahead_kb`): most of a part's bytes
/// for a scan that needs a tenth of them.
fn open<'f>(file: &'f mut Option<std::fs::File>, path: &std::path::Path) -> std::io::Result<&'f mut std::fs::File> {
    match file {
        Some(file) => Ok(file),
        none => {
            let file = std::fs::File::open(path)?;
            page_cache::advise(&file, 0, 0, page_cache::Advice::Random);
            Ok(none.insert(file))
        }
    }
}

/// `len` bytes of `file` from `offset`, read into a buffer that is not zeroed first (the
/// pages a scan reads are most of what it copies; zeroing them cost as much again).
fn read_range(file: &mut std::fs::File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len);
    let read = file.take(len as u64).read_to_end(&mut buf)?;
    if read < len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("{read} of {len} bytes at offset {offset}: the file is shorter"),
        ));
    }
    Ok(buf)
}

impl AsyncFileReader for CountingReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        let read = self
            .read(std::slice::from_ref(&range))
            .map(|mut v| v.pop().unwrap_or_default());
        Box::pin(std::future::ready(read))
    }

    fn get_byte_ranges(&mut self, ranges: Vec<Range<u64>>) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        Box::pin(std::future::ready(self.read(&ranges)))
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        Box::pin(async move {
            let metadata = self.inner.get_metadata(options).await?;
            Ok(crate::dictionary::with_dictionary_strings(metadata, &self.dictionaries))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footers() -> Arc<FileMetadataCache> {
        Arc::new(datafusion::execution::cache::default_cache::DefaultCache::new(1 << 20))
    }

    fn reader(path: PathBuf) -> CountingReader {
        reader_with(path, footers())
    }

    /// A reader of `path` as a scan creates it, keeping footers in `footers`.
    fn reader_with(path: PathBuf, footers: Arc<FileMetadataCache>) -> CountingReader {
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        let factory = CountingReaderFactory::local(BTreeSet::new(), footers);
        let location = datafusion::object_store::path::Path::from_filesystem_path(&path).unwrap();
        let file = PartitionedFile::new(location.to_string(), size);
        let metrics = ExecutionPlanMetricsSet::new();
        let inner = factory.inner.create_reader(0, file, Some(64 * 1024), &metrics).unwrap();
        CountingReader {
            inner,
            dictionaries: factory.dictionaries.clone(),
            path,
            file: None,
            bytes_scanned: ParquetFileMetrics::new(0, "f", &metrics).bytes_scanned,
        }
    }

    /// The value of a future that is ready when first polled (reads happen in place).
    fn ready<T>(f: impl Future<Output = T>) -> T {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the read waited"),
        }
    }

    /// Ranges are read in place and counted; a file that went away is an error naming it.
    #[test]
    fn ranges_are_read_in_place_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part.parquet");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let mut r = reader(path);
        let before = scan_totals();
        let got = ready(r.get_byte_ranges(vec![0..10, 4_000..4_100, 9_990..10_000])).unwrap();
        assert_eq!(got[0].as_ref(), &data[0..10]);
        assert_eq!(got[1].as_ref(), &data[4_000..4_100]);
        assert_eq!(got[2].as_ref(), &data[9_990..10_000]);
        let one = ready(r.get_bytes(100..200)).unwrap();
        assert_eq!(one.as_ref(), &data[100..200]);
        // Out of order and overlapping (the advice merges them; the reads do not).
        let got = ready(r.get_byte_ranges(vec![5_000..5_050, 4_990..5_010, 20..30])).unwrap();
        assert_eq!(got[0].as_ref(), &data[5_000..5_050]);
        assert_eq!(got[1].as_ref(), &data[4_990..5_010]);
        assert_eq!(got[2].as_ref(), &data[20..30]);
        assert!(scan_totals().since(before).bytes >= 300);
        assert_eq!(r.bytes_scanned.value(), 300);
        // Past the end of the file.
        let err = ready(r.get_bytes(9_000..11_000)).unwrap_err();
        assert!(err.to_string().contains("part.parquet"), "{err}");

        // Removed after the scan listed it.
        let gone_path = dir.path().join("gone.parquet");
        std::fs::write(&gone_path, &data).unwrap();
        let mut gone = reader(gone_path.clone());
        std::fs::remove_file(&gone_path).unwrap();
        let err = ready(gone.get_bytes(0..10)).unwrap_err();
        assert!(err.to_string().contains("gone.parquet"), "{err}");
    }

    /// A part's footer is read once: a second reader of the part gets it from the cache
    /// (here after the file is gone, so it cannot have read it), and a part of another size
    /// at the same path (not something the store writes) is read again.
    #[test]
    fn footers_are_read_once_per_part() {
        use datafusion::arrow::array::{Int64Array, RecordBatch};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part.parquet");
        let write = |rows: i64| {
            let batch = RecordBatch::try_from_iter([(
                "n",
                Arc::new(Int64Array::from_iter_values(0..rows)) as datafusion::arrow::array::ArrayRef,
            )])
            .unwrap();
            let mut w =
                parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None)
                    .unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
        };
        write(1_000);
        let cache = footers();
        let first = ready(reader_with(path.clone(), cache.clone()).get_metadata(None)).unwrap();
        assert_eq!(first.file_metadata().num_rows(), 1_000);
        assert_eq!(cache.len(), 1);
        let mut second = reader_with(path.clone(), cache.clone());
        std::fs::remove_file(&path).unwrap();
        let again = ready(second.get_metadata(None)).unwrap();
        assert_eq!(again.file_metadata().num_rows(), 1_000);

        write(10);
        let other = ready(reader_with(path.clone(), cache.clone()).get_metadata(None)).unwrap();
        assert_eq!(other.file_metadata().num_rows(), 10);
    }
}
