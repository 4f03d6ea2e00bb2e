//! Acceptance: killing Postgres mid-run gives UNAVAILABLE (503 via HTTP), not a crash, and
//! the services recover by themselves when it is back.
//!
//! The test runs its own private Postgres cluster (never the server on 5432) under the
//! workspace's `target/`, starts the whole suite against it, kills the cluster with an
//! immediate shutdown, checks what callers see, restarts the cluster and waits for the
//! suite to serve the same data again without being touched.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use memberhub::{Suite, SuiteOptions};
use memberhub_gateway::Role;
use memberhub_kit::actor::Actor;
use memberhub_kit::pg_cluster::{ClusterError, PrivateCluster};
use memberhub_kit::testing::TestResult;
use memberhub_kit::testing::as_actor;
use memberhub_proto::common::ShopType;
use memberhub_proto::membership as pb;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;
use tokio::time::{Instant, sleep, timeout};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// How long the first UNAVAILABLE may take to show after the kill.
const OUTAGE_DEADLINE: Duration = Duration::from_secs(10);
/// How long the suite may take to serve again after Postgres is back.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(30);
/// Between polls while waiting for recovery.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// No single call may take longer than this: a hang is a failure, not a wait.
const CALL_TIMEOUT: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_outage_gives_unavailable_then_services_recover() -> TestResult {
    // 1. A private cluster on a free port, in a fresh directory under target/.
    let bin_dir = PrivateCluster::find_binaries().context(
        "this test needs the Postgres server binaries (initdb, pg_ctl) on PATH or in \
         /usr/lib/postgresql/*/bin to run a private cluster it can kill; install them \
         (Debian/Ubuntu: `apt-get install postgresql`)",
    )?;
    let port = free_port()?;
    assert!(
        port != 5432,
        "picked the main Postgres port; refusing to touch it"
    );
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .context("the tests crate has no parent directory")?;
    let dir = workspace
        .join("target")
        .join(format!("pg-outage-{}", uuid::Uuid::now_v7().simple()));
    let cluster = ClusterGuard(PrivateCluster::new(dir, port, bin_dir));
    let server_url = on_cluster(&cluster.0, PrivateCluster::ensure_started).await?;
    assert!(
        server_url.contains(&format!("127.0.0.1:{port}/")),
        "the private cluster's URL {server_url} is not on port {port}"
    );
    let database_url = memberhub_kit::db::ensure_database(&server_url, "memberhub").await?;
    // The kill below comes milliseconds after the shop is created: what was acknowledged
    // before it must be there after it (the cluster commits synchronously).

    // 2. The suite on it; a shop; its program over gRPC and over HTTP.
    let gateway_config = memberhub_gateway::Config::from_env()?;
    let jwt = gateway_config.jwt.clone();
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut suite = Suite::start(SuiteOptions {
        databases: memberhub::Databases::shared(&database_url),
        membership: loopback,
        coupon: loopback,
        campaign: loopback,
        gateway: loopback,
        service: memberhub_kit::config::ServiceConfig::default(),
        gateway_config,
        clock: memberhub_kit::clock::system(),
        sandbox: None,
    })
    .await
    .map_err(|e| anyhow!(e))
    .context("starting the suite")?;
    let grpc_addresses = [suite.membership, suite.coupon, suite.campaign];

    let mut membership =
        MembershipServiceClient::connect(format!("http://{}", suite.membership)).await?;
    let shop = membership
        .create_shop(as_actor(
            &Actor::Operator,
            pb::CreateShopRequest {
                request_id: format!("pg-outage-{}", uuid::Uuid::now_v7().simple()),
                name: "Outage Test Shop".into(),
                r#type: ShopType::Pop.into(),
                logo_url: "https://static.memberhub.dev/test/outage.png".into(),
                time_zone: "Asia/Shanghai".into(),
                gift_items: false,
            },
        ))
        .await
        .context("CreateShop before the outage")?
        .into_inner();
    let shop_id = shop.shop_id;
    let merchant = Actor::Merchant {
        shop_id: shop_id.clone(),
    };
    let token = jwt.issue(
        Role::Merchant,
        "pg-outage-merchant",
        Some(&shop_id),
        chrono::Duration::hours(1),
    )?;
    let http = reqwest::Client::builder().timeout(CALL_TIMEOUT).build()?;
    let program_url = format!(
        "http://{}/api/backoffice/v1/shops/{shop_id}/program",
        suite.gateway
    );

    let grpc_before = get_program(&mut membership, &merchant, &shop_id)
        .await?
        .map_err(|status| anyhow!("GetProgram before the outage: {status:?}"))?;
    assert!(grpc_before.shop_id == shop_id, "GetProgram: wrong shop");
    let (status, http_before) = get_json(&http, &program_url, &token).await?;
    assert!(
        status == reqwest::StatusCode::OK,
        "GET program before the outage: {status} {http_before}"
    );
    assert!(
        http_before["shop_id"] == shop_id.as_str(),
        "GET program: wrong shop in {http_before}"
    );

    // 3. Kill Postgres.
    on_cluster(&cluster.0, PrivateCluster::stop_immediately).await?;
    assert!(!cluster.0.is_running(), "the cluster still runs after stop");
    let killed = Instant::now();
    eprintln!("postgres killed");

    // gRPC: UNAVAILABLE, quickly, and never INTERNAL (a broken connection is a retry).
    let mut attempts = Vec::new();
    loop {
        let started = Instant::now();
        let outcome = get_program(&mut membership, &merchant, &shop_id).await?;
        let code = match &outcome {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        };
        attempts.push(format!("{code:?} after {:?}", started.elapsed()));
        match outcome {
            Err(status) if status.code() == Code::Unavailable => break,
            Err(status) if matches!(status.code(), Code::Internal | Code::Unknown) => panic!(
                "GetProgram with Postgres down answered {:?} ({}) instead of UNAVAILABLE; \
                 attempts: {attempts:?}",
                status.code(),
                status.message()
            ),
            _ if killed.elapsed() > OUTAGE_DEADLINE => panic!(
                "GetProgram did not answer UNAVAILABLE within {OUTAGE_DEADLINE:?} of the kill; \
                 attempts: {attempts:?}"
            ),
            _ => sleep(POLL_INTERVAL).await,
        }
    }
    eprintln!(
        "gRPC UNAVAILABLE {:?} after the kill; attempts: {attempts:?}",
        killed.elapsed()
    );

    // HTTP: 503 with the JSON error body.
    let started = Instant::now();
    let (status, body) = get_json(&http, &program_url, &token).await?;
    assert!(
        status == reqwest::StatusCode::SERVICE_UNAVAILABLE,
        "GET program with Postgres down: {status} {body} instead of 503"
    );
    assert!(
        body["code"] == "UNAVAILABLE",
        "GET program with Postgres down: error code in {body} is not UNAVAILABLE"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "GET program with Postgres down: no message in {body}"
    );
    eprintln!("HTTP 503 UNAVAILABLE in {:?}", started.elapsed());

    // Every server reports NOT_SERVING while the database is unreachable.
    wait_for_health(
        &grpc_addresses,
        ServingStatus::NotServing,
        killed + OUTAGE_DEADLINE,
    )
    .await
    .context("health with Postgres down")?;
    eprintln!("health NOT_SERVING {:?} after the kill", killed.elapsed());

    // Not a crash: every part of the suite still runs.
    ensure_still_running(&mut suite).await?;

    // 4. Postgres back: the same calls succeed with the same data, untouched.
    on_cluster(&cluster.0, PrivateCluster::start).await?;
    let restarted = Instant::now();
    let deadline = restarted + RECOVERY_DEADLINE;
    eprintln!("postgres restarted {:?} after the kill", killed.elapsed());

    let grpc_after = loop {
        match get_program(&mut membership, &merchant, &shop_id).await? {
            Ok(program) => break program,
            Err(status) if Instant::now() > deadline => panic!(
                "GetProgram still fails {RECOVERY_DEADLINE:?} after Postgres came back: \
                 {status:?}"
            ),
            Err(status) if matches!(status.code(), Code::Internal | Code::Unknown) => panic!(
                "GetProgram while Postgres comes back answered {:?} ({})",
                status.code(),
                status.message()
            ),
            Err(_) => sleep(POLL_INTERVAL).await,
        }
    };
    eprintln!("gRPC recovered {:?} after restart", restarted.elapsed());
    assert!(
        grpc_after == grpc_before,
        "GetProgram after recovery differs:\nbefore {grpc_before:?}\nafter  {grpc_after:?}"
    );

    let http_after = loop {
        let (status, body) = get_json(&http, &program_url, &token).await?;
        if status == reqwest::StatusCode::OK {
            break body;
        }
        if Instant::now() > deadline {
            panic!(
                "GET program still fails {RECOVERY_DEADLINE:?} after Postgres came back: \
                 {status} {body}"
            );
        }
        sleep(POLL_INTERVAL).await;
    };
    eprintln!("HTTP recovered {:?} after restart", restarted.elapsed());
    assert!(
        http_after == http_before,
        "GET program after recovery differs:\nbefore {http_before}\nafter  {http_after}"
    );

    wait_for_health(&grpc_addresses, ServingStatus::Serving, deadline)
        .await
        .context("health after Postgres came back")?;
    eprintln!("health SERVING {:?} after restart", restarted.elapsed());
    ensure_still_running(&mut suite).await?;

    // 5. Shut down; the guard stops the cluster and removes its directory.
    suite
        .shutdown()
        .await
        .map_err(|e| anyhow!("suite shutdown: {e}"))?;
    drop(cluster);
    Ok(())
}

/// Stops the private cluster (if it runs) and removes its directory, also when the test
/// fails half-way.
struct ClusterGuard(PrivateCluster);

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        if self.0.is_running()
            && let Err(e) = self.0.stop_immediately()
        {
            eprintln!("could not stop the private cluster: {e}");
        }
        if let Err(e) = std::fs::remove_dir_all(&self.0.dir) {
            eprintln!(
                "could not remove the private cluster at {}: {e}",
                self.0.dir.display()
            );
        }
    }
}

/// Runs a blocking cluster operation (`pg_ctl`) off the runtime's worker threads, so the
/// suite keeps serving meanwhile.
async fn on_cluster<T: Send + 'static>(
    cluster: &PrivateCluster,
    operation: fn(&PrivateCluster) -> Result<T, ClusterError>,
) -> anyhow::Result<T> {
    let cluster = cluster.clone();
    Ok(tokio::task::spawn_blocking(move || operation(&cluster)).await??)
}

/// A TCP port nothing listens on right now.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// GetProgram as the shop's merchant; the outer error is a hang (no answer in time).
async fn get_program(
    client: &mut MembershipServiceClient<Channel>,
    merchant: &Actor,
    shop_id: &str,
) -> anyhow::Result<Result<pb::Program, tonic::Status>> {
    let call = client.get_program(as_actor(
        merchant,
        pb::GetProgramRequest {
            shop_id: shop_id.into(),
        },
    ));
    let answer = timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|_| anyhow!("GetProgram did not answer within {CALL_TIMEOUT:?}"))?;
    Ok(answer.map(tonic::Response::into_inner))
}

/// GET `url` with the bearer `token`: status and JSON body.
async fn get_json(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> anyhow::Result<(reqwest::StatusCode, serde_json::Value)> {
    let response = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body = response
        .json()
        .await
        .with_context(|| format!("GET {url}: {status} without a JSON body"))?;
    Ok((status, body))
}

/// Polls the health of every server until all report `wanted`.
async fn wait_for_health(
    addresses: &[SocketAddr],
    wanted: ServingStatus,
    deadline: Instant,
) -> anyhow::Result<()> {
    for address in addresses {
        let channel = Channel::from_shared(format!("http://{address}"))?.connect_lazy();
        let mut client = HealthClient::new(channel);
        loop {
            let check = timeout(
                CALL_TIMEOUT,
                client.check(HealthCheckRequest {
                    service: String::new(),
                }),
            )
            .await
            .map_err(|_| anyhow!("health check of {address} did not answer in time"))?;
            let status = check.map(|r| r.into_inner().status);
            if status.as_ref().is_ok_and(|s| *s == wanted as i32) {
                break;
            }
            if Instant::now() > deadline {
                bail!("{address} is not {wanted:?} in time: last answer {status:?}");
            }
            sleep(POLL_INTERVAL).await;
        }
    }
    Ok(())
}

/// Fails when any part of the suite has stopped by itself.
async fn ensure_still_running(suite: &mut Suite) -> anyhow::Result<()> {
    match timeout(Duration::from_millis(100), suite.wait_for_failure()).await {
        Err(_elapsed) => Ok(()),
        Ok(result) => bail!("a part of the suite stopped by itself: {result:?}"),
    }
}
