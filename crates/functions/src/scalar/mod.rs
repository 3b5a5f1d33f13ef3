//! The scalar functions of KQL, one module per family. Each module exports a `DEFS` table
//! of [`crate::catalog::FnDef`]s; [`DEF_TABLES`] lists them all.

pub mod cond;
pub mod units;
pub mod ip;
pub mod encode;
pub mod dynamic;
pub mod jsonpath;
pub mod datetime;
pub mod math;
pub mod string;
pub mod convert;
pub mod regex_cache;

use crate::catalog::FnDef;
use crate::val::Val;

pub static DEF_TABLES: &[&[FnDef]] = &[cond::DEFS, convert::DEFS, string::DEFS, math::DEFS, datetime::DEFS, dynamic::DEFS, encode::DEFS, ip::DEFS, units::DEFS];

static NULL: Val = Val::Null;

/// Argument `i` of a row, null when absent (optional parameters).
pub(crate) fn arg(args: &[Val], i: usize) -> &Val {
    args.get(i).unwrap_or(&NULL)
}
