//! The built-in table schemas: Microsoft Defender XDR advanced hunting tables and Microsoft
//! Sentinel / Log Analytics tables, compiled into the binary from `data/tables.json`
//! (see `data/tables.README.md` for where the column lists come from).

use crate::types::KqlType;
use arrow_schema::{Field, Schema};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

static TABLES_JSON: &str = include_str!("../../../data/tables.json");

/// Which product documents a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
pub enum Product {
    #[serde(rename = "defender-xdr")]
    DefenderXdr,
    #[serde(rename = "sentinel")]
    Sentinel,
    /// A table Quarry did not know and whose schema was inferred from data.
    #[serde(rename = "inferred")]
    Inferred,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: KqlType,
    /// The column exists only in the Sentinel copy of a Defender table
    /// (`TimeGenerated`, `TenantId`, `Type` and a few IdentityInfo columns).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sentinel_only: bool,
}

impl Column {
    pub fn new(name: impl Into<String>, ty: KqlType) -> Self {
        Column {
            name: name.into(),
            ty,
            sentinel_only: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TableSchema {
    pub name: String,
    pub product: Product,
    pub columns: Vec<Column>,
}

impl TableSchema {
    pub fn new(name: impl Into<String>, product: Product, columns: Vec<Column>) -> Self {
        TableSchema {
            name: name.into(),
            product,
            columns,
        }
    }

    /// Column lookup; KQL column names are case-sensitive.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The column that orders the table in time and partitions it on disk: `Timestamp` for
    /// Defender XDR tables, `TimeGenerated` for Sentinel tables; for other tables the first
    /// of those two that exists. `None` for the few tables with neither
    /// (e.g. `ExposureGraphNodes`).
    pub fn time_column(&self) -> Option<&str> {
        let prefer: &[&str] = match self.product {
            Product::Sentinel => &["TimeGenerated", "Timestamp"],
            _ => &["Timestamp", "TimeGenerated"],
        };
        prefer
            .iter()
            .copied()
            .find(|name| self.column(name).is_some_and(|c| c.ty == KqlType::DateTime))
    }

    /// The Arrow schema of the table as Quarry stores it. Every column is nullable at the
    /// Arrow level (missing values in exports), even strings, which the store fills with "".
    pub fn arrow_schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(&c.name, c.ty.to_arrow(), true))
                .collect::<Vec<_>>(),
        )
    }
}

/// A set of table schemas looked up by name.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    tables: BTreeMap<String, Arc<TableSchema>>,
}

#[derive(Deserialize)]
struct RawFile {
    tables: BTreeMap<String, RawTable>,
}

#[derive(Deserialize)]
struct RawTable {
    product: Product,
    columns: Vec<Column>,
}

impl Catalog {
    /// The built-in Defender XDR and Sentinel schemas (parsed once, shared).
    pub fn builtin() -> &'static Catalog {
        static BUILTIN: OnceLock<Catalog> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let raw: RawFile = serde_json::from_str(TABLES_JSON).expect("data/tables.json is valid (checked by tests)");
            let mut catalog = Catalog::default();
            for (name, t) in raw.tables {
                catalog.insert(TableSchema::new(name, t.product, t.columns));
            }
            catalog
        })
    }

    pub fn insert(&mut self, table: TableSchema) {
        self.tables.insert(table.name.clone(), Arc::new(table));
    }

    /// Exact (case-sensitive) lookup, as Kusto resolves table names.
    pub fn get(&self, name: &str) -> Option<&Arc<TableSchema>> {
        self.tables.get(name)
    }

    /// A table whose name differs only in case, for "did you mean" hints.
    pub fn get_ignore_case(&self, name: &str) -> Option<&Arc<TableSchema>> {
        self.tables.values().find(|t| t.name.eq_ignore_ascii_case(name))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<TableSchema>> {
        self.tables.values()
    }

    pub fn len(&self) -> usize {
        self.tables.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_has_every_documented_table() {
        let c = Catalog::builtin();
        assert_eq!(c.len(), 85);
        let defender = c.iter().filter(|t| t.product == Product::DefenderXdr).count();
        assert_eq!(defender, 66);
        let columns: usize = c.iter().map(|t| t.columns.len()).sum();
        assert_eq!(columns, 3137);
    }

    #[test]
    fn seed_rule_table_columns() {
        let t = Catalog::builtin().get("DeviceFileCertificateInfo").unwrap();
        assert_eq!(t.column("Signer").unwrap().ty, KqlType::String);
        assert_eq!(t.column("ReportId").unwrap().ty, KqlType::Long);
        assert_eq!(t.column("Timestamp").unwrap().ty, KqlType::DateTime);
        assert!(t.column("signer").is_none(), "column names are case-sensitive");
        assert_eq!(t.time_column(), Some("Timestamp"));
        assert!(t.column("TimeGenerated").unwrap().sentinel_only);
        assert!(
            Catalog::builtin()
                .get("DeviceNetworkEvents")
                .unwrap()
                .column("AccountUpn")
                .is_none()
        );
    }

    #[test]
    fn time_columns_by_product() {
        let c = Catalog::builtin();
        assert_eq!(c.get("SigninLogs").unwrap().time_column(), Some("TimeGenerated"));
        assert_eq!(c.get("DeviceProcessEvents").unwrap().time_column(), Some("Timestamp"));
        assert_eq!(c.get("ExposureGraphNodes").unwrap().time_column(), None);
        assert!(c.get("deviceprocessevents").is_none());
        assert_eq!(
            c.get_ignore_case("deviceprocessevents").unwrap().name,
            "DeviceProcessEvents"
        );
    }

    #[test]
    fn arrow_schema_follows_the_type_mapping() {
        let t = Catalog::builtin().get("DeviceNetworkEvents").unwrap();
        let s = t.arrow_schema();
        assert_eq!(s.fields().len(), t.columns.len());
        assert_eq!(
            s.field_with_name("AdditionalFields").unwrap().data_type(),
            &KqlType::Dynamic.to_arrow()
        );
        assert_eq!(
            s.field_with_name("RemotePort").unwrap().data_type(),
            &arrow_schema::DataType::Int32
        );
    }
}
