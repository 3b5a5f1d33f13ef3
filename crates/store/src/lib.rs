//! The data directory and everything that fills it (see docs/store.md).

pub mod error;
pub mod ingest;

pub use error::{Result, StoreError};
pub mod datadir;
pub mod manifest;
pub mod part_stats;
pub mod quarantine;
pub mod writer;

pub use datadir::{DataDir, Part, Partition, TableStats};
pub mod progress;

pub use ingest::{Format, IngestOptions, IngestReport, ingest};
pub use manifest::Counts;
pub use progress::Progress;
pub mod dictionary;
mod page_cache;
pub mod provider;
mod scan_count;

pub use page_cache::{disk_reads, drop_from_page_cache};
pub use provider::{DayPartitionedTable, FileTable, ScanMetrics, file_table, scan_metrics};
pub use scan_count::{ScanTotals, scan_totals};
pub mod generate;

pub use generate::{GenerateConfig, GroundTruth, Output, Planted, generate};
