//! PostgreSQL: connecting, migrating, and the wrapping key every process must share.

pub mod dms;
pub mod erasure;
pub mod inputs;
pub mod limits;
pub mod log;
pub mod notes;
pub mod outbox;
pub mod people;
pub mod reply_tokens;
pub mod requests;
pub mod row_keys;
pub mod schedule;
pub mod standings;
pub mod unit;
pub mod verifications;

use std::{str::FromStr, time::Duration};

use anyhow::Context as _;
use sqlx::{
    ConnectOptions as _, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use super::seal::Wrapping;
use crate::config::{Config, DatabaseKey, Engine};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A PostgreSQL database and the keys its sealed values open with.
#[derive(Clone)]
pub struct PgStore {
    pub pool: PgPool,
    pub wrapping: Wrapping,
}

/// This process holds another database key than the one the database was sealed with.
#[derive(Debug, thiserror::Error)]
#[error(
    "the PostgreSQL database was set up with another database key: give this process the same DATABASE_KEY or \
     DATABASE_KEY_FILE as the others (a new key would leave every sealed identity unreadable)"
)]
pub struct OtherKey;

/// The wrapping key's source: on PostgreSQL the key must be given, since every process on
/// every machine needs the same one and none of them may keep it in the database.
pub fn database_key(config: &Config) -> anyhow::Result<Vec<u8>> {
    match &config.database_key {
        DatabaseKey::Given(key) => Ok(key.0.clone()),
        // As on SQLite: a key file others can read, or that git tracks, is refused.
        DatabaseKey::File(path) => {
            let key = crate::db::keyfile::read_key_file(path, "the key file (DATABASE_KEY_FILE)")?;
            hex::decode(key.hex()).context("the key file's 64 hex digits")
        }
        DatabaseKey::Beside | DatabaseKey::Plain => anyhow::bail!(
            "on PostgreSQL set DATABASE_KEY or DATABASE_KEY_FILE (32 bytes as 64 hex digits; `openssl rand -hex 32` \
             makes one): every process needs the same key, and it must not be kept in the database"
        ),
    }
}

/// Opens the pool at `url` with sqlx's statement logging off, and applies pending migrations
/// (sqlx holds an advisory lock while it does, so processes starting together take turns).
pub async fn connect(url: &str, database_key: &[u8]) -> anyhow::Result<PgStore> {
    let options = PgConnectOptions::from_str(url)
        .context("DATABASE_URL is not a PostgreSQL URL")?
        .application_name("dsr-bot")
        .disable_statement_logging();
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .context("connecting to PostgreSQL at DATABASE_URL")?;
    MIGRATOR
        .run(&pool)
        .await
        .map_err(crate::db::schema_error)
        .context("applying the PostgreSQL migrations")?;
    let wrapping = Wrapping::new(database_key);
    check_key(&pool, &wrapping).await?;
    Ok(PgStore { pool, wrapping })
}

/// Connects as [`Config`] says, when its engine is PostgreSQL.
pub async fn from_config(config: &Config) -> anyhow::Result<PgStore> {
    let Engine::Postgres(url) = &config.engine else {
        anyhow::bail!("DATABASE_URL does not name a PostgreSQL database");
    };
    connect(&url.0, &database_key(config)?).await
}

/// The first process records the key check; every later one must match it.
async fn check_key(pool: &PgPool, wrapping: &Wrapping) -> anyhow::Result<()> {
    let check = wrapping.check_value();
    sqlx::query(
        "INSERT INTO key_check (id, check_value, created_at) VALUES (TRUE, $1, now())
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&check)
    .execute(pool)
    .await
    .context("recording the database key's check value")?;
    let kept: Vec<u8> = sqlx::query_scalar("SELECT check_value FROM key_check WHERE id")
        .fetch_one(pool)
        .await
        .context("reading the database key's check value")?;
    if kept != check {
        return Err(OtherKey.into());
    }
    Ok(())
}
