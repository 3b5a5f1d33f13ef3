//! The generic row-at-a-time scalar UDF that most KQL functions run as, and helpers for
//! the vectorised kernels.

use crate::val::{Val, build_array, to_scalar, val_at};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};
use schema::KqlType;
use std::hash::{Hash, Hasher};

/// A function of one row: the argument values in, the result out. Kusto functions return
/// null (or "" for strings) for arguments they cannot use; `Err` is for errors that must
/// stop the query (an invalid regular expression, say).
pub type RowFn = fn(&[Val]) -> Result<Val>;
/// The whole-array path of a row function: `None` when it does not handle these
/// arguments (see `FnDef::arrays`).
pub type ArrayFn = fn(&[ColumnarValue], usize) -> Option<Result<ColumnarValue>>;

/// How a function's KQL result type follows from its argument types.
#[derive(Clone, Copy)]
pub enum Ret {
    Fixed(KqlType),
    Fn(fn(&[KqlType]) -> KqlType),
}

impl Ret {
    pub fn resolve(&self, args: &[KqlType]) -> KqlType {
        match self {
            Ret::Fixed(t) => *t,
            Ret::Fn(f) => f(args),
        }
    }
}

impl std::fmt::Debug for Ret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ret::Fixed(t) => write!(f, "Fixed({t})"),
            Ret::Fn(_) => f.write_str("Fn"),
        }
    }
}

/// The signature every KQL UDF uses: any number of arguments of any type, no coercion.
/// Argument types are checked (and converted) by the lowering, in KQL terms, before the
/// call is built; at run time the function must accept every physical variant (Utf8,
/// LargeUtf8, Utf8View; Binary, BinaryView).
pub fn any_signature() -> Signature {
    Signature::one_of(
        vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
        Volatility::Immutable,
    )
}

/// The KQL types of physical arguments (unknown Arrow types read as dynamic).
pub fn kql_types(arrow: &[DataType]) -> Vec<KqlType> {
    arrow
        .iter()
        .map(|t| {
            if *t == DataType::Null {
                KqlType::Dynamic
            } else {
                KqlType::from_arrow(t).unwrap_or(KqlType::Dynamic)
            }
        })
        .collect()
}

/// A KQL function evaluated one row at a time over [`Val`]s.
#[derive(Debug)]
pub struct RowUdf {
    udf_name: String,
    signature: Signature,
    ret: Ret,
    f: RowFn,
    arrays: Option<ArrayFn>,
}

impl RowUdf {
    pub fn new(udf_name: String, ret: Ret, f: RowFn) -> Self {
        RowUdf {
            udf_name,
            signature: any_signature(),
            ret,
            f,
            arrays: None,
        }
    }

    /// With a whole-array path tried before the rows.
    pub fn with_arrays(mut self, arrays: Option<ArrayFn>) -> Self {
        self.arrays = arrays;
        self
    }

    pub fn into_udf(self) -> ScalarUDF {
        ScalarUDF::new_from_impl(self)
    }
}

// UDFs are identified by name: the names are unique within the library.
impl PartialEq for RowUdf {
    fn eq(&self, other: &Self) -> bool {
        self.udf_name == other.udf_name
    }
}
impl Eq for RowUdf {}
impl Hash for RowUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.udf_name.hash(state)
    }
}

impl ScalarUDFImpl for RowUdf {
    fn name(&self) -> &str {
        &self.udf_name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.ret.resolve(&kql_types(arg_types)).to_arrow())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ret = KqlType::from_arrow(args.return_field.data_type()).unwrap_or(KqlType::Dynamic);
        // Keep guid nulls: the declared KQL type decides, and guid shares Utf8 with string.
        let ret = match self.ret {
            Ret::Fixed(t) => t,
            Ret::Fn(_) => ret,
        };
        if let Some(out) = self.arrays.and_then(|f| f(&args.args, args.number_rows)) {
            return out;
        }
        eval_rows(&args.args, args.number_rows, ret, self.f)
    }
}

/// Runs `f` over every row of `args`, producing a scalar when every argument is a scalar.
pub fn eval_rows(args: &[ColumnarValue], number_rows: usize, ret: KqlType, f: RowFn) -> Result<ColumnarValue> {
    let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    if all_scalar {
        let vals = args
            .iter()
            .map(|a| match a {
                ColumnarValue::Scalar(s) => crate::val::scalar_val(s),
                ColumnarValue::Array(arr) => val_at(arr, 0),
            })
            .collect::<Result<Vec<_>>>()?;
        let out = f(&vals)?;
        return Ok(ColumnarValue::Scalar(to_scalar(ret, &out)?));
    }
    // Scalar arguments are read once, not once per row.
    enum Input {
        Const(Val),
        Column(ArrayRef),
    }
    let inputs = args
        .iter()
        .map(|a| match a {
            ColumnarValue::Scalar(s) => crate::val::scalar_val(s).map(Input::Const),
            ColumnarValue::Array(arr) => Ok(Input::Column(arr.clone())),
        })
        .collect::<Result<Vec<_>>>()?;
    let mut row = Vec::with_capacity(inputs.len());
    let mut out = Vec::with_capacity(number_rows);
    for i in 0..number_rows {
        row.clear();
        for input in &inputs {
            row.push(match input {
                Input::Const(v) => v.clone(),
                Input::Column(arr) => val_at(arr, i)?,
            });
        }
        out.push(f(&row)?);
    }
    Ok(ColumnarValue::Array(build_array(ret, &out)?))
}

/// Read access to a string array of any of Arrow's three layouts, without copying.
pub enum StrArray<'a> {
    Utf8(&'a datafusion::arrow::array::StringArray),
    Large(&'a datafusion::arrow::array::LargeStringArray),
    View(&'a datafusion::arrow::array::StringViewArray),
}

impl<'a> StrArray<'a> {
    pub fn new(arr: &'a dyn Array) -> Result<Self> {
        Ok(match arr.data_type() {
            DataType::Utf8 => StrArray::Utf8(arr.as_string::<i32>()),
            DataType::LargeUtf8 => StrArray::Large(arr.as_string::<i64>()),
            DataType::Utf8View => StrArray::View(arr.as_string_view()),
            other => {
                return Err(DataFusionError::Execution(format!(
                    "expected a string column, found {other}"
                )));
            }
        })
    }

    /// The string at `i`; null reads as "" (Kusto strings are never null).
    pub fn get(&self, i: usize) -> &'a str {
        match self {
            StrArray::Utf8(a) => {
                if a.is_null(i) {
                    ""
                } else {
                    a.value(i)
                }
            }
            StrArray::Large(a) => {
                if a.is_null(i) {
                    ""
                } else {
                    a.value(i)
                }
            }
            StrArray::View(a) => {
                if a.is_null(i) {
                    ""
                } else {
                    a.value(i)
                }
            }
        }
    }
}
