//! Columnar row sinks for generated tables, and the text forms (Defender streaming JSON,
//! CSV) of generated batches.

use crate::ingest::dom::push_json_string;
use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampNanosecondBuilder,
};
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type, TimestampNanosecondType};
use schema::values::format_datetime;
use schema::{KqlType, TableSchema};
use std::sync::Arc;

/// A column index that a table may not have: setters ignore it.
pub const ABSENT: usize = usize::MAX;

enum B {
    Bool(BooleanBuilder),
    Int(Int32Builder),
    Long(Int64Builder),
    Real(Float64Builder),
    Str(StringBuilder),
    Time(TimestampNanosecondBuilder),
    Dyn(BinaryBuilder),
}

/// Builds one table's batch row by row; columns a row does not set get their default
/// ("" for strings, null otherwise).
pub struct Sink {
    pub schema: Arc<TableSchema>,
    builders: Vec<B>,
    set: Vec<bool>,
    pub rows: usize,
}

impl Sink {
    /// A sink for `capacity` rows; `hints` (from [`Sink::bytes_per_row`] of an earlier sink
    /// of the table) sizes the string buffers so that they are allocated once.
    pub fn new(schema: Arc<TableSchema>, capacity: usize, hints: &[usize]) -> Self {
        let bytes = |i: usize, default: usize| capacity * hints.get(i).map_or(default, |h| h + h / 8 + 1);
        let builders = schema
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| match c.ty {
                KqlType::Bool => B::Bool(BooleanBuilder::with_capacity(capacity)),
                KqlType::Int => B::Int(Int32Builder::with_capacity(capacity)),
                KqlType::Long => B::Long(Int64Builder::with_capacity(capacity)),
                KqlType::Real | KqlType::Decimal | KqlType::TimeSpan => {
                    B::Real(Float64Builder::with_capacity(capacity))
                }
                KqlType::String | KqlType::Guid => B::Str(StringBuilder::with_capacity(capacity, bytes(i, 32))),
                KqlType::DateTime => B::Time(TimestampNanosecondBuilder::with_capacity(capacity)),
                KqlType::Dynamic => B::Dyn(BinaryBuilder::with_capacity(capacity, bytes(i, 4))),
            })
            .collect();
        let n = schema.columns.len();
        Sink {
            schema,
            builders,
            set: vec![false; n],
            rows: 0,
        }
    }

    /// Bytes per row so far of each string and dynamic column (0 for the others).
    pub fn bytes_per_row(&self) -> Vec<usize> {
        let rows = self.rows.max(1);
        self.builders
            .iter()
            .map(|b| match b {
                B::Str(b) => b.values_slice().len() / rows,
                B::Dyn(b) => b.values_slice().len() / rows,
                _ => 0,
            })
            .collect()
    }

    /// The index of a column, or [`ABSENT`].
    pub fn idx(&self, name: &str) -> usize {
        self.schema.column_index(name).unwrap_or(ABSENT)
    }

    pub fn str(&mut self, i: usize, v: &str) {
        if let Some(B::Str(b)) = self.builders.get_mut(i) {
            b.append_value(v);
            self.set[i] = true;
        }
    }

    pub fn long(&mut self, i: usize, v: i64) {
        match self.builders.get_mut(i) {
            Some(B::Long(b)) => b.append_value(v),
            Some(B::Int(b)) => b.append_value(v as i32),
            _ => return,
        }
        self.set[i] = true;
    }

    pub fn bool(&mut self, i: usize, v: bool) {
        if let Some(B::Bool(b)) = self.builders.get_mut(i) {
            b.append_value(v);
            self.set[i] = true;
        }
    }

    pub fn time(&mut self, i: usize, nanos: i64) {
        if let Some(B::Time(b)) = self.builders.get_mut(i) {
            b.append_value(nanos);
            self.set[i] = true;
        }
    }

    pub fn dynamic(&mut self, i: usize, json: &str) {
        if let Some(B::Dyn(b)) = self.builders.get_mut(i) {
            b.append_value(json.as_bytes());
            self.set[i] = true;
        }
    }

    pub fn end_row(&mut self) {
        for (i, b) in self.builders.iter_mut().enumerate() {
            if std::mem::replace(&mut self.set[i], false) {
                continue;
            }
            match b {
                B::Bool(b) => b.append_null(),
                B::Int(b) => b.append_null(),
                B::Long(b) => b.append_null(),
                B::Real(b) => b.append_null(),
                B::Str(b) => b.append_value(""),
                B::Time(b) => b.append_null(),
                B::Dyn(b) => b.append_null(),
            }
        }
        self.rows += 1;
    }

    pub fn finish(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .zip(&self.schema.columns)
            .map(|(b, c)| -> ArrayRef {
                match b {
                    B::Bool(b) => Arc::new(b.finish()),
                    B::Int(b) => Arc::new(b.finish()),
                    B::Long(b) => Arc::new(b.finish()),
                    B::Real(b) => {
                        let a = b.finish();
                        // Generated tables have no decimal/timespan columns; keep the layout right
                        // if one ever appears.
                        arrow::compute::cast(&a, &c.ty.to_arrow()).unwrap_or_else(|_| Arc::new(a))
                    }
                    B::Str(b) => Arc::new(b.finish()),
                    B::Time(b) => Arc::new(b.finish()),
                    B::Dyn(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        let schema = Arc::new(self.schema.arrow_schema());
        let options =
            arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(arrays.first().map_or(0, |a| a.len())));
        RecordBatch::try_new_with_options(schema.clone(), arrays, &options)
            .unwrap_or_else(|_| RecordBatch::new_empty(schema))
    }
}

/// One cell as text: datetimes in Kusto's form, dynamic as its JSON, null as `None`.
fn cell(col: &dyn Array, row: usize, out: &mut String) -> bool {
    if col.is_null(row) {
        return false;
    }
    match col.data_type() {
        DataType::Utf8 => out.push_str(col.as_string::<i32>().value(row)),
        DataType::Binary => out.push_str(&String::from_utf8_lossy(col.as_binary::<i32>().value(row))),
        DataType::Boolean => out.push_str(if col.as_boolean().value(row) { "true" } else { "false" }),
        DataType::Int32 => out.push_str(&col.as_primitive::<Int32Type>().value(row).to_string()),
        DataType::Int64 => out.push_str(&col.as_primitive::<Int64Type>().value(row).to_string()),
        DataType::Float64 => out.push_str(&col.as_primitive::<Float64Type>().value(row).to_string()),
        DataType::Timestamp(..) => out.push_str(&format_datetime(
            col.as_primitive::<TimestampNanosecondType>().value(row),
        )),
        _ => return false,
    }
    true
}

/// Appends the rows of `batch` as Defender streaming API records (one JSON object per line),
/// leaving out the Sentinel-only columns, as Defender writes them to a storage account.
pub fn write_streaming_json(batch: &RecordBatch, table: &TableSchema, tenant: &str, out: &mut String) {
    let cols: Vec<(usize, &schema::Column)> = table
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.sentinel_only)
        .collect();
    let ts = table.time_column().and_then(|c| table.column_index(c));
    let mut text = String::new();
    for row in 0..batch.num_rows() {
        out.push_str("{\"time\":\"");
        if let Some(i) = ts {
            text.clear();
            cell(batch.column(i).as_ref(), row, &mut text);
            out.push_str(&text);
        }
        out.push_str("\",\"tenantId\":");
        push_json_string(out, tenant);
        out.push_str(",\"operationName\":\"Publish\",\"category\":\"AdvancedHunting-");
        out.push_str(&table.name);
        out.push_str("\",\"properties\":{");
        let mut first = true;
        for (i, c) in &cols {
            let col = batch.column(*i);
            if !first {
                out.push(',');
            }
            first = false;
            push_json_string(out, &c.name);
            out.push(':');
            text.clear();
            if !cell(col.as_ref(), row, &mut text) {
                out.push_str("null");
                continue;
            }
            match c.ty {
                KqlType::Bool | KqlType::Int | KqlType::Long | KqlType::Real | KqlType::Dynamic => out.push_str(&text),
                _ => push_json_string(out, &text),
            }
        }
        out.push_str("}}\n");
    }
}

/// Appends the rows of `batch` as CSV (header written by [`csv_header`]), as the advanced
/// hunting portal exports them.
pub fn write_csv(batch: &RecordBatch, table: &TableSchema, out: &mut String) {
    let cols: Vec<usize> = (0..table.columns.len())
        .filter(|i| !table.columns[*i].sentinel_only)
        .collect();
    let mut text = String::new();
    for row in 0..batch.num_rows() {
        for (n, i) in cols.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            text.clear();
            if cell(batch.column(*i).as_ref(), row, &mut text) {
                push_csv_field(out, &text);
            }
        }
        out.push('\n');
    }
}

pub fn csv_header(table: &TableSchema) -> String {
    let mut out = String::new();
    for (n, c) in table.columns.iter().filter(|c| !c.sentinel_only).enumerate() {
        if n > 0 {
            out.push(',');
        }
        push_csv_field(&mut out, &c.name);
    }
    out.push('\n');
    out
}

fn push_csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// Reads a time column value (for tests).
pub fn time_values(batch: &RecordBatch, name: &str) -> Vec<i64> {
    batch
        .column_by_name(name)
        .and_then(|c| {
            c.as_primitive_opt::<TimestampNanosecondType>()
                .map(|a| a.values().to_vec())
        })
        .unwrap_or_default()
}
