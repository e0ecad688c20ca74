//! Structured logs on stderr (or, for an MTA's pipe, the mail log). `RUST_LOG` (checked when
//! the settings are read) overrides the default level for dsr-bot's own logs.
//!
//! The libraries underneath log what they send and receive at DEBUG and TRACE: serenity and
//! poise every REST body (Discord ids, interaction tokens), lettre the SMTP dialogue
//! (addresses), hyper and reqwest the URLs (an interaction's holds its token). Their logs are
//! kept to WARN whatever `RUST_LOG` asks, so no identity or token reaches a log.

use std::io::IsTerminal;

use tracing::Level;
use tracing_subscriber::{
    EnvFilter, Layer, filter::FilterExt, filter::filter_fn, layer::SubscriberExt,
    util::SubscriberInitExt,
};

/// Libraries whose logs below WARN can hold identities, tokens or message bodies.
const TALKATIVE: &[&str] = &[
    "serenity",
    "poise",
    "hyper",
    "hyper_util",
    "reqwest",
    "h2",
    "tungstenite",
    "tokio_tungstenite",
    "rustls",
    "lettre",
    "async_imap",
    "imap_proto",
    "sqlx",
];

/// Whether an event may be written: dsr-bot's own at any level, a talkative library's only
/// from WARN up.
fn may_log(meta: &tracing::Metadata<'_>) -> bool {
    let target = meta.target();
    let talkative = TALKATIVE.iter().any(|t| {
        target == *t
            || target
                .strip_prefix(t)
                .is_some_and(|rest| rest.starts_with("::"))
    });
    !talkative || *meta.level() <= Level::WARN
}

pub fn init(default_level: &str, filter: Option<&str>) {
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(env_filter(default_level, filter).and(filter_fn(may_log)));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// For `ingest-mail` in an MTA's pipe: logs go to the mail log, not onto the stderr an MTA
/// would quote in a bounce (see [`crate::cli::MailLog`]).
pub fn init_for_mta(default_level: &str, filter: Option<&str>) {
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(crate::cli::MailLog)
        .with_ansi(false)
        .with_filter(env_filter(default_level, filter).and(filter_fn(may_log)));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// For a person at the console: logs appended to `file`, so none lands on their prompt. When
/// the file cannot be opened, logs go to stderr as usual.
pub fn init_to_file(default_level: &str, filter: Option<&str>, file: &std::path::Path) {
    let opened = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file);
    match opened {
        Ok(f) => {
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(std::sync::Mutex::new(f))
                .with_ansi(false)
                .with_filter(env_filter(default_level, filter).and(filter_fn(may_log)));
            let _ = tracing_subscriber::registry().with(layer).try_init();
        }
        Err(_) => init(default_level, filter),
    }
}

fn env_filter(default_level: &str, filter: Option<&str>) -> EnvFilter {
    filter
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("{default_level},sqlx=warn,lettre=warn")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libraries_that_log_bodies_are_held_to_warn() {
        use tracing::callsite::Identifier;
        struct Site;
        static SITE: Site = Site;
        impl tracing::callsite::Callsite for Site {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &tracing::Metadata<'_> {
                unreachable!()
            }
        }
        let meta = |target: &'static str, level: Level| {
            tracing::Metadata::new(
                "event",
                target,
                level,
                None,
                None,
                None,
                tracing::field::FieldSet::new(&[], Identifier(&SITE)),
                tracing::metadata::Kind::EVENT,
            )
        };
        assert!(!may_log(&meta("serenity::http::client", Level::DEBUG)));
        assert!(!may_log(&meta("lettre::transport::smtp", Level::TRACE)));
        assert!(may_log(&meta("serenity::gateway", Level::WARN)));
        assert!(may_log(&meta("dsr_bot::workers::outbox", Level::TRACE)));
        assert!(may_log(&meta("serenityish", Level::DEBUG)));
    }
}
