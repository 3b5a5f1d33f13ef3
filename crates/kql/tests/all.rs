//! The crate's integration tests, in one test binary: as separate binaries each file
//! linked its own copy of DataFusion (about 250 MB each in a debug build), which cost
//! CI minutes of linking and gigabytes of disk.

mod common;

mod corpora;
mod robustness;
mod roundtrip;
mod snapshots;
