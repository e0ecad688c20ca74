//! `dsr-bot import FILE.csv`: earlier requests, all rows or none, with a progress bar on a
//! terminal.

use std::io::IsTerminal;

use crate::{services::import, startup::App};

use super::Failure;

pub async fn run(app: &App, file: &std::path::Path) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::User(format!("cannot read {}: {e}", file.display())))?;
    let rows = import::parse_csv(&text, app.services.now())
        .map_err(|errors| Failure::User(import::describe_errors(&errors).0))?;
    let bar = if std::io::stderr().is_terminal() && rows.len() > 1_000 {
        indicatif::ProgressBar::new(rows.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let progress = bar.clone();
    let summary = app
        .services
        .import_rows(rows, move |done| progress.set_position(done as u64))
        .await?;
    bar.finish_and_clear();
    println!(
        "{} request(s) imported, {} already there from an earlier import",
        summary.imported, summary.already_there
    );
    Ok(())
}
