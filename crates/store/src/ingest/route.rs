//! From one record of any export format to a row of a table (or a quarantine entry): which
//! table a record belongs to, and its fields.
//!
//! A JSON record is recognised by its shape, record by record, so one file may mix them:
//! * Defender streaming API: `{"time","tenantId","category":"AdvancedHunting-<Table>","properties":{…}}`;
//! * Event Hub message: `{"records":[<streaming records>]}`;
//! * Log Analytics / Sentinel export: `{"Type":"<Table>","TimeGenerated":…, …}`;
//! * anything else: the table given by `--table` or the input's file name.

use super::builder::{Envelope, SchemaRegistry, TableBuilder};
use super::dom::Json;
use crate::manifest::Counts;
use crate::quarantine::QuarantineEntry;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit};
use schema::values::{format_datetime, format_timespan};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How records name their table (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    /// Recognise each record's shape.
    Auto,
    /// Only Defender streaming API records (and Event Hub messages of them).
    Defender,
    /// Only Log Analytics records (`Type` names the table unless `--table` is given).
    LogAnalytics,
    /// Plain records of the default table.
    Plain,
}

/// What a worker knows about the input a chunk comes from.
#[derive(Debug)]
pub struct InputContext {
    pub source: String,
    /// `--table`, else a table named by the file name.
    pub default_table: Option<String>,
    pub routing: Routing,
}

pub const STREAMING_PREFIX: &str = "AdvancedHunting-";

/// A valid table name: it becomes a directory name, so it must be a plain identifier.
pub fn valid_table_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}

/// The converted output of one chunk of an input.
#[derive(Default)]
pub struct ChunkOutput {
    pub batches: Vec<(String, RecordBatch)>,
    pub counts: BTreeMap<String, Counts>,
    pub quarantine: Vec<QuarantineEntry>,
}

/// Turns the records of one chunk into table batches.
pub struct ChunkProcessor<'r> {
    ctx: Arc<InputContext>,
    registry: &'r SchemaRegistry,
    from_text: bool,
    builders: HashMap<String, TableBuilder>,
    out: ChunkOutput,
}

/// Where a record is in its input.
#[derive(Clone, Copy, Debug)]
pub struct Position {
    pub line: u64,
    pub offset: u64,
}

impl<'r> ChunkProcessor<'r> {
    pub fn new(ctx: Arc<InputContext>, registry: &'r SchemaRegistry, from_text: bool) -> Self {
        ChunkProcessor {
            ctx,
            registry,
            from_text,
            builders: HashMap::new(),
            out: ChunkOutput::default(),
        }
    }

    pub fn finish(mut self) -> ChunkOutput {
        let mut names: Vec<_> = self.builders.keys().cloned().collect();
        names.sort();
        for name in names {
            if let Some(b) = self.builders.get_mut(&name)
                && b.rows() > 0
            {
                let batch = b.finish();
                self.out.batches.push((name, batch));
            }
        }
        self.out
    }

    fn default_table(&self) -> &str {
        self.ctx.default_table.as_deref().unwrap_or("")
    }

    /// Quarantines one record that was read but not loaded.
    pub fn reject(&mut self, table: &str, pos: Position, reason: String, raw: &[u8]) {
        let c = self.out.counts.entry(table.to_string()).or_default();
        c.read += 1;
        c.quarantined += 1;
        self.out.quarantine.push(QuarantineEntry::new(
            &self.ctx.source,
            pos.line,
            pos.offset,
            table,
            reason,
            raw,
        ));
    }

    /// One JSON text holding a record (or an Event Hub message, or an array of records).
    pub fn json_text(&mut self, text: &[u8], pos: Position) {
        let parsed = std::str::from_utf8(text)
            .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))
            .and_then(|s| Json::parse(s).map_err(|e| format!("invalid JSON: {e}")));
        match parsed {
            Ok(json) => self.json_value(json, pos, text),
            Err(reason) => {
                let table = self.default_table().to_string();
                self.reject(&table, pos, reason, text)
            }
        }
    }

    fn json_value<'a>(&mut self, json: Json<'a>, pos: Position, raw: &[u8]) {
        match json {
            Json::Array(items) => {
                for item in items {
                    let raw = item.to_compact();
                    self.json_value(item, pos, raw.as_bytes());
                }
            }
            Json::Object(fields) => self.json_object(fields, pos, raw),
            other => {
                let table = self.default_table().to_string();
                self.reject(
                    &table,
                    pos,
                    format!("a record must be a JSON object, not {}", other.kind()),
                    raw,
                )
            }
        }
    }

    fn json_object<'a>(&mut self, fields: Vec<(Cow<'a, str>, Json<'a>)>, pos: Position, raw: &[u8]) {
        let routing = self.ctx.routing;
        let find = |key: &str| fields.iter().rposition(|(k, _)| k == key);
        if routing != Routing::Plain {
            // Event Hub message: a batch of streaming records.
            if let Some(i) = find("records")
                && matches!(fields[i].1, Json::Array(_))
                && routing != Routing::LogAnalytics
            {
                let mut fields = fields;
                if let Json::Array(records) = fields.swap_remove(i).1 {
                    for r in records {
                        let raw = r.to_compact();
                        self.json_value(r, pos, raw.as_bytes());
                    }
                }
                return;
            }
            if let (Some(ci), Some(pi)) = (find("category"), find("properties"))
                && routing != Routing::LogAnalytics
            {
                return self.streaming(fields, ci, pi, pos, raw);
            }
            if routing == Routing::Defender {
                let table = self.default_table().to_string();
                return self.reject(
                    &table,
                    pos,
                    "not a Defender streaming API record (no 'category' and 'properties')".to_string(),
                    raw,
                );
            }
            if self.ctx.default_table.is_none()
                && let Some(i) = find("Type")
            {
                let table = match &fields[i].1 {
                    Json::Str(s) => s.to_string(),
                    other => {
                        return self.reject("", pos, format!("'Type' is {}, not a table name", other.kind()), raw);
                    }
                };
                return self.append(&table, &fields, Envelope::default(), pos, raw);
            }
        }
        match self.ctx.default_table.clone() {
            Some(table) => self.append(&table, &fields, Envelope::default(), pos, raw),
            None => self.reject(
                "",
                pos,
                "cannot tell the table: the record has no 'category' or 'Type'; name it with --table".to_string(),
                raw,
            ),
        }
    }

    fn streaming<'a>(
        &mut self,
        mut fields: Vec<(Cow<'a, str>, Json<'a>)>,
        ci: usize,
        pi: usize,
        pos: Position,
        raw: &[u8],
    ) {
        let category = match &fields[ci].1 {
            Json::Str(s) => s.to_string(),
            other => return self.reject("", pos, format!("'category' is {}, not a string", other.kind()), raw),
        };
        let Some(table) = category.strip_prefix(STREAMING_PREFIX).map(str::to_string) else {
            return self.reject(
                "",
                pos,
                format!("unknown category '{category}' (expected {STREAMING_PREFIX}<Table>)"),
                raw,
            );
        };
        let props = std::mem::replace(&mut fields[pi].1, Json::Null);
        let props = match props {
            Json::Object(p) => p,
            Json::Str(s) => match Json::parse(&s).map(Json::into_owned) {
                Ok(Json::Object(p)) => p,
                _ => return self.reject(&table, pos, "'properties' is not a JSON object".to_string(), raw),
            },
            other => {
                return self.reject(
                    &table,
                    pos,
                    format!("'properties' is {}, not an object", other.kind()),
                    raw,
                );
            }
        };
        let time = fields.iter().rev().find(|(k, _)| k == "time").map(|(_, v)| v);
        let tenant = fields
            .iter()
            .rev()
            .find(|(k, _)| k == "tenantId")
            .and_then(|(_, v)| v.as_str());
        let env = Envelope { time, tenant };
        self.append(&table, &props, env, pos, raw);
    }

    /// Appends the fields of a record to `table`.
    pub fn append<'a>(
        &mut self,
        table: &str,
        fields: &[(Cow<'a, str>, Json<'a>)],
        env: Envelope<'_, 'a>,
        pos: Position,
        raw: &[u8],
    ) {
        if !valid_table_name(table) {
            return self.reject(
                "",
                pos,
                format!("invalid table name '{}'", super::convert::excerpt(table)),
                raw,
            );
        }
        let registry = self.registry;
        let from_text = self.from_text;
        let builder = self
            .builders
            .entry(table.to_string())
            .or_insert_with(|| TableBuilder::new(&registry.table(table), from_text));
        match builder.append(fields, env, registry) {
            Ok(()) => {
                let c = self.out.counts.entry(table.to_string()).or_default();
                c.read += 1;
                c.loaded += 1;
            }
            Err(reason) => self.reject(table, pos, reason, raw),
        }
    }

    /// One CSV record under `headers`.
    pub fn csv_record(&mut self, headers: &[String], record: &csv::ByteRecord, pos: Position) {
        let raw = csv_raw(record);
        let table = self.default_table().to_string();
        if record.len() != headers.len() {
            let reason = format!(
                "expected {} fields (the header's), found {}",
                headers.len(),
                record.len()
            );
            return self.reject(&table, pos, reason, &raw);
        }
        let mut fields = Vec::with_capacity(headers.len());
        for (h, v) in headers.iter().zip(record.iter()) {
            match std::str::from_utf8(v) {
                Ok(s) => fields.push((Cow::Borrowed(h.as_str()), Json::Str(Cow::Borrowed(s)))),
                Err(_) => return self.reject(&table, pos, format!("column '{h}': invalid UTF-8"), &raw),
            }
        }
        let table = if self.ctx.default_table.is_none() {
            match fields.iter().find(|(k, _)| k == "Type").and_then(|(_, v)| v.as_str()) {
                Some(t) if !t.is_empty() => t.to_string(),
                _ => {
                    return self.reject(
                        "",
                        pos,
                        "cannot tell the table: no --table, no table in the file name, no 'Type' column".to_string(),
                        &raw,
                    );
                }
            }
        } else {
            table
        };
        self.append(&table, &fields, Envelope::default(), pos, &raw);
    }

    /// The rows of a batch read from a Parquet file.
    pub fn arrow_batch(&mut self, batch: &RecordBatch, first_row: u64) {
        let schema = batch.schema();
        let table = self.default_table().to_string();
        for row in 0..batch.num_rows() {
            let pos = Position {
                line: first_row + row as u64 + 1,
                offset: 0,
            };
            let mut fields = Vec::with_capacity(batch.num_columns());
            let mut failure = None;
            for (f, col) in schema.fields().iter().zip(batch.columns()) {
                match arrow_value(col.as_ref(), row) {
                    Ok(v) => fields.push((Cow::Borrowed(f.name().as_str()), v)),
                    Err(e) => {
                        failure = Some(format!("column '{}': {e}", f.name()));
                        break;
                    }
                }
            }
            let raw = Json::Object(fields.clone()).to_compact();
            match failure {
                Some(reason) => self.reject(&table, pos, reason, raw.as_bytes()),
                None if table.is_empty() => self.json_object(fields, pos, raw.as_bytes()),
                None => self.append(&table, &fields, Envelope::default(), pos, raw.as_bytes()),
            }
        }
    }
}

fn csv_raw(record: &csv::ByteRecord) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_byte_record(record);
    w.into_inner().unwrap_or_default()
}

/// One cell of an Arrow array as a JSON value, for conversion to the table's types.
fn arrow_value(col: &dyn Array, row: usize) -> Result<Json<'_>, String> {
    if col.is_null(row) {
        return Ok(Json::Null);
    }
    let text = |s: &str| Json::Str(Cow::Owned(s.to_string()));
    Ok(match col.data_type() {
        DataType::Utf8 => Json::Str(Cow::Borrowed(col.as_string::<i32>().value(row))),
        DataType::LargeUtf8 => Json::Str(Cow::Borrowed(col.as_string::<i64>().value(row))),
        DataType::Utf8View => Json::Str(Cow::Borrowed(col.as_string_view().value(row))),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            let bytes = match col.data_type() {
                DataType::Binary => col.as_binary::<i32>().value(row),
                DataType::LargeBinary => col.as_binary::<i64>().value(row),
                _ => col.as_binary_view().value(row),
            };
            Json::Str(Cow::Borrowed(
                std::str::from_utf8(bytes).map_err(|_| "binary value is not UTF-8 text")?,
            ))
        }
        DataType::Boolean => Json::Bool(col.as_boolean().value(row)),
        DataType::Int8 => Json::Int(col.as_primitive::<arrow::datatypes::Int8Type>().value(row) as i64),
        DataType::Int16 => Json::Int(col.as_primitive::<arrow::datatypes::Int16Type>().value(row) as i64),
        DataType::Int32 => Json::Int(col.as_primitive::<arrow::datatypes::Int32Type>().value(row) as i64),
        DataType::Int64 => Json::Int(col.as_primitive::<arrow::datatypes::Int64Type>().value(row)),
        DataType::UInt8 => Json::Int(col.as_primitive::<arrow::datatypes::UInt8Type>().value(row) as i64),
        DataType::UInt16 => Json::Int(col.as_primitive::<arrow::datatypes::UInt16Type>().value(row) as i64),
        DataType::UInt32 => Json::Int(col.as_primitive::<arrow::datatypes::UInt32Type>().value(row) as i64),
        DataType::UInt64 => {
            let v = col.as_primitive::<arrow::datatypes::UInt64Type>().value(row);
            i64::try_from(v).map(Json::Int).unwrap_or(Json::UInt(v))
        }
        DataType::Float32 => Json::Float(col.as_primitive::<arrow::datatypes::Float32Type>().value(row) as f64),
        DataType::Float64 => Json::Float(col.as_primitive::<arrow::datatypes::Float64Type>().value(row)),
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => col.as_primitive::<arrow::datatypes::TimestampSecondType>().value(row),
                TimeUnit::Millisecond => col
                    .as_primitive::<arrow::datatypes::TimestampMillisecondType>()
                    .value(row),
                TimeUnit::Microsecond => col
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                    .value(row),
                TimeUnit::Nanosecond => col
                    .as_primitive::<arrow::datatypes::TimestampNanosecondType>()
                    .value(row),
            };
            let per = match unit {
                TimeUnit::Second => 1_000_000_000,
                TimeUnit::Millisecond => 1_000_000,
                TimeUnit::Microsecond => 1_000,
                TimeUnit::Nanosecond => 1,
            };
            let nanos = v.checked_mul(per).ok_or("timestamp out of range")?;
            text(&format_datetime(nanos))
        }
        DataType::Duration(TimeUnit::Nanosecond) => text(&format_timespan(
            col.as_primitive::<arrow::datatypes::DurationNanosecondType>()
                .value(row),
        )),
        DataType::Date32 | DataType::Date64 | DataType::Decimal128(..) | DataType::Decimal256(..) => {
            let s = arrow::util::display::array_value_to_string(col, row).map_err(|e| e.to_string())?;
            text(&s)
        }
        other => return Err(format!("Arrow type {other} is not supported for ingest")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str], default_table: Option<&str>) -> ChunkOutput {
        let reg = SchemaRegistry::default();
        let ctx = Arc::new(InputContext {
            source: "test".into(),
            default_table: default_table.map(str::to_string),
            routing: Routing::Auto,
        });
        let mut p = ChunkProcessor::new(ctx, &reg, false);
        for (i, l) in lines.iter().enumerate() {
            p.json_text(
                l.as_bytes(),
                Position {
                    line: i as u64 + 1,
                    offset: 0,
                },
            );
        }
        p.finish()
    }

    #[test]
    fn records_are_routed_by_shape() {
        let out = run(
            &[
                r#"{"time":"2024-05-01T00:00:00Z","tenantId":"t","category":"AdvancedHunting-DeviceInfo","properties":{"DeviceId":"d"}}"#,
                r#"{"records":[{"category":"AdvancedHunting-DeviceInfo","properties":{"DeviceId":"e","Timestamp":"2024-05-01"}}]}"#,
                r#"{"Type":"SigninLogs","TimeGenerated":"2024-05-01T00:00:00Z"}"#,
                r#"{"category":"Weird","properties":{}}"#,
                r#"{"a":1}"#,
                r#"{"a":"#,
            ],
            None,
        );
        assert_eq!(
            out.counts["DeviceInfo"],
            Counts {
                read: 2,
                loaded: 2,
                quarantined: 0
            }
        );
        assert_eq!(out.counts["SigninLogs"].loaded, 1);
        assert_eq!(
            out.counts[""],
            Counts {
                read: 3,
                loaded: 0,
                quarantined: 3
            }
        );
        let reasons: Vec<_> = out.quarantine.iter().map(|q| q.reason.as_str()).collect();
        assert!(reasons[0].starts_with("unknown category 'Weird'"), "{reasons:?}");
        assert!(reasons[1].starts_with("cannot tell the table"), "{reasons:?}");
        assert!(reasons[2].starts_with("invalid JSON"), "{reasons:?}");
        assert_eq!(out.quarantine[2].line, 6);
    }

    #[test]
    fn table_names_must_be_identifiers() {
        assert!(valid_table_name("DeviceInfo"));
        assert!(valid_table_name("My_Table_CL"));
        assert!(!valid_table_name("../etc"));
        assert!(!valid_table_name(""));
        let out = run(&[r#"{"Type":"../../x","TimeGenerated":"2024-05-01"}"#], None);
        assert!(out.quarantine[0].reason.starts_with("invalid table name"));
    }
}
