//! LV-1..LV-6 and MP-6 through the real gRPC interface on real Postgres.

mod support;

use chrono::Duration;
use memberhub_kit::testing::TestResult;
use memberhub_proto::membership as pb;
use pb::ConditionOperator::{And, Or};
use support::*;
use tonic::Code;

/// A ladder of `n` levels: level k (k ≥ 2) needs k × 100 yuan of spend.
fn spend_ladder(n: i32) -> Vec<pb::LevelDefinition> {
    (1..=n)
        .map(|k| {
            if k == 1 {
                level_one()
            } else {
                rung(k, "", Some(i64::from(k) * 10_000), None, And)
            }
        })
        .collect()
}

fn names(rules: &pb::LevelRules) -> Vec<String> {
    rules.levels.iter().map(|l| l.name.clone()).collect()
}

fn codes_at(warnings: &[pb::Warning], level: i32) -> Vec<String> {
    let mut codes: Vec<String> = warnings
        .iter()
        .filter(|w| w.level == level)
        .map(|w| w.code.clone())
        .collect();
    codes.sort();
    codes
}

// ------------------------------------------------------------------------------ LV-1

#[tokio::test]
async fn lv1_a_new_program_has_level_1_named_1星级_with_no_condition_and_no_change_yet()
-> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let rules = level_rules(&h, &shop).await?;
    assert_eq!(rules.levels.len(), 1);
    let one = &rules.levels[0];
    assert_eq!((one.level, one.name.as_str()), (1, "1星级"));
    assert_eq!(one.condition, None);
    assert_eq!(rules.last_change_time, None);
    assert_eq!(
        rules.next_change_allowed_time, None,
        "a change is allowed now"
    );
    Ok(())
}

#[tokio::test]
async fn lv1_empty_names_take_the_defaults_1星级_to_5星级() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let saved = set_ladder(&h, &shop, spend_ladder(5)).await?;
    let rules = saved.rules.unwrap_or_default();
    assert_eq!(names(&rules), ["1星级", "2星级", "3星级", "4星级", "5星级"]);
    assert_eq!(level_rules(&h, &shop).await?.levels, rules.levels);
    Ok(())
}

#[tokio::test]
async fn lv1_a_ladder_of_no_levels_or_six_levels_is_invalid_on_levels() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    for levels in [Vec::new(), spend_ladder(6)] {
        let status = refused(set_ladder(&h, &shop, levels).await)?;
        assert_invalid(&status, "levels");
    }
    assert_eq!(level_rules(&h, &shop).await?.levels.len(), 1);
    Ok(())
}

#[tokio::test]
async fn lv1_level_1_cannot_be_deleted_and_levels_are_numbered_1_to_n() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    // Without level 1: the first entry must be level 1.
    let without_one = vec![rung(2, "", Some(10_000), None, And)];
    let status = refused(set_ladder(&h, &shop, without_one).await)?;
    assert_invalid(&status, "levels[0].level");
    // A gap: 1, 3.
    let gap = vec![level_one(), rung(3, "", Some(10_000), None, And)];
    let status = refused(set_ladder(&h, &shop, gap).await)?;
    assert_invalid(&status, "levels[1].level");
    // Out of order: 1, 3, 2.
    let shuffled = vec![
        level_one(),
        rung(3, "", Some(20_000), None, And),
        rung(2, "", Some(10_000), None, And),
    ];
    let status = refused(set_ladder(&h, &shop, shuffled).await)?;
    assert_invalid(&status, "levels[1].level");
    assert_eq!(
        level_rules(&h, &shop).await?.last_change_time,
        None,
        "a refused ladder is not a change"
    );
    Ok(())
}

#[tokio::test]
async fn lv1_level_names_are_1_to_10_characters_without_control_characters() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    for bad in ["金".repeat(11), "Gold\nVIP".into(), "Gold\u{0}".into()] {
        let levels = vec![level_one(), rung(2, &bad, Some(10_000), None, And)];
        let status = refused(set_ladder(&h, &shop, levels).await)?;
        assert_invalid(&status, "levels[1].name");
    }
    let ten = "金".repeat(10);
    let levels = vec![level_one(), rung(2, &ten, Some(10_000), None, And)];
    let saved = set_ladder(&h, &shop, levels).await?;
    assert_eq!(
        names(&saved.rules.unwrap_or_default()),
        ["1星级".into(), ten]
    );
    Ok(())
}

#[tokio::test]
async fn lv1_merchant_may_rename_level_1_and_a_rename_is_a_level_change() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let renamed = vec![rung(1, "新会员", None, None, And)];
    let saved = set_ladder(&h, &shop, renamed).await?;
    let rules = saved.rules.unwrap_or_default();
    assert_eq!(names(&rules), ["新会员"]);
    assert_eq!(time_of(rules.last_change_time.as_ref())?, t0());
    h.clock.advance(Duration::days(1));
    let again = vec![rung(1, "老会员", None, None, And)];
    let status = refused(set_ladder(&h, &shop, again).await)?;
    assert_precondition(&status, "LEVEL_CHANGE_TOO_SOON");
    assert_eq!(names(&level_rules(&h, &shop).await?), ["新会员"]);
    Ok(())
}

// ------------------------------------------------------------------------------ LV-2

#[tokio::test]
async fn lv2_level_1_with_a_condition_is_invalid_on_its_condition() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    for (spend, count) in [(Some(100), None), (None, Some(1))] {
        let levels = vec![rung(1, "", spend, count, And)];
        let status = refused(set_ladder(&h, &shop, levels).await)?;
        assert_invalid(&status, "levels[0].condition");
    }
    Ok(())
}

#[tokio::test]
async fn lv2_every_member_holds_level_1_whatever_they_did() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::OrderOrCard).await?;
    set_ladder(&h, &shop, spend_ladder(2)).await?;
    // One joins by opening the card (no order at all), one by a small order.
    assert_eq!(
        open_card(&h, &shop, "carded", "13800000001").await?.level,
        1
    );
    paid_and_confirmed(&h, &shop, "ordered", "o-1", 100).await?;
    assert_eq!(membership(&h, &shop, "ordered").await?.level, 1);
    Ok(())
}

// ------------------------------------------------------------------------------ LV-3

#[tokio::test]
async fn lv3_a_higher_level_without_a_threshold_is_invalid_on_its_condition() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let levels = vec![level_one(), rung(2, "Silver", None, None, And)];
    let status = refused(set_ladder(&h, &shop, levels).await)?;
    assert_invalid(&status, "levels[1].condition");
    Ok(())
}

#[tokio::test]
async fn lv3_zero_or_negative_thresholds_are_invalid_naming_the_threshold() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    for spend in [0, -1] {
        let levels = vec![level_one(), rung(2, "", Some(spend), None, And)];
        let status = refused(set_ladder(&h, &shop, levels).await)?;
        assert_invalid(&status, "levels[1].condition.min_spend_fen");
    }
    for count in [0, -3] {
        let levels = vec![level_one(), rung(2, "", None, Some(count), And)];
        let status = refused(set_ladder(&h, &shop, levels).await)?;
        assert_invalid(&status, "levels[1].condition.min_order_count");
    }
    Ok(())
}

#[tokio::test]
async fn lv3_a_level_no_harder_than_the_one_below_is_refused_naming_it() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let silver = rung(2, "", Some(10_000), Some(2), And);
    for gold in [
        // The same condition.
        rung(3, "", Some(10_000), Some(2), And),
        // Easier spend.
        rung(3, "", Some(5_000), Some(3), And),
        // OR above AND: a member with a big spend and one order would skip level 2.
        rung(3, "", Some(50_000), Some(3), Or),
        // Drops the count threshold.
        rung(3, "", Some(50_000), None, And),
    ] {
        let levels = vec![level_one(), silver.clone(), gold.clone()];
        let status = refused(set_ladder(&h, &shop, levels).await)?;
        assert_invalid(&status, "levels[2].condition");
    }
    // Strictly harder in either direction is fine: more spend or more orders or both.
    for gold in [
        rung(3, "", Some(10_000), Some(3), And),
        rung(3, "", Some(20_000), Some(2), And),
    ] {
        set_ladder(&h, &shop, vec![level_one(), silver.clone(), gold]).await?;
        h.clock.advance(Duration::days(30));
    }
    Ok(())
}

#[tokio::test]
async fn lv3_and_or_conditions_are_saved_and_read_back() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let levels = vec![
        level_one(),
        rung(2, "Silver", Some(10_000), Some(2), Or),
        rung(3, "Gold", Some(50_000), None, And),
        rung(4, "Platinum", Some(100_000), Some(3), And),
    ];
    set_ladder(&h, &shop, levels.clone()).await?;
    let rules = level_rules(&h, &shop).await?;
    let read: Vec<(i32, String, Option<pb::LevelCondition>)> = rules
        .levels
        .iter()
        .map(|l| (l.level, l.name.clone(), l.condition))
        .collect();
    let expected: Vec<(i32, String, Option<pb::LevelCondition>)> = levels
        .into_iter()
        .map(|l| {
            let name = if l.name.is_empty() {
                "1星级".to_string()
            } else {
                l.name
            };
            (l.level, name, l.condition)
        })
        .collect();
    assert_eq!(read, expected);
    Ok(())
}

#[tokio::test]
async fn lv3_every_bad_field_of_a_ladder_is_reported_together() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let levels = vec![
        rung(1, "", Some(1), None, And),
        rung(2, &"x".repeat(11), Some(10_000), None, And),
        rung(3, "", None, Some(-1), And),
    ];
    let status = refused(set_ladder(&h, &shop, levels).await)?;
    for field in [
        "levels[0].condition",
        "levels[1].name",
        "levels[2].condition.min_order_count",
    ] {
        assert_invalid(&status, field);
    }
    Ok(())
}

// ------------------------------------------------------------------------------ LV-4

#[tokio::test]
async fn lv4_the_first_level_change_is_always_allowed() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    // Benefits, card face and join policy before it do not count as changes.
    set_benefits(
        &h,
        &shop,
        1,
        pb::LevelBenefits {
            discount_permille: 95,
            ..Default::default()
        },
    )
    .await?;
    set_policy(&mut h, &shop, pb::JoinPolicy::OrderOrCard).await?;
    let mut face = card_face_request(&shop);
    face.card_name = Some("Tea Club".into());
    h.client
        .update_card_face(req(&merchant(&shop), face))
        .await?;
    let saved = set_ladder(&h, &shop, spend_ladder(3)).await?;
    let rules = saved.rules.unwrap_or_default();
    assert_eq!(rules.levels.len(), 3);
    assert_eq!(time_of(rules.last_change_time.as_ref())?, t0());
    assert_eq!(
        time_of(rules.next_change_allowed_time.as_ref())?,
        t0() + Duration::days(30)
    );
    Ok(())
}

#[tokio::test]
async fn lv4_second_change_before_thirty_days_is_refused_with_next_allowed_at() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    set_ladder(&h, &shop, spend_ladder(2)).await?;
    h.clock.advance(Duration::days(30) - Duration::seconds(1));
    let status = refused(set_ladder(&h, &shop, spend_ladder(3)).await)?;
    assert_precondition(&status, "LEVEL_CHANGE_TOO_SOON");
    let next = error_metadata(&status, "next_allowed_at")
        .ok_or_else(|| anyhow::anyhow!("no next_allowed_at in {status:?}"))?;
    let next = chrono::DateTime::parse_from_rfc3339(&next)?.to_utc();
    assert_eq!(next, t0() + Duration::days(30));
    let rules = level_rules(&h, &shop).await?;
    assert_eq!(rules.levels.len(), 2, "the refused ladder changed nothing");
    assert_eq!(time_of(rules.last_change_time.as_ref())?, t0());
    Ok(())
}

#[tokio::test]
async fn lv4_the_exact_instant_thirty_days_after_the_last_change_is_allowed() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    set_ladder(&h, &shop, spend_ladder(2)).await?;
    h.clock.advance(Duration::days(30));
    let saved = set_ladder(&h, &shop, spend_ladder(3)).await?;
    let rules = saved.rules.unwrap_or_default();
    assert_eq!(rules.levels.len(), 3);
    let second = t0() + Duration::days(30);
    assert_eq!(time_of(rules.last_change_time.as_ref())?, second);
    // The window restarts from the second change.
    h.clock
        .advance(Duration::days(30) - Duration::microseconds(1));
    let status = refused(set_ladder(&h, &shop, spend_ladder(4)).await)?;
    assert_precondition(&status, "LEVEL_CHANGE_TOO_SOON");
    assert_eq!(
        error_metadata(&status, "next_allowed_at")
            .map(|n| chrono::DateTime::parse_from_rfc3339(&n).map(|t| t.to_utc()))
            .transpose()?,
        Some(second + Duration::days(30))
    );
    Ok(())
}

#[tokio::test]
async fn lv4_resubmitting_the_unchanged_ladder_is_not_a_change() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    set_ladder(&h, &shop, spend_ladder(3)).await?;
    h.clock.advance(Duration::days(3));
    // The same ladder, spelled with the default names written out.
    let mut same = spend_ladder(3);
    same[1].name = "2星级".into();
    let saved = set_ladder(&h, &shop, same).await?;
    let rules = saved.rules.unwrap_or_default();
    assert_eq!(rules.levels.len(), 3);
    assert_eq!(
        time_of(rules.last_change_time.as_ref())?,
        t0(),
        "the window did not restart"
    );
    h.clock.advance(Duration::days(27));
    set_ladder(&h, &shop, spend_ladder(2)).await?;
    Ok(())
}

#[tokio::test]
async fn lv4_adding_removing_renaming_and_changing_a_condition_each_count_as_a_change() -> TestResult
{
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    set_ladder(&h, &shop, spend_ladder(3)).await?;
    // Add a level, remove it again, rename one, then change only a condition.
    let mut renamed = spend_ladder(3);
    renamed[2].name = "Gold".into();
    let mut harder = renamed.clone();
    harder[2] = rung(3, "Gold", Some(40_000), None, And);
    for change in [spend_ladder(4), spend_ladder(3), renamed, harder] {
        h.clock.advance(Duration::days(29));
        let status = refused(set_ladder(&h, &shop, change.clone()).await)?;
        assert_precondition(&status, "LEVEL_CHANGE_TOO_SOON");
        h.clock.advance(Duration::days(1));
        set_ladder(&h, &shop, change).await?;
    }
    Ok(())
}

#[tokio::test]
async fn lv4_benefits_card_face_and_join_policy_do_not_restart_the_window() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    set_ladder(&h, &shop, spend_ladder(2)).await?;
    h.clock.advance(Duration::days(10));
    set_benefits(
        &h,
        &shop,
        2,
        pb::LevelBenefits {
            exclusive_access: true,
            ..Default::default()
        },
    )
    .await?;
    set_policy(&mut h, &shop, pb::JoinPolicy::OrderAndCard).await?;
    let mut face = card_face_request(&shop);
    face.level_images = vec![pb::LevelCardImage {
        level: 2,
        image_url: "https://img.example.com/silver.png".into(),
    }];
    h.client
        .update_card_face(req(&merchant(&shop), face))
        .await?;
    let rules = level_rules(&h, &shop).await?;
    assert_eq!(time_of(rules.last_change_time.as_ref())?, t0());
    h.clock.advance(Duration::days(20));
    set_ladder(&h, &shop, spend_ladder(3)).await?;
    Ok(())
}

#[tokio::test]
async fn lv4_of_concurrent_level_changes_exactly_one_wins() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    // Eight different ladders at the same instant.
    let tasks: Vec<_> = (1..=8)
        .map(|k| {
            let mut client = h.client.clone();
            let levels = vec![level_one(), rung(2, "", Some(k * 1_000), None, And)];
            let request = ladder_request(&shop, levels);
            let me = merchant(&shop);
            tokio::spawn(async move { client.update_level_rules(req(&me, request)).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await? {
            Ok(_) => won += 1,
            Err(status) => assert_precondition(&status, "LEVEL_CHANGE_TOO_SOON"),
        }
    }
    assert_eq!(won, 1, "{won} changes were allowed in one 30-day window");
    let rules = level_rules(&h, &shop).await?;
    assert_eq!(time_of(rules.last_change_time.as_ref())?, t0());
    Ok(())
}

#[tokio::test]
async fn lv4_next_change_allowed_time_is_unset_once_a_change_is_allowed_again() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    set_ladder(&h, &shop, spend_ladder(2)).await?;
    let rules = level_rules(&h, &shop).await?;
    assert_eq!(
        time_of(rules.next_change_allowed_time.as_ref())?,
        t0() + Duration::days(30)
    );
    h.clock.advance(Duration::days(31));
    let rules = level_rules(&h, &shop).await?;
    // The contract: "When the next level change (LV-4) is allowed; unset when allowed now."
    assert_eq!(rules.next_change_allowed_time, None, "{rules:?}");
    Ok(())
}

// ------------------------------------------------------------------------------ LV-5

/// Shoppers with confirmed spend 50, 150, 250, 350 yuan and 1, 2, 3, 4 orders.
async fn members_with_spend(h: &mut Harness) -> anyhow::Result<String> {
    let shop = shop_with_policy(h, pb::JoinPolicy::Order).await?;
    for (i, user) in ["u50", "u150", "u250", "u350"].into_iter().enumerate() {
        for n in 0..=i {
            // Orders of 50, then 100 each: u150 = 50 + 100, ...
            let amount = if n == 0 { 5_000 } else { 10_000 };
            paid_and_confirmed(h, &shop, user, &format!("{user}-{n}"), amount).await?;
        }
    }
    Ok(shop)
}

async fn levels_of(h: &Harness, shop: &str) -> anyhow::Result<Vec<i32>> {
    let mut out = Vec::new();
    for user in ["u50", "u150", "u250", "u350"] {
        out.push(membership(h, shop, user).await?.level);
    }
    Ok(out)
}

#[tokio::test]
async fn lv5_a_rule_change_recomputes_every_members_level_in_bulk() -> TestResult {
    let mut h = start().await?;
    let shop = members_with_spend(&mut h).await?;
    assert_eq!(levels_of(&h, &shop).await?, [1, 1, 1, 1]);
    // Levels by spend: 2 at 100 yuan, 3 at 200, 4 at 300.
    let by_spend = vec![
        level_one(),
        rung(2, "", Some(10_000), None, And),
        rung(3, "", Some(20_000), None, And),
        rung(4, "", Some(30_000), None, And),
    ];
    set_ladder(&h, &shop, by_spend).await?;
    assert_eq!(levels_of(&h, &shop).await?, [1, 2, 3, 4]);
    // Harder rules a month later: a downgrade for some, by spend AND count.
    h.clock.advance(Duration::days(30));
    let harder = vec![
        level_one(),
        rung(2, "", Some(10_000), Some(3), And),
        rung(3, "", Some(30_000), Some(4), And),
    ];
    set_ladder(&h, &shop, harder).await?;
    assert_eq!(levels_of(&h, &shop).await?, [1, 1, 2, 3]);
    // Easier OR rules: an upgrade.
    h.clock.advance(Duration::days(30));
    let easier = vec![
        level_one(),
        rung(2, "", Some(1_000), Some(1), Or),
        rung(3, "", Some(14_000), Some(2), Or),
    ];
    set_ladder(&h, &shop, easier).await?;
    assert_eq!(levels_of(&h, &shop).await?, [2, 3, 3, 3]);
    Ok(())
}

#[tokio::test]
async fn lv5_removing_a_level_downgrades_its_members_to_the_highest_level_left() -> TestResult {
    let mut h = start().await?;
    let shop = members_with_spend(&mut h).await?;
    set_ladder(&h, &shop, spend_ladder(4)).await?;
    // 2 at 200 yuan, 3 at 300, 4 at 400: spends 50, 150, 250, 350.
    assert_eq!(levels_of(&h, &shop).await?, [1, 1, 2, 3]);
    h.clock.advance(Duration::days(30));
    set_ladder(&h, &shop, spend_ladder(2)).await?;
    assert_eq!(levels_of(&h, &shop).await?, [1, 1, 2, 2]);
    h.clock.advance(Duration::days(30));
    set_ladder(&h, &shop, spend_ladder(1)).await?;
    assert_eq!(levels_of(&h, &shop).await?, [1, 1, 1, 1]);
    // The outbox carries a LEVEL_CHANGED per member that moved, per change.
    let pool = h.db.pool(1).await?;
    let changes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM membership.outbox
         WHERE event_type = 'LEVEL_CHANGED' AND payload->>'cause' = 'rule_change'",
    )
    .fetch_one(&pool)
    .await?;
    // 2 up (u250, u350), then 1 down (u350: 3 -> 2), then 2 down.
    assert_eq!(changes, 5);
    Ok(())
}

#[tokio::test]
async fn lv5_non_members_hold_no_level_after_a_rule_change() -> TestResult {
    let mut h = start().await?;
    // Under CARD an order alone does not make a member, but its spend is kept.
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    paid_and_confirmed(&h, &shop, "buyer", "o-1", 50_000).await?;
    set_ladder(&h, &shop, spend_ladder(3)).await?;
    let status = refused(membership(&h, &shop, "buyer").await)?;
    assert_code(&status, Code::NotFound);
    // Opening the card later places them on the level their spend meets.
    assert_eq!(open_card(&h, &shop, "buyer", "13800000002").await?.level, 3);
    Ok(())
}

// ------------------------------------------------------------------------------ LV-6

#[tokio::test]
async fn lv6_benefits_are_saved_with_a_warning_for_each_missing_recommended_benefit() -> TestResult
{
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    set_ladder(&h, &shop, spend_ladder(2)).await?;
    let benefits = pb::LevelBenefits {
        discount_permille: 95,
        ..Default::default()
    };
    let saved = set_benefits(&h, &shop, 2, benefits.clone()).await?;
    assert_eq!(
        codes_at(&saved.warnings, 2),
        ["MISSING_EXCLUSIVE_ACCESS", "MISSING_POINTS_MULTIPLIER"]
    );
    assert!(saved.warnings.iter().all(|w| !w.message.is_empty()));
    let rules = saved.rules.unwrap_or_default();
    assert_eq!(rules.levels[1].benefits, Some(benefits.clone()));
    assert_eq!(
        level_rules(&h, &shop).await?.levels[1].benefits,
        Some(benefits)
    );
    Ok(())
}

#[tokio::test]
async fn lv6_a_level_with_all_three_recommended_benefits_has_no_warning() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let saved = set_benefits(
        &h,
        &shop,
        1,
        pb::LevelBenefits {
            discount_permille: 90,
            exclusive_access: true,
            points_multiplier_percent: 150,
            ..Default::default()
        },
    )
    .await?;
    assert_eq!(codes_at(&saved.warnings, 1), Vec::<String>::new());
    // A level with nothing gets all three.
    let saved = set_ladder(&h, &shop, spend_ladder(2)).await?;
    assert!(codes_at(&saved.warnings, 1).is_empty());
    assert_eq!(
        codes_at(&saved.warnings, 2),
        [
            "MISSING_EXCLUSIVE_ACCESS",
            "MISSING_MEMBER_DISCOUNT",
            "MISSING_POINTS_MULTIPLIER"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn lv6_exchange_items_round_trip_and_survive_a_ladder_change() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    set_ladder(&h, &shop, spend_ladder(2)).await?;
    let benefits = pb::LevelBenefits {
        discount_permille: 88,
        exclusive_access: true,
        points_multiplier_percent: 200,
        points_for_coupon: vec![pb::ExchangeItem {
            item_id: "c1".into(),
            title: "10 yuan off".into(),
            points_cost: 500,
            target: "BA_zv2bmpn".into(),
        }],
        points_for_goods: vec![pb::ExchangeItem {
            item_id: "g1".into(),
            title: "茶杯".into(),
            points_cost: 2_000,
            target: "sku-cup".into(),
        }],
    };
    set_benefits(&h, &shop, 2, benefits.clone()).await?;
    h.clock.advance(Duration::days(30));
    let mut renamed = spend_ladder(3);
    renamed[1].name = "Silver".into();
    set_ladder(&h, &shop, renamed).await?;
    let rules = level_rules(&h, &shop).await?;
    assert_eq!(rules.levels[1].name, "Silver");
    assert_eq!(rules.levels[1].benefits, Some(benefits));
    assert_eq!(rules.levels[2].benefits, Some(pb::LevelBenefits::default()));
    Ok(())
}

#[tokio::test]
async fn lv6_bad_benefits_are_invalid_naming_each_field() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    for (benefits, field) in [
        (
            pb::LevelBenefits {
                discount_permille: 100,
                ..Default::default()
            },
            "benefits.discount_permille",
        ),
        (
            pb::LevelBenefits {
                discount_permille: -5,
                ..Default::default()
            },
            "benefits.discount_permille",
        ),
        (
            pb::LevelBenefits {
                points_multiplier_percent: 50,
                ..Default::default()
            },
            "benefits.points_multiplier_percent",
        ),
        (
            pb::LevelBenefits {
                points_multiplier_percent: 1_001,
                ..Default::default()
            },
            "benefits.points_multiplier_percent",
        ),
    ] {
        let status = refused(set_benefits(&h, &shop, 1, benefits).await)?;
        assert_invalid(&status, field);
    }
    let bad_items = pb::LevelBenefits {
        points_for_coupon: vec![pb::ExchangeItem {
            item_id: "c1".into(),
            title: String::new(),
            points_cost: 0,
            target: "not-a-batch".into(),
        }],
        points_for_goods: vec![
            pb::ExchangeItem {
                item_id: "g1".into(),
                title: "cup".into(),
                points_cost: 10,
                target: "sku".into(),
            },
            pb::ExchangeItem {
                item_id: " ".into(),
                title: "mug".into(),
                points_cost: -1,
                target: String::new(),
            },
        ],
        ..Default::default()
    };
    let status = refused(set_benefits(&h, &shop, 1, bad_items).await)?;
    for field in [
        "benefits.points_for_coupon[0].title",
        "benefits.points_for_coupon[0].points_cost",
        "benefits.points_for_coupon[0].target",
        "benefits.points_for_goods[1].item_id",
        "benefits.points_for_goods[1].points_cost",
        "benefits.points_for_goods[1].target",
    ] {
        assert_invalid(&status, field);
    }
    assert_eq!(
        level_rules(&h, &shop).await?.levels[0].benefits,
        Some(pb::LevelBenefits::default()),
        "nothing was saved"
    );
    Ok(())
}

#[tokio::test]
async fn lv6_benefits_for_a_level_the_ladder_lacks_are_refused() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let some = pb::LevelBenefits {
        exclusive_access: true,
        ..Default::default()
    };
    for level in [0, 6] {
        let status = refused(set_benefits(&h, &shop, level, some.clone()).await)?;
        assert_invalid(&status, "level");
    }
    let status = refused(set_benefits(&h, &shop, 3, some).await)?;
    assert_code(&status, Code::NotFound);
    Ok(())
}

#[tokio::test]
async fn x3_exchange_item_text_with_a_nul_character_is_invalid_argument_not_internal() -> TestResult
{
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let benefits = pb::LevelBenefits {
        points_for_goods: vec![pb::ExchangeItem {
            item_id: "g\u{0}1".into(),
            title: "cup".into(),
            points_cost: 10,
            target: "sku\u{0}cup".into(),
        }],
        ..Default::default()
    };
    let status = refused(set_benefits(&h, &shop, 1, benefits).await)?;
    assert_not_internal(&status);
    assert_invalid(&status, "benefits.points_for_goods[0].item_id");
    Ok(())
}

#[tokio::test]
async fn lv_a_merchant_cannot_read_or_change_another_shops_levels() -> TestResult {
    let mut h = start().await?;
    let a = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let b = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let status = expect_err(
        h.client
            .update_level_rules(req(&merchant(&a), ladder_request(&b, spend_ladder(2))))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    let status = expect_err(
        h.client
            .get_level_rules(req(
                &shopper("u1"),
                pb::GetLevelRulesRequest { shop_id: b.clone() },
            ))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    let status = expect_err(
        h.client
            .update_level_benefits(req(
                &merchant(&a),
                pb::UpdateLevelBenefitsRequest {
                    request_id: rid("benefits"),
                    shop_id: b.clone(),
                    level: 1,
                    benefits: Some(pb::LevelBenefits::default()),
                },
            ))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    assert_eq!(level_rules(&h, &b).await?.last_change_time, None);
    Ok(())
}

// ------------------------------------------------------------------------------ MP-6

#[tokio::test]
async fn mp6_member_tab_defaults_to_position_4_and_the_merchant_may_move_it() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    assert_eq!(program(&mut h, &shop).await?.member_tab_position, 4);
    for position in [1, 5, 2] {
        let saved = update_settings(&h, &shop, None, None, Some(position)).await?;
        assert_eq!(
            saved.program.unwrap_or_default().member_tab_position,
            position
        );
    }
    assert_eq!(program(&mut h, &shop).await?.member_tab_position, 2);
    let center = h
        .client
        .get_member_center(req(
            &shopper("u1"),
            pb::GetMemberCenterRequest {
                shop_id: shop.clone(),
                user_id: "u1".into(),
            },
        ))
        .await?
        .into_inner();
    assert_eq!(center.member_tab_position, 2);
    Ok(())
}

#[tokio::test]
async fn mp6_a_tab_position_outside_1_to_5_is_invalid_on_member_tab_position() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    for position in [0, 6, -1, i32::MAX] {
        let status = refused(update_settings(&h, &shop, None, None, Some(position)).await)?;
        assert_invalid(&status, "member_tab_position");
    }
    assert_eq!(program(&mut h, &shop).await?.member_tab_position, 4);
    Ok(())
}

#[tokio::test]
async fn mp6_benefits_not_configured_is_warned_until_a_level_has_a_benefit() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let warned = |warnings: &[pb::Warning]| {
        warnings
            .iter()
            .any(|w| w.code == "BENEFITS_NOT_CONFIGURED" && !w.message.is_empty())
    };
    assert!(warned(&program(&mut h, &shop).await?.setup_warnings));
    let saved = update_settings(&h, &shop, None, None, Some(3)).await?;
    assert!(warned(&saved.warnings), "{saved:?}");
    // A ladder without benefits is still not configured.
    set_ladder(&h, &shop, spend_ladder(2)).await?;
    assert!(warned(&program(&mut h, &shop).await?.setup_warnings));
    set_benefits(
        &h,
        &shop,
        2,
        pb::LevelBenefits {
            points_multiplier_percent: 200,
            ..Default::default()
        },
    )
    .await?;
    assert!(!warned(&program(&mut h, &shop).await?.setup_warnings));
    let saved = update_settings(&h, &shop, None, None, Some(4)).await?;
    assert!(!warned(&saved.warnings), "{saved:?}");
    assert!(!warned(&saved.program.unwrap_or_default().setup_warnings));
    Ok(())
}

#[tokio::test]
async fn x3_an_unknown_condition_operator_is_invalid_and_does_not_use_up_the_lv4_window()
-> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let mut ladder = spend_ladder(2);
    if let Some(condition) = ladder[1].condition.as_mut() {
        condition.operator = 99;
    }
    let status = refused(set_ladder(&h, &shop, ladder).await)?;
    assert_invalid(&status, "levels[1].condition.operator");
    // The window is still open: a valid ladder is accepted at once.
    set_ladder(&h, &shop, spend_ladder(2)).await?;
    Ok(())
}
