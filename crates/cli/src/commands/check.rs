//! `quarry check`: report the problems of KQL queries without running them.
//!
//! Input: KQL files, `-` for stdin, or `.jsonl` files of `{"id","query"}` records.
//! Output: rustc-style reports for people, or with `--json` one line per query:
//! `{"id","syntax_ok","diagnostics":[{"severity","code","message","start","end","line","column"}]}`.
//! Exit code 1 when any query has an error.
//!
//! Checks are a list of [`Checker`]s producing `kql::Diagnostic`s; syntax is the first.
//! Semantic checks (names and types against the table schemas) join the list later.

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

/// Syntax: the parser's own diagnostics.
struct Syntax;

impl Checker for Syntax {
    fn check(&self, _source: &str, parsed: &Parsed) -> Vec<Diagnostic> {
        parsed.diagnostics.clone()
    }
}

fn checkers() -> Vec<Box<dyn Checker>> {
    vec![Box::new(Syntax)]
}

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    let inputs = read_inputs(&args)?;
    let checkers = checkers();
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
        failed += usize::from(has_error);
        if args.json {
            let line = json_line(input, syntax_ok, &diags);
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
    if !args.json && !global.quiet {
        let plural = if total == 1 { "query" } else { "queries" };
        eprintln!("checked {total} {plural}: {failed} with errors");
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

fn json_line(input: &Input, syntax_ok: bool, diags: &[Diagnostic]) -> String {
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
        diagnostics,
    })
    .unwrap_or_default()
}

fn read_inputs(args: &Args) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for path in &args.inputs {
        let is_stdin = path.as_os_str() == "-";
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
        } else {
            inputs.push(Input {
                id: name.clone(),
                name,
                query: text,
            });
        }
    }
    Ok(inputs)
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
