//! A generic UDAF over [`Val`]s: the accumulator sees one row of argument values at a time
//! and keeps a partial state that serialises to JSON (one `Binary` state field), so that
//! partial aggregates merge across partitions and, later, across machines.

use crate::udf::kql_types;
use crate::val::{Val, build_array, parse_dynamic, val_at};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, TypeSignature, Volatility};
use schema::KqlType;
use schema::types::DECIMAL_SCALE;
use serde_json::Value as Json;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The partial state and logic of one KQL aggregate.
pub trait ValAcc: Send + Sync + std::fmt::Debug {
    fn update(&mut self, row: &[Val]) -> Result<()>;
    fn state(&self) -> Json;
    fn merge(&mut self, state: &Json) -> Result<()>;
    /// The final value, built as a scalar of the UDAF's return type.
    fn evaluate(&self, ret: &DataType) -> Result<ScalarValue>;
    fn size(&self) -> usize;
}

/// Builds a fresh accumulator for the KQL types of the arguments.
pub type AccFactory = fn(&[KqlType]) -> Box<dyn ValAcc>;

#[derive(Debug)]
pub struct ValUdaf {
    name: String,
    signature: Signature,
    ret: fn(&[DataType]) -> DataType,
    make: AccFactory,
}

impl ValUdaf {
    pub fn udaf(name: &str, ret: fn(&[DataType]) -> DataType, make: AccFactory) -> AggregateUDF {
        AggregateUDF::new_from_impl(ValUdaf {
            name: name.to_string(),
            signature: Signature::one_of(vec![TypeSignature::VariadicAny], Volatility::Immutable),
            ret,
            make,
        })
    }
}

impl PartialEq for ValUdaf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for ValUdaf {}
impl Hash for ValUdaf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

impl AggregateUDFImpl for ValUdaf {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok((self.ret)(arg_types))
    }
    fn is_nullable(&self) -> bool {
        true
    }
    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let types: Vec<DataType> = acc_args.expr_fields.iter().map(|f| f.data_type().clone()).collect();
        Ok(Box::new(ValAccumulator {
            inner: (self.make)(&kql_types(&types)),
            ret: acc_args.return_type().clone(),
        }))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}_state", args.name),
            DataType::Binary,
            true,
        ))])
    }
}

#[derive(Debug)]
struct ValAccumulator {
    inner: Box<dyn ValAcc>,
    ret: DataType,
}

impl Accumulator for ValAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let n = values.first().map(|a| a.len()).unwrap_or(0);
        let mut row = Vec::with_capacity(values.len());
        for i in 0..n {
            row.clear();
            for a in values {
                row.push(val_at(a.as_ref(), i)?);
            }
            self.inner.update(&row)?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.inner.evaluate(&self.ret)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.inner.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(
            self.inner.state().to_string().into_bytes(),
        ))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(arr) = states.first() else { return Ok(()) };
        let bin = match arr.data_type() {
            DataType::Binary => arr.as_binary::<i32>(),
            other => {
                return Err(DataFusionError::Internal(format!(
                    "unexpected aggregate state type {other}"
                )));
            }
        };
        for i in 0..bin.len() {
            if !bin.is_null(i) {
                self.inner.merge(&parse_dynamic(bin.value(i)))?;
            }
        }
        Ok(())
    }
}

/// A value in a partial state, keeping its type: datetimes and timespans as nanosecond
/// numbers, decimals as text, non-finite reals as text.
pub fn encode(v: &Val) -> Json {
    match v {
        Val::DateTime(n) | Val::TimeSpan(n) => Json::from(*n),
        Val::Decimal(d) => Json::String(d.to_string()),
        Val::Real(r) if !r.is_finite() => Json::String(crate::render::format_real(*r)),
        other => other.to_json(),
    }
}

/// The inverse of [`encode`] for a value of KQL type `ty`.
pub fn decode(j: &Json, ty: KqlType) -> Val {
    if j.is_null() {
        return Val::Null;
    }
    match ty {
        KqlType::DateTime => j.as_i64().map(Val::DateTime).unwrap_or(Val::Null),
        KqlType::TimeSpan => j.as_i64().map(Val::TimeSpan).unwrap_or(Val::Null),
        KqlType::Decimal => j
            .as_str()
            .and_then(|s| s.parse::<i128>().ok())
            .map(Val::Decimal)
            .unwrap_or(Val::Null),
        KqlType::Real => match j {
            Json::String(s) => crate::scalar::convert::parse_real_text(s)
                .map(Val::Real)
                .unwrap_or(Val::Null),
            other => other.as_f64().map(Val::Real).unwrap_or(Val::Null),
        },
        KqlType::Long => j.as_i64().map(Val::Long).unwrap_or(Val::Null),
        KqlType::Int => j.as_i64().map(|x| Val::Int(x as i32)).unwrap_or(Val::Null),
        KqlType::Bool => j.as_bool().map(Val::Bool).unwrap_or(Val::Null),
        KqlType::String | KqlType::Guid => Val::Str(j.as_str().unwrap_or_default().to_string()),
        KqlType::Dynamic => Val::Dyn(j.clone()),
    }
}

/// A single value as a scalar of Arrow type `ret` (a KQL type's layout).
pub fn scalar_of(ret: &DataType, v: &Val) -> Result<ScalarValue> {
    let ty = KqlType::from_arrow(ret).unwrap_or(KqlType::Dynamic);
    let arr = build_array(ty, std::slice::from_ref(v))?;
    ScalarValue::try_from_array(&arr, 0)
}

/// Several values as a one-row struct scalar of type `ret` (fields in order).
pub fn struct_of(ret: &DataType, vals: &[Val]) -> Result<ScalarValue> {
    let DataType::Struct(fields) = ret else {
        return Err(DataFusionError::Internal(format!(
            "expected a struct return type, found {ret}"
        )));
    };
    let mut arrays = Vec::with_capacity(fields.len());
    for (i, f) in fields.iter().enumerate() {
        let ty = KqlType::from_arrow(f.data_type()).unwrap_or(KqlType::Dynamic);
        arrays.push(build_array(
            ty,
            std::slice::from_ref(vals.get(i).unwrap_or(&Val::Null)),
        )?);
    }
    let s = datafusion::arrow::array::StructArray::try_new(fields.clone(), arrays, None)?;
    Ok(ScalarValue::Struct(Arc::new(s)))
}

/// The canonical Arrow type (KQL layout) of an argument's Arrow type.
pub fn canonical(dt: &DataType) -> DataType {
    KqlType::from_arrow(dt).unwrap_or(KqlType::Dynamic).to_arrow()
}

/// A struct type whose fields are `f0..fn` with the canonical types of `types`.
pub fn struct_type(types: &[DataType]) -> DataType {
    let fields: Vec<Field> = types
        .iter()
        .enumerate()
        .map(|(i, t)| Field::new(format!("f{i}"), canonical(t), true))
        .collect();
    DataType::Struct(fields.into())
}

/// A real out of decimal's fixed point, for aggregates that compute in reals.
pub fn decimal_to_f64(d: i128) -> f64 {
    d as f64 / 10f64.powi(DECIMAL_SCALE as i32)
}
