//! Columnar builders for one table: records are converted value by value and appended to
//! Arrow builders, a whole record or nothing (a record that fails goes to the quarantine).
//!
//! Unknown columns are never dropped: the first time a record of a table carries a column
//! the table's schema lacks, the column is added to the table's schema (type inferred from
//! the value, see [`convert::infer_type`]) through the shared [`SchemaRegistry`], so every
//! worker agrees on its type, and the schema stored in the data directory grows.

use super::convert::{self, Typed};
use super::dom::Json;
use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Decimal128Builder, DurationNanosecondBuilder, Float64Builder,
    Int32Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder,
};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use schema::{Catalog, Column, KqlType, Product, TableSchema};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

/// The schemas of the tables one ingest writes: the stored (or built-in) schema of each
/// table, grown by the columns found in the data.
#[derive(Debug, Default)]
pub struct SchemaRegistry {
    tables: Mutex<BTreeMap<String, TableSchema>>,
}

impl SchemaRegistry {
    pub fn new(stored: impl IntoIterator<Item = TableSchema>) -> Self {
        let tables = stored.into_iter().map(|t| (t.name.clone(), t)).collect();
        SchemaRegistry {
            tables: Mutex::new(tables),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, TableSchema>> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The schema of `name`: stored, else built-in, else a new inferred table with no columns.
    pub fn table(&self, name: &str) -> TableSchema {
        let mut tables = self.lock();
        tables
            .entry(name.to_string())
            .or_insert_with(|| match Catalog::builtin().get(name) {
                Some(t) => (**t).clone(),
                None => TableSchema::new(name, Product::Inferred, Vec::new()),
            })
            .clone()
    }

    /// Adds `column` to `table` unless it exists; returns the column's type either way.
    pub fn add_column(&self, table: &str, column: &str, ty: KqlType) -> KqlType {
        let mut tables = self.lock();
        let Some(t) = tables.get_mut(table) else {
            return ty;
        };
        if let Some(c) = t.column(column) {
            return c.ty;
        }
        t.columns.push(Column::new(column, ty));
        ty
    }

    pub fn snapshot(&self) -> BTreeMap<String, TableSchema> {
        self.lock().clone()
    }
}

enum ColBuilder {
    Bool(BooleanBuilder),
    Int(Int32Builder),
    Long(Int64Builder),
    Real(Float64Builder),
    Decimal(Decimal128Builder),
    Str(StringBuilder),
    Time(TimestampNanosecondBuilder),
    Span(DurationNanosecondBuilder),
    Dyn(BinaryBuilder),
}

impl ColBuilder {
    fn new(ty: KqlType) -> Self {
        match ty {
            KqlType::Bool => ColBuilder::Bool(BooleanBuilder::new()),
            KqlType::Int => ColBuilder::Int(Int32Builder::new()),
            KqlType::Long => ColBuilder::Long(Int64Builder::new()),
            KqlType::Real => ColBuilder::Real(Float64Builder::new()),
            KqlType::Decimal => ColBuilder::Decimal(
                Decimal128Builder::new()
                    .with_precision_and_scale(schema::types::DECIMAL_PRECISION, schema::types::DECIMAL_SCALE)
                    .unwrap_or_default(),
            ),
            KqlType::String | KqlType::Guid => ColBuilder::Str(StringBuilder::new()),
            KqlType::DateTime => ColBuilder::Time(TimestampNanosecondBuilder::new()),
            KqlType::TimeSpan => ColBuilder::Span(DurationNanosecondBuilder::new()),
            KqlType::Dynamic => ColBuilder::Dyn(BinaryBuilder::new()),
        }
    }

    /// Appends a value already converted to this column's type (see [`convert::convert`]);
    /// anything else is appended as null ("" for strings), which cannot happen by
    /// construction.
    fn append(&mut self, v: &Typed) {
        match (self, v) {
            (ColBuilder::Bool(b), Typed::Bool(x)) => b.append_value(*x),
            (ColBuilder::Int(b), Typed::Int(x)) => b.append_value(*x),
            (ColBuilder::Long(b), Typed::Long(x)) => b.append_value(*x),
            (ColBuilder::Real(b), Typed::Real(x)) => b.append_value(*x),
            (ColBuilder::Decimal(b), Typed::Decimal(x)) => b.append_value(*x),
            (ColBuilder::Str(b), Typed::Str(x)) => b.append_value(x),
            (ColBuilder::Time(b), Typed::Nanos(x)) => b.append_value(*x),
            (ColBuilder::Span(b), Typed::Nanos(x)) => b.append_value(*x),
            (ColBuilder::Dyn(b), Typed::Dynamic(x)) => b.append_value(x.as_bytes()),
            (c, _) => c.append_null(),
        }
    }

    fn append_null(&mut self) {
        match self {
            ColBuilder::Bool(b) => b.append_null(),
            ColBuilder::Int(b) => b.append_null(),
            ColBuilder::Long(b) => b.append_null(),
            ColBuilder::Real(b) => b.append_null(),
            ColBuilder::Decimal(b) => b.append_null(),
            // Kusto strings are never null.
            ColBuilder::Str(b) => b.append_value(""),
            ColBuilder::Time(b) => b.append_null(),
            ColBuilder::Span(b) => b.append_null(),
            ColBuilder::Dyn(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColBuilder::Bool(b) => Arc::new(b.finish()),
            ColBuilder::Int(b) => Arc::new(b.finish()),
            ColBuilder::Long(b) => Arc::new(b.finish()),
            ColBuilder::Real(b) => Arc::new(b.finish()),
            ColBuilder::Decimal(b) => Arc::new(b.finish()),
            ColBuilder::Str(b) => Arc::new(b.finish()),
            ColBuilder::Time(b) => Arc::new(b.finish()),
            ColBuilder::Span(b) => Arc::new(b.finish()),
            ColBuilder::Dyn(b) => Arc::new(b.finish()),
        }
    }
}

/// Values from outside a record's own fields: the streaming API envelope's `time` and
/// `tenantId`, used when the record lacks `Timestamp`/`TenantId`.
#[derive(Default, Clone, Copy)]
pub struct Envelope<'e, 'a> {
    pub time: Option<&'e Json<'a>>,
    pub tenant: Option<&'e str>,
}

/// Builds the record batches of one table.
pub struct TableBuilder {
    table: String,
    /// Parse values as text (CSV): affects only the inference of unknown columns.
    from_text: bool,
    names: Vec<String>,
    types: Vec<KqlType>,
    index: HashMap<String, usize>,
    cols: Vec<ColBuilder>,
    rows: usize,
    /// Indices of the columns the Sentinel form of Defender tables fills.
    timestamp: Option<usize>,
    time_generated: Option<usize>,
    type_col: Option<usize>,
    tenant: Option<usize>,
}

impl TableBuilder {
    pub fn new(schema: &TableSchema, from_text: bool) -> Self {
        let mut b = TableBuilder {
            table: schema.name.clone(),
            from_text,
            names: Vec::new(),
            types: Vec::new(),
            index: HashMap::new(),
            cols: Vec::new(),
            rows: 0,
            timestamp: None,
            time_generated: None,
            type_col: None,
            tenant: None,
        };
        for c in &schema.columns {
            b.push_column(&c.name, c.ty);
        }
        b
    }

    fn push_column(&mut self, name: &str, ty: KqlType) -> usize {
        let idx = self.names.len();
        let mut col = ColBuilder::new(ty);
        for _ in 0..self.rows {
            col.append_null();
        }
        self.names.push(name.to_string());
        self.types.push(ty);
        self.index.insert(name.to_string(), idx);
        self.cols.push(col);
        let is = |n: &str| name == n;
        if is("Timestamp") && ty == KqlType::DateTime {
            self.timestamp = Some(idx);
        } else if is("TimeGenerated") && ty == KqlType::DateTime {
            self.time_generated = Some(idx);
        } else if is("Type") && ty == KqlType::String {
            self.type_col = Some(idx);
        } else if is("TenantId") && matches!(ty, KqlType::String | KqlType::Guid) {
            self.tenant = Some(idx);
        }
        idx
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Converts and appends one record; on failure nothing is appended and the reason names
    /// the column and value.
    pub fn append<'a>(
        &mut self,
        fields: &[(Cow<'a, str>, Json<'a>)],
        env: Envelope<'_, 'a>,
        registry: &SchemaRegistry,
    ) -> Result<(), String> {
        let mut values: Vec<Typed<'_>> = vec![Typed::Null; self.names.len()];
        for (pos, (key, value)) in fields.iter().enumerate() {
            // Exports write columns in the same order on every record: try the position first.
            let idx = match self.names.get(pos) {
                Some(n) if n == key.as_ref() => pos,
                _ => match self.index.get(key.as_ref()) {
                    Some(&i) => i,
                    None => {
                        if key.is_empty() {
                            return Err("a field has an empty name".to_string());
                        }
                        let inferred = convert::infer_type(key, value, self.from_text);
                        let ty = registry.add_column(&self.table, key, inferred);
                        let i = self.push_column(key, ty);
                        values.push(Typed::Null);
                        i
                    }
                },
            };
            let ty = self.types[idx];
            values[idx] = convert::convert(ty, value).map_err(|reason| format!("column '{key}' ({ty}): {reason}"))?;
        }
        self.fill_derived(&mut values, env)?;
        for (col, v) in self.cols.iter_mut().zip(&values) {
            col.append(v);
        }
        self.rows += 1;
        Ok(())
    }

    /// Fills the columns a Defender table carries in its Sentinel form, and the time column
    /// from the streaming envelope, when the record lacks them (documented in docs/store.md).
    fn fill_derived<'a>(&self, values: &mut [Typed<'a>], env: Envelope<'_, 'a>) -> Result<(), String> {
        let is_null = |v: &Typed| matches!(v, Typed::Null);
        let is_blank = |v: &Typed| matches!(v, Typed::Null) || matches!(v, Typed::Str(s) if s.is_empty());
        if let (Some(ts), Some(time)) = (self.timestamp, env.time)
            && is_null(&values[ts])
        {
            values[ts] =
                convert::convert(KqlType::DateTime, time).map_err(|reason| format!("envelope 'time': {reason}"))?;
        }
        if let (Some(ts), Some(tg)) = (self.timestamp, self.time_generated) {
            if is_null(&values[tg]) {
                values[tg] = values[ts].clone();
            } else if is_null(&values[ts]) {
                values[ts] = values[tg].clone();
            }
        }
        if let Some(t) = self.type_col
            && is_blank(&values[t])
        {
            values[t] = Typed::Str(Cow::Owned(self.table.clone()));
        }
        if let (Some(t), Some(tenant)) = (self.tenant, env.tenant)
            && is_blank(&values[t])
        {
            values[t] = Typed::Str(Cow::Owned(tenant.to_string()));
        }
        Ok(())
    }

    /// The rows appended so far as one batch (columns in schema order, extras last);
    /// the builder is empty afterwards.
    pub fn finish(&mut self) -> RecordBatch {
        let fields: Vec<Field> = self
            .names
            .iter()
            .zip(&self.types)
            .map(|(n, t)| Field::new(n, t.to_arrow(), true))
            .collect();
        let arrays: Vec<ArrayRef> = self.cols.iter_mut().map(ColBuilder::finish).collect();
        let rows = self.rows;
        self.rows = 0;
        let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows));
        // The arrays come from builders of exactly these types and lengths.
        RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)
            .unwrap_or_else(|_| RecordBatch::new_empty(Arc::new(Schema::empty())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int64Type, TimestampNanosecondType};

    fn fields(text: &str) -> Vec<(Cow<'_, str>, Json<'_>)> {
        match Json::parse(text).unwrap() {
            Json::Object(p) => p,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn sentinel_columns_are_filled_and_unknown_columns_kept() {
        let reg = SchemaRegistry::default();
        let schema = reg.table("DeviceFileCertificateInfo");
        let mut b = TableBuilder::new(&schema, false);
        let rec = r#"{"Timestamp":"2024-05-01T10:00:00Z","DeviceId":"d1","Signer":"Action1 Corporation","ReportId":"17","Brand":{"x":1}}"#;
        b.append(
            &fields(rec),
            Envelope {
                time: None,
                tenant: Some("t-1"),
            },
            &reg,
        )
        .unwrap();
        let bad = r#"{"Timestamp":"not a date","DeviceId":"d2"}"#;
        let err = b.append(&fields(bad), Envelope::default(), &reg).unwrap_err();
        assert_eq!(
            err,
            "column 'Timestamp' (datetime): \"not a date\" is not a valid datetime"
        );
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 1);
        let s = batch.schema();
        let tg = batch
            .column(s.index_of("TimeGenerated").unwrap())
            .as_primitive::<TimestampNanosecondType>();
        assert_eq!(tg.value(0), 1_714_557_600_000_000_000);
        let ty = batch.column(s.index_of("Type").unwrap()).as_string::<i32>();
        assert_eq!(ty.value(0), "DeviceFileCertificateInfo");
        let tenant = batch.column(s.index_of("TenantId").unwrap()).as_string::<i32>();
        assert_eq!(tenant.value(0), "t-1");
        let rid = batch
            .column(s.index_of("ReportId").unwrap())
            .as_primitive::<Int64Type>();
        assert_eq!(rid.value(0), 17);
        let brand = batch.column(s.index_of("Brand").unwrap()).as_binary::<i32>();
        assert_eq!(brand.value(0), br#"{"x":1}"#);
        // A string column nobody filled is "", never null.
        let issuer = batch.column(s.index_of("Issuer").unwrap());
        assert_eq!(issuer.null_count(), 0);
        assert_eq!(
            reg.snapshot()["DeviceFileCertificateInfo"].column("Brand").unwrap().ty,
            KqlType::Dynamic
        );
    }

    #[test]
    fn inferred_tables_grow_columns_and_backfill() {
        let reg = SchemaRegistry::default();
        let mut b = TableBuilder::new(&reg.table("MyCustom_CL"), false);
        b.append(
            &fields(r#"{"TimeGenerated":"2024-05-01","A":1}"#),
            Envelope::default(),
            &reg,
        )
        .unwrap();
        b.append(
            &fields(r#"{"TimeGenerated":"2024-05-02","B":"x","A":"2"}"#),
            Envelope::default(),
            &reg,
        )
        .unwrap();
        let err = b
            .append(&fields(r#"{"A":"abc"}"#), Envelope::default(), &reg)
            .unwrap_err();
        assert!(err.contains("column 'A' (long)"), "{err}");
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 2);
        let bcol = batch.column_by_name("B").unwrap().as_string::<i32>();
        assert_eq!((bcol.value(0), bcol.value(1)), ("", "x"));
        let t = reg.table("MyCustom_CL");
        assert_eq!(t.product, Product::Inferred);
        assert_eq!(t.time_column(), Some("TimeGenerated"));
    }
}
