//! The rule store: rules in `<data>/quarry.db` (SQLite), with every imported revision and
//! the source text it came from.
//!
//! The full rule is stored as JSON (the serde form of [`Rule`]); the columns and link
//! tables beside it exist only to filter without decoding every rule.

mod migrate;

pub use migrate::{Migration, current_version, migrate};

use crate::attack::Attack;
use crate::model::{Rule, Severity};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// The database file inside a data directory.
pub const DB_FILE: &str = "quarry.db";

/// The component name of the rules tables in `schema_migrations`.
pub const COMPONENT: &str = "rules";

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "rules, their revisions and filter tables",
        sql: "
CREATE TABLE rules (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    severity      TEXT,
    kind          TEXT NOT NULL,
    source_format TEXT NOT NULL,
    source_path   TEXT,
    source_url    TEXT,
    pack          TEXT,
    revision      INTEGER NOT NULL,
    imported_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    rule_json     TEXT NOT NULL,
    source_text   TEXT
);
CREATE INDEX rules_name ON rules (name COLLATE NOCASE);
CREATE INDEX rules_severity ON rules (severity);
CREATE TABLE rule_tactics (
    rule_id TEXT NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    tactic  TEXT NOT NULL,
    PRIMARY KEY (rule_id, tactic)
);
CREATE INDEX rule_tactics_tactic ON rule_tactics (tactic COLLATE NOCASE);
CREATE TABLE rule_techniques (
    rule_id   TEXT NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    technique TEXT NOT NULL,
    PRIMARY KEY (rule_id, technique)
);
CREATE INDEX rule_techniques_technique ON rule_techniques (technique COLLATE NOCASE);
CREATE TABLE rule_tables (
    rule_id    TEXT NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
    table_name TEXT NOT NULL,
    PRIMARY KEY (rule_id, table_name)
);
CREATE INDEX rule_tables_table ON rule_tables (table_name);
CREATE TABLE rule_revisions (
    rule_id     TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    imported_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    source_path TEXT,
    rule_json   TEXT NOT NULL,
    source_text TEXT,
    PRIMARY KEY (rule_id, revision)
);
",
    },
    Migration {
        version: 2,
        description: "rules can be disabled (kept, listed, not hunted by default)",
        sql: "ALTER TABLE rules ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;",
    },
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("rule store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("rule store: a stored rule is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("rule store: {0}")]
    Migration(String),
    #[error("rule store: cannot create {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("`{query}` matches {} rules: {}", .matches.len(), .matches.join("; "))]
    Ambiguous { query: String, matches: Vec<String> },
}

/// A rule as stored: the rule, its revision and when it was first/last imported.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StoredRule {
    pub rule: Rule,
    /// Disabled rules stay in the store (and its history) but are not hunted by default and
    /// do not count towards ATT&CK coverage.
    pub enabled: bool,
    pub revision: u32,
    pub imported_at: String,
    pub updated_at: String,
}

/// One earlier (or the current) version of a rule.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Revision {
    pub revision: u32,
    pub imported_at: String,
    pub source_path: Option<String>,
    pub rule: Rule,
}

/// What [`RuleStore::upsert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upsert {
    Added,
    /// The rule changed; `revision` is the new revision (the previous one is kept).
    Updated {
        revision: u32,
    },
    Unchanged,
}

/// Filters for [`RuleStore::list`]; all given ones must match.
#[derive(Clone, Debug, Default)]
pub struct RuleFilter {
    /// Sentinel name, ATT&CK short name or display name, case-insensitive.
    pub tactic: Option<String>,
    /// A technique id; a technique also matches its sub-techniques.
    pub technique: Option<String>,
    pub severity: Option<Severity>,
    /// A table among the declared data types (case-sensitive, as in KQL).
    pub table: Option<String>,
    /// Substring of the source path, URL, repository or format.
    pub source: Option<String>,
    /// Only enabled (`Some(true)`) or only disabled (`Some(false)`) rules. Rules that are
    /// not stored (built-in packs) count as enabled.
    pub enabled: Option<bool>,
}

impl RuleFilter {
    /// The same filter over rules in memory (for packs, which are not stored).
    pub fn matches(&self, rule: &Rule) -> bool {
        let tactic_ok = self.tactic.as_deref().is_none_or(|t| {
            let want = Attack::get()
                .tactic(t)
                .or(Attack::get().tactic_loose(t))
                .map(|x| x.sentinel_name.to_ascii_lowercase())
                .unwrap_or_else(|| t.to_ascii_lowercase());
            rule.tactics.iter().any(|x| x.to_ascii_lowercase() == want)
        });
        let technique_ok = self.technique.as_deref().is_none_or(|t| {
            rule.all_techniques()
                .any(|x| x.eq_ignore_ascii_case(t) || Attack::parent_id(x).is_some_and(|p| p.eq_ignore_ascii_case(t)))
        });
        let severity_ok = self.severity.is_none_or(|s| rule.severity == Some(s));
        let table_ok = self.table.as_deref().is_none_or(|t| rule.data_types().contains(&t));
        let source_ok = self.source.as_deref().is_none_or(|s| {
            let s = s.to_ascii_lowercase();
            let p = &rule.provenance;
            [
                p.path.as_deref(),
                p.source_url.as_deref(),
                p.source_repository.as_deref(),
                Some(p.format.as_str()),
                p.pack.as_deref(),
            ]
            .into_iter()
            .flatten()
            .any(|v| v.to_ascii_lowercase().contains(&s))
        });
        tactic_ok && technique_ok && severity_ok && table_ok && source_ok
    }

    /// [`RuleFilter::matches`] for a stored rule, including its enabled state.
    pub fn matches_stored(&self, stored: &StoredRule) -> bool {
        self.enabled.is_none_or(|e| e == stored.enabled) && self.matches(&stored.rule)
    }
}

pub struct RuleStore {
    conn: Connection,
}

/// One `rules` row as read by [`RuleStore::row_to_stored`].
type StoredRow = (String, u32, String, String, bool);

impl RuleStore {
    /// Opens (creating if needed) `<data_dir>/quarry.db` and brings the rules tables up to
    /// date.
    pub fn open(data_dir: &Path) -> Result<RuleStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        Self::open_file(&data_dir.join(DB_FILE))
    }

    pub fn open_file(path: &Path) -> Result<RuleStore, StoreError> {
        Self::from_connection(Connection::open(path)?)
    }

    pub fn open_in_memory() -> Result<RuleStore, StoreError> {
        Self::from_connection(Connection::open_in_memory()?)
    }

    fn from_connection(mut conn: Connection) -> Result<RuleStore, StoreError> {
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;")?;
        migrate(&mut conn, COMPONENT, MIGRATIONS)?;
        Ok(RuleStore { conn })
    }

    /// The connection, for components that keep their own tables in the same database
    /// (run their [`migrate`] on it first).
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Adds a rule or, when its id exists and the rule differs, stores it as a new
    /// revision. `source_text` is the file it was read from (kept with the revision).
    pub fn upsert(&mut self, rule: &Rule, source_text: Option<&str>) -> Result<Upsert, StoreError> {
        let json = serde_json::to_string(rule)?;
        let tx = self.conn.transaction()?;
        let existing: Option<(String, u32)> = tx
            .query_row(
                "SELECT rule_json, revision FROM rules WHERE id = ?1",
                params![rule.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let outcome = match existing {
            Some((old, _)) if old == json => Upsert::Unchanged,
            Some((_, rev)) => {
                let revision = rev + 1;
                tx.execute(
                    "UPDATE rules SET name = ?2, severity = ?3, kind = ?4, source_format = ?5, source_path = ?6, source_url = ?7, pack = ?8,
                     revision = ?9, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), rule_json = ?10, source_text = ?11 WHERE id = ?1",
                    params![
                        rule.id,
                        rule.name,
                        rule.severity.map(|s| s.as_str()),
                        rule.kind.as_str(),
                        rule.provenance.format.as_str(),
                        rule.provenance.path,
                        rule.provenance.source_url,
                        rule.provenance.pack,
                        revision,
                        json,
                        source_text
                    ],
                )?;
                Upsert::Updated { revision }
            }
            None => {
                tx.execute(
                    "INSERT INTO rules (id, name, severity, kind, source_format, source_path, source_url, pack, revision, rule_json, source_text)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?10)",
                    params![
                        rule.id,
                        rule.name,
                        rule.severity.map(|s| s.as_str()),
                        rule.kind.as_str(),
                        rule.provenance.format.as_str(),
                        rule.provenance.path,
                        rule.provenance.source_url,
                        rule.provenance.pack,
                        json,
                        source_text
                    ],
                )?;
                Upsert::Added
            }
        };
        if outcome != Upsert::Unchanged {
            let revision = match outcome {
                Upsert::Updated { revision } => revision,
                _ => 1,
            };
            tx.execute(
                "INSERT INTO rule_revisions (rule_id, revision, source_path, rule_json, source_text) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![rule.id, revision, rule.provenance.path, json, source_text],
            )?;
            for table in ["rule_tactics", "rule_techniques", "rule_tables"] {
                tx.execute(&format!("DELETE FROM {table} WHERE rule_id = ?1"), params![rule.id])?;
            }
            for t in &rule.tactics {
                tx.execute(
                    "INSERT OR IGNORE INTO rule_tactics (rule_id, tactic) VALUES (?1, ?2)",
                    params![rule.id, t],
                )?;
            }
            for t in rule.all_techniques() {
                tx.execute(
                    "INSERT OR IGNORE INTO rule_techniques (rule_id, technique) VALUES (?1, ?2)",
                    params![rule.id, t],
                )?;
            }
            for t in rule.data_types() {
                tx.execute(
                    "INSERT OR IGNORE INTO rule_tables (rule_id, table_name) VALUES (?1, ?2)",
                    params![rule.id, t],
                )?;
            }
        }
        tx.commit()?;
        Ok(outcome)
    }

    /// The columns [`Self::row_to_stored`] reads, in order.
    const STORED_COLUMNS: &'static str = "rule_json, revision, imported_at, updated_at, enabled";

    fn row_to_stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    }

    fn decode(rows: Vec<StoredRow>) -> Result<Vec<StoredRule>, StoreError> {
        rows.into_iter()
            .map(|(json, revision, imported_at, updated_at, enabled)| {
                Ok(StoredRule {
                    rule: serde_json::from_str(&json)?,
                    enabled,
                    revision,
                    imported_at,
                    updated_at,
                })
            })
            .collect()
    }

    /// Rules matching the filter, ordered by name.
    pub fn list(&self, filter: &RuleFilter) -> Result<Vec<StoredRule>, StoreError> {
        let mut sql = format!("SELECT {} FROM rules r WHERE 1 = 1", Self::STORED_COLUMNS);
        let mut args: Vec<String> = Vec::new();
        if let Some(t) = &filter.technique {
            args.push(t.clone());
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM rule_techniques x WHERE x.rule_id = r.id AND (x.technique = ?{n} COLLATE NOCASE OR x.technique LIKE ?{n} || '.%'))",
                n = args.len()
            ));
        }
        if let Some(t) = &filter.table {
            args.push(t.clone());
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM rule_tables x WHERE x.rule_id = r.id AND x.table_name = ?{})",
                args.len()
            ));
        }
        if let Some(s) = filter.severity {
            args.push(s.as_str().to_string());
            sql.push_str(&format!(" AND r.severity = ?{}", args.len()));
        }
        if let Some(e) = filter.enabled {
            sql.push_str(if e { " AND r.enabled <> 0" } else { " AND r.enabled = 0" });
        }
        sql.push_str(" ORDER BY r.name COLLATE NOCASE, r.id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), Self::row_to_stored)?
            .collect::<Result<Vec<_>, _>>()?;
        // Tactic names have several spellings and sources are substrings of several
        // columns: those filters run on the decoded rules.
        Ok(Self::decode(rows)?
            .into_iter()
            .filter(|s| filter.matches(&s.rule))
            .collect())
    }

    /// A rule by id, by unique id prefix, or by name (case-insensitive).
    pub fn get(&self, id_or_name: &str) -> Result<Option<StoredRule>, StoreError> {
        let q = id_or_name.trim();
        let base = format!("SELECT {} FROM rules", Self::STORED_COLUMNS);
        for (cond, arg) in [
            ("id = ?1 COLLATE NOCASE", q.to_string()),
            ("name = ?1 COLLATE NOCASE", q.to_string()),
            ("id LIKE ?1", format!("{}%", q.replace(['%', '_'], ""))),
        ] {
            if arg == "%" {
                continue;
            }
            let mut stmt = self.conn.prepare(&format!("{base} WHERE {cond} ORDER BY id"))?;
            let rows = stmt
                .query_map(params![arg], Self::row_to_stored)?
                .collect::<Result<Vec<_>, _>>()?;
            let mut found = Self::decode(rows)?;
            match found.len() {
                0 => continue,
                1 => return Ok(found.pop()),
                _ => {
                    return Err(StoreError::Ambiguous {
                        query: q.to_string(),
                        matches: found.iter().map(|s| format!("{} {}", s.rule.id, s.rule.name)).collect(),
                    });
                }
            }
        }
        Ok(None)
    }

    /// Every stored revision of a rule, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<Revision>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT revision, imported_at, source_path, rule_json FROM rule_revisions WHERE rule_id = ?1 ORDER BY revision")?;
        let rows = stmt
            .query_map(params![id], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(revision, imported_at, source_path, json)| {
                Ok(Revision {
                    revision,
                    imported_at,
                    source_path,
                    rule: serde_json::from_str(&json)?,
                })
            })
            .collect()
    }

    /// The source text a revision was imported from (`None` for the current revision when
    /// `revision` is `None`… the current one is returned then).
    pub fn source_text(&self, id: &str, revision: Option<u32>) -> Result<Option<String>, StoreError> {
        let text: Option<Option<String>> = match revision {
            None => self
                .conn
                .query_row("SELECT source_text FROM rules WHERE id = ?1", params![id], |r| r.get(0))
                .optional()?,
            Some(rev) => self
                .conn
                .query_row(
                    "SELECT source_text FROM rule_revisions WHERE rule_id = ?1 AND revision = ?2",
                    params![id, rev],
                    |r| r.get(0),
                )
                .optional()?,
        };
        Ok(text.flatten())
    }

    /// Enables or disables a rule (by exact id). Returns whether the rule exists. Re-importing
    /// a rule keeps its enabled state.
    pub fn set_enabled(&mut self, id: &str, enabled: bool) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE rules SET enabled = ?2 WHERE id = ?1 COLLATE NOCASE",
            params![id, enabled],
        )?;
        Ok(n > 0)
    }

    /// Removes a rule (its history stays in `rule_revisions`). Returns whether it existed.
    pub fn remove(&mut self, id: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute("DELETE FROM rules WHERE id = ?1", params![id])? > 0)
    }

    pub fn count(&self) -> Result<usize, StoreError> {
        let n: i64 = self.conn.query_row("SELECT COUNT(*) FROM rules", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}
