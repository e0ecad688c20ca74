//! Mail: outgoing (templates with typed contexts, the message format, the transport seam) and
//! incoming (parsing and reply reading in `inbound`, the sources that hand it over in `intake`).

pub mod inbound;
pub mod intake;
pub mod labels;
pub mod mailer;
pub mod message;
pub mod templates;
pub(crate) mod translations;

pub use mailer::Mailer;
pub use templates::{DigestContext, MailContext, Rendered, ReplyContext, Templates};
