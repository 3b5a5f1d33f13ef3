//! Hunting: running rule sets over the data directory, applying their false-positive
//! exclusions, turning results into findings, and keeping runs and findings with their
//! triage in `<data>/quarry.db`. See docs/hunt.md.
//!
//! ```no_run
//! use hunt::{Hunter, HuntOptions, NowSpec, Selection, Silent};
//! let hunter = Hunter::new("quarry-data");
//! let options = HuntOptions { now: NowSpec::Latest, ..HuntOptions::default() };
//! let report = hunter.run(&Selection::Pack("rmm".into()), &options, &Silent)?;
//! for f in report.active_findings() {
//!     println!("{} on {}", f.rule_name, f.device_label());
//! }
//! # Ok::<(), hunt::HuntError>(())
//! ```

pub mod analyzer;
pub mod catalog;
pub mod entities;
pub mod exclusions;
pub mod findings;
mod fused;
mod hunter;
mod output_flags;
pub mod report;
mod rule_run;
pub mod seeds;
pub mod selection;
mod slice;
pub mod store;

pub use analyzer::{EngineAnalyzer, full_validator, semantic_diagnostics};
pub use catalog::{DataDirCatalog, DataFacts};
pub use entities::{Device, Entities, FileHash};
pub use exclusions::{ExclusionMode, ExclusionPlan};
pub use fused::SharedScan;
pub use hunter::{HuntObserver, HuntOptions, Hunter, NowSpec, Silent};
pub use report::{
    ExclusionReport, Finding, HuntPhases, ResultColumn, RuleReport, RuleStatus, RunReport, RunStatus, Suppression,
    TriageStatus, WindowSource,
};
pub use selection::{LoadedRules, Selection};
pub use store::{
    FindingDetail, FindingFilter, FindingRun, FindingsError, FindingsStore, RunDetail, RunSummary, StatusChange,
    StatusUpdate, StoredFinding,
};

/// Why a hunt could not run at all (a rule that fails is reported in the run instead).
#[derive(Debug, thiserror::Error)]
pub enum HuntError {
    #[error("{0}")]
    Selection(String),
    #[error("{0}")]
    NoData(String),
    #[error(transparent)]
    Data(#[from] ::store::StoreError),
    #[error(transparent)]
    Rules(#[from] rules::store::StoreError),
    #[error(transparent)]
    Findings(#[from] FindingsError),
    #[error("{0}")]
    Runtime(String),
}
