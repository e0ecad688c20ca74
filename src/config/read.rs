//! Reading one setting: its value, or its default, checked against the range `.env.example`
//! documents for it. Every refusal is one line naming the key; a value is echoed back only
//! with its control characters written out.

use std::str::FromStr;

use super::ConfigError;
use crate::domain::text::{is_unsafe, shown};

/// A lookup of one setting by its key.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// The settings, as a lookup that counts empty values as unset.
pub struct Reader<'a> {
    get: Lookup<'a>,
}

impl<'a> Reader<'a> {
    pub fn new(get: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Reader {
            get: Box::new(move |k| {
                get(k)
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
            }),
        }
    }

    pub fn get(&self, key: &str) -> Option<String> {
        (self.get)(key)
    }

    /// A text shown to people or put in a mail header: at most `max` characters, no control
    /// or direction characters (a line break would end a header early).
    pub fn text(
        &self,
        key: &'static str,
        default: &str,
        max: usize,
    ) -> Result<String, ConfigError> {
        let value = self.get(key).unwrap_or_else(|| default.to_owned());
        plain(key, &value, max)?;
        Ok(value)
    }

    /// As [`Self::text`], with no default: `None` when unset.
    pub fn own_text(&self, key: &'static str, max: usize) -> Result<Option<String>, ConfigError> {
        match self.get(key) {
            Some(value) => {
                plain(key, &value, max)?;
                Ok(Some(value))
            }
            None => Ok(None),
        }
    }

    /// A whole number in `min..=max`.
    pub fn number<T>(&self, key: &'static str, default: T, min: T, max: T) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Copy + std::fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<T>()
                .ok()
                .filter(|n| *n >= min && *n <= max)
                .ok_or_else(|| ConfigError {
                    key,
                    problem: format!(
                        "'{}' is not a whole number from {min} to {max}",
                        shown(&raw)
                    ),
                }),
        }
    }

    pub fn optional_number<T>(
        &self,
        key: &'static str,
        min: T,
        max: T,
    ) -> Result<Option<T>, ConfigError>
    where
        T: FromStr + PartialOrd + Copy + std::fmt::Display,
    {
        self.get(key)
            .map(|_| self.number(key, min, min, max))
            .transpose()
    }

    /// A value parsed by `parse`, whose error says what is wrong with it.
    pub fn parsed<T>(
        &self,
        key: &'static str,
        default: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let raw = self.get(key).unwrap_or_else(|| default.to_owned());
        parse(&raw).map_err(|problem| ConfigError { key, problem })
    }

    pub fn optional<T>(
        &self,
        key: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(key)
            .map(|raw| parse(&raw).map_err(|problem| ConfigError { key, problem }))
            .transpose()
    }

    pub fn flag(&self, key: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "true" | "yes" | "1") => Ok(true),
            Some(v) if matches!(v.as_str(), "false" | "no" | "0") => Ok(false),
            Some(v) => Err(ConfigError {
                key,
                problem: format!("'{}' is not true or false", shown(&v)),
            }),
        }
    }
}

fn plain(key: &'static str, value: &str, max: usize) -> Result<(), ConfigError> {
    if value.chars().any(is_unsafe) {
        return Err(ConfigError {
            key,
            problem: format!(
                "'{}' holds a line break or another control character; write it on one line",
                shown(value)
            ),
        });
    }
    if value.chars().count() > max {
        return Err(ConfigError {
            key,
            problem: format!("is longer than {max} characters"),
        });
    }
    Ok(())
}
