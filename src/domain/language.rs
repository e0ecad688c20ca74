//! The languages people are answered in, and how a language tag (Discord's `locale`, a mail's
//! `Content-Language`, a setting) names one.

use std::fmt;

/// A language the bot writes in. English is complete; for the others, any text not yet
/// translated is written in English, a whole message at a time, never mixed within one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    En,
    De,
    Fr,
    Es,
    PtBr,
}

impl Language {
    pub const ALL: [Language; 5] = [
        Language::En,
        Language::De,
        Language::Fr,
        Language::Es,
        Language::PtBr,
    ];

    /// The tag stored with a request and used as the templates' folder name.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::De => "de",
            Language::Fr => "fr",
            Language::Es => "es",
            Language::PtBr => "pt-BR",
        }
    }

    /// As stored: the same as [`Self::code`].
    pub fn as_str(self) -> &'static str {
        self.code()
    }

    /// The language a tag names (`de`, `de-AT`, `fr-CA`, `es-ES`, `es-419`, `pt-BR`, `en-US`),
    /// case-insensitively; `None` for a language the bot does not write (`ja`), so the caller
    /// falls back to its default. Portuguese of any region is written as Brazilian Portuguese,
    /// the only Portuguese Discord offers.
    pub fn from_tag(tag: &str) -> Option<Language> {
        let tag = tag.trim().to_ascii_lowercase().replace('_', "-");
        let primary = tag.split('-').next().unwrap_or_default();
        match primary {
            "en" => Some(Language::En),
            "de" => Some(Language::De),
            "fr" => Some(Language::Fr),
            "es" => Some(Language::Es),
            "pt" => Some(Language::PtBr),
            _ => None,
        }
    }

    /// A language as a person names it: its tag (`de`, `pt-BR`) or its name, in English or
    /// in itself (`German`, `Deutsch`, `português`).
    pub fn named(name: &str) -> Option<Language> {
        let name = name.trim().trim_end_matches('.').to_lowercase();
        match name.as_str() {
            "english" | "englisch" | "anglais" | "inglés" | "ingles" | "inglês" => {
                Some(Language::En)
            }
            "german" | "deutsch" | "allemand" | "alemán" | "aleman" | "alemão" | "alemao" => {
                Some(Language::De)
            }
            "french" | "französisch" | "francais" | "français" | "francés" | "frances"
            | "francês" => Some(Language::Fr),
            "spanish" | "spanisch" | "espagnol" | "español" | "espanol" | "espanhol" => {
                Some(Language::Es)
            }
            "portuguese" | "portugiesisch" | "portugais" | "portugués" | "portugues"
            | "português" => Some(Language::PtBr),
            _ if name.len() <= 8 => Language::from_tag(&name),
            _ => None,
        }
    }

    /// The first language of a list such as `Content-Language: de, en` or `Accept-Language:
    /// fr-CH, fr;q=0.9, en;q=0.8` that the bot writes, in the order given.
    pub fn from_list(list: &str) -> Option<Language> {
        list.split(',')
            .map(|item| item.split(';').next().unwrap_or_default())
            .find_map(Language::from_tag)
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Language {
    type Err = String;

    /// Only the exact stored codes: a stored value the bot does not know is an error.
    fn from_str(s: &str) -> Result<Language, String> {
        Language::ALL
            .into_iter()
            .find(|l| l.code() == s)
            .ok_or_else(|| {
                format!("'{s}' is not a language dsr-bot writes (en, de, fr, es, pt-BR)")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_the_languages_written_and_nothing_else() {
        for (tag, lang) in [
            ("de", Some(Language::De)),
            ("de-AT", Some(Language::De)),
            ("FR", Some(Language::Fr)),
            ("es-ES", Some(Language::Es)),
            ("es-419", Some(Language::Es)),
            ("pt-BR", Some(Language::PtBr)),
            ("pt_PT", Some(Language::PtBr)),
            ("en-US", Some(Language::En)),
            ("ja", None),
            ("zh-TW", None),
            ("", None),
            ("deutsch", None),
        ] {
            assert_eq!(Language::from_tag(tag), lang, "{tag}");
        }
        assert_eq!(
            Language::from_list("ja, fr-CH;q=0.9, en"),
            Some(Language::Fr)
        );
        assert_eq!(Language::from_list("ja"), None);
        for lang in Language::ALL {
            assert_eq!(lang.code().parse::<Language>(), Ok(lang));
        }
        assert!("pt".parse::<Language>().is_err());
    }
}
