//! The local console channel: slash-style lines in, replies out, for a machine without a
//! Discord token. The console user is taken as authenticated, like a Discord account.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{
    domain::{Command, ConsoleUser, RequestKind, command::MAX_LINE_LEN},
    error::{ServiceError, UserError},
    services::{Origin, Reply, Services},
};

pub const HELP: &str = "\
Commands:
  /optout [email:ADDRESS]   stop the use of your data for the policy's purpose
  /optin  [email:ADDRESS]   allow it again
  /delete [email:ADDRESS]   ask for your data to be erased (needs /confirm)
  /confirm                  confirm a deletion you asked for
  /cancel                   drop what is still waiting for you
  /verify code:NNNNNN       enter the code we emailed to prove an address is yours
  /status                   see your choice and your open requests
  /privacy                  what the policy is, its deadline, what each choice means
  /help                     this list
An email address is used only to confirm your requests and later changes.";

/// Runs one command for the console user in `origin` and returns the text to show.
pub async fn handle(
    services: &Services,
    origin: &Origin,
    command: Command,
) -> Result<Reply, ServiceError> {
    match command {
        Command::OptOut { email } => {
            services
                .file_request(origin, RequestKind::OptOut, email)
                .await
        }
        Command::OptIn { email } => {
            services
                .file_request(origin, RequestKind::OptIn, email)
                .await
        }
        Command::Delete { email } => {
            services
                .file_request(origin, RequestKind::Deletion, email)
                .await
        }
        Command::Confirm => services.confirm(origin).await,
        Command::Cancel => services.cancel(origin).await,
        Command::Verify { code } => services.verify(origin, &code).await,
        Command::Status => services.status(origin).await,
        Command::Privacy => Ok(Reply::text(services.privacy_notice())),
        Command::Help => Ok(Reply::text(HELP.to_owned())),
    }
}

/// The reply to one raw line, or `None` for a blank one.
pub async fn answer_line(services: &Services, origin: &Origin, line: &str) -> Option<String> {
    if line.trim().is_empty() {
        return None;
    }
    let result = match Command::parse(line) {
        Ok(command) => handle(services, origin, command).await,
        Err(e) => Err(e.into()),
    };
    Some(match result {
        Ok(reply) => reply.text,
        Err(e) => e.for_person(),
    })
}

/// Reads lines until end of input, answering each. `prompt` is for an interactive terminal.
pub async fn run<R, W>(
    services: &Services,
    user: ConsoleUser,
    input: R,
    mut output: W,
    prompt: bool,
) -> anyhow::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let origin = Origin::console(user);
    let mut input = input;
    let mut buf = Vec::new();
    loop {
        if prompt {
            output.write_all(b"dsr-bot> ").await?;
            output.flush().await?;
        }
        buf.clear();
        // Read at most a little past the limit, so an endless line cannot fill memory.
        let n = (&mut input)
            .take((MAX_LINE_LEN * 4 + 2) as u64)
            .read_until(b'\n', &mut buf)
            .await?;
        if n == 0 {
            break;
        }
        let reply = if !buf.ends_with(b"\n") && n > MAX_LINE_LEN * 4 {
            skip_rest_of_line(&mut input).await?;
            Some(
                UserError::new(format!(
                    "The line is longer than {MAX_LINE_LEN} characters. Send a shorter command."
                ))
                .to_string(),
            )
        } else {
            match std::str::from_utf8(&buf) {
                Ok(line) => answer_line(services, &origin, line).await,
                Err(_) => Some(
                    "The line is not valid UTF-8 text. Type the command as plain text.".to_owned(),
                ),
            }
        };
        if let Some(text) = reply {
            output.write_all(text.as_bytes()).await?;
            output.write_all(b"\n").await?;
            output.flush().await?;
        }
    }
    Ok(())
}

async fn skip_rest_of_line<R: AsyncBufRead + Unpin>(input: &mut R) -> std::io::Result<()> {
    let mut sink = Vec::new();
    loop {
        sink.clear();
        let n = (&mut *input)
            .take(64 * 1024)
            .read_until(b'\n', &mut sink)
            .await?;
        if n == 0 || sink.ends_with(b"\n") {
            return Ok(());
        }
    }
}
