//! The words of the answers, in one place: what happened and what happens next, in the terms
//! of the channel the person is using.

use std::{collections::HashMap, sync::OnceLock};

use super::uow::Uow;
use crate::{
    config::Config,
    db::requests::Request,
    domain::{EmailAddress, Language, RequestKind},
    error::{ServiceError, UserError},
};

/// The language a use-case's answer is written in: the caller's ([`Uow::language`]). A
/// language without every answer text (or, by mail, without its answer mail) answers in
/// English, kinds and times included: never one message in two languages.
pub fn language(uow: &Uow<'_>) -> Language {
    let asked = uow.language();
    let whole = !std::ptr::eq(catalog(asked), catalog(Language::En))
        && (!uow.by_mail() || uow.ctx.templates.translates(asked, "reply"));
    if whole { asked } else { Language::En }
}

/// Every answer text of one language, by key (`templates/texts.json`, and
/// `templates/<language>/texts.json` for the others).
fn catalog(language: Language) -> &'static HashMap<String, String> {
    static ALL: OnceLock<HashMap<Language, HashMap<String, String>>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        let parse = |name: &str, json: &str| -> HashMap<String, String> {
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let mut all = HashMap::from([(
            Language::En,
            parse(
                "templates/texts.json",
                include_str!("../../templates/texts.json"),
            ),
        )]);
        for (code, json) in crate::email::translations::TEXTS {
            let language = code.parse().expect("a known language folder");
            all.insert(
                language,
                parse(&format!("templates/{code}/texts.json"), json),
            );
        }
        // A language answers in its own words only when it has them all: never a message
        // half in one language and half in another. Decided once here, not on every text
        // (the writer says several texts per request).
        let english: Vec<String> = all[&Language::En].keys().cloned().collect();
        all.retain(|_, own| english.iter().all(|k| own.contains_key(k)));
        all
    });
    all.get(&language).unwrap_or(&all[&Language::En])
}

/// The answer text `key` in `language`, with each `{name}` filled in from `args` in one pass
/// (a value holding braces is never read as a name).
pub fn say(language: Language, key: &str, args: &[(&str, &str)]) -> String {
    let text = catalog(language)
        .get(key)
        .or_else(|| catalog(Language::En).get(key))
        .unwrap_or_else(|| panic!("the answer text {key} is not in templates/texts.json"));
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text.as_str();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').map(|close| (&after[..close], close)) {
            Some((name, close)) if args.iter().any(|(n, _)| *n == name) => {
                let value = args.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
                out.push_str(value.unwrap_or_default());
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What a recorded choice means for the person's data.
pub fn choice_consequence(cfg: &Config, language: Language, kind: RequestKind) -> String {
    match kind {
        RequestKind::OptOut => say(
            language,
            "opt_out_consequence",
            &[
                ("policy", &cfg.policy_name),
                ("retention", &cfg.retention_opted_out),
            ],
        ),
        RequestKind::OptIn => say(
            language,
            "opt_in_consequence",
            &[
                ("policy", &cfg.policy_name),
                ("retention", &cfg.retention_opted_in),
            ],
        ),
        _ => String::new(),
    }
}

/// What happens now that a request is confirmed.
pub fn confirmed_consequence(uow: &Uow<'_>, language: Language, req: &Request) -> String {
    match req.kind {
        RequestKind::Deletion => say(
            language,
            "deletion_consequence",
            &[("due", &uow.ctx.show_time(req.due_at))],
        ),
        kind => choice_consequence(uow.config(), language, kind),
    }
}

/// Where the receipt went, or how to get one.
pub fn receipt_note(uow: &Uow<'_>, language: Language, sent: usize, kind: RequestKind) -> String {
    if uow.by_mail() {
        return String::new();
    }
    if sent > 0 {
        return format!(" {}", say(language, "confirmation_on_its_way", &[]));
    }
    let cmd = match kind {
        RequestKind::OptIn => "/optin",
        RequestKind::Deletion => "/delete",
        _ => "/optout",
    };
    format!(
        " {}",
        say(language, "receipt_by_email", &[("command", cmd)])
    )
}

pub fn proof_instructions(language: Language, email: &EmailAddress, ttl_minutes: u32) -> String {
    say(
        language,
        "proof_instructions",
        &[
            ("address", &email.masked()),
            ("minutes", &ttl_minutes.to_string()),
        ],
    )
}

/// Refusal used by the confirm and verify use-cases when a person is unknown.
pub fn nothing_waiting() -> ServiceError {
    UserError::said("nothing_waiting", &[]).into()
}

/// A request kind's name in `language`.
pub fn kind(language: Language, kind: RequestKind) -> &'static str {
    crate::email::labels::Labels::of(language).kind(kind)
}

/// A request state's name in `language`.
pub fn state(language: Language, state: crate::domain::RequestState) -> &'static str {
    crate::email::labels::Labels::of(language).state(state)
}

/// How long is left until a request is due, or how late it is (`days` as
/// [`super::officer::days_left`] counts them), in `language`.
pub fn days_left(language: Language, days: i64) -> String {
    let n = days.abs().to_string();
    let key = match (days > 0, days.abs() == 1) {
        (true, true) => "days_left_one",
        (true, false) => "days_left",
        (false, true) => "days_overdue_one",
        (false, false) => "days_overdue",
    };
    say(language, key, &[("n", &n)])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names a text fills in, sorted.
    fn names(text: &str) -> Vec<&str> {
        let mut names: Vec<&str> = text
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(n, _)| n))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_language_has_every_answer_text_with_the_same_names() {
        let english = catalog(Language::En);
        assert!(!crate::email::translations::TEXTS.is_empty());
        for (code, _) in crate::email::translations::TEXTS {
            let language: Language = code.parse().unwrap();
            let own = catalog(language);
            assert!(
                !std::ptr::eq(own, english),
                "{code} lacks answer texts, so it answers in English"
            );
            for (key, text) in english {
                assert_eq!(names(&own[key]), names(text), "{code} {key}: {}", own[key]);
            }
            for key in own.keys() {
                assert!(
                    english.contains_key(key),
                    "{code} has {key}, which English has not"
                );
            }
        }
    }

    #[test]
    fn values_are_filled_in_once_and_never_read_as_names() {
        let text = say(
            Language::En,
            "code_still_works",
            &[("address", "{address} m***@example.org")],
        );
        assert_eq!(
            text,
            "The code we sent to {address} m***@example.org still works."
        );
    }
}
