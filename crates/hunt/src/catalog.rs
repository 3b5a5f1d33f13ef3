//! The data directory as the engine's [`TableCatalog`], and the facts about it a hunt
//! needs: which tables hold rows, and the newest event (`--now latest`).

use engine::{CatalogTable, TableCatalog};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use store::{DataDir, DayPartitionedTable};

/// Every table a query may name: the stored tables of a data directory (with their
/// day-pruning providers) and the built-in schemas, which scan empty when they have no data.
///
/// A hunt's catalog: each table's schema is read from the directory once, at its first
/// lookup, and kept for the rest of the hunt (every rule plans against the same schemas;
/// the providers list the day partitions when they scan). A hunt looks tables up a few
/// times per rule, and reading `_schema.json` each time cost about 5 % of planning a pack.
#[derive(Clone)]
pub struct DataDirCatalog {
    dir: DataDir,
    tables: Arc<Mutex<HashMap<String, Option<CatalogTable>>>>,
    names: Arc<OnceLock<Vec<String>>>,
}

impl std::fmt::Debug for DataDirCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataDirCatalog")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl DataDirCatalog {
    pub fn new(dir: DataDir) -> Self {
        DataDirCatalog {
            dir,
            tables: Arc::default(),
            names: Arc::default(),
        }
    }

    pub fn dir(&self) -> &DataDir {
        &self.dir
    }

    fn read_table(&self, name: &str) -> Option<CatalogTable> {
        let schema = self.dir.schema(name).ok()??;
        let provider = Arc::new(DayPartitionedTable::new(self.dir.clone(), schema.clone()));
        Some(CatalogTable { schema, provider })
    }
}

impl TableCatalog for DataDirCatalog {
    fn table(&self, name: &str) -> Option<CatalogTable> {
        if let Some(known) = self.tables.lock().unwrap_or_else(PoisonError::into_inner).get(name) {
            return known.clone();
        }
        // Read outside the lock; two threads reading the same table keep the first answer.
        let read = self.read_table(name);
        self.tables
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(name.to_string())
            .or_insert(read)
            .clone()
    }

    fn table_names(&self) -> Vec<String> {
        self.names
            .get_or_init(|| match self.dir.catalog() {
                Ok(c) => c.iter().map(|t| t.name.clone()).collect(),
                Err(_) => Vec::new(),
            })
            .clone()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A hunt's catalog reads each table's schema once: later lookups (every rule's) get
    /// the same schema and provider, even when the directory changes meanwhile.
    #[test]
    fn each_table_is_read_once_per_catalog() {
        let tmp = tempfile::tempdir().unwrap();
        store::generate(&store::GenerateConfig {
            devices: 2,
            days: 1,
            volume: 0.01,
            seed: 5,
            ..store::GenerateConfig::new(store::Output::DataDir(tmp.path().to_path_buf()))
        })
        .unwrap();
        let catalog = DataDirCatalog::new(DataDir::open(tmp.path()));
        let first = catalog.table("DeviceProcessEvents").expect("a stored table");
        let names = catalog.table_names();
        assert!(names.iter().any(|n| n == "DeviceProcessEvents"), "{names:?}");
        std::fs::remove_file(tmp.path().join("tables/DeviceProcessEvents/_schema.json")).unwrap();
        let again = catalog.table("DeviceProcessEvents").expect("kept");
        assert!(Arc::ptr_eq(&first.schema, &again.schema));
        assert!(Arc::ptr_eq(&first.provider, &again.provider));
        assert_eq!(catalog.clone().table_names(), names);
        // A new catalog reads the directory as it is now.
        let fresh = DataDirCatalog::new(DataDir::open(tmp.path())).table("DeviceProcessEvents");
        assert!(fresh.is_none_or(|t| !Arc::ptr_eq(&t.schema, &first.schema)));
        assert!(catalog.table("NoSuchTable").is_none());
    }
}
