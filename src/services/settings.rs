//! Settings kept in the database: the hashing key made at first start, and values several
//! processes claim once (the registered Discord command set).

use super::{shared::Shared, uow::Call};
use crate::{
    crypto::Keys,
    db::{self, Database},
    error::ServiceError,
};

/// The hashing key kept in the database: read, or made and stored once (hex).
pub(super) async fn hash_key(database: &Database) -> anyhow::Result<String> {
    if let Some(key) = database
        .read(|db| Ok(db::settings::get(db, "hash_key")?))
        .await?
    {
        return Ok(key);
    }
    if !database.writable() {
        // Read-only and never written: nothing here was hashed with a key yet.
        return Ok(Keys::generate_hex());
    }
    database
        .write(|db| {
            Ok::<_, anyhow::Error>(db::settings::get_or_insert(
                db,
                "hash_key",
                &Keys::generate_hex(),
            )?)
        })
        .await
}

pub struct Settings<'a>(pub(super) &'a Shared);

impl Settings<'_> {
    pub async fn get(&self, name: &str) -> Result<Option<String>, ServiceError> {
        let name = name.to_owned();
        self.0
            .read(move |conn, _| Ok(db::settings::get(conn, &name)?))
            .await
    }

    /// Stores `value` under `name` unless it is stored already, in one unit of work, so of
    /// several processes only one sees the change. Returns what was stored before when it
    /// changed, `None` when it was already `value`.
    pub async fn replace(
        &self,
        name: &str,
        value: &str,
    ) -> Result<Option<Option<String>>, ServiceError> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.0
            .run(Call::system(), move |uow| {
                let before = uow.db.setting(&name)?;
                if before.as_deref() == Some(value.as_str()) {
                    return Ok(None);
                }
                uow.db.set_setting(&name, &value)?;
                Ok(Some(before))
            })
            .await
    }

    /// Puts back what [`Self::replace`] replaced (`None`: nothing was stored).
    pub async fn restore(&self, name: &str, before: Option<String>) -> Result<(), ServiceError> {
        let name = name.to_owned();
        self.0
            .run(Call::system(), move |uow| {
                match before {
                    Some(v) => uow.db.set_setting(&name, &v)?,
                    None => uow.db.delete_setting(&name)?,
                }
                Ok(())
            })
            .await
    }
}
