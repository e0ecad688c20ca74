//! dsr-bot binary: parse the command line, run, and turn failures into one clear line.

use clap::Parser;
use dsr_bot::cli::{self, Cli, Failure};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    dsr_bot::db::cipher::init_crypto();
    match cli::dispatch(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(Failure::Config(line)) => {
            eprintln!("error: {line}");
            std::process::ExitCode::from(2)
        }
        Err(Failure::User(message)) => {
            eprintln!("error: {message}");
            std::process::ExitCode::from(1)
        }
        Err(Failure::TryLater(message)) => {
            eprintln!("{message}");
            std::process::ExitCode::from(75)
        }
        Err(Failure::Internal(e)) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
