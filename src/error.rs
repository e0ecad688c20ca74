//! The two kinds of failure a person can meet: their own mistake, shown verbatim, and ours,
//! logged with its cause chain and answered with an apology and a reference.

use crate::domain::Language;

/// Something the person can fix; the text says what was wrong and what to do.
///
/// A refusal made where the reader's language is not known yet ([`UserError::said`]) keeps
/// the name of its text and the values to fill in, and is written in the reader's language
/// where it is answered ([`UserError::in_language`]); its English text is its `Display`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct UserError {
    text: String,
    said: Option<Said>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Said {
    key: &'static str,
    args: Vec<(&'static str, String)>,
}

impl UserError {
    /// A refusal already written in the words the person reads.
    pub fn new(msg: impl Into<String>) -> Self {
        Self {
            text: msg.into(),
            said: None,
        }
    }

    /// The answer text `key` (`templates/texts.json`) with `args` filled in, to be written
    /// in the reader's language where it is answered.
    pub fn said(key: &'static str, args: &[(&'static str, &str)]) -> Self {
        let args: Vec<(&'static str, String)> =
            args.iter().map(|(n, v)| (*n, (*v).to_owned())).collect();
        Self {
            text: say(Language::En, key, &args),
            said: Some(Said { key, args }),
        }
    }

    /// The text, in English where it was [`said`](Self::said).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text in `language` (its own words when the refusal was written in them already).
    pub fn in_language(&self, language: Language) -> String {
        match &self.said {
            Some(s) => say(language, s.key, &s.args),
            None => self.text.clone(),
        }
    }

    /// The same refusal, written in `language` from now on.
    pub fn written_in(self, language: Language) -> Self {
        Self::new(self.in_language(language))
    }
}

fn say(language: Language, key: &str, args: &[(&'static str, String)]) -> String {
    let args: Vec<(&str, &str)> = args.iter().map(|(n, v)| (*n, v.as_str())).collect();
    crate::services::texts::say(language, key, &args)
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    User(#[from] UserError),
    /// The input (interaction, email) was handled before; this delivery changes nothing.
    #[error("this input was already handled")]
    Duplicate,
    /// The input came faster than its sender may send; it changed nothing and is to be taken
    /// again later (a mail left for the next poll).
    #[error("this input is to be taken again later")]
    Deferred,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        ServiceError::Internal(e.into())
    }
}

impl From<rusqlite::Error> for ServiceError {
    fn from(e: rusqlite::Error) -> Self {
        ServiceError::Internal(e.into())
    }
}

impl From<crate::domain::CommandError> for ServiceError {
    fn from(e: crate::domain::CommandError) -> Self {
        ServiceError::User(e.refusal())
    }
}

impl ServiceError {
    /// The text to show the person, in English (the command line, the HTTP API): see
    /// [`ServiceError::for_person_in`].
    pub fn for_person(&self) -> String {
        self.for_person_in(Language::En)
    }

    /// The text to show the person, in `language`: the one place an error becomes words for
    /// people. Internal errors are logged here, once, with their whole cause chain and a
    /// fresh reference that the reply repeats. Code that is not answering a person (workers,
    /// the command line) keeps the error as an error instead.
    pub fn for_person_in(&self, language: Language) -> String {
        let say = crate::services::texts::say;
        match self {
            ServiceError::User(e) => e.in_language(language),
            ServiceError::Duplicate => say(language, "duplicate", &[]),
            ServiceError::Deferred => say(language, "deferred", &[]),
            ServiceError::Internal(e) if storage_full(e) => {
                let reference = crate::crypto::new_reference();
                tracing::error!(reference = %reference, error = format!("{e:#}"), "storage full: request refused");
                say(language, "storage_full", &[("reference", &reference)])
            }
            ServiceError::Internal(e) => {
                let reference = crate::crypto::new_reference();
                tracing::error!(reference = %reference, error = format!("{e:#}"), "request failed");
                say(language, "internal_error", &[("reference", &reference)])
            }
        }
    }

    /// The same error, a refusal written in `language` from now on.
    pub fn written_in(self, language: Language) -> Self {
        match self {
            ServiceError::User(e) => ServiceError::User(e.written_in(language)),
            other => other,
        }
    }
}

/// SQLite's SQLITE_FULL: the disk, or the configured size cap, has no room.
fn storage_full(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code)
            == Some(rusqlite::ErrorCode::DiskFull)
    }) || format!("{e:#}").contains("database or disk is full")
}
