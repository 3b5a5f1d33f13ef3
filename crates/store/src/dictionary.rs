//! Dictionary-encoded string columns read as Arrow dictionaries.
//!
//! The columns hunting rules filter on (signers, companies, product and file names,
//! domains) repeat a few values, and the writer stores them with a Parquet dictionary.
//! Read as plain strings, every row's bytes are copied out of the dictionary and then
//! searched; read as an Arrow dictionary, a row is its key, and the string predicates with
//! constant needles (`has`, `has_any`, `=~`, the fused term pass…; see
//! [`functions::takes_dictionary_haystack`]) answer each distinct value once per column
//! chunk.
//!
//! Three pieces do it. [`dictionary_haystacks`] picks, from a scan's filters, the columns
//! such predicates test (only those: a column read as a dictionary and then cast back to
//! strings for the scan's output costs a little more than reading it as strings).
//! [`with_dictionary_strings`] marks those of them whose data pages are all
//! dictionary-encoded in every row group as dictionaries in the file's embedded Arrow
//! schema (a chunk whose dictionary overflowed to plain pages stays a string column: the
//! reader would rebuild a dictionary by hashing every row). [`keep_dictionary_haystacks`]
//! then keeps those columns as they are under the predicates, where DataFusion's
//! expression adapter would cast them to the table's string type; everything else (the
//! scan's output, other expressions) still gets the cast, so nothing above the scan sees a
//! dictionary.

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_expr::expressions::{CastExpr, Column, Literal};
use parquet::arrow::{ARROW_SCHEMA_META_KEY, encode_arrow_schema, parquet_to_arrow_schema};
use parquet::basic::{Encoding, PageType};
use parquet::file::metadata::{ColumnChunkMetaData, FileMetaData, KeyValue, ParquetMetaData, ParquetMetaDataBuilder};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// The environment variable that turns dictionary reading off (`QUARRY_SCAN_DICTIONARIES=0`):
/// for comparing both readings in benchmarks, or as a way around a reader problem.
pub const SWITCH: &str = "QUARRY_SCAN_DICTIONARIES";

/// Whether scans read dictionary-encoded string columns as dictionaries (on unless
/// [`SWITCH`] is `0`, `off` or `false` when first asked).
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        !std::env::var(SWITCH).is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "off" | "false"))
    })
}

/// The key type of the dictionaries (Parquet dictionary indices are 32-bit).
fn dictionary_of(value: &DataType) -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(value.clone()))
}

/// Whether every data page of a column chunk is dictionary-encoded (as the page encoding
/// statistics tell; without them, no).
fn all_dictionary_encoded(c: &ColumnChunkMetaData) -> bool {
    if c.dictionary_page_offset().is_none() {
        return false;
    }
    let dict = |e: Encoding| matches!(e, Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY);
    if let Some(mask) = c.page_encoding_stats_mask() {
        return mask.is_only(Encoding::PLAIN_DICTIONARY) || mask.is_only(Encoding::RLE_DICTIONARY);
    }
    c.page_encoding_stats().is_some_and(|stats| {
        stats
            .iter()
            .filter(|s| matches!(s.page_type, PageType::DATA_PAGE | PageType::DATA_PAGE_V2))
            .all(|s| dict(s.encoding))
    })
}

/// The columns of `filters` that some string predicate with constant needles takes as
/// its haystack (empty when dictionary reading is off, see [`enabled`]).
pub fn dictionary_haystacks(filters: &[Expr]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if !enabled() {
        return out;
    }
    for f in filters {
        let _ = f.apply(|e| {
            if let Expr::ScalarFunction(call) = e
                && functions::takes_dictionary_haystack(call.name())
                && let Some((Expr::Column(c), rest)) = call.args.split_first()
                && rest.iter().all(|a| matches!(a, Expr::Literal(..)))
            {
                out.insert(c.name.clone());
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
    out
}

/// `metadata` with those of `columns` that are strings dictionary-encoded throughout
/// typed as dictionaries in its embedded Arrow schema (the reader then returns their keys
/// and dictionary rather than decoding every row); `metadata` itself when there is none
/// or the schema cannot be read.
pub fn with_dictionary_strings(metadata: Arc<ParquetMetaData>, columns: &BTreeSet<String>) -> Arc<ParquetMetaData> {
    if metadata.num_row_groups() == 0 || columns.is_empty() {
        return metadata;
    }
    let file = metadata.file_metadata();
    let descr = file.schema_descr();
    // The asked columns dictionary-encoded throughout this file.
    let encoded: Vec<String> = columns
        .iter()
        .filter(|name| {
            descr
                .columns()
                .iter()
                .position(|c| c.path().parts().len() == 1 && c.path().parts()[0] == name.as_str())
                .is_some_and(|i| {
                    metadata
                        .row_groups()
                        .iter()
                        .all(|rg| rg.num_rows() == 0 || all_dictionary_encoded(rg.column(i)))
                })
        })
        .cloned()
        .collect();
    if encoded.is_empty() {
        return metadata;
    }
    let embedded = file
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == ARROW_SCHEMA_META_KEY))
        .and_then(|k| k.value.clone());
    let schema = match embedded {
        // The parts of a table share their embedded schema: it is decoded, changed and
        // encoded once per process for each set of dictionary columns, not once per file.
        Some(embedded) => {
            // With the file's own leaf columns and their Parquet types, which the Arrow
            // schema read from it also depends on.
            let mut leaves = String::new();
            for c in descr.columns() {
                leaves.push_str(&format!(
                    "{}:{:?}:{:?};",
                    c.path().string(),
                    c.physical_type(),
                    c.converted_type()
                ));
            }
            let key = (embedded, leaves, encoded);
            let cached = rewritten_schemas()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&key)
                .cloned();
            match cached {
                Some(hit) => hit,
                None => {
                    let rewritten = rewritten_schema(&metadata, &key.2);
                    let mut cache = rewritten_schemas().lock().unwrap_or_else(PoisonError::into_inner);
                    if cache.len() >= REWRITTEN_SCHEMAS {
                        cache.clear();
                    }
                    cache.insert(key, rewritten.clone());
                    rewritten
                }
            }
        }
        None => rewritten_schema(&metadata, &encoded),
    };
    match schema {
        Some(schema) => with_embedded_schema(&metadata, schema),
        None => metadata,
    }
}

/// How many rewritten schemas are kept (distinct table schemas × sets of columns).
const REWRITTEN_SCHEMAS: usize = 256;

/// A file's embedded Arrow schema, its leaf columns with their Parquet types, and the
/// columns dictionary-encoded throughout it.
type SchemaKey = (String, String, Vec<String>);

/// Rewritten embedded schemas by [`SchemaKey`] (`None`: no change).
fn rewritten_schemas() -> &'static Mutex<HashMap<SchemaKey, Option<String>>> {
    static CACHE: OnceLock<Mutex<HashMap<SchemaKey, Option<String>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The file's Arrow schema with the string columns among `encoded` typed as dictionaries,
/// encoded for its metadata; `None` when none of them is a string column or the schema
/// cannot be read.
fn rewritten_schema(metadata: &ParquetMetaData, encoded: &[String]) -> Option<String> {
    let file = metadata.file_metadata();
    let schema = parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata()).ok()?;
    let mut changed = false;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8) && encoded.contains(f.name()) {
                changed = true;
                f.as_ref().clone().with_data_type(dictionary_of(f.data_type()))
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    changed.then(|| encode_arrow_schema(&Schema::new_with_metadata(fields, schema.metadata().clone())))
}

/// `metadata` with `schema` as its embedded Arrow schema.
fn with_embedded_schema(metadata: &ParquetMetaData, schema: String) -> Arc<ParquetMetaData> {
    let file = metadata.file_metadata();
    let mut kv: Vec<KeyValue> = file
        .key_value_metadata()
        .map(|kv| kv.iter().filter(|k| k.key != ARROW_SCHEMA_META_KEY).cloned().collect())
        .unwrap_or_default();
    kv.push(KeyValue::new(ARROW_SCHEMA_META_KEY.to_string(), schema));
    let file = FileMetaData::new(
        file.version(),
        file.num_rows(),
        file.created_by().map(str::to_string),
        Some(kv),
        file.schema_descr_ptr(),
        file.column_orders().cloned(),
    );
    let built = ParquetMetaDataBuilder::new(file)
        .set_row_groups(metadata.row_groups().to_vec())
        .set_column_index(metadata.column_index().cloned())
        .set_offset_index(metadata.offset_index().cloned())
        .build();
    Arc::new(built)
}

/// `expr` (adapted to a file's `physical` schema) with the casts of dictionary columns to
/// strings removed where a string predicate with constant needles takes the column as
/// its haystack.
pub fn keep_dictionary_haystacks(
    expr: Arc<dyn PhysicalExpr>,
    physical: &SchemaRef,
) -> datafusion::error::Result<Arc<dyn PhysicalExpr>> {
    expr.transform(|e| {
        let Some(call) = e.downcast_ref::<ScalarFunctionExpr>() else {
            return Ok(Transformed::no(e));
        };
        let args = call.args();
        let Some(column) = args.first().and_then(|a| dictionary_under_cast(a, physical)) else {
            return Ok(Transformed::no(e));
        };
        if !functions::takes_dictionary_haystack(call.name())
            || !args[1..].iter().all(|a| a.downcast_ref::<Literal>().is_some())
        {
            return Ok(Transformed::no(e));
        }
        let mut children: Vec<Arc<dyn PhysicalExpr>> = args.to_vec();
        children[0] = column;
        Ok(Transformed::yes(e.clone().with_new_children(children)?))
    })
    .data()
}

/// The column under `expr` when `expr` casts a dictionary-of-strings column of the file
/// to a string type.
fn dictionary_under_cast(expr: &Arc<dyn PhysicalExpr>, physical: &SchemaRef) -> Option<Arc<dyn PhysicalExpr>> {
    let cast = expr.downcast_ref::<CastExpr>()?;
    let column = cast.expr().downcast_ref::<Column>()?;
    let field = physical.fields().get(column.index())?;
    let to_string = matches!(
        cast.cast_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    );
    let from_dictionary = matches!(field.data_type(), DataType::Dictionary(_, v)
        if matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8));
    (field.name() == column.name() && to_string && from_dictionary).then(|| cast.expr().clone())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use datafusion::logical_expr::expr::ScalarFunction;
    use datafusion::logical_expr::lit;

    fn col(name: &str) -> Expr {
        Expr::Column(datafusion::common::Column::new_unqualified(name))
    }

    /// A call of the kernel UDF `name`.
    pub(crate) fn call(name: &str, args: Vec<Expr>) -> Expr {
        let udf = functions::kernels::kernel_udf(name).expect("a kernel UDF");
        Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(udf), args))
    }

    #[test]
    fn haystacks_of_constant_string_predicates_anywhere_in_the_filters() {
        let filters = vec![
            col("Timestamp").gt(lit(5)),
            call("kql_has", vec![col("Signer"), lit("Action1")])
                .or(call("kql_has_any", vec![col("Company"), lit("a"), lit("b")])),
            // A needle per row, and a column that is not the haystack.
            call("kql_has", vec![col("Url"), col("Needle")]),
            call("kql_contains", vec![lit("x"), col("Other")]),
        ];
        let got = dictionary_haystacks(&filters);
        assert_eq!(got, ["Company", "Signer"].map(str::to_string).into());
        assert!(dictionary_haystacks(&[]).is_empty());
    }
}
