//! The two kinds of failure a person can meet: their own mistake, shown verbatim, and ours,
//! logged with its cause chain and answered with an apology and a reference.

/// Something the person can fix; the text says what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

impl UserError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
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
        ServiceError::User(UserError(e.to_string()))
    }
}

impl ServiceError {
    /// The text to show the person: the one place an error becomes words for people. Internal
    /// errors are logged here, once, with their whole cause chain and a fresh reference that
    /// the reply repeats. Code that is not answering a person (workers, the command line)
    /// keeps the error as an error instead.
    pub fn for_person(&self) -> String {
        match self {
            ServiceError::User(e) => e.0.clone(),
            ServiceError::Duplicate => {
                "This was already handled; doing it again changes nothing. /status shows where things stand.".into()
            }
            ServiceError::Deferred => "Please wait a minute and try again.".into(),
            ServiceError::Internal(e) if storage_full(e) => {
                let reference = crate::crypto::new_reference();
                tracing::error!(reference = %reference, error = format!("{e:#}"), "storage full: request refused");
                format!(
                    "Sorry, we cannot record requests right now because our storage is full. Nothing was recorded; \
                     please try again later (reference {reference})."
                )
            }
            ServiceError::Internal(e) => {
                let reference = crate::crypto::new_reference();
                tracing::error!(reference = %reference, error = format!("{e:#}"), "request failed");
                format!(
                    "Sorry, something went wrong on our side and your request was not recorded. \
                     Please try again in a few minutes; if it keeps failing, contact the privacy team \
                     and quote reference {reference}."
                )
            }
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
