//! `quarry`: run Microsoft Sentinel and Defender XDR KQL hunting rules anywhere.
//!
//! Each subcommand lives in its own module under `commands/`; this file only declares the
//! command line and dispatches. Exit codes: 0 success (a hunt found nothing), 1 a hunt found
//! something / a check found errors, 2 usage or runtime error.

mod commands;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "quarry",
    version,
    about = "Run Microsoft Sentinel and Defender XDR KQL hunting rules anywhere"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the KQL type of each built-in table column (`quarry schema DeviceFileCertificateInfo`).
    Schema(commands::schema::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Schema(args) => commands::schema::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{err:?}");
            ExitCode::from(2)
        }
    }
}
