//! Reading rule files: Azure-Sentinel YAML and SOC-feed pages (full and condensed).
//!
//! One broken file never stops an import: each file yields its rules and diagnostics, and
//! a file that yields no rule is reported as failed with the place and reason.

mod page;
mod sentinel;

use crate::diag::{Level, RuleDiagnostic, codes};
use crate::model::{Rule, SourceFormat};
use crate::position::{LineIndex, Position};
use crate::yaml::{self, Source};
use std::path::{Path, PathBuf};

pub(crate) use sentinel::KNOWN_KEYS;

/// Diagnostics collected while reading one file.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    pub path: Option<String>,
    pub diags: Vec<RuleDiagnostic>,
}

impl Ctx {
    pub fn push(&mut self, level: Level, code: &str, msg: impl Into<String>, at: Option<Position>) {
        self.diags.push(
            RuleDiagnostic::new(level, code, msg)
                .at(at)
                .in_file(self.path.as_deref()),
        );
    }
    pub fn warn(&mut self, code: &str, msg: impl Into<String>, at: Option<Position>) {
        self.push(Level::Warning, code, msg, at);
    }
    pub fn error(&mut self, code: &str, msg: impl Into<String>, at: Option<Position>) {
        self.push(Level::Error, code, msg, at);
    }
}

/// The result of reading one file.
#[derive(Debug, Clone)]
pub struct FileImport {
    pub path: String,
    pub rule: Option<Rule>,
    /// Problems found while reading (errors explain a missing rule; warnings say what was
    /// repaired or kept verbatim).
    pub diagnostics: Vec<RuleDiagnostic>,
    /// The file's text, for the rule store's history.
    pub text: Option<String>,
}

impl FileImport {
    pub fn failed(&self) -> bool {
        self.rule.is_none()
    }
}

/// Reads a rule from text. `path` is used in diagnostics and provenance. The format is
/// recognized from the content: a feed page by its `KQL Query` section, otherwise YAML.
pub fn import_text(path: &str, text: &str) -> FileImport {
    let mut ctx = Ctx {
        path: Some(path.to_string()),
        diags: Vec::new(),
    };
    let text_no_bom = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bom = text.len() - text_no_bom.len();
    let index = LineIndex::new(text);
    let rule = match page::detect(text_no_bom) {
        Some(kind) => page::read(&index, bom, kind, &mut ctx),
        None => read_yaml(&index, bom, text.len(), SourceFormat::SentinelYaml, &mut ctx),
    };
    let rule = rule.map(|mut r| {
        r.provenance.path = Some(path.to_string());
        if let Some(src) = &mut r.source {
            src.path = path.to_string();
        }
        r
    });
    for d in &mut ctx.diags {
        if let Some(r) = &rule {
            d.rule_id = Some(r.id.clone());
        }
    }
    FileImport {
        path: path.to_string(),
        rule,
        diagnostics: ctx.diags,
        text: Some(text.to_string()),
    }
}

/// Parses the YAML in `index.text()[start..end]` as a Sentinel rule, repairing the
/// mis-indented list-item keys Sentinel tolerates.
pub(crate) fn read_yaml(
    index: &LineIndex<'_>,
    start: usize,
    end: usize,
    format: SourceFormat,
    ctx: &mut Ctx,
) -> Option<Rule> {
    let region = index.text().get(start..end)?;
    read_yaml_text(index, start, region.to_string(), Vec::new(), format, ctx)
}

pub(crate) fn read_yaml_text(
    index: &LineIndex<'_>,
    base: usize,
    text: String,
    mut insertions: Vec<yaml::Insertion>,
    format: SourceFormat,
    ctx: &mut Ctx,
) -> Option<Rule> {
    let (text, insertions) = match yaml::fix_sequence_item_keys(&text) {
        Some((fixed, extra, keys)) if insertions.is_empty() => {
            let probe = Source::new(index, base, text.clone(), Vec::new());
            for k in keys {
                ctx.warn(
                    codes::REINDENTED_KEY,
                    "this key is at the column of the list item's `-`, which is not valid YAML; read as part of that list item (as Sentinel does)",
                    Some(probe.position(k)),
                );
            }
            insertions = extra;
            (fixed, insertions)
        }
        _ => (text, insertions),
    };
    let src = Source::new(index, base, text, insertions);
    let root = match yaml::parse(&src) {
        Ok(root) => root,
        Err(e) => {
            ctx.error(codes::YAML_SYNTAX, format!("invalid YAML: {}", e.message), Some(e.at));
            return None;
        }
    };
    sentinel::rule_from_yaml(&src, &root, format, ctx)
}

/// The outcome of importing many paths.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// One entry per file read, in path order.
    pub files: Vec<FileImport>,
    /// Problems not tied to a single file's content (missing paths, duplicate ids).
    pub diagnostics: Vec<RuleDiagnostic>,
}

impl ImportReport {
    /// The rules read, with duplicates (same id) resolved: identical definitions are merged
    /// (the feed page's enrichment joins the YAML's definition), differing ones keep the
    /// later file and are reported.
    pub fn rules(&self) -> Vec<Rule> {
        merge_duplicates(self.files.iter().filter_map(|f| f.rule.clone()).collect()).0
    }

    pub fn failed(&self) -> usize {
        self.files.iter().filter(|f| f.failed()).count()
            + self.diagnostics.iter().filter(|d| d.level == Level::Error).count()
    }

    /// Every diagnostic: per file, then the import-wide ones.
    pub fn all_diagnostics(&self) -> Vec<RuleDiagnostic> {
        let mut out: Vec<RuleDiagnostic> = self.files.iter().flat_map(|f| f.diagnostics.iter().cloned()).collect();
        out.extend(self.diagnostics.iter().cloned());
        out
    }
}

/// Reads files, directories (recursively: `.yaml`, `.yml`, `.txt`) and glob patterns.
pub fn import_paths(paths: &[PathBuf]) -> ImportReport {
    let mut report = ImportReport::default();
    let mut files = Vec::new();
    for p in paths {
        let s = p.to_string_lossy();
        if !p.exists() && s.contains(['*', '?', '[']) {
            match glob::glob(&s) {
                Ok(matches) => {
                    let before = files.len();
                    for m in matches.flatten() {
                        collect(&m, &mut files, &mut report.diagnostics);
                    }
                    if files.len() == before {
                        report.diagnostics.push(RuleDiagnostic::new(
                            Level::Error,
                            codes::UNREADABLE,
                            format!("no file matches `{s}`"),
                        ));
                    }
                }
                Err(e) => report.diagnostics.push(RuleDiagnostic::new(
                    Level::Error,
                    codes::UNREADABLE,
                    format!("bad pattern `{s}`: {e}"),
                )),
            }
        } else {
            collect(p, &mut files, &mut report.diagnostics);
        }
    }
    files.sort();
    files.dedup();
    for f in files {
        let path = f.to_string_lossy().to_string();
        let fi = match std::fs::read(&f) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => import_text(&path, &text),
                Err(e) => unreadable(
                    &path,
                    format!(
                        "not UTF-8 text (invalid byte at offset {})",
                        e.utf8_error().valid_up_to()
                    ),
                ),
            },
            Err(e) => unreadable(&path, format!("cannot read: {e}")),
        };
        report.files.push(fi);
    }
    let (_, dups) = merge_duplicates(report.files.iter().filter_map(|f| f.rule.clone()).collect());
    report.diagnostics.extend(dups);
    report
}

fn unreadable(path: &str, msg: String) -> FileImport {
    FileImport {
        path: path.to_string(),
        rule: None,
        diagnostics: vec![RuleDiagnostic::new(Level::Error, codes::UNREADABLE, msg).in_file(Some(path))],
        text: None,
    }
}

fn collect(p: &Path, out: &mut Vec<PathBuf>, diags: &mut Vec<RuleDiagnostic>) {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(p) {
            Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
            Err(e) => {
                diags.push(
                    RuleDiagnostic::new(Level::Error, codes::UNREADABLE, format!("cannot read directory: {e}"))
                        .in_file(Some(&p.to_string_lossy())),
                );
                return;
            }
        };
        entries.sort();
        for e in entries {
            if e.is_dir() {
                collect(&e, out, diags);
            } else if e
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "yaml" | "yml" | "txt"))
            {
                out.push(e);
            }
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    } else {
        diags.push(
            RuleDiagnostic::new(Level::Error, codes::UNREADABLE, "no such file or directory")
                .in_file(Some(&p.to_string_lossy())),
        );
    }
}

fn richness(r: &Rule) -> u8 {
    match r.provenance.format {
        SourceFormat::FeedPage => 3,
        SourceFormat::FeedPageCondensed => 2,
        SourceFormat::SentinelYaml => 1,
        SourceFormat::BuiltinPack => 0,
    }
}

/// Merges rules with the same id and definition; reports ids whose definitions differ
/// (the later one is kept).
pub fn merge_duplicates(rules: Vec<Rule>) -> (Vec<Rule>, Vec<RuleDiagnostic>) {
    let mut out: Vec<Rule> = Vec::new();
    let mut diags = Vec::new();
    for rule in rules {
        let Some(existing) = out.iter_mut().find(|r| r.id == rule.id) else {
            out.push(rule);
            continue;
        };
        let differences = existing.definition_differences(&rule);
        if differences.is_empty() {
            let (mut primary, other) = if richness(&rule) > richness(existing) {
                (rule, existing.clone())
            } else {
                (existing.clone(), rule)
            };
            merge_into(&mut primary, other);
            *existing = primary;
        } else {
            let at = rule.field_position("id");
            diags.push(
                RuleDiagnostic::new(
                    Level::Warning,
                    codes::DUPLICATE_IN_IMPORT,
                    format!(
                        "rule id {} is also defined in {} with a different {}; this file's definition is kept",
                        rule.id,
                        existing.provenance.path.as_deref().unwrap_or("another file"),
                        differences.join(", ")
                    ),
                )
                .at(at)
                .in_file(rule.provenance.path.as_deref())
                .for_rule(&rule.id),
            );
            *existing = rule;
        }
    }
    (out, diags)
}

fn merge_into(primary: &mut Rule, other: Rule) {
    let e = &mut primary.enrichment;
    if e.hunt_hypothesis.is_none() {
        e.hunt_hypothesis = other.enrichment.hunt_hypothesis;
    }
    if e.mitre_context.is_none() {
        e.mitre_context = other.enrichment.mitre_context;
    }
    if e.references.is_empty() {
        e.references = other.enrichment.references;
    }
    if e.false_positives.is_empty() && !other.enrichment.false_positives.is_empty() {
        e.false_positives = other.enrichment.false_positives;
        // Exclusion positions point into the file the scenarios came from.
        if let (Some(src), Some(osrc)) = (&mut primary.source, &other.source) {
            src.exclusion_maps = osrc.exclusion_maps.clone();
            src.exclusion_path = Some(osrc.exclusion_path.clone().unwrap_or_else(|| osrc.path.clone()));
        }
    }
    if primary.severity.is_none() {
        primary.severity = other.severity;
    }
    let p = &mut primary.provenance;
    macro_rules! fill {
        ($($f:ident),*) => { $( if p.$f.is_none() { p.$f = other.provenance.$f.clone(); } )* };
    }
    fill!(
        source_repository,
        source_path,
        source_url,
        retrieved,
        confidence,
        language,
        feed_tags,
        disclaimer
    );
    if let Some(path) = other.provenance.path
        && Some(&path) != p.path.as_ref()
        && !p.also_from.contains(&path)
    {
        p.also_from.push(path);
    }
    for a in other.provenance.also_from {
        if !p.also_from.contains(&a) {
            p.also_from.push(a);
        }
    }
}
