//! Structured logs on stderr. `RUST_LOG` (checked when the settings are read) overrides the
//! default level.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(default_level: &str, filter: Option<&str>) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(env_filter(default_level, filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// For `ingest-mail` in an MTA's pipe: logs go to the mail log, not onto the stderr an MTA
/// would quote in a bounce (see [`crate::cli::MailLog`]).
pub fn init_for_mta(default_level: &str, filter: Option<&str>) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(env_filter(default_level, filter))
        .with_writer(crate::cli::MailLog)
        .with_ansi(false)
        .try_init();
}

fn env_filter(default_level: &str, filter: Option<&str>) -> EnvFilter {
    filter
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("{default_level},sqlx=warn,lettre=warn")))
}
