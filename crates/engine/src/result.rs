//! Query results and their presentation: a table for people, JSON and CSV, with cells
//! rendered as Kusto renders them (the function library's `render_cell`/`render_json`).

use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use schema::KqlType;
use serde_json::Value as Json;

/// One result table.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// The table's name when the query gives one (`fork` branches).
    pub name: Option<String>,
    /// Column names and KQL types (the source of truth: `guid` vs `string`).
    pub columns: Vec<(String, KqlType)>,
    pub batches: Vec<RecordBatch>,
}

impl QueryResult {
    pub fn row_count(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// Every cell as Kusto prints it (null as the empty string), row by row.
    pub fn text_rows(&self) -> Result<Vec<Vec<String>>, DataFusionError> {
        let mut rows = Vec::with_capacity(self.row_count());
        for b in &self.batches {
            for r in 0..b.num_rows() {
                let mut row = Vec::with_capacity(self.columns.len());
                for (i, (_, ty)) in self.columns.iter().enumerate() {
                    row.push(functions::render_cell(column(b, i)?, r, *ty)?);
                }
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// Every cell as a JSON value (numbers, booleans and dynamic values as JSON; null as
    /// `null`).
    pub fn json_rows(&self) -> Result<Vec<Vec<Json>>, DataFusionError> {
        let mut rows = Vec::with_capacity(self.row_count());
        for b in &self.batches {
            for r in 0..b.num_rows() {
                let mut row = Vec::with_capacity(self.columns.len());
                for (i, (_, ty)) in self.columns.iter().enumerate() {
                    row.push(functions::render_json(column(b, i)?, r, *ty)?);
                }
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// `{"name": …, "columns": [{"name", "type"}…], "rows": [[…]…]}`
    pub fn to_json(&self) -> Result<Json, DataFusionError> {
        let columns: Vec<Json> = self
            .columns
            .iter()
            .map(|(n, t)| serde_json::json!({"name": n, "type": t.name()}))
            .collect();
        let mut obj = serde_json::Map::new();
        if let Some(n) = &self.name {
            obj.insert("name".into(), Json::String(n.clone()));
        }
        obj.insert("columns".into(), Json::Array(columns));
        obj.insert(
            "rows".into(),
            Json::Array(self.json_rows()?.into_iter().map(Json::Array).collect()),
        );
        Ok(Json::Object(obj))
    }

    /// RFC 4180 CSV with a header line.
    pub fn to_csv(&self) -> Result<String, DataFusionError> {
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|(n, _)| n.clone()).collect();
        push_csv_line(&mut out, &header);
        for row in self.text_rows()? {
            push_csv_line(&mut out, &row);
        }
        Ok(out)
    }

    /// A table for people: a header, a rule, and left-aligned cells.
    pub fn to_table(&self) -> Result<String, DataFusionError> {
        let header: Vec<String> = self.columns.iter().map(|(n, _)| n.clone()).collect();
        let rows: Vec<Vec<String>> = self
            .text_rows()?
            .into_iter()
            .map(|r| r.into_iter().map(|c| one_line(&c)).collect())
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut parts = Vec::with_capacity(cells.len());
            for (c, w) in cells.iter().zip(&widths) {
                let pad = w.saturating_sub(c.chars().count());
                parts.push(format!("{c}{}", " ".repeat(pad)));
            }
            out.push_str(parts.join(" | ").trim_end());
            out.push('\n');
        };
        line(&header, &mut out);
        out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-"));
        out.push('\n');
        for r in &rows {
            line(r, &mut out);
        }
        Ok(out)
    }
}

/// Column `i` of a batch, or an error when the batch is narrower than the result's columns.
fn column(b: &RecordBatch, i: usize) -> Result<&dyn datafusion::arrow::array::Array, DataFusionError> {
    b.columns()
        .get(i)
        .map(|c| c.as_ref())
        .ok_or_else(|| DataFusionError::Internal(format!("result batch has no column {i}")))
}

/// Control characters would break the table's layout: show them escaped.
fn one_line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

fn push_csv_line(out: &mut String, cells: &[String]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if c.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&c.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(c);
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn sample() -> QueryResult {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None])),
                Arc::new(StringArray::from(vec!["x,y", "multi\nline"])),
            ],
        )
        .expect("valid batch");
        QueryResult {
            name: None,
            columns: vec![("a".into(), KqlType::Long), ("b".into(), KqlType::String)],
            batches: vec![batch],
        }
    }

    #[test]
    fn csv_quotes_and_nulls() {
        assert_eq!(sample().to_csv().expect("csv"), "a,b\n1,\"x,y\"\n,\"multi\nline\"\n");
    }

    #[test]
    fn json_keeps_numbers_and_nulls() {
        let j = sample().to_json().expect("json");
        assert_eq!(j["rows"][0][0], serde_json::json!(1));
        assert_eq!(j["rows"][1][0], Json::Null);
        assert_eq!(j["columns"][1]["type"], "string");
    }

    #[test]
    fn table_aligns_columns() {
        assert_eq!(
            sample().to_table().expect("table"),
            "a | b\n--+------------\n1 | x,y\n  | multi\\nline\n"
        );
    }
}
