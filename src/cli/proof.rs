//! `dsr-bot keys`, `dsr-bot receipt verify` and `dsr-bot log`: the signing key, the receipts
//! people keep, and the log's checkpoints and check.

use std::{io::Read as _, path::Path};

use super::{Failure, KeysCmd, LogCmd};
use crate::{
    proof::{note::NoteVerifier, receipt::Receipt},
    services::log::{ReceiptCheck, check_signature},
    startup::App,
};

fn read_input(file: &Path) -> Result<String, Failure> {
    let mut text = String::new();
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::User(format!("standard input could not be read ({e})")))?;
    } else {
        text = std::fs::read_to_string(file)
            .map_err(|e| Failure::User(format!("{} could not be read ({e})", file.display())))?;
    }
    Ok(text)
}

fn parse_key(key: &str) -> Result<NoteVerifier, Failure> {
    NoteVerifier::parse(key).map_err(|e| Failure::User(format!("--key: {e}")))
}

/// Whether a database is where the settings (or `.env`) put it.
pub fn database_here() -> bool {
    let _ = dotenvy::dotenv();
    let path = std::env::var("DATABASE_PATH").unwrap_or_else(|_| "dsr-bot.db".into());
    Path::new(&path).exists()
}

fn describe(r: &Receipt, signed_by: &str) -> String {
    let side = if r.offset_us < 0 { "before" } else { "after" };
    let secs = r.offset_us.unsigned_abs();
    format!(
        "valid: request #{} ({}, {}), received {}, {}.{:06} s {side} the deadline {}; signed by {signed_by}",
        r.request,
        r.kind,
        r.state,
        crate::proof::record::instant(r.received),
        secs / 1_000_000,
        secs % 1_000_000,
        crate::proof::record::instant(r.deadline),
    )
}

/// The signature against `key` alone: no settings, no database.
pub fn verify_offline(key: &str, file: &Path) -> Result<(), Failure> {
    let key = parse_key(key)?;
    let found = check_signature(&read_input(file)?, &[key])
        .map_err(|e| Failure::User(e.text().to_owned()))?;
    for (r, by) in found {
        println!("{}", describe(&r, &by.short()));
        println!(
            "  the signature alone was checked; beside the database, `dsr-bot receipt verify FILE` checks the log too"
        );
    }
    Ok(())
}

pub async fn verify(app: &App, key: Option<&str>, file: &Path) -> Result<(), Failure> {
    let key = key.map(parse_key).transpose()?;
    let checks = app
        .services
        .log()
        .verify_receipt(read_input(file)?, key)
        .await?;
    for ReceiptCheck {
        receipt,
        signed_by,
        in_log,
    } in checks
    {
        println!("{}", describe(&receipt, &signed_by));
        if let Some(found) = in_log {
            println!("  in the log: {found}");
        }
    }
    Ok(())
}

pub async fn keys(
    app: &App,
    command: KeysCmd,
    rotated: Option<crate::proof::note::NoteSigner>,
) -> Result<(), Failure> {
    let log = app.services.log();
    match command {
        KeysCmd::Public => {
            let current = log.public_key();
            for k in log.keys().await? {
                if Some(&k.vkey) != current.as_ref() {
                    println!(
                        "used before: {} (from {} to {})",
                        k.vkey,
                        crate::proof::record::instant(k.first_used),
                        k.retired_at
                            .map_or("now".into(), crate::proof::record::instant)
                    );
                }
            }
            let Some(current) = current else {
                return Err(Failure::Config(format!(
                    "no signing key could be read from {}",
                    crate::proof::key::source(app.services.config())
                )));
            };
            println!("The public key receipts and checkpoints are checked with:");
            println!("{current}");
        }
        KeysCmd::Rotate { .. } => {
            let signer = rotated.expect("rotated before the database was opened");
            let vkey = signer.verifier().vkey();
            for k in log.keys().await? {
                if k.vkey != vkey {
                    println!("Kept for checking what it signed: {}", k.vkey);
                }
            }
            println!(
                "A new signing key is in {}. Its public key:",
                crate::proof::key::source(app.services.config())
            );
            println!("{vkey}");
        }
    }
    Ok(())
}

pub async fn log(app: &App, command: LogCmd) -> Result<(), Failure> {
    let log = app.services.log();
    match command {
        LogCmd::Checkpoint => {
            let c = log
                .checkpoint("asked for", false)
                .await?
                .expect("always made when asked for");
            print!("{}", c.note);
        }
        LogCmd::Verify => {
            let checked = log.verify().await?;
            let checkpoints = match checked.checkpoints {
                0 => "no signed checkpoint yet (`dsr-bot log checkpoint` makes one)".to_owned(),
                n => format!("{n} signed checkpoints, each a prefix of the tree"),
            };
            println!(
                "the log verifies: {} events, each matching its leaf and the head handed out with it; {checkpoints}",
                checked.events
            );
        }
    }
    Ok(())
}
