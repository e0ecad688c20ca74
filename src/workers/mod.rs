//! Background loops. Each exposes one public step so tests drive it without sleeping.

pub mod imap;
pub mod outbox;
pub mod schedule;
pub mod webhooks;
