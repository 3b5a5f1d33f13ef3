//! The hunt component's tables in `<data>/quarry.db` (see `rules::store::migrate`).

use rules::store::Migration;

/// The component name in `schema_migrations`.
pub const COMPONENT: &str = "hunt";

/// Released migrations are never edited; add a new version instead.
pub const HUNT_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "hunt runs, their rules, findings, the rows each run saw, triage history",
        sql: "
CREATE TABLE hunt_runs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at          TEXT NOT NULL,
    finished_at         TEXT,
    status              TEXT NOT NULL,
    now                 TEXT NOT NULL,
    now_mode            TEXT NOT NULL,
    selection           TEXT NOT NULL,
    rules_total         INTEGER NOT NULL DEFAULT 0,
    rules_ran           INTEGER NOT NULL DEFAULT 0,
    rules_skipped       INTEGER NOT NULL DEFAULT 0,
    rules_invalid       INTEGER NOT NULL DEFAULT 0,
    rules_failed        INTEGER NOT NULL DEFAULT 0,
    findings            INTEGER NOT NULL DEFAULT 0,
    new_findings        INTEGER NOT NULL DEFAULT 0,
    suppressed_findings INTEGER NOT NULL DEFAULT 0,
    elapsed_ms          REAL,
    error               TEXT,
    load_diagnostics    TEXT
);
CREATE TABLE hunt_run_rules (
    run_id          INTEGER NOT NULL REFERENCES hunt_runs (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    rule_id         TEXT NOT NULL,
    rule_name       TEXT NOT NULL,
    status          TEXT NOT NULL,
    rows            INTEGER NOT NULL,
    suppressed_rows INTEGER NOT NULL,
    findings        INTEGER NOT NULL,
    elapsed_ms      REAL NOT NULL,
    report_json     TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
);
CREATE INDEX hunt_run_rules_rule ON hunt_run_rules (rule_id);
CREATE TABLE findings (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id          TEXT NOT NULL,
    rule_name        TEXT NOT NULL,
    severity         TEXT,
    tactics          TEXT NOT NULL,
    techniques       TEXT NOT NULL,
    entity_key       TEXT NOT NULL,
    entities_json    TEXT NOT NULL,
    device_id        TEXT,
    device_name      TEXT,
    first_seen       TEXT NOT NULL,
    last_seen        TEXT NOT NULL,
    first_ns         INTEGER NOT NULL,
    last_ns          INTEGER NOT NULL,
    window_source    TEXT NOT NULL,
    suppression_key  TEXT NOT NULL DEFAULT '',
    suppression_json TEXT,
    status           TEXT NOT NULL DEFAULT 'new',
    first_run_id     INTEGER NOT NULL,
    last_run_id      INTEGER NOT NULL,
    runs_seen        INTEGER NOT NULL DEFAULT 1,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    columns_json     TEXT NOT NULL,
    row_count        INTEGER NOT NULL
);
CREATE INDEX findings_identity ON findings (rule_id, entity_key, suppression_key, last_ns);
CREATE INDEX findings_status ON findings (status);
CREATE INDEX findings_device ON findings (device_name COLLATE NOCASE);
CREATE INDEX findings_last_run ON findings (last_run_id);
CREATE TABLE finding_runs (
    finding_id INTEGER NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    run_id     INTEGER NOT NULL REFERENCES hunt_runs (id) ON DELETE CASCADE,
    row_count  INTEGER NOT NULL,
    rows_json  TEXT NOT NULL,
    PRIMARY KEY (finding_id, run_id)
);
CREATE INDEX finding_runs_run ON finding_runs (run_id);
CREATE TABLE finding_status_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_id INTEGER NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    at         TEXT NOT NULL,
    old_status TEXT,
    new_status TEXT NOT NULL,
    actor      TEXT NOT NULL,
    note       TEXT
);
CREATE INDEX finding_status_history_finding ON finding_status_history (finding_id);
",
    },
    Migration {
        version: 2,
        description: "the process that runs a hunt, to tell an interrupted run from a running one",
        sql: "ALTER TABLE hunt_runs ADD COLUMN pid INTEGER;",
    },
];
