//! Outgoing mail: templates with typed contexts, the message format, and the transport seam.

pub mod inbound;
pub mod mailer;
pub mod message;
pub mod templates;

pub use mailer::Mailer;
pub use templates::{DigestContext, MailContext, Rendered, ReplyContext, Templates};
