//! `dsr-bot requests`: the officer listing (streamed: memory stays flat whatever its length),
//! one request in full, carrying out a deletion, extending a due date, and notes.

use std::io::Write;

use crate::{
    domain::Channel,
    services::{Call, ListedRequest, Officer, RequestFilter},
    startup::App,
};

use super::{Failure, Format};

pub async fn list(app: &App, filter: RequestFilter, format: Format) -> Result<(), Failure> {
    let mut out = Listing::new(format);
    app.services
        .requests()
        .list(&Officer::Operator, filter, move |row| out.row(&row))
        .await?;
    Ok(())
}

pub async fn complete(app: &App, id: i64) -> Result<(), Failure> {
    let done = app
        .services
        .requests()
        .complete(Call::on(Channel::Console), &Officer::Operator, id)
        .await?;
    println!("{}", done.summary());
    app.outbox_worker()?.flush().await?;
    Ok(())
}

/// Writes rows to standard output as they come, in the shape the whole listing would have
/// printed at once (a pretty JSON array, or a table), and ends it when dropped.
struct Listing {
    format: Format,
    out: std::io::BufWriter<std::io::Stdout>,
    rows: usize,
}

impl Listing {
    fn new(format: Format) -> Listing {
        Listing {
            format,
            out: std::io::BufWriter::new(std::io::stdout()),
            rows: 0,
        }
    }

    fn row(&mut self, r: &ListedRequest) -> anyhow::Result<()> {
        match self.format {
            Format::Json => {
                let item = serde_json::to_string_pretty(r)?;
                let sep = if self.rows == 0 { "[" } else { "," };
                write!(self.out, "{sep}\n  {}", item.replace('\n', "\n  "))?;
            }
            Format::Table => {
                if self.rows == 0 {
                    self.line(&[
                        "id",
                        "kind",
                        "state",
                        "channel",
                        "received",
                        "due",
                        "left",
                        "email",
                        "to the deadline",
                    ])?;
                }
                let due = r.due_at.as_deref().map_or("-", |d| &d[..10]);
                let left = match r.days_left {
                    Some(d) if d > 0 => format!("{d} d"),
                    Some(d) => format!("{} d late", -d),
                    None => "answered".to_owned(),
                };
                self.line(&[
                    &r.id.to_string(),
                    r.kind.as_str(),
                    r.state.as_str(),
                    r.channel.as_str(),
                    &r.received_at,
                    due,
                    &left,
                    if r.email_verified { "verified" } else { "-" },
                    &r.deadline_offset,
                ])?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    fn line(&mut self, c: &[&str; 9]) -> std::io::Result<()> {
        writeln!(
            self.out,
            "{:>5}  {:<9} {:<22} {:<8} {:<20}  {:<10} {:>10}  {:<8}  {}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]
        )
    }

    fn end(&mut self) -> std::io::Result<()> {
        match (self.format, self.rows) {
            (Format::Json, 0) => writeln!(self.out, "[]")?,
            (Format::Json, _) => writeln!(self.out, "\n]")?,
            (Format::Table, 0) => writeln!(self.out, "no requests")?,
            (Format::Table, _) => {}
        }
        self.out.flush()
    }
}

impl Drop for Listing {
    fn drop(&mut self) {
        // A closed pipe (`| head`) is not an error worth a message here.
        let _ = self.end();
    }
}

/// One request, its audit trail and its notes.
pub async fn show(app: &App, id: i64, format: Format) -> Result<(), Failure> {
    let Some(d) = app
        .services
        .requests()
        .details(&Officer::Operator, id)
        .await?
    else {
        return Err(Failure::User(format!(
            "There is no request #{id}. `dsr-bot requests list` shows them."
        )));
    };
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&d).map_err(anyhow::Error::from)?
        ),
        Format::Table => print!("{}", d.describe()),
    }
    Ok(())
}

pub async fn extend(app: &App, id: i64, days: i64, reason: &str) -> Result<(), Failure> {
    let done = app
        .services
        .requests()
        .extend(
            Call::on(Channel::Console),
            &Officer::Operator,
            id,
            days,
            reason,
        )
        .await?;
    println!("{}", done.summary());
    app.outbox_worker()?.flush().await?;
    Ok(())
}

pub async fn note(app: &App, id: i64, text: &str) -> Result<(), Failure> {
    let n = app
        .services
        .requests()
        .note(Call::on(Channel::Console), &Officer::Operator, id, text)
        .await?;
    println!("{}", crate::services::note_added(n, id));
    Ok(())
}
