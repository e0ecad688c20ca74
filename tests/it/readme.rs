//! The README's first session is what the binary prints: its commands are run in an empty
//! folder and their output compared with the README's, times, codes, spans and the hashes and
//! signatures of receipts aside.
//! `UPDATE_README=1 cargo test readme` writes the binary's output into the README instead.

use crate::common;

use std::path::Path;

const BEGIN: &str = "<!-- transcript: begin -->\n```text\n";
const END: &str = "```\n<!-- transcript: end -->";

/// (command, expected output) pairs of the README's transcript, and where it lies.
fn transcript(readme: &str) -> (usize, usize, Vec<(String, String)>) {
    let start = readme.find(BEGIN).expect("the README has a transcript") + BEGIN.len();
    let end = start + readme[start..].find(END).expect("the transcript ends");
    let mut steps: Vec<(String, String)> = Vec::new();
    for line in readme[start..end].lines() {
        match line.strip_prefix("$ ") {
            Some(cmd) => steps.push((cmd.to_owned(), String::new())),
            None => {
                let out = &mut steps.last_mut().expect("a command comes first").1;
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    (start, end, steps)
}

/// What varies from run to run, written as placeholders: dates and times, codes, spans.
fn masked(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let words: Vec<String> = line
            .split(' ')
            .map(|w| {
                let digits = w.chars().filter(char::is_ascii_digit).count();
                let hashlike = w.len() >= 16
                    && digits > 0
                    && w.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
                if hashlike {
                    // Keys, signatures, hashes and roots of a receipt.
                    "<hash>".to_owned()
                } else if digits >= 6 && w.chars().all(|c| c.is_ascii_digit() || ".-s".contains(c))
                {
                    "<number>".to_owned()
                } else if digits > 0 && (w.contains('-') || w.contains(':')) {
                    "<time>".to_owned()
                } else if w.len() >= 6
                    && digits == w.trim_matches(|c: char| !c.is_ascii_digit()).len()
                    && digits >= 6
                {
                    "<number>".to_owned()
                } else {
                    w.to_owned()
                }
            })
            .collect();
        let mut line = words.join(" ");
        for unit in [
            "years", "year", "months", "month", "days", "day", "hours", "hour",
        ] {
            for n in 0..100 {
                line = line.replace(&format!("{n} {unit} "), "<n> <unit> ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Runs `cmd` with sh in `dir`, the binary first on PATH; what it printed, both streams.
fn run(dir: &Path, cmd: &str) -> String {
    let program = common::program();
    let bin_dir = program.parent().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} 2>&1"))
        .current_dir(dir)
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_readme_transcript_is_what_the_binary_prints() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (start, end, steps) = transcript(&readme);
    assert!(steps.len() >= 4, "{steps:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut code: Option<(String, String)> = None;
    let mut written = String::new();
    let mut wrong = Vec::new();
    for (cmd, expected) in &steps {
        // The code the README shows stands for the one this run mailed.
        let mut cmd_run = cmd.clone();
        if let Some((shown, actual)) = &code {
            cmd_run = cmd_run.replace(shown.as_str(), actual);
        }
        let got = run(dir.path(), &cmd_run);
        if cmd.contains("outbox/") {
            let actual = got.trim().to_owned();
            assert!(actual.len() == 6, "no code found by `{cmd}`: {got:?}");
            code = Some((expected.trim().to_owned(), actual));
        }
        written.push_str(&format!(
            "$ {cmd}\n{}",
            got.replace(
                code.as_ref().map_or("\u{0}", |(_, a)| a.as_str()),
                code.as_ref().map_or("\u{0}", |(s, _)| s.as_str()),
            )
        ));
        if masked(&got) != masked(expected) {
            wrong.push(format!(
                "$ {cmd}\n--- the README says:\n{expected}--- the binary printed:\n{got}"
            ));
        }
    }
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{}{}", &readme[..start], written, &readme[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
