//! What the engine knows about tables: for a name, its KQL schema and a DataFusion
//! `TableProvider` that reads it. The engine knows nothing of storage; the store crate (data
//! directory, files named on the command line) and tests provide catalogs.

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::catalog::{MemTable, empty::EmptyTable};
use datafusion::common::DataFusionError;
use schema::TableSchema;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One table of a catalog.
#[derive(Clone)]
pub struct CatalogTable {
    /// The KQL schema: the source of truth for column names and KQL types (guid vs string).
    pub schema: Arc<TableSchema>,
    /// The rows. Its Arrow schema should follow `schema` (see `schema::KqlType::to_arrow`);
    /// string columns may be `Utf8View`/`LargeUtf8` and dynamic ones `BinaryView`. Columns
    /// missing from the provider read as nulls; other type differences are cast.
    pub provider: Arc<dyn TableProvider>,
}

impl std::fmt::Debug for CatalogTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogTable")
            .field("schema", &self.schema.name)
            .finish()
    }
}

/// A set of tables looked up by name, exactly (Kusto table names are case-sensitive).
pub trait TableCatalog: Send + Sync {
    fn table(&self, name: &str) -> Option<CatalogTable>;
    /// Every table name, for wildcards (`union Device*`) and "did you mean" hints.
    fn table_names(&self) -> Vec<String>;
}

/// Tables with a schema and no rows: semantic validation without data. Every table of a
/// `schema::Catalog` (by default the built-in Defender XDR and Sentinel tables) is present.
#[derive(Clone, Debug)]
pub struct SchemaCatalog {
    catalog: schema::Catalog,
}

impl SchemaCatalog {
    pub fn new(catalog: schema::Catalog) -> Self {
        SchemaCatalog { catalog }
    }

    /// The built-in Defender XDR and Sentinel tables.
    pub fn builtin() -> Self {
        SchemaCatalog {
            catalog: schema::Catalog::builtin().clone(),
        }
    }
}

impl TableCatalog for SchemaCatalog {
    fn table(&self, name: &str) -> Option<CatalogTable> {
        let schema = self.catalog.get(name)?.clone();
        let provider = Arc::new(EmptyTable::new(Arc::new(schema.arrow_schema())));
        Some(CatalogTable { schema, provider })
    }

    fn table_names(&self) -> Vec<String> {
        self.catalog.iter().map(|t| t.name.clone()).collect()
    }
}

/// Tables registered one by one (in-memory batches or any provider), optionally in front
/// of another catalog that answers for the names not registered here.
#[derive(Clone, Default)]
pub struct MemCatalog {
    tables: BTreeMap<String, CatalogTable>,
    fallback: Option<Arc<dyn TableCatalog>>,
}

impl MemCatalog {
    pub fn new() -> Self {
        MemCatalog::default()
    }

    /// A catalog whose tables are looked up here first, then in `fallback`.
    pub fn with_fallback(fallback: Arc<dyn TableCatalog>) -> Self {
        MemCatalog {
            tables: BTreeMap::new(),
            fallback: Some(fallback),
        }
    }

    /// Registers a table given by its provider.
    pub fn add_provider(&mut self, schema: TableSchema, provider: Arc<dyn TableProvider>) {
        self.tables.insert(
            schema.name.clone(),
            CatalogTable {
                schema: Arc::new(schema),
                provider,
            },
        );
    }

    /// Registers a table held in memory. The batches must have the table's Arrow schema
    /// (`TableSchema::arrow_schema`).
    pub fn add_batches(&mut self, schema: TableSchema, batches: Vec<RecordBatch>) -> Result<(), DataFusionError> {
        let arrow = Arc::new(schema.arrow_schema());
        let table = MemTable::try_new(arrow, vec![batches])?;
        self.add_provider(schema, Arc::new(table));
        Ok(())
    }
}

impl std::fmt::Debug for MemCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemCatalog")
            .field("tables", &self.tables.keys().collect::<Vec<_>>())
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl TableCatalog for MemCatalog {
    fn table(&self, name: &str) -> Option<CatalogTable> {
        self.tables
            .get(name)
            .cloned()
            .or_else(|| self.fallback.as_ref().and_then(|f| f.table(name)))
    }

    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tables.keys().cloned().collect();
        if let Some(f) = &self.fallback {
            for n in f.table_names() {
                if !self.tables.contains_key(&n) {
                    names.push(n);
                }
            }
        }
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_catalog_has_builtin_tables_without_rows() {
        let c = SchemaCatalog::builtin();
        let t = c.table("DeviceFileCertificateInfo").expect("builtin table");
        assert_eq!(t.schema.name, "DeviceFileCertificateInfo");
        assert_eq!(t.provider.schema().fields().len(), t.schema.columns.len());
        assert!(c.table("devicefilecertificateinfo").is_none());
        assert!(c.table_names().iter().any(|n| n == "DeviceProcessEvents"));
    }

    #[test]
    fn mem_catalog_falls_back() {
        let mut m = MemCatalog::with_fallback(Arc::new(SchemaCatalog::builtin()));
        let schema = TableSchema::new(
            "T",
            schema::Product::Inferred,
            vec![schema::Column::new("x", schema::KqlType::Long)],
        );
        m.add_batches(schema, vec![]).expect("empty table");
        assert!(m.table("T").is_some());
        assert!(m.table("DeviceProcessEvents").is_some());
        assert!(m.table("Nope").is_none());
        let names = m.table_names();
        assert!(names.iter().any(|n| n == "T") && names.iter().any(|n| n == "DeviceProcessEvents"));
        assert!(names.windows(2).all(|w| w[0] <= w[1]), "sorted");
    }
}
