//! `dsr-bot requests`: the officer listing (streamed: memory stays flat whatever its length),
//! one request in full, carrying out a deletion, extending a due date, and notes.

use std::io::Write;

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};

use crate::{
    domain::Channel,
    error::ServiceError,
    services::{Call, ListedRequest, Officer, RequestFilter},
    startup::App,
};

use super::{Failure, Format};

pub async fn list(app: &App, filter: RequestFilter, format: Format) -> Result<(), Failure> {
    let mut out = Listing::new(format);
    let listed = app
        .services
        .requests()
        .list(&Officer::Operator, filter, move |row| out.row(&row))
        .await;
    match listed {
        // A reader that stops reading (`| head`) ends the listing; it is not an error.
        Err(ServiceError::Internal(e)) if is_closed_pipe(&e) => Ok(()),
        listed => Ok(listed?),
    }
}

/// Whether `e` is the reader of standard output having gone away.
fn is_closed_pipe(e: &anyhow::Error) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().map(std::io::Error::kind) == broken
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == broken
    })
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
    json: JsonArray,
    rows: usize,
}

impl Listing {
    fn new(format: Format) -> Listing {
        Listing {
            format,
            out: std::io::BufWriter::new(std::io::stdout()),
            json: JsonArray::default(),
            rows: 0,
        }
    }

    fn row(&mut self, r: &ListedRequest) -> anyhow::Result<()> {
        match self.format {
            Format::Json => self.json.element(&mut self.out, self.rows == 0, r)?,
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
            (Format::Json, _) => {
                self.json.end(&mut self.out)?;
                writeln!(self.out)?;
            }
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

/// A pretty-printed JSON array written one element at a time, byte for byte what
/// `serde_json::to_string_pretty` makes of the whole array, without building it or each
/// element as a string first: one formatter carries the indentation across the elements.
#[derive(Default)]
struct JsonArray {
    pretty: PrettyFormatter<'static>,
}

impl JsonArray {
    fn element<W: Write, T: Serialize>(
        &mut self,
        out: &mut W,
        first: bool,
        value: &T,
    ) -> anyhow::Result<()> {
        if first {
            self.pretty.begin_array(out)?;
        }
        self.pretty.begin_array_value(out, first)?;
        value.serialize(&mut serde_json::Serializer::with_formatter(
            &mut *out,
            Nested(&mut self.pretty),
        ))?;
        self.pretty.end_array_value(out)?;
        Ok(())
    }

    /// Closes an array that has at least one element.
    fn end<W: Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        self.pretty.end_array(out)
    }
}

/// The array's formatter, lent to the serializer of one element.
struct Nested<'a>(&'a mut PrettyFormatter<'static>);

impl Formatter for Nested<'_> {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_array_written_element_by_element_is_what_serde_json_writes_of_it_whole() {
        #[derive(Serialize)]
        struct Row {
            id: i64,
            nested: Vec<Option<&'static str>>,
            empty: Vec<i64>,
            map: std::collections::BTreeMap<&'static str, (i64, bool)>,
        }
        let rows: Vec<Row> = (0..3)
            .map(|id| Row {
                id,
                nested: vec![Some("a \"quoted\"\nline"), None],
                empty: vec![],
                map: [("k", (id, id % 2 == 0))].into(),
            })
            .collect();
        for n in 1..=rows.len() {
            let mut out = Vec::new();
            let mut array = JsonArray::default();
            for (i, row) in rows[..n].iter().enumerate() {
                array.element(&mut out, i == 0, row).unwrap();
            }
            array.end(&mut out).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string_pretty(&rows[..n]).unwrap()
            );
        }
    }
}
