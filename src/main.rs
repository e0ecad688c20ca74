//! dsr-bot binary: parse the command line, run, and turn failures into one clear line.

use clap::Parser;
use dsr_bot::cli::{self, Cli, Failure};

/// sysexits' EX_TEMPFAIL: "try again later", which every MTA defers on.
const TEMPFAIL: u8 = 75;

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let code = runtime.block_on(run());
    // Whatever a command reports is committed by now. A read of the terminal may still block
    // a thread of the runtime (stdin cannot be cancelled); it is not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}

async fn run() -> std::process::ExitCode {
    dsr_bot::db::cipher::init_crypto();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let from_mta = cli::is_mta_pipe(&args);
    let parsed = match Cli::try_parse_from(&args) {
        Ok(parsed) => parsed,
        Err(e) if from_mta && e.use_stderr() => {
            // A wrong pipe command line is the operator's to fix: the mail waits meanwhile.
            eprintln!(
                "dsr-bot: the ingest-mail command line is wrong ({}); the message was not taken and the mail \
                 server will deliver it again",
                e.kind()
            );
            return std::process::ExitCode::from(TEMPFAIL);
        }
        Err(e) => e.exit(),
    };
    let outcome = cli::dispatch(parsed).await;
    if from_mta {
        return match outcome {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(failure) => {
                eprintln!("dsr-bot: {}", cli::for_mta(failure));
                std::process::ExitCode::from(TEMPFAIL)
            }
        };
    }
    match outcome {
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
            std::process::ExitCode::from(TEMPFAIL)
        }
        Err(Failure::Internal(e)) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
