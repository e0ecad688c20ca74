//! The local console channel: slash-style lines in, replies out, for a machine without a
//! Discord token. The console user is taken as authenticated, like a Discord account.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{
    domain::{CommandError, ConsoleUser, MemberCommand, command::MAX_LINE_LEN},
    error::UserError,
    services::{Origin, Services},
};

/// The reply to one raw line, or `None` for a blank one.
pub async fn answer_line(services: &Services, origin: &Origin, line: &str) -> Option<String> {
    if line.trim().is_empty() {
        return None;
    }
    let result = match MemberCommand::parse(line) {
        Ok(command) => services.dispatch(origin, command).await,
        Err(e) => Err(e.into()),
    };
    Some(match result {
        Ok(reply) => reply.text,
        Err(e) => e.for_person_in(services.language_of(origin).await),
    })
}

/// Reads lines until end of input or `stop`, answering each; a line being answered when
/// `stop` comes is answered first. `prompt` is for an interactive terminal.
pub async fn run<R, W>(
    services: &Services,
    user: ConsoleUser,
    input: R,
    mut output: W,
    prompt: bool,
    mut stop: tokio::sync::watch::Receiver<bool>,
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
        let mut limited = (&mut input).take((MAX_LINE_LEN * 4 + 2) as u64);
        let read = limited.read_until(b'\n', &mut buf);
        let n = tokio::select! {
            n = read => n?,
            _ = stop.changed() => 0,
        };
        if n == 0 {
            if prompt {
                // The shell's prompt starts on a line of its own.
                output.write_all(b"\n").await?;
                output.flush().await?;
            }
            break;
        }
        let origin = &origin;
        let refused =
            |e: UserError| async move { Some(e.in_language(services.language_of(origin).await)) };
        let reply = if !buf.ends_with(b"\n") && n > MAX_LINE_LEN * 4 {
            skip_rest_of_line(&mut input).await?;
            refused(CommandError::TooLong.refusal()).await
        } else {
            match std::str::from_utf8(&buf) {
                Ok(line) => answer_line(services, origin, line).await,
                Err(_) => refused(UserError::said("not_utf8", &[])).await,
            }
        };
        if let Some(text) = reply {
            // At a terminal, answers are wrapped to its width; piped, they are left as they are.
            let text = if prompt {
                crate::domain::layout::wrap(&text, terminal_width())
            } else {
                text
            };
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

/// The terminal's width in columns (80 when it cannot be told), at most 100 for reading.
pub fn terminal_width() -> usize {
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ only fills the winsize it is given; stdout is open for the
        // whole process.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0
            && size.ws_col > 20
        {
            return usize::from(size.ws_col).min(100);
        }
    }
    80
}
