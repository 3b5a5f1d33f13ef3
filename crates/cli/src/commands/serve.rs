//! `quarry serve`: the SOC feed web UI and JSON API over the data directory.

use miette::{IntoDiagnostic, Result, miette};
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on. Anything but loopback needs an access token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Access token every request must carry (`Authorization: Bearer …`, or the sign-in
    /// form's cookie). At least 16 characters.
    #[arg(long, env = web::TOKEN_ENV, hide_env_values = true)]
    token: Option<String>,
    /// Seconds a console query may run before it is cancelled.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    query_timeout: u64,
    /// Memory a console query may use, in MiB.
    #[arg(long, default_value_t = 512, value_name = "MIB")]
    query_memory: usize,
    /// Rows of a console result kept for display (the rest are counted).
    #[arg(long, default_value_t = 10_000)]
    query_rows: usize,
}

pub fn run(global: &crate::Global, args: Args) -> Result<ExitCode> {
    let mut config = web::ServeConfig::new(global.data.clone());
    config.addr = args.addr;
    config.token = args.token.filter(|t| !t.is_empty());
    config.limits.timeout = Duration::from_secs(args.query_timeout.max(1));
    config.limits.memory_bytes = args.query_memory.max(16) << 20;
    config.limits.max_rows = args.query_rows.max(1);
    config.check().map_err(|e| miette!("{e}"))?;
    let state = web::AppState::new(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .into_diagnostic()?;
    let quiet = global.quiet;
    let protected = config.token.is_some();
    runtime
        .block_on(web::serve(config, state, move |addr| {
            // The first line is machine-readable (tests read the port from it).
            let mut out = std::io::stdout();
            let _ = writeln!(out, "listening on http://{addr}/");
            let _ = out.flush();
            if !quiet {
                eprintln!(
                    "Quarry SOC feed at http://{addr}/ ({}); Ctrl-C to stop",
                    if protected {
                        "access token required"
                    } else {
                        "loopback only, no token"
                    }
                );
            }
        }))
        .map_err(|e| miette!("{e}"))?;
    if !quiet {
        eprintln!("stopped");
    }
    Ok(ExitCode::SUCCESS)
}
