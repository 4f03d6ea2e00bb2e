//! `memberhub loadgen levels`: LV-5's bulk recompute. Seeds N members through the order
//! RPC, then changes the ladder once and times the UpdateLevelRules call, whose one
//! statement moves every member to the level their totals now meet.

use std::time::Instant;

use memberhub_kit::actor::Actor;
use memberhub_kit::clock::to_timestamp;
use memberhub_kit::testing::as_actor;
use memberhub_proto::membership as pb;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;

#[derive(Debug, clap::Args)]
pub(crate) struct LevelsArgs {
    /// Members to seed before the rule change.
    #[arg(long, default_value_t = 100_000)]
    pub members: usize,
}

#[derive(Debug, serde::Serialize)]
struct LevelsReport {
    bench: &'static str,
    members: usize,
    seed_events_per_s: f64,
    recompute_ms: f64,
    members_per_s: f64,
    invariants_ok: bool,
}

/// Member `i`'s confirmed spend: spread over 0..2,000 yuan so every level gets members.
fn spend_of(i: usize) -> i64 {
    ((i * 7_919) % 200_000) as i64
}

fn condition(spend: i64) -> Option<pb::LevelCondition> {
    Some(pb::LevelCondition {
        min_spend_fen: Some(spend),
        min_order_count: None,
        operator: pb::ConditionOperator::And.into(),
    })
}

pub(crate) async fn run(args: LevelsArgs) -> anyhow::Result<()> {
    let db = super::fresh_database(&[&membership_svc::MIGRATOR]).await?;
    let (channel, running) = super::start_membership(&db, 8).await?;
    let mut client = MembershipServiceClient::new(channel.clone());
    let shop = super::create_shop(&mut client, "levels").await?;

    // Seed: one confirmed order per member (a confirmation implies the payment: OR-2 join).
    println!(
        "levels: seeding {} members through BatchReportOrderEvents ...",
        args.members
    );
    let service = Actor::Service {
        name: "order-system".into(),
    };
    let started = Instant::now();
    let now = Some(to_timestamp(chrono::Utc::now()));
    let batches: Vec<Vec<pb::OrderEvent>> = (0..args.members)
        .map(|i| pb::OrderEvent {
            r#type: pb::OrderEventType::ReceiptConfirmed.into(),
            order_id: format!("levels-order-{i}"),
            shop_id: shop.clone(),
            user_id: format!("levels-user-{i}"),
            amount_fen: spend_of(i),
            refund_id: String::new(),
            lines: Vec::new(),
            occur_time: now,
        })
        .collect::<Vec<_>>()
        .chunks(1_000)
        .map(<[pb::OrderEvent]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for (lane, lane_batches) in batches.chunks(batches.len().div_ceil(4).max(1)).enumerate() {
        let (mut grpc, service, lane_batches) = (
            MembershipServiceClient::new(channel.clone()),
            service.clone(),
            lane_batches.to_vec(),
        );
        tasks.push(tokio::spawn(async move {
            for (i, events) in lane_batches.into_iter().enumerate() {
                let request = pb::BatchReportOrderEventsRequest {
                    request_id: format!("levels-seed-{lane}-{i}"),
                    events,
                };
                grpc.batch_report_order_events(as_actor(&service, request))
                    .await?;
            }
            Ok::<_, tonic::Status>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let seed_rate = args.members as f64 / started.elapsed().as_secs_f64();
    println!("levels: seeded at {seed_rate:.0} events/s");

    // The rule change: level 2 from 500 yuan, level 3 from 1,500 yuan.
    let ladder = vec![
        pb::LevelDefinition {
            level: 1,
            name: String::new(),
            condition: None,
        },
        pb::LevelDefinition {
            level: 2,
            name: "Silver".into(),
            condition: condition(50_000),
        },
        pb::LevelDefinition {
            level: 3,
            name: "Gold".into(),
            condition: condition(150_000),
        },
    ];
    let started = Instant::now();
    client
        .update_level_rules(as_actor(
            &Actor::Operator,
            pb::UpdateLevelRulesRequest {
                request_id: "levels-change".into(),
                shop_id: shop.clone(),
                levels: ladder,
            },
        ))
        .await?;
    let recompute = started.elapsed().as_secs_f64();
    println!(
        "levels: UpdateLevelRules recomputed {} members in {:.0} ms",
        args.members,
        recompute * 1000.0
    );

    // Every level holds exactly the members whose spend meets it.
    let mut ok = true;
    for (level, expected) in [
        (
            1,
            (0..args.members).filter(|i| spend_of(*i) < 50_000).count(),
        ),
        (
            2,
            (0..args.members)
                .filter(|i| (50_000..150_000).contains(&spend_of(*i)))
                .count(),
        ),
        (
            3,
            (0..args.members)
                .filter(|i| spend_of(*i) >= 150_000)
                .count(),
        ),
    ] {
        let page = client
            .list_members(as_actor(
                &Actor::Operator,
                pb::ListMembersRequest {
                    shop_id: shop.clone(),
                    page_size: 1,
                    level,
                    ..Default::default()
                },
            ))
            .await?
            .into_inner();
        println!(
            "levels: level {level}: {} members (expected {expected})",
            page.total_size
        );
        ok &= page.total_size == expected as i64;
    }
    running.shutdown().await;
    println!(
        "{}",
        serde_json::to_string(&LevelsReport {
            bench: "levels",
            members: args.members,
            seed_events_per_s: seed_rate.round(),
            recompute_ms: (recompute * 1000.0).round(),
            members_per_s: (args.members as f64 / recompute).round(),
            invariants_ok: ok,
        })?
    );
    Ok(())
}
