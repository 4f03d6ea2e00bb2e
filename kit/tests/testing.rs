//! A test database outlives a failing test, whether the test fails by an assertion or by an
//! error passed up with `?`, and is dropped when the test passes.

use memberhub_kit::testing::{TestDb, TestResult};

async fn exists(name: &str) -> anyhow::Result<bool> {
    let server = memberhub_kit::db::discover().await?;
    let admin = memberhub_kit::db::connect(&server.url, 1, "testing-test").await?;
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&admin)
        .await?;
    admin.close().await;
    Ok(found.is_some())
}

/// Runs `body` with a fresh database on its own thread, as a test would; answers the
/// database's name and whether the body panicked.
async fn run_as_a_test(body: fn(&TestDb) -> TestResult) -> anyhow::Result<(String, bool)> {
    let db = TestDb::new(&[]).await?;
    let name = db.name.clone();
    let panicked = std::thread::spawn(move || body(&db)).join().is_err();
    Ok((name, panicked))
}

#[tokio::test]
async fn an_error_passed_up_with_a_question_mark_keeps_the_database() -> TestResult {
    let (name, panicked) = run_as_a_test(|_db| {
        Err(std::io::Error::other("the call failed"))?;
        Ok(())
    })
    .await?;
    assert!(panicked, "`?` on an error must fail the test by panicking");
    assert!(exists(&name).await?, "{name} was dropped");
    let server = memberhub_kit::db::discover().await?;
    let admin = memberhub_kit::db::connect(&server.url, 1, "testing-test").await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&admin)
    .await?;
    admin.close().await;
    Ok(())
}

#[tokio::test]
async fn a_passing_test_drops_its_database() -> TestResult {
    let (name, panicked) = run_as_a_test(|_db| Ok(())).await?;
    assert!(!panicked);
    assert!(!exists(&name).await?, "{name} was kept");
    Ok(())
}
