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
                let kept = inbox::keep_held(&app.services.config().inbound.held_dir, &raw).await?;
                eprintln!(
                    "kept for review: {} ({} bytes, cap {cap})",
                    kept.display(),
                    raw.len()
                );
            }
        }
    }
    app.outbox_worker()?.flush().await?;
    Ok(())
}
