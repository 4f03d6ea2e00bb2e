//! A fresh migrated database per test, cloned from a template (so tests run in parallel,
//! even as separate processes under nextest). The template's name carries a hash of the
//! migrations, so a changed migration builds a new one. A test database is kept (its name
//! printed) when its test fails, for a look; otherwise it is dropped. Integration tests return
//! [`TestResult`], whose `?` panics where the error surfaced, so a test that fails by an
//! error keeps its database as one that fails by an assertion does (a plain `Err` would
//! reach the harness only after the database was dropped).

use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPool;
use uuid::Uuid;

use crate::db::{self, DbError};

/// What an integration test returns: `?` on any error panics at that line with the error
/// (its chain, for `anyhow`), so the test's [`TestDb`] sees a panicking thread and is kept.
pub type TestResult = Result<(), Failure>;

/// Never built: turning an error into it panics (see [`TestResult`]).
#[derive(Debug)]
pub enum Failure {}

impl<E: std::fmt::Display + std::fmt::Debug> From<E> for Failure {
    #[track_caller]
    fn from(error: E) -> Self {
        panic!("{error:?}")
    }
}

/// A database of one's own.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    pub url: String,
    admin_url: String,
}

impl TestDb {
    /// Discovers Postgres (as `memberhub dev` does), then clones the template migrated with
    /// `migrators`. Fails, never skips, when no Postgres can be had.
    pub async fn new(migrators: &[&Migrator]) -> Result<Self, DbError> {
        let server = db::discover().await?;
        let admin = db::connect(&server.url, 2, "memberhub-test-admin").await?;
        let template = ensure_template(&admin, &server.url, migrators).await?;
        let name = format!("memberhub_test_{}", Uuid::now_v7().simple());
        create_from_template(&admin, &name, &template).await?;
        admin.close().await;
        Ok(Self {
            url: db::with_database(&server.url, &name),
            admin_url: server.url,
            name,
        })
    }

    /// A pool to this database.
    pub async fn pool(&self, size: u32) -> Result<PgPool, DbError> {
        db::connect(&self.url, size, "memberhub-test").await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "test failed: its database {} is kept for inspection",
                self.name
            );
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; use a thread with its own runtime.
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(admin) = db::connect(&admin_url, 1, "memberhub-test-admin").await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

fn template_name(migrators: &[&Migrator]) -> String {
    let mut hasher = Sha256::new();
    for migrator in migrators {
        for migration in migrator.iter() {
            hasher.update(migration.version.to_le_bytes());
            hasher.update(&migration.checksum);
        }
    }
    format!("memberhub_tpl_{}", &hex::encode(hasher.finalize())[..16])
}

async fn ensure_template(
    admin: &PgPool,
    server_url: &str,
    migrators: &[&Migrator],
) -> Result<String, DbError> {
    let template = template_name(migrators);
    let mut lock = admin.acquire().await?;
    // One builder at a time across test processes.
    sqlx::query("SELECT pg_advisory_lock(727001)")
        .execute(&mut *lock)
        .await?;
    let exists = database_exists(&mut lock, &template).await;
    let built = match exists {
        Ok(true) => Ok(()),
        Ok(false) => build_template(&mut lock, server_url, &template, migrators).await,
        Err(e) => Err(e),
    };
    sqlx::query("SELECT pg_advisory_unlock(727001)")
        .execute(&mut *lock)
        .await?;
    built.map(|()| template)
}

async fn database_exists(conn: &mut sqlx::PgConnection, name: &str) -> Result<bool, DbError> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

async fn build_template(
    conn: &mut sqlx::PgConnection,
    server_url: &str,
    template: &str,
    migrators: &[&Migrator],
) -> Result<(), DbError> {
    // Build under a scratch name, then rename: a crash never leaves a half-built template.
    let scratch = format!("{template}_building");
    execute(
        conn,
        format!("DROP DATABASE IF EXISTS \"{scratch}\" WITH (FORCE)"),
    )
    .await?;
    execute(conn, format!("CREATE DATABASE \"{scratch}\"")).await?;
    let pool = db::connect(
        &db::with_database(server_url, &scratch),
        2,
        "memberhub-test-template",
    )
    .await?;
    for migrator in migrators {
        db::migrate(&pool, migrator).await?;
    }
    pool.close().await;
    execute(
        conn,
        format!("ALTER DATABASE \"{scratch}\" RENAME TO \"{template}\""),
    )
    .await?;
    execute(
        conn,
        format!("ALTER DATABASE \"{template}\" WITH IS_TEMPLATE true"),
    )
    .await
}

async fn create_from_template(admin: &PgPool, name: &str, template: &str) -> Result<(), DbError> {
    let sql = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
    let mut attempt = 0;
    loop {
        match sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(admin)
            .await
        {
            Ok(_) => return Ok(()),
            // 55006: the template is briefly in use by another clone; try again.
            Err(e) if db::sqlstate(&e).as_deref() == Some("55006") && attempt < 50 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn execute(conn: &mut sqlx::PgConnection, sql: String) -> Result<(), DbError> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(conn)
        .await?;
    Ok(())
}

/// Binds 127.0.0.1:0 for a server under test.
pub async fn bind_loopback() -> std::io::Result<(tokio::net::TcpListener, std::net::SocketAddr)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    Ok((listener, address))
}

/// Waits (up to 30 s) until the gRPC server at `address` reports SERVING; never sleeps blindly.
pub async fn wait_until_serving(
    address: std::net::SocketAddr,
) -> Result<tonic::transport::Channel, String> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(channel) = endpoint.connect().await {
            let check = HealthClient::new(channel.clone())
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await;
            if check.is_ok_and(|r| r.get_ref().status == ServingStatus::Serving as i32) {
                return Ok(channel);
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "server at {address} did not become SERVING within 30 s"
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The development gateway signer tests speak through (it may assert any actor).
pub fn gateway_signer() -> &'static crate::auth::Signer {
    static SIGNER: std::sync::OnceLock<crate::auth::Signer> = std::sync::OnceLock::new();
    SIGNER.get_or_init(|| crate::auth::Signer::development(crate::auth::GATEWAY))
}

/// A request carrying `actor` in a token the development gateway key signed.
pub fn as_actor<T>(actor: &crate::actor::Actor, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    gateway_signer()
        .authorize(actor, request.metadata_mut())
        .expect("the development key signs any actor");
    request
}

/// `message` sent every way a caller without the right key might try — no token, the
/// old plain actor header (`x-memberhub-actor: operator`, `service:...`), a token signed by
/// another key, an expired one, one not valid yet, a tampered one, one where a service speaks
/// for an operator — each labelled. Every one must be UNAUTHENTICATED.
pub fn forgeries<T: Clone>(message: &T) -> Vec<(&'static str, tonic::Request<T>)> {
    use crate::actor::Actor;
    use crate::auth::{CAMPAIGN_SVC, GATEWAY, Signer};
    let now = chrono::Utc::now().timestamp();
    let gateway = gateway_signer();
    let (seed, _) = Signer::generate().expect("the OS has randomness");
    let stranger = Signer::from_hex_seed(GATEWAY, &seed).expect("a fresh seed is a valid key");
    let sign = |signer: &Signer, actor: &Actor, nbf: i64, ttl: i64| {
        signer
            .token_with(actor, nbf, ttl)
            .expect("a valid key signs")
    };
    let mut tampered = sign(gateway, &Actor::Operator, now, 60);
    let middle = tampered.len() / 2;
    tampered.replace_range(middle..=middle, "A");
    let tokens = [
        ("another key", sign(&stranger, &Actor::Operator, now, 60)),
        ("expired", sign(gateway, &Actor::Operator, now - 600, -300)),
        (
            "not valid yet",
            sign(gateway, &Actor::Operator, now + 600, 1200),
        ),
        ("tampered", tampered),
        (
            "a service speaking for an operator",
            sign(
                &Signer::development(CAMPAIGN_SVC),
                &Actor::Operator,
                now,
                60,
            ),
        ),
        ("not a token", "operator".to_string()),
    ];
    let mut requests = vec![("no token", tonic::Request::new(message.clone()))];
    for header in ["operator", "service:anything"] {
        let mut request = tonic::Request::new(message.clone());
        request
            .metadata_mut()
            .insert("x-memberhub-actor", header.parse().expect("ASCII metadata"));
        requests.push(("a plain actor header", request));
    }
    for (label, token) in tokens {
        let mut request = tonic::Request::new(message.clone());
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ASCII metadata"),
        );
        requests.push((label, request));
    }
    requests
}

/// runs the production binary at `path` once per setting in `settings` (name, a valid
/// value), each time with that one left out, and once more per secret with it too short;
/// each run must exit non-zero at once with a line naming the setting.
pub fn assert_refuses_development_defaults(
    path: &str,
    settings: &[(&str, &str)],
    secrets: &[&str],
) -> Result<(), String> {
    let run = |env: Vec<(&str, &str)>| -> Result<(bool, String), String> {
        let output = std::process::Command::new(path)
            .env_clear()
            .envs(env)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {path}: {e}"))?;
        Ok((
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    };
    let mut cases: Vec<(&str, Vec<(&str, &str)>)> = settings
        .iter()
        .map(|(missing, _)| {
            let env = settings
                .iter()
                .copied()
                .filter(|(name, _)| name != missing)
                .collect();
            (*missing, env)
        })
        .collect();
    for secret in secrets {
        let env = settings
            .iter()
            .map(|&(name, value)| (name, if name == *secret { "short" } else { value }))
            .collect();
        cases.push((secret, env));
    }
    for (name, env) in cases {
        let (succeeded, stderr) = run(env)?;
        if succeeded || !stderr.contains(name) {
            return Err(format!(
                "{path} without a valid {name}: success={succeeded}, stderr={stderr}"
            ));
        }
        if stderr.contains("short") {
            return Err(format!("{path} printed a secret: {stderr}"));
        }
    }
    Ok(())
}
