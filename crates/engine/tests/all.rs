//! The crate's integration tests, in one test binary: as separate binaries each file
//! linked its own copy of DataFusion (about 250 MB each in a debug build), which cost
//! CI minutes of linking and gigabytes of disk.

mod common;

mod conformance;
mod memory;
mod no_panic;
mod operators;
mod optimized;
mod rules;
mod snapshots;
