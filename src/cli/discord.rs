//! `dsr-bot discord commands`: the slash commands the bot registers, without connecting.

use super::Format;

pub fn print_commands(format: Format) {
    let defs = crate::discord::commands::definitions_json();
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&defs).expect("JSON values print")
        ),
        Format::Table => {
            for c in defs.as_array().into_iter().flatten() {
                let perms = c["default_member_permissions"]
                    .as_str()
                    .map_or(String::new(), |p| format!("  [permissions {p}]"));
                println!(
                    "/{:<9} {}{perms}",
                    c["name"].as_str().unwrap_or("?"),
                    c["description"].as_str().unwrap_or("")
                );
            }
        }
    }
}
