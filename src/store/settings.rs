//! The store seam for settings: installation values generated on first start and the small
//! markers the workers keep, by name.

use crate::db::{self, Conn};

/// Named settings.
pub trait Settings {
    fn setting(&self, name: &str) -> anyhow::Result<Option<String>>;

    /// Stores `value` unless `name` is set already, and returns what is stored afterwards: of
    /// several units doing this at once, all get the first one's value.
    fn setting_or_insert(&self, name: &str, value: &str) -> anyhow::Result<String>;

    fn set_setting(&self, name: &str, value: &str) -> anyhow::Result<()>;

    fn delete_setting(&self, name: &str) -> anyhow::Result<()>;
}

impl Settings for Conn {
    fn setting(&self, name: &str) -> anyhow::Result<Option<String>> {
        Ok(db::settings::get(self, name)?)
    }

    fn setting_or_insert(&self, name: &str, value: &str) -> anyhow::Result<String> {
        Ok(db::settings::get_or_insert(self, name, value)?)
    }

    fn set_setting(&self, name: &str, value: &str) -> anyhow::Result<()> {
        Ok(db::settings::set(self, name, value)?)
    }

    fn delete_setting(&self, name: &str) -> anyhow::Result<()> {
        Ok(db::settings::delete(self, name)?)
    }
}
