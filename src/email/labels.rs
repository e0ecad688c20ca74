//! The words the program puts into a template (a request's kind, its state, its offset from
//! the deadline), in each language: English from the code, the others from
//! `templates/<language>/labels.json`.

use std::{collections::HashMap, sync::OnceLock};

use serde::Deserialize;

use crate::domain::{Language, RequestKind, RequestState, deadline::OffsetWords};

/// One language's words.
#[derive(Debug, Clone)]
pub struct Labels {
    kind: HashMap<RequestKind, (&'static str, &'static str)>,
    state: HashMap<RequestState, &'static str>,
    pub offset: OffsetWords,
}

impl Labels {
    /// The words of `language`; English where a language has none of its own.
    pub fn of(language: Language) -> &'static Labels {
        static ALL: OnceLock<HashMap<Language, Labels>> = OnceLock::new();
        let all = ALL.get_or_init(|| {
            let mut all = HashMap::from([(Language::En, Labels::english())]);
            for (code, json) in super::translations::LABELS {
                let language = code.parse::<Language>().expect("a known language folder");
                let labels = Labels::parse(json)
                    .unwrap_or_else(|e| panic!("templates/{code}/labels.json: {e}"));
                all.insert(language, labels);
            }
            all
        });
        all.get(&language).unwrap_or(&all[&Language::En])
    }

    fn english() -> Labels {
        Labels {
            kind: RequestKind::ALL
                .iter()
                .copied()
                .map(|k| (k, (k.label(), k.label_with_article())))
                .collect(),
            state: RequestState::ALL.iter().map(|&s| (s, s.label())).collect(),
            offset: OffsetWords::ENGLISH,
        }
    }

    /// "opt-out", "Löschung".
    pub fn kind(&self, kind: RequestKind) -> &'static str {
        self.kind[&kind].0
    }

    /// "an opt-out", "eine Löschung".
    pub fn kind_with_article(&self, kind: RequestKind) -> &'static str {
        self.kind[&kind].1
    }

    pub fn state(&self, state: RequestState) -> &'static str {
        self.state[&state]
    }

    /// A language's `labels.json`: every kind, state, offset phrase and unit, or an error
    /// naming what is missing.
    pub fn parse(json: &str) -> Result<Labels, String> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            kind: HashMap<String, String>,
            kind_with_article: HashMap<String, String>,
            state: HashMap<String, String>,
            offset: Offset,
            units: HashMap<String, (String, String)>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Offset {
            exactly: String,
            under_a_second_before: String,
            under_a_second_after: String,
            before: String,
            after: String,
            join: String,
        }
        let file: File = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
        let take = |map: &HashMap<String, String>, key: &str, what: &str| {
            map.get(key)
                .map(|v| leak(v))
                .ok_or_else(|| format!("{what} has no \"{key}\""))
        };
        let mut kind = HashMap::new();
        for &k in RequestKind::ALL {
            kind.insert(
                k,
                (
                    take(&file.kind, k.as_str(), "kind")?,
                    take(&file.kind_with_article, k.as_str(), "kind_with_article")?,
                ),
            );
        }
        let mut state = HashMap::new();
        for &s in RequestState::ALL {
            state.insert(s, take(&file.state, s.as_str(), "state")?);
        }
        let mut units = [("", ""); 6];
        for (i, unit) in ["year", "month", "day", "hour", "minute", "second"]
            .into_iter()
            .enumerate()
        {
            let (one, many) = file
                .units
                .get(unit)
                .ok_or_else(|| format!("units has no \"{unit}\""))?;
            units[i] = (leak(one), leak(many));
        }
        for (name, phrase) in [
            ("before", &file.offset.before),
            ("after", &file.offset.after),
        ] {
            if !phrase.contains("{span}") {
                return Err(format!("offset.{name} must hold {{span}}"));
            }
        }
        Ok(Labels {
            kind,
            state,
            offset: OffsetWords {
                exactly: leak(&file.offset.exactly),
                under_a_second_before: leak(&file.offset.under_a_second_before),
                under_a_second_after: leak(&file.offset.under_a_second_after),
                before: leak(&file.offset.before),
                after: leak(&file.offset.after),
                join: leak(&file.offset.join),
                units,
            },
        })
    }
}
