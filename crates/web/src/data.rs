//! Which tables of the data directory hold rows, so the feed can say whether a rule has the
//! data it needs.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One table of the data directory.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TableInfo {
    pub name: String,
    pub rows: u64,
    /// First and last event time (Kusto text form), when the table has a time column.
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Where table row counts come from (the data directory; a fixed list in tests).
pub trait DataStatus: Send + Sync {
    fn tables(&self) -> Result<Vec<TableInfo>, String>;
}

/// The tables of a store data directory; row counts are re-read at most every few seconds.
pub struct DataDirStatus {
    dir: PathBuf,
    cache: Mutex<Option<(Instant, Vec<TableInfo>)>>,
}

const REFRESH: Duration = Duration::from_secs(5);

impl DataDirStatus {
    pub fn new(dir: PathBuf) -> Self {
        DataDirStatus {
            dir,
            cache: Mutex::new(None),
        }
    }

    fn read(&self) -> Result<Vec<TableInfo>, String> {
        let dir = store::DataDir::open(&self.dir);
        let mut out = Vec::new();
        for name in dir.table_names().map_err(|e| e.to_string())? {
            let stats = dir.table_stats(&name).map_err(|e| e.to_string())?;
            out.push(TableInfo {
                name,
                rows: stats.rows,
                from: stats.time_range.map(|r| schema::values::format_datetime(r.0)),
                to: stats.time_range.map(|r| schema::values::format_datetime(r.1)),
            });
        }
        Ok(out)
    }
}

impl DataStatus for DataDirStatus {
    fn tables(&self) -> Result<Vec<TableInfo>, String> {
        let mut cache = self.cache.lock().map_err(|_| "table cache poisoned".to_string())?;
        if let Some((at, tables)) = cache.as_ref()
            && at.elapsed() < REFRESH
        {
            return Ok(tables.clone());
        }
        let tables = self.read()?;
        *cache = Some((Instant::now(), tables.clone()));
        Ok(tables)
    }
}

/// Whether the tables a rule needs have rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// Every table it reads has rows: the rule can run.
    Present,
    /// Some of its tables have rows, others none.
    Partial,
    /// None of its tables has rows.
    Missing,
    /// The rule names no table.
    Unknown,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Present => "present",
            Presence::Partial => "partial",
            Presence::Missing => "missing",
            Presence::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Presence> {
        match s.trim().to_ascii_lowercase().as_str() {
            "present" | "yes" | "true" => Some(Presence::Present),
            "partial" => Some(Presence::Partial),
            "missing" | "no" | "false" => Some(Presence::Missing),
            "unknown" => Some(Presence::Unknown),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Presence::Present => "data present",
            Presence::Partial => "some data missing",
            Presence::Missing => "no data",
            Presence::Unknown => "tables unknown",
        }
    }
}

/// Row counts by table name.
#[derive(Clone, Debug, Default)]
pub struct Rows(pub BTreeMap<String, u64>);

impl Rows {
    pub fn from_tables(tables: &[TableInfo]) -> Rows {
        Rows(tables.iter().map(|t| (t.name.clone(), t.rows)).collect())
    }

    pub fn rows(&self, table: &str) -> u64 {
        self.0.get(table).copied().unwrap_or(0)
    }

    pub fn presence(&self, tables: &[String]) -> Presence {
        if tables.is_empty() {
            return Presence::Unknown;
        }
        let with_rows = tables.iter().filter(|t| self.rows(t) > 0).count();
        if with_rows == tables.len() {
            Presence::Present
        } else if with_rows == 0 {
            Presence::Missing
        } else {
            Presence::Partial
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_of_tables() {
        let rows = Rows([("A".to_string(), 3), ("B".to_string(), 0)].into_iter().collect());
        assert_eq!(rows.presence(&[]), Presence::Unknown);
        assert_eq!(rows.presence(&["A".into()]), Presence::Present);
        assert_eq!(rows.presence(&["A".into(), "B".into()]), Presence::Partial);
        assert_eq!(rows.presence(&["B".into(), "C".into()]), Presence::Missing);
        assert_eq!(Presence::parse("Present"), Some(Presence::Present));
        assert_eq!(Presence::parse("maybe"), None);
    }
}
