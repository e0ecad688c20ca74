//! The integration tests, one binary: a module per area, the shared set-up in `common` and the
//! fake Discord in `fake_discord`.

mod common;
mod fake_discord;

mod abuse;
mod cli;
mod discord;
mod discord_wire;
mod edges;
mod email_fixtures;
mod email_replies;
mod encryption;
mod erasure;
mod erasure_paths;
mod faults;
mod feed;
mod imap;
mod keys;
mod languages;
mod mail_delivery;
mod officer;
mod proof;
mod readme;
mod reply_fixtures;
mod report_layout;
mod reports;
mod requests;
mod settings;
mod shutdown;
mod store;
mod store_seam;
mod terminal;
mod trust;
