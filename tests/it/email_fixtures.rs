//! Replies as real mail clients write them (tests/fixtures/email): for each, the instruction
//! read from the new text only, or `none`, or that it is automatic mail.

use dsr_bot::{
    config::Config,
    domain::EmailAddress,
    email::inbound::{self, intent},
};

#[test]
fn every_fixture_reads_as_expected() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email");
    let cfg = Config::from_lookup(|_| None).unwrap().inbound;
    let own = EmailAddress::parse("privacy@example.org").unwrap();
    let manifest = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
    let mut checked = 0;
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (file, expected) = line.split_once(' ').unwrap();
        let raw = std::fs::read(dir.join(file)).unwrap();
        let mail = inbound::parse(&raw, &cfg, &[&own]).unwrap_or_else(|e| panic!("{file}: {e:?}"));
        let got = if mail.automatic.is_some() {
            "automatic".to_owned()
        } else {
            match intent::read(&mail.new_text) {
                Some(w) => serde_json::to_value(w)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
                None => "none".to_owned(),
            }
        };
        assert_eq!(got, expected, "{file}: new text was {:?}", mail.new_text);
        if expected != "automatic" {
            assert_eq!(mail.tokens, ["abcdefghijklmnopqrst"], "{file}");
            assert_eq!(mail.references, ["<orig@example.org>"], "{file}");
        }
        checked += 1;
    }
    assert_eq!(checked, 19);
}

#[test]
fn an_instruction_only_inside_the_quote_never_counts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email");
    let cfg = Config::from_lookup(|_| None).unwrap().inbound;
    for file in [
        "gmail_thanks_quote_only.eml",
        "french_quote_only.eml",
        "html_only_quote_only.eml",
        "forwarded_only.eml",
    ] {
        let raw = std::fs::read(dir.join(file)).unwrap();
        assert!(
            String::from_utf8_lossy(&raw)
                .to_lowercase()
                .contains("confirm"),
            "{file} quotes a command"
        );
        let mail = inbound::parse(&raw, &cfg, &[]).unwrap();
        assert!(
            !mail.new_text.to_lowercase().contains("confirm"),
            "{file}: {:?}",
            mail.new_text
        );
    }
}
