//! `dsr-bot import FILE.csv`: earlier requests, all rows or none, with a progress bar on a
//! terminal and a progress line every few seconds off one (a log, a CI job).

use std::{
    io::IsTerminal,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::{services::import, startup::App};

use super::Failure;

/// How often a progress line is written when stderr is not a terminal.
const EVERY: Duration = Duration::from_secs(3);

pub async fn run(app: &App, file: &std::path::Path) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::User(format!("cannot read {}: {e}", file.display())))?;
    let rows = import::parse_csv(&text, app.services.now())
        .map_err(|errors| Failure::User(import::describe_errors(&errors).text().to_owned()))?;
    drop(text);
    let total = rows.len();
    let terminal = std::io::stderr().is_terminal();
    let bar = if terminal && total > 1_000 {
        indicatif::ProgressBar::new(total as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    if !terminal {
        eprintln!("{total} rows checked; importing them in one transaction");
    }
    let progress = bar.clone();
    let last = Mutex::new(Instant::now());
    let summary = app
        .services
        .import_rows(rows, move |done| {
            progress.set_position(done as u64);
            if !terminal {
                let mut last = last.lock().expect("not poisoned");
                if last.elapsed() >= EVERY {
                    eprintln!("{done} of {total} rows imported so far");
                    *last = Instant::now();
                }
            }
        })
        .await?;
    bar.finish_and_clear();
    if !terminal {
        eprintln!("{total} of {total} rows done");
    }
    println!(
        "{} request(s) imported, {} already there from an earlier import",
        summary.imported, summary.already_there
    );
    Ok(())
}
