//! False-positive exclusions that work: each exclusion that is a valid KQL predicate over
//! the rule's output or over a table it reads is applied at hunt time, and what it
//! suppresses is kept (flagged with the exclusion), not discarded.
//!
//! * **Output** exclusions (every column they use is a column of the query's result) are
//!   evaluated on the result rows: a row is suppressed by the first exclusion that is true
//!   for it (null counts as false, as in `where`).
//! * **Input** exclusions (their columns are columns of a table the query reads) filter that
//!   table before the query sees it: the rule runs over the rows the exclusions do not
//!   match, and once more per input exclusion over the rows that exclusion matches (and
//!   no earlier one does), so the suppressed results are the rule's own output over the
//!   excluded events.
//!
//! Anything else — prose, a syntax error, unknown columns, a type error — is not applied,
//! and the reason is reported with the rule.

use engine::{CatalogTable, Engine, MemCatalog, QueryOptions, TableCatalog};
use rules::Rule;
use rules::validate::{ExclusionAnalysis, TextSpan};
use schema::{Column, KqlType, Product, TableSchema};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The table name a query's result rows are registered under to evaluate output
/// exclusions on them.
pub const OUTPUT_TABLE: &str = "QuarryRuleOutput";

/// Where an exclusion applies, or why it does not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ExclusionMode {
    /// Evaluated on the query's result rows.
    Output,
    /// Filters these input tables before the query reads them.
    Input { tables: Vec<String> },
    /// Not applied.
    NotApplied { reason: String },
}

/// One false-positive exclusion of a rule and how the hunt treats it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExclusionPlan {
    /// Index into `rule.enrichment.false_positives`.
    pub index: usize,
    pub scenario: String,
    /// The exclusion as written.
    pub exclusion: String,
    /// The predicate part (`| where` stripped), as applied.
    #[serde(skip)]
    pub predicate: String,
    /// The columns it reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    #[serde(flatten)]
    pub mode: ExclusionMode,
    /// For engine-found problems: a span into `exclusion` and the message (the validator
    /// reports these as Q304).
    #[serde(skip)]
    pub problem: Option<(String, TextSpan)>,
}

impl ExclusionPlan {
    pub fn applied(&self) -> bool {
        !matches!(self.mode, ExclusionMode::NotApplied { .. })
    }
}

/// Skips leading whitespace, an optional `|` and an optional `where`/`filter` keyword;
/// returns the byte offset of the predicate and the predicate.
pub fn strip_where(text: &str) -> (usize, &str) {
    let mut rest = text.trim_start();
    if let Some(r) = rest.strip_prefix('|') {
        rest = r.trim_start();
    }
    for kw in ["where", "filter"] {
        if let Some(r) = rest.strip_prefix(kw)
            && r.starts_with(char::is_whitespace)
        {
            rest = r.trim_start();
            break;
        }
    }
    let rest = rest.trim_end();
    // `rest` is a sub-slice of `text`.
    let offset = rest.as_ptr() as usize - text.as_ptr() as usize;
    (offset, rest)
}

/// Decides, for each false positive with an exclusion, whether and where it applies.
///
/// * `syntax` — the syntax analyzer's verdicts (same index as the false positives);
/// * `output` — the columns of the query's (first) result, when it plans;
/// * `tables` — the tables the query reads;
/// * `catalog` — their schemas.
pub fn classify(
    rule: &Rule,
    syntax: &[ExclusionAnalysis],
    output: Option<&[(String, KqlType)]>,
    tables: &[String],
    catalog: &dyn TableCatalog,
) -> Vec<ExclusionPlan> {
    let mut plans = Vec::new();
    for (index, fp) in rule.enrichment.false_positives.iter().enumerate() {
        let Some(text) = fp.exclusion.as_deref() else { continue };
        let (offset, predicate) = strip_where(text);
        let mut plan = ExclusionPlan {
            index,
            scenario: fp.scenario.clone(),
            exclusion: text.to_string(),
            predicate: predicate.to_string(),
            columns: Vec::new(),
            mode: ExclusionMode::Output,
            problem: None,
        };
        plan.mode = match syntax.get(index) {
            Some(ExclusionAnalysis::NotKql { message, .. }) => ExclusionMode::NotApplied {
                reason: format!("not a KQL predicate: {message}"),
            },
            Some(ExclusionAnalysis::Predicate { unknown, .. }) if !unknown.is_empty() => {
                let names: Vec<String> = unknown.iter().map(|(n, _)| format!("`{n}`")).collect();
                ExclusionMode::NotApplied {
                    reason: format!(
                        "references {} that the rule's tables and output do not have",
                        names.join(", ")
                    ),
                }
            }
            Some(ExclusionAnalysis::Predicate { columns, .. }) => {
                let mut names: Vec<&str> = Vec::new();
                for (n, _) in columns {
                    if !names.contains(&n.as_str()) {
                        names.push(n);
                    }
                }
                plan.columns = names.iter().map(|n| n.to_string()).collect();
                let (mode, problem) = place(predicate, &names, output, tables, catalog);
                plan.problem = problem.map(|(m, s)| (m, s.start + offset..s.end + offset));
                mode
            }
            Some(ExclusionAnalysis::NotAnalyzed) | None => ExclusionMode::NotApplied {
                reason: "the rule's query does not parse, so the exclusion cannot be placed".into(),
            },
        };
        plans.push(plan);
    }
    plans
}

/// Output first (the rows an analyst sees), else the input tables that have every column.
fn place(
    predicate: &str,
    columns: &[&str],
    output: Option<&[(String, KqlType)]>,
    tables: &[String],
    catalog: &dyn TableCatalog,
) -> (ExclusionMode, Option<(String, TextSpan)>) {
    if let Some(out) = output
        && columns.iter().all(|c| out.iter().any(|(n, _)| n == c))
    {
        let mut cat = MemCatalog::new();
        cat.add_provider(output_schema(out), empty_provider(out));
        return match check(&cat, OUTPUT_TABLE, predicate) {
            None => (ExclusionMode::Output, None),
            Some(problem) => (
                ExclusionMode::NotApplied {
                    reason: format!("invalid over the query's output: {}", problem.0),
                },
                Some(problem),
            ),
        };
    }
    let mut inputs: Vec<String> = Vec::new();
    for t in tables {
        if inputs.contains(t) {
            continue;
        }
        if let Some(ct) = catalog.table(t)
            && columns.iter().all(|c| ct.schema.column(c).is_some())
        {
            inputs.push(t.clone());
        }
    }
    if inputs.is_empty() {
        let missing: Vec<String> = columns
            .iter()
            .filter(|c| !output.is_some_and(|o| o.iter().any(|(n, _)| n == *c)))
            .map(|c| format!("`{c}`"))
            .collect();
        let reason = format!(
            "{} {} not in the query's output, and no table the query reads has every column it uses",
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" }
        );
        return (
            ExclusionMode::NotApplied { reason: reason.clone() },
            Some((reason, 0..predicate.len())),
        );
    }
    for t in &inputs {
        if let Some(problem) = check(catalog, t, predicate) {
            return (
                ExclusionMode::NotApplied {
                    reason: format!("invalid over {t}: {}", problem.0),
                },
                Some(problem),
            );
        }
    }
    (ExclusionMode::Input { tables: inputs }, None)
}

/// The first semantic error of `<table> | where <predicate>`, with its span mapped into
/// the predicate.
fn check(catalog: &dyn TableCatalog, table: &str, predicate: &str) -> Option<(String, TextSpan)> {
    let prefix = format!("{table}\n| where ");
    let query = format!("{prefix}{predicate}");
    let diags = engine::validate(&query, catalog);
    let d = diags.into_iter().find(kql::Diagnostic::is_error)?;
    let shift = |x: usize| x.saturating_sub(prefix.len()).min(predicate.len());
    let span = d.span.range();
    Some((
        format!("{} [{}]", d.message, d.code),
        shift(span.start)..shift(span.end),
    ))
}

pub fn output_schema(columns: &[(String, KqlType)]) -> TableSchema {
    TableSchema::new(
        OUTPUT_TABLE,
        Product::Inferred,
        columns.iter().map(|(n, t)| Column::new(n.clone(), *t)).collect(),
    )
}

pub(crate) fn empty_provider(columns: &[(String, KqlType)]) -> Arc<dyn datafusion::catalog::TableProvider> {
    let schema = output_schema(columns);
    Arc::new(datafusion::catalog::empty::EmptyTable::new(Arc::new(
        schema.arrow_schema(),
    )))
}

/// `iff(p, false, true)`: true unless the predicate is true (null counts as false).
fn not_true(predicate: &str) -> String {
    format!("iff(({predicate}), false, true)")
}

/// Which input rows a run of the rule sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputSlice {
    /// Rows no input exclusion matches.
    Kept,
    /// Rows the input exclusion with this index matches and no earlier one does.
    SuppressedBy(usize),
}

/// A catalog in front of `base` in which each table some input exclusion applies to is a
/// view of that table restricted to `slice` (planned with the hunt's `now()`, for
/// exclusions that use it).
pub fn input_catalog(
    base: &Arc<dyn TableCatalog>,
    engine: &Engine,
    plans: &[ExclusionPlan],
    slice: InputSlice,
    options: &QueryOptions,
) -> Result<Arc<dyn TableCatalog>, String> {
    let mut tables: Vec<&String> = Vec::new();
    for p in plans {
        if let ExclusionMode::Input { tables: ts } = &p.mode {
            for t in ts {
                if !tables.contains(&t) {
                    tables.push(t);
                }
            }
        }
    }
    let mut overlay = MemCatalog::with_fallback(base.clone());
    for table in tables {
        let applies = |p: &&ExclusionPlan| matches!(&p.mode, ExclusionMode::Input { tables } if tables.contains(table));
        let mut conds: Vec<String> = Vec::new();
        match slice {
            InputSlice::Kept => conds.extend(plans.iter().filter(applies).map(|p| not_true(&p.predicate))),
            InputSlice::SuppressedBy(i) => {
                let Some(me) = plans.iter().filter(applies).find(|p| p.index == i) else {
                    continue;
                };
                conds.push(format!("({})", me.predicate));
                conds.extend(
                    plans
                        .iter()
                        .filter(applies)
                        .filter(|p| p.index < i)
                        .map(|p| not_true(&p.predicate)),
                );
            }
        }
        let Some(CatalogTable { schema, .. }) = base.table(table) else {
            continue;
        };
        let query = format!("{table}\n| where {}", conds.join("\n    and "));
        let planned = engine
            .plan(&query, options)
            .map_err(|e| format!("cannot apply the exclusions to {table}: {e}"))?;
        let plan = planned
            .results
            .into_iter()
            .next()
            .ok_or_else(|| format!("cannot apply the exclusions to {table}: no plan"))?
            .plan;
        let view = datafusion::catalog::view::ViewTable::new(plan, None);
        overlay.add_provider((*schema).clone(), Arc::new(view));
    }
    Ok(Arc::new(overlay))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_where_keeps_offsets() {
        let t = "  | where DeviceName has 'x'  ";
        let (o, p) = strip_where(t);
        assert_eq!(p, "DeviceName has 'x'");
        assert_eq!(&t[o..o + p.len()], p);
        assert_eq!(strip_where("A == 1"), (0, "A == 1"));
        let t = "filter  X > 1";
        let (o, p) = strip_where(t);
        assert_eq!((o, p), (8, "X > 1"));
        assert_eq!(strip_where("wherever == 1").1, "wherever == 1");
    }
}
