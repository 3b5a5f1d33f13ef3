//! `quarry fmt`: reformat a KQL query (the pretty-printer, comments kept).

use miette::{IntoDiagnostic, Result, WrapErr};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The query file, or `-` for stdin.
    #[arg(default_value = "-")]
    input: PathBuf,
    /// Only report whether the file is formatted (exit code 1 when it is not).
    #[arg(long, conflicts_with = "write")]
    check: bool,
    /// Rewrite the file in place instead of printing.
    #[arg(long, short)]
    write: bool,
}

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    let is_stdin = args.input.as_os_str() == "-";
    let text = if is_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .into_diagnostic()
            .wrap_err("reading stdin")?;
        s
    } else {
        std::fs::read_to_string(&args.input)
            .into_diagnostic()
            .wrap_err_with(|| format!("reading {}", args.input.display()))?
    };
    let name = if is_stdin {
        "<stdin>".to_string()
    } else {
        args.input.display().to_string()
    };
    let formatted = match kql::format(&text) {
        Ok(f) => f,
        Err(diags) => {
            let opts = kql::RenderOptions {
                name: Some(name.clone()),
                color: std::io::stderr().is_terminal(),
                ..kql::RenderOptions::default()
            };
            eprint!("{}", kql::render_all(&diags, &text, &opts));
            eprintln!("{name}: not formatted: the query has syntax errors");
            return Ok(ExitCode::from(1));
        }
    };
    if args.check {
        if formatted == text {
            return Ok(ExitCode::SUCCESS);
        }
        if !global.quiet {
            eprintln!("{name}: would be reformatted");
        }
        return Ok(ExitCode::from(1));
    }
    if args.write && !is_stdin {
        if formatted != text {
            std::fs::write(&args.input, &formatted)
                .into_diagnostic()
                .wrap_err_with(|| format!("writing {}", args.input.display()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    print!("{formatted}");
    Ok(ExitCode::SUCCESS)
}
