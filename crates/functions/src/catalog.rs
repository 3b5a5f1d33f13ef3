//! The catalogue of scalar functions: every KQL function name with its parameters and how
//! a call to it is lowered, and the registry of the DataFusion UDFs behind them.

use crate::api::{Arg, LowerCtx, TypedExpr};
use crate::error::FnError;
use crate::udf::{ArrayFn, Ret, RowFn, RowUdf};
use datafusion::logical_expr::{Expr, ScalarUDF};
use schema::KqlType;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// What a parameter accepts. The checks are Kusto's: a function that takes a number
/// rejects a string instead of guessing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum P {
    /// Any scalar.
    Any,
    /// A string; other scalars are converted as `tostring` would (Kusto does so for the
    /// string functions), but a dynamic value is accepted too (its text is used).
    Str,
    /// int, long, real or decimal (or a dynamic number).
    Num,
    /// int or long (or a dynamic number).
    Int,
    Bool,
    DateTime,
    TimeSpan,
    /// datetime or timespan.
    Time,
    Dynamic,
}

impl P {
    pub fn accepts(self, t: KqlType) -> bool {
        use KqlType as K;
        match self {
            P::Any | P::Str => true,
            P::Num => t.is_numeric() || t == K::Dynamic || t == K::Bool,
            P::Int => t.is_integer() || t == K::Dynamic || t == K::Real || t == K::Decimal,
            P::Bool => matches!(t, K::Bool | K::Dynamic | K::Int | K::Long),
            P::DateTime => matches!(t, K::DateTime | K::Dynamic),
            P::TimeSpan => matches!(t, K::TimeSpan | K::Dynamic),
            P::Time => matches!(t, K::DateTime | K::TimeSpan | K::Dynamic),
            P::Dynamic => t == K::Dynamic,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            P::Any => "scalar",
            P::Str => "string",
            P::Num => "number",
            P::Int => "long",
            P::Bool => "bool",
            P::DateTime => "datetime",
            P::TimeSpan => "timespan",
            P::Time => "datetime or timespan",
            P::Dynamic => "dynamic",
        }
    }
}

/// One parameter: its documented name (for named arguments) and what it accepts.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub kind: P,
}

pub const fn p(name: &'static str, kind: P) -> Param {
    Param { name, kind }
}

/// A call being lowered by a custom lowering: the function name, the positional
/// arguments (named ones already put in place) and the context.
pub struct Call<'a> {
    pub name: &'a str,
    pub args: Vec<TypedExpr>,
    pub ctx: &'a LowerCtx,
}

impl Call<'_> {
    pub fn types(&self) -> Vec<KqlType> {
        self.args.iter().map(|a| a.ty).collect()
    }
}

pub type CustomFn = fn(&Call) -> Result<TypedExpr, FnError>;

#[derive(Clone, Copy)]
pub enum Lower {
    /// A row-at-a-time UDF named `kql_<name>`.
    Row(Ret, RowFn),
    /// A lowering of its own (native DataFusion expressions, vectorised kernels, constant
    /// folding of `now()`…).
    Custom(CustomFn),
}

/// One scalar function of the catalogue.
#[derive(Clone, Copy)]
pub struct FnDef {
    pub name: &'static str,
    pub params: &'static [Param],
    /// The number of required parameters; the rest are optional.
    pub min: usize,
    /// When set, the last parameter repeats (`strcat(a, b, …)`), up to 64 arguments.
    pub variadic: bool,
    pub lower: Lower,
    /// For a row function: a whole-array path for the argument shapes it handles (it
    /// returns `None` for the others, which run row by row). It must give exactly the row
    /// function's results.
    pub arrays: Option<ArrayFn>,
}

impl FnDef {
    /// This row function with a whole-array path (see [`FnDef::arrays`]).
    pub const fn with_arrays(mut self, f: ArrayFn) -> FnDef {
        self.arrays = Some(f);
        self
    }
}

/// A function evaluated row by row with a fixed result type.
pub const fn row(name: &'static str, params: &'static [Param], min: usize, ret: KqlType, f: RowFn) -> FnDef {
    FnDef {
        name,
        params,
        min,
        variadic: false,
        lower: Lower::Row(Ret::Fixed(ret), f),
        arrays: None,
    }
}

/// A function evaluated row by row whose result type depends on its argument types.
pub const fn row_fn(
    name: &'static str,
    params: &'static [Param],
    min: usize,
    ret: fn(&[KqlType]) -> KqlType,
    f: RowFn,
) -> FnDef {
    FnDef {
        name,
        params,
        min,
        variadic: false,
        lower: Lower::Row(Ret::Fn(ret), f),
        arrays: None,
    }
}

/// A variadic row function (the last parameter repeats).
pub const fn row_var(name: &'static str, params: &'static [Param], min: usize, ret: Ret, f: RowFn) -> FnDef {
    FnDef {
        name,
        params,
        min,
        variadic: true,
        lower: Lower::Row(ret, f),
        arrays: None,
    }
}

pub const fn custom(name: &'static str, params: &'static [Param], min: usize, f: CustomFn) -> FnDef {
    FnDef {
        name,
        params,
        min,
        variadic: false,
        lower: Lower::Custom(f),
        arrays: None,
    }
}

pub const fn custom_var(name: &'static str, params: &'static [Param], min: usize, f: CustomFn) -> FnDef {
    FnDef {
        name,
        params,
        min,
        variadic: true,
        lower: Lower::Custom(f),
        arrays: None,
    }
}

const MAX_VARIADIC: usize = 64;

fn all_defs() -> impl Iterator<Item = &'static FnDef> {
    crate::scalar::DEF_TABLES.iter().flat_map(|t| t.iter())
}

fn defs_by_name() -> &'static HashMap<&'static str, &'static FnDef> {
    static MAP: OnceLock<HashMap<&'static str, &'static FnDef>> = OnceLock::new();
    MAP.get_or_init(|| all_defs().map(|d| (d.name, d)).collect())
}

/// The definition of a scalar function, by its KQL name (case-sensitive, as in Kusto).
pub fn lookup(name: &str) -> Option<&'static FnDef> {
    defs_by_name().get(name).copied()
}

/// Every scalar function name, sorted.
pub fn scalar_function_names() -> Vec<&'static str> {
    let mut names: Vec<_> = defs_by_name()
        .keys()
        .copied()
        .filter(|n| !n.starts_with("__"))
        .collect();
    names.sort_unstable();
    names
}

/// Every UDF of the library (row functions and kernels), by DataFusion name.
pub fn udfs() -> &'static HashMap<String, Arc<ScalarUDF>> {
    static MAP: OnceLock<HashMap<String, Arc<ScalarUDF>>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map = HashMap::new();
        for d in all_defs() {
            if let Lower::Row(ret, f) = d.lower {
                let name = udf_name(d.name);
                let udf = RowUdf::new(name.clone(), ret, f).with_arrays(d.arrays);
                map.insert(name, Arc::new(udf.into_udf()));
            }
        }
        for udf in crate::kernels::kernel_udfs() {
            map.insert(udf.name().to_string(), Arc::new(udf));
        }
        map
    })
}

/// The DataFusion name of the row UDF behind KQL function `name`.
pub fn udf_name(name: &str) -> String {
    format!("kql_{name}")
}

/// Calls a UDF of the library by DataFusion name.
pub fn call_udf(name: &str, args: Vec<Expr>) -> Result<Expr, FnError> {
    let udf = udfs()
        .get(name)
        .ok_or_else(|| FnError::Internal(format!("UDF {name} is not registered")))?;
    Ok(udf.call(args))
}

/// Calls the row UDF of KQL function `name` and types the result.
pub fn call_row(name: &str, args: Vec<TypedExpr>) -> Result<TypedExpr, FnError> {
    let def = lookup(name).ok_or_else(|| FnError::UnknownFunction(name.to_string()))?;
    let Lower::Row(ret, _) = def.lower else {
        return Err(FnError::Internal(format!("{name} is not a row function")));
    };
    let types: Vec<KqlType> = args.iter().map(|a| a.ty).collect();
    let ty = ret.resolve(&types);
    let expr = call_udf(&udf_name(name), args.into_iter().map(|a| a.expr).collect())?;
    Ok(TypedExpr::new(expr, ty))
}

/// Puts named arguments in their parameters' places.
fn place_args(def: &FnDef, args: Vec<Arg>) -> Result<Vec<TypedExpr>, FnError> {
    if args.iter().all(|a| a.name.is_none()) {
        return Ok(args.into_iter().map(|a| a.value).collect());
    }
    let mut slots: Vec<Option<TypedExpr>> = vec![None; def.params.len().max(args.len())];
    let mut next = 0;
    for a in args {
        let pos = match &a.name {
            None => {
                let pos = next;
                next += 1;
                pos
            }
            Some(n) => def
                .params
                .iter()
                .position(|p| p.name == n)
                .ok_or_else(|| FnError::UnknownArgumentName {
                    name: def.name.to_string(),
                    arg: n.clone(),
                })?,
        };
        if pos >= slots.len() {
            slots.resize(pos + 1, None);
        }
        slots[pos] = Some(a.value);
    }
    // Trailing unset optional parameters are dropped; a gap before a set one is an error.
    while slots.last().is_some_and(|s| s.is_none()) {
        slots.pop();
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.ok_or_else(|| {
                FnError::invalid(
                    def.name,
                    format!(
                        "The argument for parameter '{}' is missing.",
                        def.params.get(i).map(|p| p.name).unwrap_or("?")
                    ),
                )
            })
        })
        .collect()
}

/// Lowers a call to a scalar function.
pub fn lower_call(name: &str, args: Vec<Arg>, ctx: &LowerCtx) -> Result<TypedExpr, FnError> {
    // Names starting with "__" are the library's internal helpers.
    let def = lookup(name).filter(|_| !name.starts_with("__")).ok_or_else(|| {
        if is_known_unimplemented(name) {
            FnError::Unsupported(format!("the function '{name}'"))
        } else {
            FnError::UnknownFunction(name.to_string())
        }
    })?;
    let args = place_args(def, args)?;
    let max = if def.variadic { MAX_VARIADIC } else { def.params.len() };
    if args.len() < def.min || args.len() > max {
        return Err(FnError::arg_count(
            name,
            def.min,
            if def.variadic { usize::MAX } else { max },
        ));
    }
    for (i, a) in args.iter().enumerate() {
        let param = def.params.get(i).or(def.params.last());
        if let Some(param) = param
            && !param.kind.accepts(a.ty)
        {
            return Err(FnError::ArgType {
                name: name.to_string(),
                position: i + 1,
                expected: param.kind.describe().to_string(),
                actual: a.ty,
            });
        }
    }
    match def.lower {
        Lower::Row(..) => call_row(def.name, args),
        Lower::Custom(f) => f(&Call {
            name: def.name,
            args,
            ctx,
        }),
    }
}

/// Functions of the KQL reference that Quarry does not implement (yet): a call fails with
/// "not supported" rather than "unknown function", so users see it is a gap, not a typo.
const UNIMPLEMENTED: &[&str] = &[
    "bin_auto",
    "parse_user_agent",
    "series_decompose",
    "series_decompose_anomalies",
    "series_decompose_forecast",
    "series_periods_detect",
    "series_periods_validate",
];

/// True for a function of the KQL reference that this library does not implement.
pub fn is_known_unimplemented(name: &str) -> bool {
    UNIMPLEMENTED.contains(&name) || name.starts_with("geo_")
}

/// How the engine expands the value of a function that Kusto documents as producing
/// several columns (`extend (a, b) = series_fft(x)`, `print series_stats(x)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expansion {
    /// The value is a bag; one column per key, in this order, named
    /// `<function>_<argument column>_<key>` unless the query names them.
    BagKeys(&'static [&'static str]),
    /// The value is an array of as many series as there are array arguments (or
    /// `fixed` of them); column `i` is element `i`, named `<argument>_sorted` for the
    /// sort functions and after the query's names otherwise.
    ArrayItems { fixed: Option<usize> },
}

/// The expansion of a multi-column function, or `None` for ordinary functions.
pub fn expansion(name: &str) -> Option<Expansion> {
    Some(match name {
        "series_stats" => Expansion::BagKeys(&["min", "min_idx", "max", "max_idx", "avg", "stdev", "variance"]),
        "series_fit_line" => {
            Expansion::BagKeys(&["rsquare", "slope", "variance", "rvariance", "interception", "line_fit"])
        }
        "series_fit_2lines" => Expansion::BagKeys(&[
            "rsquare",
            "split_idx",
            "variance",
            "rvariance",
            "line_fit",
            "right_rsquare",
            "right_slope",
            "right_interception",
            "right_variance",
            "right_rvariance",
            "left_rsquare",
            "left_slope",
            "left_interception",
            "left_variance",
            "left_rvariance",
        ]),
        "series_fit_poly" => Expansion::BagKeys(&["rsquare", "coefficients", "variance", "rvariance", "poly_fit"]),
        "series_fft" | "series_ifft" => Expansion::ArrayItems { fixed: Some(2) },
        // Only with two or more array arguments; with one, the result is the sorted array.
        "array_sort_asc" | "array_sort_desc" => Expansion::ArrayItems { fixed: None },
        _ => return None,
    })
}

#[cfg(test)]
mod robustness {
    use super::*;
    use crate::val::Val;
    use serde_json::json;

    fn samples() -> Vec<Val> {
        vec![
            Val::Null,
            Val::Bool(true),
            Val::Int(i32::MIN),
            Val::Long(i64::MIN),
            Val::Long(-1),
            Val::Long(0),
            Val::Long(3),
            Val::Real(f64::NAN),
            Val::Real(-1e308),
            Val::Real(0.5),
            Val::Decimal(i128::MAX),
            Val::Str(String::new()),
            Val::Str("a.b/c:d".into()),
            Val::Str("ÄÖ 10.0.0.1 \u{0}".into()),
            Val::DateTime(i64::MAX),
            Val::DateTime(i64::MIN),
            Val::TimeSpan(i64::MIN),
            Val::Dyn(json!([])),
            Val::Dyn(json!([1, "x", null, [2.5]])),
            Val::Dyn(json!({"a": {"b": [1]}})),
        ]
    }

    /// Every row function, with every combination of awkward values (nulls, extremes,
    /// wrong shapes) for its first arguments, returns a value or an error — never panics.
    #[test]
    fn row_functions_never_panic() {
        // Functions whose output size follows a numeric argument are bounded but slow with
        // extreme values; they are tested with their bounds in their own modules.
        let skip = ["range", "repeat", "strrep"];
        let vals = samples();
        let mut calls = 0usize;
        for def in all_defs() {
            let Lower::Row(_, f) = def.lower else { continue };
            if skip.contains(&def.name) {
                continue;
            }
            let max = if def.variadic {
                def.min.max(1) + 1
            } else {
                def.params.len()
            };
            for arity in def.min..=max.min(def.min + 2) {
                let mut idx = vec![0usize; arity];
                let mut seed = 0x9e37_79b9_7f4a_7c15u64;
                for _ in 0..1500 {
                    let args: Vec<Val> = idx.iter().map(|i| vals[*i].clone()).collect();
                    let outcome = std::panic::catch_unwind(|| f(&args));
                    assert!(outcome.is_ok(), "{} panicked on {args:?}", def.name);
                    calls += 1;
                    // A deterministic walk over the combinations.
                    for slot in idx.iter_mut() {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        *slot = (seed % vals.len() as u64) as usize;
                    }
                }
            }
        }
        assert!(calls > 10_000, "{calls}");
    }

    /// Operators on every pair of awkward values.
    #[test]
    fn operators_never_panic() {
        use crate::ops::arith::{ArithOp, arith};
        use crate::ops::compare::compare_vals;
        let vals = samples();
        for a in &vals {
            for b in &vals {
                for op in [ArithOp::Add, ArithOp::Sub, ArithOp::Mul, ArithOp::Div, ArithOp::Mod] {
                    let r = std::panic::catch_unwind(|| arith(op, a, b));
                    assert!(r.is_ok(), "{op:?} panicked on {a:?}, {b:?}");
                }
                assert!(
                    std::panic::catch_unwind(|| compare_vals(a, b)).is_ok(),
                    "compare {a:?} {b:?}"
                );
                let out = std::panic::catch_unwind(|| crate::val::build_array(a.kql_type(), std::slice::from_ref(b)));
                assert!(out.is_ok(), "build {a:?} {b:?}");
                assert!(
                    std::panic::catch_unwind(|| (a.to_kstring(), a.to_json())).is_ok(),
                    "{a:?}"
                );
            }
        }
    }
}
