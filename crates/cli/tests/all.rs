//! The crate's integration tests, in one test binary: as separate binaries each file
//! linked its own copy of DataFusion (about 250 MB each in a debug build), which cost
//! CI minutes of linking and gigabytes of disk.

mod support {
    pub mod cdp;
    pub mod run;
}

mod bench_cli;
mod check_fmt;
mod check_rules;
mod coverage_cli;
mod hunt_cli;
mod query_cli;
mod rules_cli;
mod store_cli;
mod web_browser;
