//! `memberhub loadgen orders`: order events/s through `BatchReportOrderEvents` (OR-1..OR-4)
//! against `pgbench -b tpcb-like` on the same Postgres, same client count, same run.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use memberhub_kit::actor::Actor;
use memberhub_kit::clock::to_timestamp;
use memberhub_kit::testing::as_actor;
use memberhub_proto::membership as pb;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;
use tonic::transport::Channel;

use super::{Latencies, Report};

#[derive(Debug, clap::Args)]
pub(crate) struct OrdersArgs {
    /// Concurrent gRPC clients (and pgbench clients).
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Seconds of load (and of pgbench).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Events per BatchReportOrderEvents call.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    #[arg(long, default_value_t = 4)]
    pub shops: usize,
    /// Shoppers per shop.
    #[arg(long, default_value_t = 500)]
    pub users: usize,
}

/// (spend, orders, points) a shopper must end with.
type Expected = HashMap<(String, String), (i64, i64, i64)>;
/// What one order does to one shopper's (shop, user) totals.
type Effect = ((String, String), (i64, i64, i64));

struct Client {
    id: usize,
    shops: Vec<String>,
    users: usize,
    batch: usize,
    seed: u64,
    next_order: u64,
}

impl Client {
    fn random(&mut self, n: usize) -> usize {
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.seed >> 33) % n as u64) as usize
    }

    /// The next batch: whole orders (paid, confirmed, every fifth partly refunded) and what
    /// they must do to each shopper's totals when applied.
    fn next_batch(&mut self) -> (Vec<pb::OrderEvent>, Vec<Effect>) {
        let (mut events, mut effects) = (Vec::with_capacity(self.batch + 2), Vec::new());
        let now = Some(to_timestamp(chrono::Utc::now()));
        while events.len() < self.batch {
            self.next_order += 1;
            let pick = self.random(self.shops.len());
            let shop = self.shops[pick].clone();
            let user = format!("lg-user-{}", self.random(self.users));
            let order_id = format!("lg-{}-{}", self.id, self.next_order);
            let amount = 1_000 + self.random(100_000) as i64;
            let event =
                |kind: pb::OrderEventType, amount_fen: i64, refund_id: &str| pb::OrderEvent {
                    r#type: kind.into(),
                    order_id: order_id.clone(),
                    shop_id: shop.clone(),
                    user_id: user.clone(),
                    amount_fen,
                    refund_id: refund_id.into(),
                    lines: Vec::new(),
                    occur_time: now,
                };
            events.push(event(pb::OrderEventType::Paid, amount, ""));
            events.push(event(pb::OrderEventType::ReceiptConfirmed, amount, ""));
            // OR-4 at 1 point per yuan, 1x: floor(amount / 100).
            let points = amount / 100;
            let (mut spend, mut reversed) = (amount, 0);
            if self.next_order.is_multiple_of(5) {
                let refund = 1 + self.random(amount as usize / 2) as i64;
                events.push(event(pb::OrderEventType::Refunded, refund, "r1"));
                spend -= refund;
                reversed = points * refund / amount;
            }
            effects.push(((shop, user), (spend, 1, points - reversed)));
        }
        (events, effects)
    }
}

async fn prepare(
    client: &mut MembershipServiceClient<Channel>,
    shops: usize,
) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for i in 0..shops {
        ids.push(super::create_shop(client, &format!("orders-{i}")).await?);
    }
    Ok(ids)
}

/// Runs the clients until the deadline; returns applied events, latencies, errors, expected.
async fn drive(
    channel: Channel,
    shops: &[String],
    args: &OrdersArgs,
) -> anyhow::Result<(u64, Latencies, u64, Expected)> {
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let service = Actor::Service {
        name: "order-system".into(),
    };
    let mut tasks = Vec::new();
    for id in 0..args.clients {
        let mut grpc = MembershipServiceClient::new(channel.clone());
        let mut client = Client {
            id,
            shops: shops.to_vec(),
            users: args.users,
            batch: args.batch,
            seed: id as u64 + 1,
            next_order: 0,
        };
        let service = service.clone();
        tasks.push(tokio::spawn(async move {
            let (mut events, mut errors, mut latencies, mut expected) = (0u64, 0u64, Latencies::default(), Expected::new());
            let mut call = 0;
            while Instant::now() < deadline {
                call += 1;
                let (batch, effects) = client.next_batch();
                let size = batch.len() as u64;
                let started = Instant::now();
                let request = pb::BatchReportOrderEventsRequest { request_id: format!("loadgen-{id}-{call}"), events: batch };
                match grpc.batch_report_order_events(as_actor(&service, request)).await {
                    Ok(_) => {
                        latencies.record(started.elapsed());
                        events += size;
                        for (key, (spend, orders, points)) in effects {
                            let e = expected.entry(key).or_insert((0, 0, 0));
                            *e = (e.0 + spend, e.1 + orders, e.2 + points);
                        }
                    }
                    Err(status) => {
                        errors += 1;
                        tracing::warn!(code = ?status.code(), message = status.message(), "batch failed");
                    }
                }
            }
            (events, latencies, errors, expected)
        }));
    }
    let (mut events, mut latencies, mut errors, mut expected) =
        (0, Latencies::default(), 0, Expected::new());
    for task in tasks {
        let (e, l, err, exp) = task.await?;
        events += e;
        errors += err;
        latencies.merge(l);
        for (key, (spend, orders, points)) in exp {
            let v = expected.entry(key).or_insert((0, 0, 0));
            *v = (v.0 + spend, v.1 + orders, v.2 + points);
        }
    }
    Ok((events, latencies, errors, expected))
}

/// Every shopper's totals and points, read back through ListMembers, equal the sums of
/// what was acknowledged.
async fn check(
    client: &mut MembershipServiceClient<Channel>,
    shops: &[String],
    expected: &Expected,
) -> anyhow::Result<bool> {
    let mut actual = Expected::new();
    for shop in shops {
        let mut token = String::new();
        loop {
            let page = client
                .list_members(as_actor(
                    &Actor::Operator,
                    pb::ListMembersRequest {
                        shop_id: shop.clone(),
                        page_size: 200,
                        page_token: token.clone(),
                        ..Default::default()
                    },
                ))
                .await?
                .into_inner();
            for m in page.members {
                actual.insert(
                    (shop.clone(), m.user_id),
                    (m.total_spend_fen, m.order_count, m.points_balance),
                );
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
    }
    let ok = actual == *expected;
    if !ok {
        let wrong = expected
            .iter()
            .filter(|(k, v)| actual.get(*k) != Some(v))
            .count();
        println!(
            "invariant violated: {wrong} of {} shoppers differ from the acknowledged events",
            expected.len()
        );
    }
    Ok(ok)
}

pub(crate) async fn run(args: OrdersArgs) -> anyhow::Result<()> {
    let db = super::fresh_database(&[&membership_svc::MIGRATOR]).await?;
    let pool_size = (args.clients as u32).clamp(4, 16);
    let (channel, running) = super::start_membership(&db, pool_size).await?;
    let mut client = MembershipServiceClient::new(channel.clone());
    let shops = prepare(&mut client, args.shops).await?;
    println!(
        "orders: {} clients x batches of {} events for {} s, {} shops x {} shoppers",
        args.clients, args.batch, args.duration, args.shops, args.users
    );
    let started = Instant::now();
    let (events, mut latencies, errors, expected) = drive(channel, &shops, &args).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let throughput = events as f64 / elapsed;
    let (p50, p99) = (latencies.percentile_ms(50.0), latencies.percentile_ms(99.0));
    println!(
        "orders: {events} events in {elapsed:.1} s = {throughput:.0} events/s; per batch p50 {p50:.1} ms, p99 {p99:.1} ms; {errors} failed batches"
    );
    let invariants_ok = errors == 0 && check(&mut client, &shops, &expected).await?;
    println!(
        "orders: baseline pgbench -b tpcb-like, scale {0}, {0} clients, {1} s ...",
        args.clients, args.duration
    );
    let baseline = super::pgbench_tps(
        &super::server_of(&db),
        args.clients as u32,
        args.clients,
        args.duration,
        &["-b", "tpcb-like"],
    )
    .await?;
    println!("orders: baseline {baseline:.0} tps");
    running.shutdown().await;
    Report {
        bench: "orders",
        clients: args.clients,
        throughput_per_s: throughput.round(),
        p50_ms: (p50 * 100.0).round() / 100.0,
        p99_ms: (p99 * 100.0).round() / 100.0,
        baseline_per_s: baseline.round(),
        ratio: ((throughput / baseline) * 100.0).round() / 100.0,
        invariants_ok,
    }
    .print()
}
