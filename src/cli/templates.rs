//! `dsr-bot templates check [DIR]`: every template, the embedded ones as replaced by `DIR`,
//! parsed and rendered with sample data; each problem named by file and line.

use std::path::Path;

use crate::email::{Templates, templates};

use super::Failure;

pub fn check(dir: Option<&Path>) -> Result<(), Failure> {
    if let Some(d) = dir
        && !d.is_dir()
    {
        return Err(Failure::User(format!(
            "{} is not a folder. Give the folder that holds email/ and report/ (TEMPLATES_DIR).",
            d.display()
        )));
    }
    let (loaded, mut problems) = Templates::load_all(dir);
    if let Some(d) = dir {
        problems.extend(templates::unknown_files(d));
    }
    let problems = crate::reports::render::check_all(&loaded, problems);
    // Each language's texts not translated yet: those go in English, a whole message at a time.
    for language in crate::domain::Language::ALL {
        let missing = loaded.missing(language);
        if !missing.is_empty() {
            println!(
                "{language}: not translated, sent in English: {}",
                missing.join(", ")
            );
        }
    }
    if problems.is_empty() {
        match dir {
            Some(d) => println!(
                "every template renders ({} replaces {} of them)",
                d.display(),
                templates::replaced(d)
            ),
            None => println!("every built-in template renders"),
        }
        return Ok(());
    }
    for p in &problems {
        eprintln!("{p}");
    }
    Err(Failure::User(format!(
        "{} template problem(s); the running service refuses to start with any of them.",
        problems.len()
    )))
}
