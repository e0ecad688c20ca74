//! A real PostgreSQL for the tests that run on both engines: the one the test command
//! (`scripts/test`) starts on a loopback port. Each test gets a database of its own.

use std::path::PathBuf;

use sqlx::{Connection, PgConnection};

/// The server's URL, from the test command.
pub fn server_url() -> String {
    std::env::var("DSR_TEST_POSTGRES_URL").expect(
        "DSR_TEST_POSTGRES_URL is unset: run the tests with ./scripts/test, which starts a PostgreSQL on loopback",
    )
}

/// The cluster's data folder, which the erasure test searches.
pub fn pgdata() -> PathBuf {
    PathBuf::from(std::env::var("DSR_TEST_PGDATA").expect(
        "DSR_TEST_PGDATA is unset: run the tests with ./scripts/test, which starts a PostgreSQL on loopback",
    ))
}

/// A new, empty database on the test server; its URL.
pub async fn fresh_database() -> String {
    let server = server_url();
    let name = format!("dsr_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&server).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path(&name);
    url.to_string()
}
