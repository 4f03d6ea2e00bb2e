//! `memberhub loadgen expiry`: the PT-5 year-end cliff. Every member of every shop earned
//! points in one year, so all of them fall due at the same instant; the platform-wide expiry
//! runs (in chunks of `EXPIRY_CHUNK_MEMBERS`, each its own transaction) while the order
//! system keeps reporting orders. Measured: order-ingest latency with no expiry running (the
//! baseline, same run), then during the expiry; the longest ingest call is compared with the
//! average chunk. A one-transaction expiry would stall ingest for the members it holds for
//! the whole run, which is reported too. Invariant: exactly the seeded points expire.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{Datelike, TimeZone, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::clock::{ManualClock, to_timestamp};
use memberhub_kit::testing::as_actor;
use memberhub_proto::membership as pb;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;
use tonic::transport::Channel;

use super::Latencies;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ExpiryArgs {
    #[arg(long, default_value_t = 50)]
    pub shops: usize,
    /// Members in all, spread evenly over the shops.
    #[arg(long, default_value_t = 200_000)]
    pub members: usize,
    /// Order-system clients reporting orders during the baseline and the expiry.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Orders per `BatchReportOrderEvents` call while measuring.
    #[arg(long, default_value_t = 20)]
    pub batch: usize,
    /// Seconds of baseline ingest before the expiry starts.
    #[arg(long, default_value_t = 10)]
    pub baseline: u64,
}

/// Points each seeded member earns (a 100-yuan order at 1 point per yuan).
const SEED_AMOUNT_FEN: i64 = 10_000;
const SEED_POINTS: i64 = SEED_AMOUNT_FEN / 100;
/// Orders per seeding call (each a PAID and a RECEIPT_CONFIRMED event).
const SEED_BATCH: usize = 250;

fn order_system() -> Actor {
    Actor::Service {
        name: memberhub_kit::auth::ORDER_SYSTEM.into(),
    }
}

fn order(shop: &str, user: &str, order_id: &str, at: chrono::DateTime<Utc>) -> [pb::OrderEvent; 2] {
    let event = |kind: pb::OrderEventType| pb::OrderEvent {
        r#type: kind.into(),
        order_id: order_id.into(),
        shop_id: shop.into(),
        user_id: user.into(),
        amount_fen: SEED_AMOUNT_FEN,
        occur_time: Some(to_timestamp(at)),
        ..Default::default()
    };
    [
        event(pb::OrderEventType::Paid),
        event(pb::OrderEventType::ReceiptConfirmed),
    ]
}

async fn prepare(
    client: &mut MembershipServiceClient<Channel>,
    shops: usize,
) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for i in 0..shops {
        let shop = super::create_shop(client, &format!("expiry-{i}")).await?;
        client
            .update_program_settings(as_actor(
                &Actor::Operator,
                pb::UpdateProgramSettingsRequest {
                    request_id: format!("expiry-settings-{i}"),
                    shop_id: shop.clone(),
                    points_expiry_enabled: Some(true),
                    ..Default::default()
                },
            ))
            .await?;
        ids.push(shop);
    }
    Ok(ids)
}

/// Every member earns [`SEED_POINTS`] through one confirmed order, `clients` calls at a time.
async fn seed(
    channel: &Channel,
    shops: &[String],
    members: usize,
    clients: usize,
    at: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let orders: Vec<(String, String)> = (0..members)
        .map(|i| (shops[i % shops.len()].clone(), format!("m{i:07}")))
        .collect();
    let orders = Arc::new(orders);
    let mut tasks = Vec::new();
    for worker in 0..clients.max(1) {
        let orders = orders.clone();
        let mut grpc = MembershipServiceClient::new(channel.clone());
        tasks.push(tokio::spawn(async move {
            for (call, chunk) in orders.chunks(SEED_BATCH).enumerate() {
                if call % clients.max(1) != worker {
                    continue;
                }
                let events = chunk
                    .iter()
                    .flat_map(|(shop, user)| order(shop, user, &format!("seed-{user}"), at))
                    .collect();
                let request = pb::BatchReportOrderEventsRequest {
                    request_id: format!("seed-{call}"),
                    events,
                };
                grpc.batch_report_order_events(as_actor(&order_system(), request))
                    .await?;
            }
            Ok::<_, tonic::Status>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Reports orders from `clients` clients until `stop`; returns the per-call latencies.
async fn ingest(
    channel: &Channel,
    shops: &[String],
    members: usize,
    args: &ExpiryArgs,
    label: &'static str,
    stop: Arc<AtomicBool>,
    at: chrono::DateTime<Utc>,
) -> anyhow::Result<Latencies> {
    let mut tasks = Vec::new();
    for id in 0..args.clients {
        let mut grpc = MembershipServiceClient::new(channel.clone());
        let shops = shops.to_vec();
        let stop = stop.clone();
        let batch = args.batch;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::default();
            let mut call = 0usize;
            while !stop.load(Ordering::Relaxed) {
                call += 1;
                let events = (0..batch)
                    .flat_map(|k| {
                        // members spread over the whole key space, so some fall in the chunk
                        // the expiry holds
                        let i = (call * 7_919 + k * 104_729 + id * 15_485_863) % members;
                        let shop = &shops[i % shops.len()];
                        order(
                            shop,
                            &format!("m{i:07}"),
                            &format!("{label}-{id}-{call}-{k}"),
                            at,
                        )
                    })
                    .collect();
                let request = pb::BatchReportOrderEventsRequest {
                    request_id: format!("{label}-{id}-{call}"),
                    events,
                };
                let started = Instant::now();
                grpc.batch_report_order_events(as_actor(&order_system(), request))
                    .await?;
                latencies.record(started.elapsed());
            }
            Ok::<_, tonic::Status>(latencies)
        }));
    }
    let mut all = Latencies::default();
    for task in tasks {
        all.merge(task.await??);
    }
    Ok(all)
}

pub(crate) async fn run(args: ExpiryArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.shops > 0 && args.members > 0,
        "--shops and --members must be positive"
    );
    let db = super::fresh_database(&[&membership_svc::MIGRATOR]).await?;
    let now = Utc::now();
    let clock = ManualClock::new(now);
    let (channel, _, running) =
        super::start_membership_at(&db, 12, Arc::new(clock.clone())).await?;
    let mut client = MembershipServiceClient::new(channel.clone());
    let shops = prepare(&mut client, args.shops).await?;
    println!(
        "expiry: seeding {} members over {} shops, {} points each ...",
        args.members, args.shops, SEED_POINTS
    );
    let seeding = Instant::now();
    seed(&channel, &shops, args.members, 4, now).await?;
    println!("expiry: seeded in {:.1} s", seeding.elapsed().as_secs_f64());

    // The cliff: the end of next year in Shanghai (the default zone), plus a minute.
    let shanghai =
        chrono::FixedOffset::east_opt(8 * 3600).ok_or_else(|| anyhow::anyhow!("no such offset"))?;
    let cliff = shanghai
        .with_ymd_and_hms(now.year() + 2, 1, 1, 0, 1, 0)
        .single()
        .ok_or_else(|| anyhow::anyhow!("no such time"))?
        .with_timezone(&Utc);
    clock.set(cliff);

    println!(
        "expiry: baseline: {} clients reporting orders for {} s, no expiry ...",
        args.clients, args.baseline
    );
    let stop = Arc::new(AtomicBool::new(false));
    let baseline = {
        let stop_later = stop.clone();
        let wait = Duration::from_secs(args.baseline);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            stop_later.store(true, Ordering::Relaxed);
        });
        ingest(&channel, &shops, args.members, &args, "base", stop, cliff).await?
    };

    println!("expiry: the platform-wide expiry, while the same clients report orders ...");
    let stop = Arc::new(AtomicBool::new(false));
    let during = {
        let channel = channel.clone();
        let shops = shops.clone();
        let stop = stop.clone();
        let args = args.clone();
        tokio::spawn(async move {
            ingest(&channel, &shops, args.members, &args, "during", stop, cliff).await
        })
    };
    // What the hourly sweep runs (a platform-wide expiry of this size outlasts one RPC's
    // deadline; the sweep is not bound by one).
    let pool = db.pool(2).await?;
    let started = Instant::now();
    let (expired_lots, expired_points) =
        membership_svc::maintenance::expire_due(&pool, None, cliff)
            .await
            .map_err(|e| anyhow::anyhow!("expiry: {e}"))?;
    let sweep_seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut during = during.await??;
    let mut baseline = baseline;

    let chunk = membership_svc::maintenance::EXPIRY_CHUNK_MEMBERS;
    let chunks = (args.members as f64 / chunk as f64).ceil().max(1.0);
    let chunk_ms = sweep_seconds * 1000.0 / chunks;
    let expected_points = args.members as i64 * SEED_POINTS;
    let invariants_ok = expired_points == expected_points && expired_lots == args.members as i64;
    pool.close().await;
    let (base_p50, base_p99, base_max) = (
        baseline.percentile_ms(50.0),
        baseline.percentile_ms(99.0),
        baseline.percentile_ms(100.0),
    );
    let (p50, p99, max) = (
        during.percentile_ms(50.0),
        during.percentile_ms(99.0),
        during.percentile_ms(100.0),
    );
    println!(
        "expiry: {} lots, {} points expired in {sweep_seconds:.1} s ({chunks} chunks of {chunk} members, {chunk_ms:.0} ms each on average); expected {} points: {}",
        expired_lots,
        expired_points,
        expected_points,
        if invariants_ok { "ok" } else { "VIOLATED" }
    );
    println!(
        "expiry: ingest per call ({} orders): baseline p50 {base_p50:.1} / p99 {base_p99:.1} / max {base_max:.1} ms ({} calls); during the expiry p50 {p50:.1} / p99 {p99:.1} / max {max:.1} ms ({} calls)",
        args.batch,
        baseline.len(),
        during.len()
    );
    println!(
        "expiry: one transaction for the whole expiry would have held its members' rows for {sweep_seconds:.1} s"
    );
    running.shutdown().await;
    super::print_json_line(&serde_json::json!({
        "bench": "expiry",
        "shops": args.shops,
        "members": args.members,
        "clients": args.clients,
        "sweep_s": super::round2(sweep_seconds),
        "chunk_members": chunk,
        "chunk_ms_avg": super::round2(chunk_ms),
        "ingest_baseline_p99_ms": super::round2(base_p99),
        "ingest_baseline_max_ms": super::round2(base_max),
        "ingest_during_p50_ms": super::round2(p50),
        "ingest_during_p99_ms": super::round2(p99),
        "ingest_during_max_ms": super::round2(max),
        "one_transaction_stall_s": super::round2(sweep_seconds),
        "invariants_ok": invariants_ok,
    }));
    Ok(())
}
