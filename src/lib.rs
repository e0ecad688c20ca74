//! dsr-bot: records data-subject requests (opt-out, opt-in, deletion, status) against a policy
//! deadline, confirms them by email through a durable outbox, and answers every channel alike.

pub mod bench;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod crypto;
pub mod db;
pub mod discord;
pub mod domain;
pub mod email;
pub mod error;
pub mod http;
pub mod proof;
pub mod reports;
pub mod services;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod workers;
