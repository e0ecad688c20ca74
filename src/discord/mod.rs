//! The Discord channel: a thin poise layer (`commands`, `bot`) over a translation layer
//! (`adapter`) that holds no Discord connection, so it is tested without one.

pub mod adapter;
pub mod bot;
pub mod buttons;
pub mod commands;
pub mod outbound;

pub use adapter::{Adapter, Answer, Dm, DmError, Invocation, MemberCommand, OfficerCommand};
