//! Pure types and rules: no I/O here.

pub mod command;
pub mod deadline;
pub mod email_address;
pub mod identity;
pub mod language;
pub mod layout;
pub mod numbers;
pub mod request;
pub mod text;

pub use command::{CommandError, MemberCommand, OfficerCommand};
pub use email_address::EmailAddress;
pub use identity::{Actor, ConsoleUser, DiscordId};
pub use language::Language;
pub use request::{Channel, RequestKind, RequestState, import_key};
