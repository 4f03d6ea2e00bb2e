//! Postgres: discovery (one code path for `memberhub dev` and tests), pools and
//! per-service schema migrations. Each service owns one schema; its `sqlx.toml` makes
//! `sqlx::migrate!` create that schema and keep its migration history inside it.

use std::path::PathBuf;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::error::Failure;
use crate::pg_cluster::{ClusterError, PrivateCluster};

/// Where discovery looks when `DATABASE_URL` is not set.
pub const LOCAL_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The private cluster's default port (`MEMBERHUB_PG_PORT` overrides).
pub const PRIVATE_CLUSTER_PORT: u16 = 54329;

/// A database problem at start-up.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "no Postgres found: DATABASE_URL is not set, nothing answers at {LOCAL_SERVER_URL}, and no Postgres \
         server binaries (initdb, pg_ctl) are on PATH or in /usr/lib/postgresql/*/bin. Install Postgres \
         (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql`) or set DATABASE_URL"
    )]
    NoPostgres,
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("cannot connect to Postgres at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
}

/// How the database was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    EnvVar,
    LocalServer,
    PrivateCluster(PathBuf),
}

/// A usable Postgres server: `url` names its maintenance database.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub url: String,
    pub origin: Origin,
}

/// `DATABASE_URL` if set; else the local server if it answers; else a private cluster
/// under `target/` when the server binaries are installed; else [`DbError::NoPostgres`].
pub async fn discover() -> Result<Discovered, DbError> {
    if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        return Ok(Discovered {
            url,
            origin: Origin::EnvVar,
        });
    }
    let port = std::env::var("MEMBERHUB_PG_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(PRIVATE_CLUSTER_PORT);
    discover_with(LOCAL_SERVER_URL, private_cluster_dir(), port).await
}

/// [`discover`] without the environment variable, with explicit probe and cluster settings.
pub async fn discover_with(
    probe_url: &str,
    cluster_dir: PathBuf,
    port: u16,
) -> Result<Discovered, DbError> {
    if answers(probe_url).await {
        return Ok(Discovered {
            url: probe_url.into(),
            origin: Origin::LocalServer,
        });
    }
    let bin_dir = PrivateCluster::find_binaries().ok_or(DbError::NoPostgres)?;
    let cluster = PrivateCluster::new(cluster_dir.clone(), port, bin_dir);
    tracing::info!(dir = %cluster_dir.display(), port, "starting a private Postgres cluster");
    let url = tokio::task::spawn_blocking(move || cluster.ensure_started())
        .await
        .map_err(|e| ClusterError {
            dir: cluster_dir.clone(),
            message: e.to_string(),
        })??;
    Ok(Discovered {
        url,
        origin: Origin::PrivateCluster(cluster_dir),
    })
}

async fn answers(url: &str) -> bool {
    let Ok(options) = url.parse::<PgConnectOptions>() else {
        return false;
    };
    let attempt = tokio::time::timeout(Duration::from_secs(3), options.connect());
    matches!(attempt.await, Ok(Ok(_)))
}

/// `target/memberhub-pg` of the workspace this binary was built in (or of the current
/// directory when run from elsewhere).
pub fn private_cluster_dir() -> PathBuf {
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .find(|dir| dir.file_name().is_some_and(|n| n == "target"))
            .map(PathBuf::from)
    });
    from_exe
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("memberhub-pg")
}

/// The longest one statement may run on any pool (set per session at connect).
pub const STATEMENT_TIMEOUT: &str = "30s";
/// The longest a session may sit idle inside an open transaction.
pub const IDLE_IN_TRANSACTION_TIMEOUT: &str = "60s";

/// A pool to `url`. Acquiring waits at most 3 s so that an unreachable database turns
/// into UNAVAILABLE quickly instead of piling up requests.
pub async fn connect(url: &str, pool_size: u32, application: &str) -> Result<PgPool, DbError> {
    let options = url
        .parse::<PgConnectOptions>()
        .map_err(|source| DbError::Connect {
            url: redact(url),
            source,
        })?
        .application_name(application)
        // A runaway statement or a transaction left open by a stuck task must not hold locks
        // (and the hot rows behind them) for ever.
        .options([
            ("statement_timeout", STATEMENT_TIMEOUT),
            (
                "idle_in_transaction_session_timeout",
                IDLE_IN_TRANSACTION_TIMEOUT,
            ),
        ]);
    PgPoolOptions::new()
        .max_connections(pool_size)
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(options)
        .await
        .map_err(|source| DbError::Connect {
            url: redact(url),
            source,
        })
}

/// Creates database `name` on the server at `server_url` unless it exists; returns its URL.
pub async fn ensure_database(server_url: &str, name: &str) -> Result<String, DbError> {
    let admin = connect(server_url, 1, "memberhub-admin").await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&admin)
        .await?;
    if exists.is_none() {
        let create = format!("CREATE DATABASE \"{}\"", name.replace('"', ""));
        match sqlx::raw_sql(sqlx::AssertSqlSafe(create))
            .execute(&admin)
            .await
        {
            // 42P04: created meanwhile by another process.
            Err(e) if sqlstate(&e).as_deref() != Some("42P04") => return Err(e.into()),
            _ => {}
        }
    }
    admin.close().await;
    Ok(with_database(server_url, name))
}

/// Drops database `name` on the server at `server_url` if it exists, and creates it empty;
/// answers its URL. (`memberhub dev --test-clock` starts each sandbox from nothing: data
/// stamped by a moved clock would lie in a later run's future.)
pub async fn fresh_database(server_url: &str, name: &str) -> Result<String, DbError> {
    let admin = connect(server_url, 1, "memberhub-admin").await?;
    let name = name.replace('"', "");
    for statement in [
        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        format!("CREATE DATABASE \"{name}\""),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&admin)
            .await?;
    }
    admin.close().await;
    Ok(with_database(server_url, &name))
}

/// Applies `migrator` (which creates the service's schema first, per its `sqlx.toml`).
pub async fn migrate(pool: &PgPool, migrator: &sqlx::migrate::Migrator) -> Result<(), DbError> {
    migrator.run(pool).await?;
    Ok(())
}

/// The URL with its password hidden, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// The URL of database `name` on the same server as `url`.
pub fn with_database(url: &str, name: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_path(&format!("/{name}"));
            parsed.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// Maps a database error to what a client can act on: connection trouble is UNAVAILABLE
/// (retry later); anything else is logged here, once, and returned as INTERNAL.
pub fn failure_from_sqlx(error: &sqlx::Error) -> Failure {
    if is_unavailable(error) {
        tracing::warn!(error = %error, "database unavailable");
        return Failure::Unavailable("the database is unavailable; retry later".into());
    }
    tracing::error!(error = %error, "database error");
    Failure::Internal
}

fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // connection exceptions, shutdowns, too many connections, serialization retries exhausted
            code.starts_with("08") || code.starts_with("57P") || code == "53300"
        }),
        _ => false,
    }
}

/// The SQLSTATE of a database error, if it is one.
pub fn sqlstate(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// Attempts of one transaction before a conflict is reported to the caller.
pub const MAX_TX_ATTEMPTS: u64 = 4;

/// Deadlock (40P01) or serialization failure (40001): rerunning the transaction may succeed.
pub fn is_transient(error: &sqlx::Error) -> bool {
    matches!(sqlstate(error).as_deref(), Some("40P01" | "40001"))
}

/// The one bounded retry wrapper: reruns `attempt` (a whole transaction) while it fails
/// with an error `transient` accepts, at most [`MAX_TX_ATTEMPTS`] times, counting each
/// retry in `memberhub_tx_retries_total{method}`.
pub async fn retry_transient<T, E, F, Fut>(
    method: &'static str,
    transient: impl Fn(&E) -> bool,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(error) if tries < MAX_TX_ATTEMPTS && transient(&error) => {
                tracing::warn!(method, tries, "transaction conflict, retrying");
                metrics::counter!("memberhub_tx_retries_total", "method" => method).increment(1);
                tokio::time::sleep(std::time::Duration::from_millis(5 * tries)).await;
                tries += 1;
            }
            result => return result,
        }
    }
}

/// Deletes the rows of `table` whose `column` is before `before`, `batch` rows per
/// statement (each its own transaction) until none is left; returns how many. `table` and
/// `column` are the caller's constants, never input.
pub async fn delete_in_batches(
    pool: &PgPool,
    table: &'static str,
    column: &'static str,
    before: chrono::DateTime<chrono::Utc>,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE {column} < $1 LIMIT $2)"
    );
    let mut deleted = 0;
    loop {
        let done = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(before)
            .bind(batch)
            .execute(pool)
            .await?
            .rows_affected();
        deleted += done;
        if done < u64::try_from(batch).unwrap_or(u64::MAX) {
            return Ok(deleted);
        }
    }
}
