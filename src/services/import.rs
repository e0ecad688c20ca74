//! `dsr-bot import FILE.csv`: requests kept elsewhere before, with their original times.
//! Every row is checked first; then all are imported in one transaction, or none.

use chrono::{DateTime, Utc};

use super::{erasure, mail, receipts, transitions, uow::Uow};
use crate::store::requests::Filed;
use crate::{
    db::{
        events::Event,
        requests::{NewRequest, Request},
    },
    domain::{Channel, EmailAddress, RequestKind, RequestState, deadline, import_key, text::shown},
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
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(vec![(
                1,
                format!("unreadable header: {}", shown(&e.to_string())),
            )]);
        }
    };
    let mut record = csv::StringRecord::new();
    let mut lines = Lines::new(text);
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| lines.at(p.byte() as usize));
                match record
                    .deserialize::<Raw>(Some(&headers))
                    .map_err(|e| shown(&e.to_string()))
                    .and_then(|r| check(r, line, now))
                {
                    Ok(row) => rows.push(row),
                    Err(why) => errors.push((line, why)),
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.at(p.byte() as usize));
                errors.push((line, shown(&e.to_string())));
                break;
            }
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// Line numbers of the file, for rows read in order: each row's lines are counted once, so
/// numbering a whole file costs one pass over it.
struct Lines<'a> {
    text: &'a str,
    /// Bytes counted so far, and the line number at that byte.
    byte: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            text,
            byte: 0,
            line: 1,
        }
    }

    /// The file's own line (from 1) where the row read from `byte` on starts: the reader counts
    /// from the end of the row before, so the blank lines between are skipped here; quoted line
    /// breaks in earlier rows are counted, as they are lines of the file.
    fn at(&mut self, byte: usize) -> usize {
        let byte = byte.min(self.text.len());
        if byte < self.byte {
            // Not in order (never, for a reader): count from the start.
            (self.byte, self.line) = (0, 1);
        }
        self.line += self.text.as_bytes()[self.byte..byte]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.byte = byte;
        let mut line = self.line;
        for l in self.text[byte..].split('\n') {
            if !l.trim().is_empty() {
                break;
            }
            line += 1;
        }
        line
    }
}

/// Times before 1970 cannot be what a request tool recorded, and more than a day ahead of this
/// machine's clock cannot have happened yet.
fn in_range(t: DateTime<Utc>, col: &str, now: DateTime<Utc>) -> Result<(), String> {
    if t < DateTime::UNIX_EPOCH {
        return Err(format!("{col} {t} is before 1970"));
    }
    if t > now + chrono::Duration::days(1) {
        return Err(format!("{col} {t} is in the future"));
    }
    Ok(())
}

fn check(r: Raw, line: usize, now: DateTime<Utc>) -> Result<ImportRow, String> {
    let time = |v: &str, col: &str| {
        DateTime::parse_from_rfc3339(v)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| {
                format!(
                    "{col} '{}' is not an RFC 3339 time like 2025-09-20T14:00:00Z",
                    shown(v)
                )
            })
    };
    let received_at = deadline::kept(time(&r.received_at, "received_at")?);
    in_range(received_at, "received_at", now)?;
    let kind = match r.kind.as_str() {
        "opt_out" => RequestKind::OptOut,
        "opt_in" => RequestKind::OptIn,
        "delete" => RequestKind::Deletion,
        other => {
            return Err(format!(
                "kind '{}' is not opt_out, opt_in or delete",
                shown(other)
            ));
        }
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
                .map_err(|_| format!("discord_id '{}' is not a number", shown(&r.discord_id)))?;
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
                "status '{}' is not confirmed, completed or cancelled",
                shown(other)
            ));
        }
    };
    let completed_at = match r.completed_at.as_str() {
        "" => None,
        v if status == RequestState::Completed => {
            let t = deadline::kept(time(v, "completed_at")?);
            in_range(t, "completed_at", now)?;
            if t < received_at {
                return Err("completed_at is before received_at".into());
            }
            Some(t)
        }
        _ => return Err("completed_at is only for rows with status completed".into()),
    };
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
///
/// Import adds history; it never rewrites the present. An imported row never completes,
/// cancels or changes a request made live: where the person has a live open request of the
/// same kind or the opposite choice, the row is kept as closed history. An imported decision
/// supersedes only earlier imported ones. An imported completed deletion erases the person it
/// names, unless that person has acted live since, in which case it is kept as the history of
/// someone erased then.
pub fn import_rows(
    uow: &mut Uow<'_>,
    rows: &[ImportRow],
    progress: impl Fn(usize),
) -> Result<ImportSummary, ServiceError> {
    let mut ordered: Vec<&ImportRow> = rows.iter().collect();
    ordered.sort_by_key(|r| (r.received_at, r.line));
    // One transaction over every row touches pages all over the indexes keyed by hashes
    // (inputs, identities): with SQLite's default 2 MB page cache, each row then rereads (and,
    // encrypted, decrypts) pages it dropped, and the time per row grows with the file. A
    // large cache for this unit alone keeps the import linear.
    // SQLite's page cache, when the units run there.
    let _cache = match uow.db.sqlite() {
        Ok(conn) => Some(CacheFor::import(conn)?),
        Err(_) => None,
    };
    let mut summary = ImportSummary::default();
    for (done, row) in ordered.into_iter().enumerate() {
        progress(done);
        let (id_kind, id_value) = (row.identity.0, row.identity.1.as_str());
        let key = import_key(row.received_at, row.kind, id_kind, id_value);
        if !uow.claim_input("import", &key, "acted")? {
            summary.already_there += 1;
            continue;
        }
        import_row(uow, row, id_kind, id_value)?;
        summary.imported += 1;
    }
    Ok(summary)
}

fn import_row(
    uow: &mut Uow<'_>,
    row: &ImportRow,
    id_kind: &str,
    id_value: &str,
) -> anyhow::Result<()> {
    let db = uow.db;
    let cfg = uow.config();
    let (person, live) = match db.identity(id_kind, id_value)? {
        Some(i) => (i.person, has_live_requests(uow, i.person)?),
        None => {
            let p = db.new_person(row.received_at)?;
            let at = Some(row.received_at);
            anyhow::ensure!(
                db.add_identity(p, id_kind, id_value, at, row.received_at)?,
                "the imported identity was linked meanwhile"
            );
            (p, false)
        }
    };
    let erases = row.kind == RequestKind::Deletion && row.status == RequestState::Completed;
    // A completed deletion of someone who has acted live since belongs to the person erased
    // then, not to the one here now.
    let owner = if erases && live {
        let p = db.new_person(row.received_at)?;
        db.mark_erased(p, row.completed_at.unwrap_or(row.received_at))?;
        p
    } else {
        person
    };
    let mut status = row.status;
    let mut note = format!("imported from line {}", row.line);
    // How a decision that does not stand is closed: a choice is done, a deletion was not.
    let closed = if row.kind == RequestKind::Deletion {
        RequestState::Cancelled
    } else {
        RequestState::Completed
    };
    if status.is_open() || status == RequestState::Completed && row.kind != RequestKind::Deletion {
        let kinds: &[RequestKind] = match row.kind.opposite_choice() {
            Some(opposite) => &[row.kind, opposite],
            None => &[row.kind],
        };
        for k in kinds {
            let Some(mut open) = db.open_of_kind(owner, *k)? else {
                continue;
            };
            if open.channel != Channel::Import {
                if status.is_open() {
                    // A live request stands: the row is history beside it.
                    status = closed;
                    note.push_str(&format!(
                        "; kept as history beside live request #{}",
                        open.id
                    ));
                }
            } else if open.received_at <= row.received_at && status != RequestState::Cancelled {
                // A later imported decision ends an earlier imported one, as it would have live.
                let to = if open.state == RequestState::Confirmed {
                    RequestState::Completed
                } else {
                    RequestState::Cancelled
                };
                let why = Some("superseded by an imported request".to_owned());
                transitions::transition(uow, &mut open, to, "import", why, row.received_at)?;
            } else if status.is_open() {
                status = closed;
                note.push_str(&format!(
                    "; kept as history before imported request #{}",
                    open.id
                ));
            }
        }
    }
    let new = NewRequest {
        person_id: owner,
        kind: row.kind,
        channel: Channel::Import,
        state: status,
        received_at: row.received_at,
        deadline_offset_us: deadline::offset_micros(row.received_at, cfg.policy_deadline),
        due_at: deadline::due_at(row.received_at, cfg.response_days),
        language: cfg.default_language,
    };
    let closed_at = match status {
        RequestState::Completed => Some(row.completed_at.unwrap_or(row.received_at)),
        RequestState::Cancelled | RequestState::Expired => Some(row.received_at),
        _ => None,
    };
    let confirmed_at = (row.status != RequestState::Cancelled).then_some(row.received_at);
    let imported = match db.file_imported(&new, confirmed_at, closed_at)? {
        Filed::New(request) => request,
        Filed::Already(open) => anyhow::bail!(
            "request #{} of this person is open already: an import records history, never a \
             second open request",
            open.id
        ),
    };
    let id = imported.id;
    super::log::append(
        uow,
        &imported,
        Event {
            request_id: id,
            at: closed_at.unwrap_or(row.received_at),
            from_state: None,
            to_state: status,
            actor: "import".into(),
            note: Some(note),
            notice: None,
        },
    )?;
    // A choice that stands, recorded by someone else: the person is told, with its receipt.
    if !erases && matches!(status, RequestState::Confirmed | RequestState::Completed) {
        tell(uow, &imported, id_kind, id_value)?;
    }
    if erases {
        if owner == person {
            // Nobody asked live since: the deletion this row reports is carried out here too.
            for mut other in db.open_for_person(person)? {
                let why = Some(format!("person erased by imported request #{id}"));
                transitions::transition(
                    uow,
                    &mut other,
                    RequestState::Cancelled,
                    "import",
                    why,
                    row.received_at,
                )?;
            }
            erasure::erase(uow, person, id, row.completed_at.unwrap_or(row.received_at))?;
        } else {
            let hash = uow.ctx.keys.identity_hash(id_kind, id_value);
            db.record_erased_identity(owner, id, id_kind, &hash, uow.now)?;
        }
    }
    Ok(())
}

/// Tells the person at the identity the row names that the choice is recorded here now.
fn tell(uow: &mut Uow<'_>, req: &Request, id_kind: &str, id_value: &str) -> anyhow::Result<()> {
    match id_kind {
        "email" => mail::queue(uow, "choice_imported", req, id_value, None, false),
        "discord" => {
            let ctx = mail::context(uow, req, None);
            let dm = uow
                .ctx
                .templates
                .render_dm_in(req.language, "dm_choice_imported", &ctx)?;
            receipts::tell(uow, req.person_id, req.id, req.language, &dm, false).map(drop)
        }
        _ => Ok(()),
    }
}

/// Whether the person made any request other than by import.
fn has_live_requests(uow: &Uow<'_>, person: i64) -> anyhow::Result<bool> {
    Ok(uow
        .db
        .for_person(person)?
        .iter()
        .any(|r| r.channel != Channel::Import))
}

/// The writer's page cache, enlarged while an import runs and put back after.
struct CacheFor<'a> {
    db: &'a crate::db::Conn,
    before: i64,
}

impl<'a> CacheFor<'a> {
    /// 256 MiB at most (a negative `cache_size` is in KiB); memory is taken only as pages are.
    const IMPORT_KIB: i64 = 256 * 1024;

    fn import(db: &'a crate::db::Conn) -> anyhow::Result<Self> {
        let before: i64 = db.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
        db.pragma_update(None, "cache_size", -Self::IMPORT_KIB)?;
        Ok(Self { db, before })
    }
}

impl Drop for CacheFor<'_> {
    fn drop(&mut self) {
        // Freed pages return to the allocator; a failure here only leaves the larger cache.
        let _ = self.db.pragma_update(None, "cache_size", self.before);
        let _ = self.db.execute_batch("PRAGMA shrink_memory");
    }
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
