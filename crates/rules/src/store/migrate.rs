//! Schema versions for `quarry.db`, per component.
//!
//! Several crates keep tables in the same database (rules here; hunt runs and findings in
//! `hunt`). Each owns a *component* name and an ordered list of [`Migration`]s; the table
//! `schema_migrations` records which versions of which component are applied, so components
//! evolve independently and in any order of first use. A migration runs in a transaction
//! together with its bookkeeping row: it is applied entirely or not at all.

use super::StoreError;
use rusqlite::{Connection, params};

/// One step of a component's schema. Versions start at 1 and increase by 1; a released
/// migration is never edited, only followed by a new one.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub version: u32,
    pub description: &'static str,
    pub sql: &'static str,
}

const BOOKKEEPING: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    component   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    description TEXT NOT NULL,
    applied_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (component, version)
)";

/// The highest applied version of `component` (0 when none).
pub fn current_version(conn: &Connection, component: &str) -> Result<u32, StoreError> {
    conn.execute_batch(BOOKKEEPING)?;
    let v: Option<u32> = conn.query_row(
        "SELECT MAX(version) FROM schema_migrations WHERE component = ?1",
        params![component],
        |r| r.get(0),
    )?;
    Ok(v.unwrap_or(0))
}

/// Applies the migrations of `component` that are not applied yet. Fails when the
/// database has a version this build does not know (written by a newer Quarry).
pub fn migrate(conn: &mut Connection, component: &str, migrations: &[Migration]) -> Result<u32, StoreError> {
    for (i, m) in migrations.iter().enumerate() {
        if m.version as usize != i + 1 {
            return Err(StoreError::Migration(format!(
                "{component}: migration #{} has version {} (versions must be 1, 2, 3, …)",
                i + 1,
                m.version
            )));
        }
    }
    let known = migrations.len() as u32;
    let current = current_version(conn, component)?;
    if current > known {
        return Err(StoreError::Migration(format!(
            "the database has {component} schema version {current}, but this build of Quarry knows only up to {known}; use a newer Quarry"
        )));
    }
    for m in migrations.iter().filter(|m| m.version > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql).map_err(|e| {
            StoreError::Migration(format!("{component} migration {} ({}): {e}", m.version, m.description))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (component, version, description) VALUES (?1, ?2, ?3)",
            params![component, m.version, m.description],
        )?;
        tx.commit()?;
    }
    Ok(known)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &[Migration] = &[
        Migration {
            version: 1,
            description: "t",
            sql: "CREATE TABLE t (a INTEGER)",
        },
        Migration {
            version: 2,
            description: "t.b",
            sql: "ALTER TABLE t ADD COLUMN b TEXT",
        },
    ];

    #[test]
    fn applies_once_and_in_order() {
        let mut c = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut c, "x", &M[..1]).unwrap(), 1);
        assert_eq!(migrate(&mut c, "x", M).unwrap(), 2);
        assert_eq!(migrate(&mut c, "x", M).unwrap(), 2);
        c.execute("INSERT INTO t (a, b) VALUES (1, 'z')", []).unwrap();
        assert_eq!(current_version(&c, "x").unwrap(), 2);
        assert_eq!(current_version(&c, "other").unwrap(), 0);
    }

    #[test]
    fn refuses_a_newer_database_and_bad_lists() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c, "x", M).unwrap();
        let err = migrate(&mut c, "x", &M[..1]).unwrap_err().to_string();
        assert!(err.contains("newer Quarry"), "{err}");
        let bad = [Migration {
            version: 2,
            description: "skip",
            sql: "",
        }];
        assert!(migrate(&mut c, "y", &bad).is_err());
    }

    #[test]
    fn a_failing_migration_leaves_nothing_behind() {
        let mut c = Connection::open_in_memory().unwrap();
        let bad = [Migration {
            version: 1,
            description: "broken",
            sql: "CREATE TABLE ok (a); NOT SQL",
        }];
        assert!(migrate(&mut c, "z", &bad).is_err());
        assert_eq!(current_version(&c, "z").unwrap(), 0);
        assert!(c.prepare("SELECT * FROM ok").is_err());
    }
}
