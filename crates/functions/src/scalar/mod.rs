//! The scalar functions of KQL, one module per family. Each module exports a `DEFS` table
//! of [`crate::catalog::FnDef`]s; [`DEF_TABLES`] lists them all.

pub mod analytics;
pub mod arrays;
pub mod bags;
pub mod cond;
pub mod convert;
pub mod datetime;
pub mod dtformat;
pub mod encode;
pub mod env;
pub mod extras;
pub mod ip;
pub mod jsonpath;
pub mod math;
pub mod parse;
pub mod regex_cache;
pub mod regexes;
pub mod series;
pub mod series_fit;
pub mod sets;
pub mod sketch;
pub mod string;
pub mod units;
pub mod xml;

use crate::catalog::FnDef;
use crate::val::Val;

pub static DEF_TABLES: &[&[FnDef]] = &[
    cond::DEFS,
    convert::DEFS,
    string::DEFS,
    regexes::DEFS,
    math::DEFS,
    datetime::DEFS,
    arrays::DEFS,
    bags::DEFS,
    sets::DEFS,
    encode::DEFS,
    ip::DEFS,
    units::DEFS,
    parse::DEFS,
    sketch::DEFS,
    series::DEFS,
    series::UNARY_DEFS,
    analytics::DEFS,
    env::DEFS,
    extras::DEFS,
    series_fit::DEFS,
    xml::DEFS,
];

static NULL: Val = Val::Null;

/// Argument `i` of a row, null when absent (optional parameters).
pub(crate) fn arg(args: &[Val], i: usize) -> &Val {
    args.get(i).unwrap_or(&NULL)
}
