//! Postgres discovery falls back to a private cluster when nothing answers, and says how
//! to install Postgres when there is nothing to fall back to.

use std::path::PathBuf;

use memberhub_kit::db::{Origin, discover_with};
use memberhub_kit::pg_cluster::PrivateCluster;
use memberhub_kit::testing::TestResult;

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[tokio::test]
async fn discovery_starts_a_private_cluster_when_no_server_answers() -> TestResult {
    let Some(bin_dir) = PrivateCluster::find_binaries() else {
        panic!("this test needs the Postgres server binaries (initdb, pg_ctl); install postgresql")
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(format!("pg-discovery-{}", uuid::Uuid::now_v7().simple()));
    let port = free_port()?;
    let dead = format!("postgres://postgres@127.0.0.1:{}/postgres", free_port()?);
    let found = discover_with(&dead, dir.clone(), port).await;
    let cluster = PrivateCluster::new(dir.clone(), port, bin_dir);
    let outcome = async {
        let found = found?;
        anyhow::ensure!(
            found.origin == Origin::PrivateCluster(dir.clone()),
            "origin {:?}",
            found.origin
        );
        let pool = memberhub_kit::db::connect(&found.url, 1, "discovery-test").await?;
        let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&pool).await?;
        anyhow::ensure!(one == 1);
        pool.close().await;
        // A second discovery reuses the running cluster.
        let again = discover_with(&dead, dir.clone(), port).await?;
        anyhow::ensure!(again.url == found.url);
        Ok(())
    }
    .await;
    let _ = cluster.stop_immediately();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(outcome?)
}
