//! `dsr-bot ingest-mail`: inbound mail from stdin (an MTA pipe) or a Maildir.

use tokio::io::AsyncReadExt;

use crate::{services::Disposition, startup::App, workers::inbox};

pub async fn ingest(app: &App, maildir: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    match maildir {
        Some(dir) => {
            let done = inbox::ingest_maildir(&app.services, &dir).await?;
            println!("{} message(s) read from {}", done.len(), dir.display());
        }
        None => {
            let cap = app.services.config().inbound.max_message_bytes;
            let mut raw = Vec::new();
            tokio::io::stdin().read_to_end(&mut raw).await?;
            let d = inbox::ingest_raw(&app.services, &raw).await?;
            if d == Disposition::Held {
                eprintln!(
                    "kept for a person to look at ({} bytes, cap {cap}): `dsr-bot held list` shows it",
                    raw.len()
                );
            }
        }
    }
    app.outbox_worker()?.flush().await?;
    Ok(())
}

/// `dsr-bot held`: mail kept because it could not be read.
pub async fn held(app: &App, command: super::HeldCmd) -> Result<(), super::Failure> {
    use super::{Failure, HeldCmd};
    match command {
        HeldCmd::List => {
            let held = app.services.held_mail().await?;
            if held.is_empty() {
                println!("no held mail");
            }
            for h in held {
                println!(
                    "{:>5}  {}  {:>10} bytes{}  {}",
                    h.id,
                    h.received_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    h.size,
                    if h.headers_only {
                        " (headers kept)"
                    } else {
                        ""
                    },
                    h.reason
                );
            }
        }
        HeldCmd::Show { id } => {
            let raw = app.services.held_message(id).await?.ok_or_else(|| {
                Failure::User(format!(
                    "There is no held message #{id}. `dsr-bot held list` shows them."
                ))
            })?;
            use std::io::Write;
            std::io::stdout()
                .write_all(&raw)
                .map_err(anyhow::Error::from)?;
        }
        HeldCmd::Delete { id } => {
            if !app.services.drop_held(id).await? {
                return Err(Failure::User(format!(
                    "There is no held message #{id}. `dsr-bot held list` shows them."
                )));
            }
            println!("held message #{id} deleted");
        }
    }
    Ok(())
}
