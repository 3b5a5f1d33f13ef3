//! The data directory as the engine's [`TableCatalog`], and the facts about it a hunt
//! needs: which tables hold rows, and the newest event (`--now latest`).

use engine::{CatalogTable, TableCatalog};
use std::collections::BTreeMap;
use store::DataDir;

/// Every table a query may name: the stored tables of a data directory (with their
/// day-pruning providers) and the built-in schemas, which scan empty when they have no data.
#[derive(Clone, Debug)]
pub struct DataDirCatalog {
    dir: DataDir,
}

impl DataDirCatalog {
    pub fn new(dir: DataDir) -> Self {
        DataDirCatalog { dir }
    }

    pub fn dir(&self) -> &DataDir {
        &self.dir
    }
}

impl TableCatalog for DataDirCatalog {
    fn table(&self, name: &str) -> Option<CatalogTable> {
        let schema = self.dir.schema(name).ok()??;
        let provider = self.dir.table_provider(name).ok()??;
        Some(CatalogTable { schema, provider })
    }

    fn table_names(&self) -> Vec<String> {
        match self.dir.catalog() {
            Ok(c) => c.iter().map(|t| t.name.clone()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// What the data directory holds, read once per hunt.
#[derive(Clone, Debug, Default)]
pub struct DataFacts {
    /// Tables with at least one committed part, and the newest value of their time column
    /// (nanoseconds; `None` when the table has no time column or no statistics).
    pub tables: BTreeMap<String, Option<i64>>,
}

impl DataFacts {
    /// Reads the table list and, when `with_times`, each table's newest time (from the
    /// partitions' `_parts.json`, else the Parquet footers of the newest day).
    pub fn read(dir: &DataDir, with_times: bool) -> Result<DataFacts, store::StoreError> {
        let mut tables = BTreeMap::new();
        let committed = dir.manifest()?.committed_ids();
        for schema in dir.tables()? {
            if let Some(newest) = dir.presence_and_newest_time(&schema, &committed, with_times)? {
                tables.insert(schema.name.clone(), newest);
            }
        }
        Ok(DataFacts { tables })
    }

    pub fn has_data(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    /// The newest event of any table.
    pub fn latest(&self) -> Option<i64> {
        self.tables.values().flatten().copied().max()
    }
}
