//! Ingest of exported telemetry into the data directory.

pub mod builder;
pub mod convert;
pub mod dom;
