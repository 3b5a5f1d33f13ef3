//! Running the built `quarry` binary over a data directory (shared by the CLI tests).

use std::path::Path;
use std::process::Command;

/// `quarry --data DATA ARGS…`: exit code (-1 when killed), stdout, stderr.
pub fn quarry(data: &Path, args: &[&str]) -> (i32, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_quarry"))
        .arg("--data")
        .arg(data)
        .args(args))
}

/// `quarry ARGS…` (no data directory given): exit code, stdout, stderr.
pub fn quarry_args(args: &[&str]) -> (i32, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_quarry")).args(args))
}

fn run(command: &mut Command) -> (i32, String, String) {
    let out = command.output().expect("run quarry");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
