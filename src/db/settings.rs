//! `settings`: installation values generated on first start.

use sqlx::SqliteConnection;

pub async fn get(conn: &mut SqliteConnection, name: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT value FROM settings WHERE name = ?")
        .bind(name)
        .fetch_optional(conn)
        .await
}

/// Stores `value` unless the name is already set; returns what is stored afterwards.
pub async fn get_or_insert(
    conn: &mut SqliteConnection,
    name: &str,
    value: &str,
) -> sqlx::Result<String> {
    sqlx::query("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(value)
        .execute(&mut *conn)
        .await?;
    Ok(get(conn, name).await?.unwrap_or_default())
}

pub async fn set(conn: &mut SqliteConnection, name: &str, value: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
        .bind(name)
        .bind(value)
        .execute(conn)
        .await?;
    Ok(())
}
