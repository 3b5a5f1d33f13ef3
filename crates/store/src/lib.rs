//! The data directory and everything that fills it (see docs/store.md).

pub mod error;
pub mod ingest;

pub use error::{Result, StoreError};
pub mod datadir;
pub mod manifest;
pub mod quarantine;
pub mod writer;

pub use datadir::{DataDir, Part, Partition, TableStats};
