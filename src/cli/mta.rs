//! `dsr-bot ingest-mail` as an MTA's pipe (Postfix pipe(8), Exim's pipe transport): what it
//! answers the MTA when something goes wrong.
//!
//! An MTA bounces the person's mail on any exit status but a temporary one, and puts what the
//! command printed into the bounce. So everything that is not the message's own fault (a busy,
//! locked or full database, an I/O error, a setting or a key to fix, a key change running)
//! exits 75, EX_TEMPFAIL, and the mail waits in the MTA's queue; what is printed names the kind
//! of problem and a reference, never a path. The whole cause goes to the mail log (syslog,
//! facility mail) under that reference, and to the terminal when there is one.

use std::{ffi::OsString, io::IsTerminal};

use super::Failure;

/// Whether this command line is `ingest-mail` reading one message on stdin.
pub fn is_mta_pipe(args: &[OsString]) -> bool {
    let words: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    words.first() == Some(&"ingest-mail") && !words.iter().any(|w| w.starts_with("--maildir"))
}

/// The one line for the MTA (no path in it); the details are logged under its reference.
pub fn for_mta(failure: Failure) -> String {
    let reference = crate::crypto::new_reference();
    let (what, detail) = match failure {
        Failure::TryLater(m) => (
            "the message can be taken only later".to_owned(),
            m.trim_start_matches("error: ").to_owned(),
        ),
        Failure::Config(line) => (
            "the service's settings or database key need the operator's attention".to_owned(),
            line,
        ),
        Failure::User(m) => ("the message could not be taken now".to_owned(), m),
        Failure::Internal(e) => {
            let text = format!("{e:#}");
            let what =
                if text.contains("database or disk is full") || text.contains("No space left") {
                    "the disk is full"
                } else if text.contains("locked") || text.contains("busy") {
                    "the database is busy"
                } else {
                    "an internal error stopped it"
                };
            (what.to_owned(), text)
        }
    };
    log(&format!(
        "ingest-mail deferred a message (reference {reference}): {detail}"
    ));
    format!(
        "{what} (reference {reference}); the message was not recorded and the mail server will deliver it again later"
    )
}

/// Writes `line` to the mail log, and to stderr as well when that is a terminal.
pub fn log(line: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("{line}");
    }
    syslog(line);
}

#[cfg(unix)]
fn syslog(line: &str) {
    let Ok(text) = std::ffi::CString::new(line.replace('\0', " ")) else {
        return;
    };
    static IDENT: &std::ffi::CStr = c"dsr-bot";
    // SAFETY: IDENT lives for the whole process, as openlog requires; the format string is a
    // constant and the one argument a NUL-terminated string.
    unsafe {
        libc::openlog(IDENT.as_ptr(), libc::LOG_PID, libc::LOG_MAIL);
        libc::syslog(libc::LOG_WARNING, c"%s".as_ptr(), text.as_ptr());
    }
}

#[cfg(not(unix))]
fn syslog(_: &str) {}

/// A `tracing` writer for the MTA pipe: each log line goes to [`log`], never onto the stderr
/// an MTA would put in a bounce.
#[derive(Clone, Copy, Default)]
pub struct MailLog;

pub struct Line(Vec<u8>);

impl std::io::Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let text = text.trim_end();
        if !text.is_empty() {
            log(text);
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for MailLog {
    type Writer = Line;
    fn make_writer(&'a self) -> Line {
        Line(Vec::new())
    }
}
