//! OR-1..OR-4 under hostile delivery: the same 1,000 order events delivered by 8 concurrent
//! tasks, each in its own shuffled order, through the single and the batch RPC,
//! leave totals, levels and the ledger exactly as one in-order delivery does; per asset the
//! ledger sums to zero.

mod support;

use std::collections::BTreeMap;

use memberhub_kit::actor::Actor;
use memberhub_kit::clock::to_timestamp;
use memberhub_kit::testing::TestResult;
use memberhub_proto::common::ShopType;
use memberhub_proto::membership as pb;
use support::*;

const USERS: usize = 60;
const EVENTS: usize = 1_000;
const TASKS: usize = 8;

fn order_system() -> Actor {
    Actor::Service {
        name: "order-system".into(),
    }
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Orders with payment, confirmation and 0..2 partial refunds, in history order, until
/// `EVENTS` events exist. Each event is returned for a shop id filled in later.
fn history(seed: u64) -> Vec<pb::OrderEvent> {
    let mut rng = Lcg(seed);
    let base = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH + chrono::Duration::days(20_000);
    let mut events = Vec::new();
    let mut order = 0;
    while events.len() < EVENTS {
        order += 1;
        let user = format!("replay-user-{}", rng.below(USERS));
        let amount = 1_000 + (rng.below(50_000) as i64);
        let at = |minutes: i64| {
            Some(to_timestamp(
                base + chrono::Duration::minutes(order * 10 + minutes),
            ))
        };
        let event = |kind: pb::OrderEventType, amount_fen: i64, refund_id: String, occur_time| {
            pb::OrderEvent {
                r#type: kind.into(),
                order_id: format!("replay-order-{order}"),
                shop_id: String::new(),
                user_id: user.clone(),
                amount_fen,
                refund_id,
                lines: Vec::new(),
                occur_time,
            }
        };
        events.push(event(
            pb::OrderEventType::Paid,
            amount,
            String::new(),
            at(0),
        ));
        events.push(event(
            pb::OrderEventType::ReceiptConfirmed,
            amount,
            String::new(),
            at(1),
        ));
        for r in 0..rng.below(3) {
            let refund = 1 + (rng.below(amount as usize / 3) as i64);
            events.push(event(
                pb::OrderEventType::Refunded,
                refund,
                format!("refund-{r}"),
                at(2 + r as i64),
            ));
        }
    }
    events.truncate(EVENTS);
    events
}

async fn prepare_shop(h: &mut Harness) -> anyhow::Result<String> {
    let shop = register_shop(h, "Replay Shop", ShopType::Pop)
        .await?
        .shop_id;
    let merchant = merchant(&shop);
    h.client
        .set_join_policy(req(
            &merchant,
            pb::SetJoinPolicyRequest {
                request_id: rid("policy"),
                shop_id: shop.clone(),
                join_policy: pb::JoinPolicy::OrderOrCard.into(),
            },
        ))
        .await?;
    h.client
        .update_program_settings(req(
            &merchant,
            pb::UpdateProgramSettingsRequest {
                request_id: rid("settings"),
                shop_id: shop.clone(),
                points_per_yuan: Some(3),
                ..Default::default()
            },
        ))
        .await?;
    let condition = |spend: Option<i64>, count: Option<i64>, op: pb::ConditionOperator| {
        Some(pb::LevelCondition {
            min_spend_fen: spend,
            min_order_count: count,
            operator: op.into(),
        })
    };
    h.client
        .update_level_rules(req(
            &merchant,
            pb::UpdateLevelRulesRequest {
                request_id: rid("levels"),
                shop_id: shop.clone(),
                levels: vec![
                    pb::LevelDefinition {
                        level: 1,
                        name: String::new(),
                        condition: None,
                    },
                    pb::LevelDefinition {
                        level: 2,
                        name: "Silver".into(),
                        condition: condition(Some(50_000), Some(3), pb::ConditionOperator::Or),
                    },
                    pb::LevelDefinition {
                        level: 3,
                        name: "Gold".into(),
                        condition: condition(Some(150_000), Some(6), pb::ConditionOperator::And),
                    },
                ],
            },
        ))
        .await?;
    // The same multiplier on every level: points must not depend on which of a shopper's
    // orders is confirmed first, or no two delivery orders could agree.
    for level in 1..=3 {
        h.client
            .update_level_benefits(req(
                &merchant,
                pb::UpdateLevelBenefitsRequest {
                    request_id: rid("benefits"),
                    shop_id: shop.clone(),
                    level,
                    benefits: Some(pb::LevelBenefits {
                        points_multiplier_percent: 150,
                        ..Default::default()
                    }),
                },
            ))
            .await?;
    }
    Ok(shop)
}

fn for_shop(events: &[pb::OrderEvent], shop: &str) -> Vec<pb::OrderEvent> {
    events
        .iter()
        .cloned()
        .map(|mut e| {
            e.shop_id = shop.to_string();
            e
        })
        .collect()
}

/// What a shop ended with: per shopper (state, level, spend, orders, points) and the
/// multiset of points transfers (reason, amount, shortfall).
async fn outcome(
    h: &Harness,
    shop: &str,
) -> anyhow::Result<(
    BTreeMap<String, (String, i32, i64, i64, i64)>,
    Vec<(String, i64, i64)>,
)> {
    let pool = h.db.pool(1).await?;
    let shop_id: uuid::Uuid = shop.parse()?;
    let members: Vec<(String, String, i32, i64, i64, i64)> = sqlx::query_as(
        "SELECT m.user_id, m.state, m.level, m.total_spend_fen, m.order_count, COALESCE(a.balance, 0)
         FROM membership.members m LEFT JOIN membership.accounts a
           ON a.shop_id = m.shop_id AND a.kind = 'MEMBER' AND a.owner = m.user_id AND a.asset = 'POINTS'
         WHERE m.shop_id = $1",
    )
    .bind(shop_id)
    .fetch_all(&pool)
    .await?;
    // Points moved per order and direction: how a total reversal splits between two
    // refunds of one order depends on their arrival order (OR-4's cumulative floor), the
    // per-order totals do not.
    let transfers: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT split_part(reason, ' ', 2) || CASE WHEN to_kind = 'MEMBER' THEN ' earned' ELSE ' reversed' END,
                sum(amount)::bigint, sum(shortfall)::bigint
         FROM membership.transfers WHERE shop_id = $1 GROUP BY 1 ORDER BY 1",
    )
    .bind(shop_id)
    .fetch_all(&pool)
    .await?;
    let members = members
        .into_iter()
        .map(|(u, s, l, sp, o, p)| (u, (s, l, sp, o, p)))
        .collect();
    Ok((members, transfers))
}

#[tokio::test]
async fn or1_redelivered_shuffled_concurrent_events_equal_one_in_order_delivery() -> TestResult {
    let mut h = start().await?;
    let events = history(7);
    let reference_shop = prepare_shop(&mut h).await?;
    let hostile_shop = prepare_shop(&mut h).await?;

    // Reference: once, in history order, 100 per batch.
    for (i, chunk) in for_shop(&events, &reference_shop).chunks(100).enumerate() {
        h.client
            .batch_report_order_events(req(
                &order_system(),
                pb::BatchReportOrderEventsRequest {
                    request_id: format!("reference-{i}"),
                    events: chunk.to_vec(),
                },
            ))
            .await?;
    }

    // Hostile: 8 tasks, each replaying every event in its own shuffled order; six send
    // batches of 1..40 events, two send one event per call.
    let hostile = for_shop(&events, &hostile_shop);
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let mut client = h.client.clone();
        let mut mine: Vec<pb::OrderEvent> = hostile.clone();
        let mut rng = Lcg(1_000 + task as u64);
        rng.shuffle(&mut mine);
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            let mut sent = 0;
            while i < mine.len() {
                let size = if task % 4 != 3 { 1 + rng.below(40) } else { 1 };
                let chunk: Vec<pb::OrderEvent> = mine[i..(i + size).min(mine.len())].to_vec();
                i += chunk.len();
                sent += 1;
                if task % 4 != 3 {
                    client
                        .batch_report_order_events(req(
                            &order_system(),
                            pb::BatchReportOrderEventsRequest {
                                request_id: format!("hostile-{task}-{sent}"),
                                events: chunk,
                            },
                        ))
                        .await?;
                } else {
                    client
                        .report_order_event(req(
                            &order_system(),
                            pb::ReportOrderEventRequest {
                                request_id: format!("hostile-{task}-{sent}"),
                                event: chunk.into_iter().next(),
                            },
                        ))
                        .await?;
                }
            }
            Ok::<_, tonic::Status>(())
        }));
    }
    for task in tasks {
        task.await??;
    }

    let (reference_members, reference_transfers) = outcome(&h, &reference_shop).await?;
    let (hostile_members, hostile_transfers) = outcome(&h, &hostile_shop).await?;
    assert!(
        reference_members.len() >= USERS * 9 / 10,
        "most shoppers ordered"
    );
    assert!(
        reference_members.values().any(|m| m.1 == 3),
        "the history reaches level 3"
    );
    assert!(
        reference_members.values().any(|m| m.1 == 2),
        "the history reaches level 2"
    );
    assert_eq!(hostile_members, reference_members);
    let only_reference: Vec<_> = reference_transfers
        .iter()
        .filter(|t| !hostile_transfers.contains(t))
        .collect();
    let only_hostile: Vec<_> = hostile_transfers
        .iter()
        .filter(|t| !reference_transfers.contains(t))
        .collect();
    assert!(
        only_reference.is_empty()
            && only_hostile.is_empty()
            && hostile_transfers.len() == reference_transfers.len(),
        "transfers differ: only in-order {only_reference:?}, only hostile {only_hostile:?}"
    );

    // PT-1: per asset the ledger sums to zero, and every kept balance equals its entries
    // and (for points) its open lots.
    let pool = h.db.pool(1).await?;
    let unbalanced: Vec<(String, i64)> = sqlx::query_as(
        "SELECT asset, sum(delta)::bigint FROM membership.ledger_entries GROUP BY asset HAVING sum(delta) <> 0",
    )
    .fetch_all(&pool)
    .await?;
    assert!(unbalanced.is_empty(), "{unbalanced:?}");
    let drifted: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT a.owner, a.balance, COALESCE((SELECT sum(remaining) FROM membership.points_lots l
                                             WHERE l.shop_id = a.shop_id AND l.user_id = a.owner), 0)::bigint
         FROM membership.accounts a WHERE a.kind = 'MEMBER' AND a.asset = 'POINTS'
           AND (a.balance <> (SELECT COALESCE(sum(delta), 0) FROM membership.ledger_entries e
                              WHERE e.shop_id = a.shop_id AND e.kind = 'MEMBER' AND e.owner = a.owner AND e.asset = 'POINTS')
             OR a.balance <> COALESCE((SELECT sum(remaining) FROM membership.points_lots l
                                       WHERE l.shop_id = a.shop_id AND l.user_id = a.owner), 0))",
    )
    .fetch_all(&pool)
    .await?;
    assert!(drifted.is_empty(), "{drifted:?}");
    Ok(())
}
