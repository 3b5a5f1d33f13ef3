//! Rules: the rule model, import of Azure-Sentinel YAML and SOC-feed pages, the ATT&CK
//! catalog, rule-level validation, built-in packs and the rule store. See docs/rules.md.

pub mod attack;
pub mod diag;
pub mod export;
pub mod import;
pub mod model;
pub mod packs;
pub mod position;
pub mod store;
pub mod validate;
mod yaml;

pub use attack::Attack;
pub use diag::{Level, RuleDiagnostic};
pub use import::{FileImport, ImportReport, import_paths, import_text};
pub use model::*;
pub use position::{Position, TextMap};
pub use store::{RuleFilter, RuleStore, StoredRule, Upsert};
pub use validate::{QueryAnalysis, QueryAnalyzer, Validator, validate, validate_set};
