//! `dsr-bot import FILE.csv`: requests kept elsewhere before, with their original times.
//! Every row is checked first; then all are imported in one transaction, or none.

use chrono::{DateTime, Utc};

use super::{transitions, uow::Uow};
use crate::{
    db::{self, events::Event, requests::NewRequest},
    domain::{Channel, EmailAddress, RequestKind, RequestState, deadline},
    error::{ServiceError, UserError},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub line: usize,
    pub received_at: DateTime<Utc>,
    pub kind: RequestKind,
    /// ("email", address) or ("discord", id).
    pub identity: (&'static str, String),
    pub status: RequestState,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportSummary {
    pub imported: usize,
    pub already_there: usize,
}

#[derive(serde::Deserialize)]
struct Raw {
    received_at: String,
    kind: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    discord_id: String,
    status: String,
    #[serde(default)]
    completed_at: String,
}

/// Checks every row; on any problem, returns each bad row's line number and reason.
pub fn parse_csv(text: &str, now: DateTime<Utc>) -> Result<Vec<ImportRow>, Vec<(usize, String)>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    if let Err(e) = reader.headers() {
        return Err(vec![(1, format!("unreadable header: {e}"))]);
    }
    for (i, record) in reader.deserialize::<Raw>().enumerate() {
        let line = i + 2;
        match record
            .map_err(|e| format!("{e}"))
            .and_then(|r| check(r, line, now))
        {
            Ok(row) => rows.push(row),
            Err(why) => errors.push((line, why)),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

fn check(r: Raw, line: usize, now: DateTime<Utc>) -> Result<ImportRow, String> {
    let time = |v: &str, col: &str| {
        DateTime::parse_from_rfc3339(v)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| format!("{col} '{v}' is not an RFC 3339 time like 2025-09-20T14:00:00Z"))
    };
    let received_at = time(&r.received_at, "received_at")?;
    if received_at > now {
        return Err(format!("received_at {} is in the future", r.received_at));
    }
    let kind = match r.kind.as_str() {
        "opt_out" => RequestKind::OptOut,
        "opt_in" => RequestKind::OptIn,
        "delete" => RequestKind::Deletion,
        other => return Err(format!("kind '{other}' is not opt_out, opt_in or delete")),
    };
    let identity = match (r.email.is_empty(), r.discord_id.is_empty()) {
        (false, true) => (
            "email",
            EmailAddress::parse(&r.email)
                .map_err(|e| e.to_string())?
                .as_str()
                .to_owned(),
        ),
        (true, false) => {
            let id: u64 = r
                .discord_id
                .parse()
                .map_err(|_| format!("discord_id '{}' is not a number", r.discord_id))?;
            ("discord", id.to_string())
        }
        (true, true) => return Err("neither email nor discord_id is given".into()),
        (false, false) => return Err("give email or discord_id, not both".into()),
    };
    let status = match r.status.as_str() {
        "confirmed" => RequestState::Confirmed,
        "completed" => RequestState::Completed,
        "cancelled" => RequestState::Cancelled,
        other => {
            return Err(format!(
                "status '{other}' is not confirmed, completed or cancelled"
            ));
        }
    };
    let completed_at = match r.completed_at.as_str() {
        "" => None,
        v if status == RequestState::Completed => {
            let t = time(v, "completed_at")?;
            if t < received_at {
                return Err("completed_at is before received_at".into());
            }
            Some(t)
        }
        _ => return Err("completed_at is only for rows with status completed".into()),
    };
    let _ = line;
    Ok(ImportRow {
        line,
        received_at,
        kind,
        identity,
        status,
        completed_at,
    })
}

/// Imports checked rows in one unit of work. A row imported before (same time, kind and
/// person) is skipped, so importing a file twice changes nothing the second time.
pub fn import_rows(
    uow: &mut Uow<'_>,
    rows: &[ImportRow],
    progress: impl Fn(usize),
) -> Result<ImportSummary, ServiceError> {
    let mut ordered: Vec<&ImportRow> = rows.iter().collect();
    ordered.sort_by_key(|r| (r.received_at, r.line));
    let cfg = uow.config();
    let db = uow.db;
    let mut summary = ImportSummary::default();
    for (done, row) in ordered.into_iter().enumerate() {
        progress(done);
        let (id_kind, id_value) = (&row.identity.0, &row.identity.1);
        let key = format!(
            "{}|{}|{id_kind}:{id_value}",
            row.received_at.to_rfc3339(),
            row.kind
        );
        if !db::inputs::claim(db, "import", &key, "acted", uow.now)? {
            summary.already_there += 1;
            continue;
        }
        let person = match db::identities::find(db, id_kind, id_value)? {
            Some(i) => i.person_id,
            None => {
                let p = db::people::insert(db, row.received_at)?;
                db::identities::insert(
                    db,
                    p,
                    id_kind,
                    id_value,
                    Some(row.received_at),
                    row.received_at,
                )?;
                p
            }
        };
        let decided = row.status != RequestState::Cancelled;
        if decided {
            // A later decision ends the earlier open one, as it would have live.
            let kinds: &[RequestKind] = match row.kind.opposite_choice() {
                Some(opposite) => &[row.kind, opposite],
                None => &[row.kind],
            };
            for k in kinds {
                if let Some(mut old) = db::requests::find_open(db, person, *k)? {
                    let note = Some("superseded by an imported request".to_owned());
                    transitions::transition(
                        db,
                        &mut old,
                        RequestState::Completed,
                        "import",
                        note,
                        row.received_at,
                    )?;
                }
            }
        }
        let new = NewRequest {
            person_id: person,
            kind: row.kind,
            channel: Channel::Import,
            state: row.status,
            received_at: row.received_at,
            deadline_offset_secs: deadline::offset_seconds(row.received_at, cfg.policy_deadline),
            due_at: deadline::due_at(row.received_at, cfg.response_days),
        };
        let closed_at = match row.status {
            RequestState::Completed => Some(row.completed_at.unwrap_or(row.received_at)),
            RequestState::Cancelled => Some(row.received_at),
            _ => None,
        };
        let id =
            db::requests::insert_imported(db, &new, decided.then_some(row.received_at), closed_at)?;
        db::events::append(
            db,
            &Event {
                request_id: id,
                at: closed_at.unwrap_or(row.received_at),
                from_state: None,
                to_state: row.status,
                actor: "import".into(),
                note: Some(format!("imported from line {}", row.line)),
            },
        )?;
        summary.imported += 1;
    }
    Ok(summary)
}

/// The refusal for a file with bad rows: every one, with its line.
pub fn describe_errors(errors: &[(usize, String)]) -> UserError {
    let mut text = format!(
        "Nothing was imported: {} row(s) need fixing.\n",
        errors.len()
    );
    for (line, why) in errors {
        text.push_str(&format!("  line {line}: {why}\n"));
    }
    UserError::new(text.trim_end().to_owned())
}
