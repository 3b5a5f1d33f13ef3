//! The vocabulary every other Quarry crate shares: KQL's scalar types and how each one is
//! laid out in Arrow ([`KqlType`]), Kusto's text formats for datetimes and timespans
//! ([`values`]), and the built-in Defender XDR / Sentinel table schemas ([`tables`]).
//!
//! This crate is deliberately light (no DataFusion) so the parser, the store and the rules
//! crate can all depend on it.

pub mod tables;
pub mod types;
pub mod values;

pub use tables::{Catalog, Column, Product, TableSchema};
pub use types::KqlType;
