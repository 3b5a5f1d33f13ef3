//! `quarry check`: report the problems of KQL queries without running them.
//!
//! Input: KQL files, `-` for stdin, `.jsonl` files of `{"id","query"}` records, or rule
//! files (`.yaml`/`.yml` Sentinel rules, SOC-feed pages, directories of them).
//! Output: rustc-style reports for people, or with `--json` one line per query:
//! `{"id","syntax_ok","semantic_ok","diagnostics":[{"severity","code","message","start","end","line","column"}]}`
//! and per rule file `{"id","kind":"rule","rule_id","syntax_ok","semantic_ok","diagnostics":[{"severity","code","message","line","column","end_line","end_column","help"}]}`
//! (positions in the rule file). Exit code 1 when any input has an error.
//!
//! Queries go through a list of [`Checker`]s producing `kql::Diagnostic`s: syntax, then
//! semantics (tables, columns, types, functions) against the built-in schemas and the
//! tables of the data directory. Rule files are imported and run through the full rule
//! validator (rule-level checks, syntax and semantics of the query and its exclusions),
//! with every diagnostic pointing into the file. `semantic_ok` is true when the query
//! parses and has no semantic error.

use kql::{Diagnostic, LineIndex, Parsed, RenderOptions};
use miette::{IntoDiagnostic, Result, WrapErr, miette};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Files to check: `.kql` (one query), `.jsonl` (`{"id","query"}` per line), or `-` for stdin.
    #[arg(default_value = "-")]
    inputs: Vec<PathBuf>,
    /// One JSON object per query on stdout instead of reports.
    #[arg(long)]
    json: bool,
    /// Read stdin as JSON Lines records instead of one query.
    #[arg(long)]
    jsonl: bool,
}

/// One query to check.
struct Input {
    id: String,
    /// Display name for reports (file name, or `file.jsonl#id`).
    name: String,
    query: String,
}

/// A check over a parsed query.
pub trait Checker {
    fn check(&self, source: &str, parsed: &Parsed) -> Vec<Diagnostic>;
}

/// Semantics: names, types and functions against table schemas (the engine's analysis;
/// never repeats a syntax error).
struct Semantic {
    catalog: schema::Catalog,
}

impl Checker for Semantic {
    fn check(&self, source: &str, _parsed: &Parsed) -> Vec<Diagnostic> {
        hunt::semantic_diagnostics(source, &self.catalog)
    }
}

/// Syntax: the parser's own diagnostics.
struct Syntax;

impl Checker for Syntax {
    fn check(&self, _source: &str, parsed: &Parsed) -> Vec<Diagnostic> {
        parsed.diagnostics.clone()
    }
}

fn checkers(catalog: schema::Catalog) -> Vec<Box<dyn Checker>> {
    vec![Box::new(Syntax), Box::new(Semantic { catalog })]
}

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    let (inputs, rule_paths) = read_inputs(&args)?;
    // The built-in schemas, and the tables of the data directory (inferred ones too).
    let catalog = store::DataDir::open(&global.data)
        .catalog()
        .unwrap_or_else(|_| schema::Catalog::builtin().clone());
    let checkers = checkers(catalog.clone());
    let color = std::io::stdout().is_terminal();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let (mut failed, mut total) = (0usize, 0usize);
    for input in &inputs {
        total += 1;
        let parsed = kql::parse(&input.query);
        let mut diags: Vec<Diagnostic> = Vec::new();
        for c in &checkers {
            diags.extend(c.check(&input.query, &parsed));
        }
        diags.sort_by_key(|d| (d.span.start, d.span.end));
        let syntax_ok = parsed.is_ok();
        let has_error = diags.iter().any(Diagnostic::is_error);
        // Without syntax errors, every remaining error is semantic.
        let semantic_ok = syntax_ok && !has_error;
        failed += usize::from(has_error);
        if args.json {
            let line = json_line(input, syntax_ok, semantic_ok, &diags);
            writeln!(out, "{line}").into_diagnostic()?;
        } else if !diags.is_empty() {
            let opts = RenderOptions {
                name: Some(input.name.clone()),
                color,
                ..RenderOptions::default()
            };
            write!(out, "{}", kql::render_all(&diags, &input.query, &opts)).into_diagnostic()?;
        }
    }
    let (rule_files, rule_failed) = if rule_paths.is_empty() {
        (0, 0)
    } else {
        rule_files::check(&rule_paths, &catalog, args.json, color, &mut out)?
    };
    total += rule_files;
    failed += rule_failed;
    if !args.json && !global.quiet {
        let what = match (total - rule_files, rule_files) {
            (q, 0) => format!("{q} {}", if q == 1 { "query" } else { "queries" }),
            (0, r) => format!("{r} rule file{}", if r == 1 { "" } else { "s" }),
            (q, r) => format!(
                "{q} quer{} and {r} rule file{}",
                if q == 1 { "y" } else { "ies" },
                if r == 1 { "" } else { "s" }
            ),
        };
        eprintln!("checked {what}: {failed} with errors");
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(serde::Serialize)]
struct JsonLine<'a> {
    id: &'a str,
    syntax_ok: bool,
    semantic_ok: bool,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

#[derive(serde::Serialize)]
struct JsonDiagnostic<'a> {
    severity: &'static str,
    code: &'a str,
    message: &'a str,
    start: u32,
    end: u32,
    line: u32,
    column: u32,
}

fn json_line(input: &Input, syntax_ok: bool, semantic_ok: bool, diags: &[Diagnostic]) -> String {
    let index = LineIndex::new(&input.query);
    let diagnostics = diags
        .iter()
        .map(|d| {
            let pos = index.line_col(d.span.start);
            JsonDiagnostic {
                severity: d.severity.as_str(),
                code: &d.code,
                message: &d.message,
                start: d.span.start,
                end: d.span.end,
                line: pos.line,
                column: pos.column,
            }
        })
        .collect();
    serde_json::to_string(&JsonLine {
        id: &input.id,
        syntax_ok,
        semantic_ok,
        diagnostics,
    })
    .unwrap_or_default()
}

/// Queries to check, and rule files (and directories of them) to check as rules.
fn read_inputs(args: &Args) -> Result<(Vec<Input>, Vec<PathBuf>)> {
    let mut inputs = Vec::new();
    let mut rule_paths = Vec::new();
    for path in &rule_files::expand(&args.inputs) {
        let is_stdin = path.as_os_str() == "-";
        if !is_stdin && rule_files::is_rule_path(path) {
            rule_paths.push(path.clone());
            continue;
        }
        let text = if is_stdin {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .into_diagnostic()
                .wrap_err("reading stdin")?;
            s
        } else {
            std::fs::read_to_string(path)
                .into_diagnostic()
                .wrap_err_with(|| format!("reading {}", path.display()))?
        };
        let name = if is_stdin {
            "<stdin>".to_string()
        } else {
            path.display().to_string()
        };
        let jsonl = if is_stdin {
            args.jsonl
        } else {
            path.extension().is_some_and(|e| e == "jsonl")
        };
        if jsonl {
            inputs.extend(parse_jsonl(&text, &name)?);
        } else if !is_stdin && rule_files::looks_like_feed_page(&text) {
            rule_paths.push(path.clone());
        } else {
            inputs.push(Input {
                id: name.clone(),
                name,
                query: text,
            });
        }
    }
    Ok((inputs, rule_paths))
}

/// Rule files: imported, validated with every check, reported at their place in the file.
mod rule_files {
    use miette::{IntoDiagnostic, Result};
    use rules::{Level, RuleDiagnostic};
    use std::io::Write;
    use std::path::{Path, PathBuf};

    /// Expands glob patterns that name no existing file (`'rules/*.yaml'` quoted).
    pub fn expand(inputs: &[PathBuf]) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for p in inputs {
            let s = p.to_string_lossy();
            if !p.exists()
                && s != "-"
                && s.contains(['*', '?', '['])
                && let Ok(paths) = glob::glob(&s)
            {
                let matched: Vec<PathBuf> = paths.flatten().collect();
                if !matched.is_empty() {
                    out.extend(matched);
                    continue;
                }
            }
            out.push(p.clone());
        }
        out
    }

    /// Directories and `.yaml`/`.yml` files are rule files.
    pub fn is_rule_path(p: &Path) -> bool {
        p.is_dir()
            || p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
    }

    /// A SOC-feed rule page (full or condensed) has a `KQL Query` section line.
    pub fn looks_like_feed_page(text: &str) -> bool {
        text.lines().any(|l| l.trim() == "KQL Query")
    }

    fn severity(l: Level) -> kql::Severity {
        match l {
            Level::Error => kql::Severity::Error,
            Level::Warning => kql::Severity::Warning,
            Level::Info => kql::Severity::Info,
        }
    }

    /// A diagnostic with a source excerpt when it has a position in a file we read.
    fn render(d: &RuleDiagnostic, text: Option<&str>, color: bool) -> String {
        match (d.position, text, &d.path) {
            (Some(pos), Some(text), Some(path)) => {
                let start = pos.offset;
                let end = d.end.map(|e| e.offset).unwrap_or(start).max(start);
                let mut kd = kql::Diagnostic::new(
                    severity(d.level),
                    d.code.clone(),
                    d.message.clone(),
                    kql::Span::new(start, end),
                );
                kd.help = d.help.clone();
                let opts = kql::RenderOptions {
                    name: Some(path.clone()),
                    color,
                    ..kql::RenderOptions::default()
                };
                kql::render(&kd, text, &opts)
            }
            _ => format!("{d}\n"),
        }
    }

    #[derive(serde::Serialize)]
    struct JsonDiag<'a> {
        severity: &'static str,
        code: &'a str,
        message: &'a str,
        line: Option<u32>,
        column: Option<u32>,
        end_line: Option<u32>,
        end_column: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        help: Option<&'a str>,
    }

    #[derive(serde::Serialize)]
    struct JsonRecord<'a> {
        id: &'a str,
        kind: &'static str,
        rule_id: Option<&'a str>,
        syntax_ok: bool,
        semantic_ok: bool,
        diagnostics: Vec<JsonDiag<'a>>,
    }

    /// Checks rule files; returns (files checked, files with errors).
    pub fn check(
        paths: &[PathBuf],
        catalog: &schema::Catalog,
        json: bool,
        color: bool,
        out: &mut impl Write,
    ) -> Result<(usize, usize)> {
        let report = rules::import_paths(paths);
        let validator = hunt::full_validator(catalog);
        let mut failed = 0;
        // Problems not tied to one file (missing paths, ids defined twice differently).
        for d in &report.diagnostics {
            if json {
                let rec = serde_json::json!({"id": d.path, "kind": "rule", "error": d.to_string()});
                writeln!(out, "{rec}").into_diagnostic()?;
            } else {
                let text = d
                    .path
                    .as_deref()
                    .and_then(|p| report.files.iter().find(|f| f.path == p))
                    .and_then(|f| f.text.as_deref());
                write!(out, "{}", render(d, text, color)).into_diagnostic()?;
            }
            failed += usize::from(d.level == Level::Error);
        }
        for file in &report.files {
            let mut diags = file.diagnostics.clone();
            let (mut syntax_ok, mut semantic_ok) = (false, false);
            if let Some(rule) = &file.rule {
                diags.extend(validator.validate(rule));
                syntax_ok = kql::parse(&rule.query).is_ok();
                semantic_ok = syntax_ok && !kql::has_errors(&hunt::semantic_diagnostics(&rule.query, catalog));
            }
            diags.sort_by_key(|d| (d.path.clone(), d.position.map(|p| p.offset), d.code.clone()));
            let has_error = file.rule.is_none() || diags.iter().any(|d| d.level == Level::Error);
            failed += usize::from(has_error);
            if json {
                let rec = JsonRecord {
                    id: &file.path,
                    kind: "rule",
                    rule_id: file.rule.as_ref().map(|r| r.id.as_str()),
                    syntax_ok,
                    semantic_ok,
                    diagnostics: diags
                        .iter()
                        .map(|d| JsonDiag {
                            severity: d.level.as_str(),
                            code: &d.code,
                            message: &d.message,
                            line: d.position.map(|p| p.line),
                            column: d.position.map(|p| p.column),
                            end_line: d.end.map(|p| p.line),
                            end_column: d.end.map(|p| p.column),
                            help: d.help.as_deref(),
                        })
                        .collect(),
                };
                writeln!(out, "{}", serde_json::to_string(&rec).into_diagnostic()?).into_diagnostic()?;
            } else {
                for d in &diags {
                    // Exclusions merged from another file point into that file.
                    let text = d
                        .path
                        .as_deref()
                        .and_then(|p| report.files.iter().find(|f| f.path == p))
                        .and_then(|f| f.text.as_deref());
                    write!(out, "{}", render(d, text, color)).into_diagnostic()?;
                }
            }
        }
        Ok((report.files.len(), failed))
    }
}

fn parse_jsonl(text: &str, name: &str) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .into_diagnostic()
            .wrap_err_with(|| format!("{name}:{}: not JSON", n + 1))?;
        let query = v
            .get("query")
            .and_then(|q| q.as_str())
            .ok_or_else(|| miette!("{name}:{}: no \"query\" string", n + 1))?
            .to_string();
        let id = match v.get("id") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) if !other.is_null() => other.to_string(),
            _ => format!("{}", n + 1),
        };
        inputs.push(Input {
            name: format!("{name}#{id}"),
            id,
            query,
        });
    }
    Ok(inputs)
}
