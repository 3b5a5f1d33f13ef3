//! Process-wide totals of what data-directory scans read: every Parquet reader our table
//! providers create counts the bytes it fetches. Benchmarks take the difference around a
//! piece of work (a hunt, whose plans run inside the hunt crate, has no plan to ask
//! [`crate::scan_metrics`] about).

use bytes::Bytes;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::ParquetFileReaderFactory;
use datafusion::datasource::physical_plan::parquet::DefaultParquetFileReaderFactory;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::file::metadata::ParquetMetaData;
use std::collections::BTreeSet;
use std::future::Future;
use std::ops::Range;
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
    inner: DefaultParquetFileReaderFactory,
    dictionaries: Arc<BTreeSet<String>>,
}

impl CountingReaderFactory {
    /// Over the local file system, reading `dictionaries` as dictionaries.
    pub fn local(dictionaries: BTreeSet<String>) -> Self {
        CountingReaderFactory {
            inner: DefaultParquetFileReaderFactory::new(Arc::new(
                datafusion::object_store::local::LocalFileSystem::new(),
            )),
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
        let inner = self
            .inner
            .create_reader(partition_index, partitioned_file, metadata_size_hint, metrics)?;
        Ok(Box::new(CountingReader {
            inner,
            dictionaries: self.dictionaries.clone(),
        }))
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

struct CountingReader {
    inner: Box<dyn AsyncFileReader + Send>,
    dictionaries: Arc<BTreeSet<String>>,
}

impl AsyncFileReader for CountingReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        BYTES.fetch_add(range.end.saturating_sub(range.start), Ordering::Relaxed);
        self.inner.get_bytes(range)
    }

    fn get_byte_ranges(&mut self, ranges: Vec<Range<u64>>) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        let n: u64 = ranges.iter().map(|r| r.end.saturating_sub(r.start)).sum();
        BYTES.fetch_add(n, Ordering::Relaxed);
        self.inner.get_byte_ranges(ranges)
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
