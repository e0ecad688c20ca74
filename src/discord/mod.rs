//! The Discord channel: a thin poise layer (`commands`, `bot`) over a translation layer
//! (`adapter`) that holds no Discord connection, so it is tested without one; the worker that
//! delivers DM receipts (`dms`); and what the schedule posts (`outbound`).

pub mod adapter;
pub mod bot;
pub mod buttons;
pub mod commands;
pub mod dms;
pub mod outbound;

pub use adapter::{Adapter, Answer, Invocation};
