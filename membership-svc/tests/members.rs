//! MP-4 (SMS codes) and MB-1..MB-5 through the real gRPC interface on real Postgres.

mod support;

use chrono::Duration;
use memberhub_kit::clock::to_timestamp;
use memberhub_kit::testing::TestResult;
use memberhub_proto::common::ShopType;
use memberhub_proto::membership as pb;
use prost::Message;
use support::*;
use tonic::Code;

const PHONE: &str = "13800138000";
const OTHER_PHONE: &str = "13900139000";

/// A POP shop admitting members by card, with SMS verification on.
async fn sms_shop(h: &mut Harness) -> anyhow::Result<String> {
    let shop = shop_with_policy(h, pb::JoinPolicy::Card).await?;
    activate_sms(h, &merchant(&shop), &shop).await?;
    set_sms(h, &shop, true).await?;
    Ok(shop)
}

async fn send_code(
    h: &Harness,
    shop: &str,
    user: &str,
    phone: &str,
) -> Result<pb::SendCardSmsCodeResponse, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .send_card_sms_code(req(
            &shopper(user),
            pb::SendCardSmsCodeRequest {
                request_id: rid("sms"),
                shop_id: shop.into(),
                user_id: user.into(),
                phone: phone.into(),
            },
        ))
        .await?
        .into_inner())
}

async fn open_with_code(
    h: &Harness,
    shop: &str,
    user: &str,
    phone: &str,
    code: &str,
) -> Result<pb::Membership, tonic::Status> {
    let mut client = h.client.clone();
    let mut request = open_card_request(shop, user, phone);
    request.sms_code = code.into();
    Ok(client
        .open_card(req(&shopper(user), request))
        .await?
        .into_inner())
}

/// A 6-digit code that is not `code`.
fn wrong(code: &str) -> anyhow::Result<String> {
    Ok(format!("{:06}", (code.parse::<u32>()? + 1) % 1_000_000))
}

async fn is_member(h: &Harness, shop: &str, user: &str) -> bool {
    membership(h, shop, user)
        .await
        .is_ok_and(|m| m.state() == pb::MembershipState::Active)
}

// ------------------------------------------------------------------------------ MP-4

#[tokio::test]
async fn mp4_no_code_is_sent_while_sms_verification_is_off() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    activate_sms(&mut h, &merchant(&shop), &shop).await?;
    let status = refused(send_code(&h, &shop, "u1", PHONE).await)?;
    assert_precondition(&status, "SMS_VERIFICATION_DISABLED");
    assert_eq!(messages_sent(&h, PHONE).await?, 0);
    // Verification off: the card opens with the phone alone.
    let opened = open_card(&h, &shop, "u1", PHONE).await?;
    assert_eq!(opened.state(), pb::MembershipState::Active);
    // Turned off again after being on: no code either.
    set_sms(&mut h, &shop, true).await?;
    set_sms(&mut h, &shop, false).await?;
    let status = refused(send_code(&h, &shop, "u2", PHONE).await)?;
    assert_precondition(&status, "SMS_VERIFICATION_DISABLED");
    Ok(())
}

#[tokio::test]
async fn mp4_a_six_digit_code_is_sent_valid_five_minutes_with_a_resend_after_sixty_seconds()
-> TestResult {
    let mut h = start().await?;
    let shop = sms_shop(&mut h).await?;
    let sent = send_code(&h, &shop, "u1", PHONE).await?;
    assert_eq!(
        time_of(sent.expire_time.as_ref())?,
        t0() + Duration::minutes(5)
    );
    assert_eq!(
        time_of(sent.resend_allowed_time.as_ref())?,
        t0() + Duration::seconds(60)
    );
    assert_eq!(messages_sent(&h, PHONE).await?, 1);
    let code = latest_code(&h, PHONE).await?;
    assert!(code.chars().all(|c| c.is_ascii_digit()) && code.len() == 6);
    Ok(())
}

#[tokio::test]
async fn mp4_a_sent_code_is_stored_only_as_a_keyed_hash() -> TestResult {
    let mut h = start().await?;
    let shop = sms_shop(&mut h).await?;
    send_code(&h, &shop, "u1", PHONE).await?;
    let code = latest_code(&h, PHONE).await?;
    let pool = h.db.pool(1).await?;
    // every row of every table the code could have reached, as text
    let dump: Vec<String> = sqlx::query_scalar(
        "SELECT t::text FROM membership.sms_messages t
         UNION ALL SELECT t::text FROM membership.sms_codes t
         UNION ALL SELECT t::text FROM membership.idempotency_keys t",
    )
    .fetch_all(&pool)
    .await?;
    assert!(!dump.is_empty());
    assert!(dump.iter().all(|row| !row.contains(&code)), "{dump:?}");
    Ok(())
}

#[tokio::test]
async fn mp4_opening_the_card_needs_the_code_and_success_consumes_it() -> TestResult {
    let mut h = start().await?;
    let shop = sms_shop(&mut h).await?;
    send_code(&h, &shop, "u1", PHONE).await?;
    let code = latest_code(&h, PHONE).await?;
    // Without the code: the field is named.
    let status = refused(open_card(&h, &shop, "u1", PHONE).await)?;
    assert_invalid(&status, "sms_code");
    h.clock.advance(Duration::seconds(30));
    let opened = open_with_code(&h, &shop, "u1", PHONE, &code).await?;
    assert_eq!(opened.state(), pb::MembershipState::Active);
    assert!(opened.has_phone);
    // The code is used up: after quitting, the same code does not open the card again.
    h.clock.advance(Duration::seconds(30));
    quit(&h, &shop, "u1").await?;
    let status = refused(open_with_code(&h, &shop, "u1", PHONE, &code).await)?;
    assert_code(&status, Code::FailedPrecondition);
    assert!(reason(&status).is_some_and(|r| r.starts_with("SMS_CODE_")));
    assert!(!is_member(&h, &shop, "u1").await);
    Ok(())
}

#[tokio::test]
async fn mp4_a_resend_is_refused_before_sixty_seconds_and_allowed_at_sixty() -> TestResult {
    let mut h = start().await?;
    let shop = sms_shop(&mut h).await?;
    send_code(&h, &shop, "u1", PHONE).await?;
    h.clock.advance(Duration::seconds(59));
    let status = refused(send_code(&h, &shop, "u1", PHONE).await)?;
    assert_code(&status, Code::FailedPrecondition);
    assert_eq!(reason(&status).as_deref(), Some("SMS_RESEND_TOO_SOON"));
    assert_eq!(messages_sent(&h, PHONE).await?, 1, "nothing was sent");
    h.clock.advance(Duration::seconds(1));
    let sent = send_code(&h, &shop, "u1", PHONE).await?;
    assert_eq!(
        time_of(sent.expire_time.as_ref())?,
        t0() + Duration::seconds(60) + Duration::minutes(5)
    );
    assert_eq!(messages_sent(&h, PHONE).await?, 2);
    // The newest code opens the card.
    let code = latest_code(&h, PHONE).await?;
    open_with_code(&h, &shop, "u1", PHONE, &code).await?;
    Ok(())
}

#[tokio::test]
async fn mp4_of_concurrent_sends_one_goes_out_and_the_rest_wait_for_the_gap() -> TestResult {
    let mut h = start().await?;
    let shop = sms_shop(&mut h).await?;
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let mut client = h.client.clone();
            let request = pb::SendCardSmsCodeRequest {
                request_id: rid("sms"),
                shop_id: shop.clone(),
                user_id: "u1".into(),
                phone: PHONE.into(),
            };
            tokio::spawn(async move {
                client
                    .send_card_sms_code(req(&shopper("u1"), request))
                    .await
            })
        })
        .collect();
    let mut sent = 0;
    for task in tasks {
        match task.await? {
            Ok(_) => sent += 1,
            Err(status) => assert_precondition(&status, "SMS_RESEND_TOO_SOON"),
        }
    }
    assert_eq!(sent, 1);
    assert_eq!(messages_sent(&h, PHONE).await?, 1);
    Ok(())
}

#[tokio::test]
async fn mp4_a_code_expires_after_five_minutes() -> TestResult {
    let mut h = start().await?;
    let shop = sms_shop(&mut h).await?;
    send_code(&h, &shop, "early", PHONE).await?;
    let early = latest_code(&h, PHONE).await?;
    send_code(&h, &shop, "late", OTHER_PHONE).await?;
    let late = latest_code(&h, OTHER_PHONE).await?;
    h.clock.advance(Duration::minutes(5) - Duration::seconds(1));
    open_with_code(&h, &shop, "early", PHONE, &early).await?;
    h.clock.advance(Duration::seconds(1));
    let status = refused(open_with_code(&h, &shop, "late", OTHER_PHONE, &late).await)?;
    assert_precondition(&status, "SMS_CODE_EXPIRED");
    assert!(!is_member(&h, &shop, "late").await);
    Ok(())
}

#[tokio::test]
async fn mp4_wrong_codes_count_and_five_wrong_tries_lock_the_code() -> TestResult {
    let mut h = start().await?;
    let shop = sms_shop(&mut h).await?;
    send_code(&h, &shop, "u1", PHONE).await?;
    let code = latest_code(&h, PHONE).await?;
    let bad = wrong(&code)?;
    for _ in 0..5 {
        let status = refused(open_with_code(&h, &shop, "u1", PHONE, &bad).await)?;
        assert_precondition(&status, "SMS_CODE_WRONG");
    }
    // The right code no longer helps: the shopper must ask for a new one.
    let status = refused(open_with_code(&h, &shop, "u1", PHONE, &code).await)?;
    assert_precondition(&status, "SMS_CODE_TOO_MANY_TRIES");
    assert!(!is_member(&h, &shop, "u1").await);
    // A new code (after the resend gap) works.
    h.clock.advance(Duration::seconds(60));
    send_code(&h, &shop, "u1", PHONE).await?;
    let fresh = latest_code(&h, PHONE).await?;
    open_with_code(&h, &shop, "u1", PHONE, &fresh).await?;
    assert!(is_member(&h, &shop, "u1").await);
    Ok(())
}

#[tokio::test]
async fn mp4_four_wrong_tries_leave_the_right_code_usable() -> TestResult {
    let mut h = start().await?;
    let shop = sms_shop(&mut h).await?;
    send_code(&h, &shop, "u1", PHONE).await?;
    let code = latest_code(&h, PHONE).await?;
    let bad = wrong(&code)?;
    for _ in 0..4 {
        let status = refused(open_with_code(&h, &shop, "u1", PHONE, &bad).await)?;
        assert_precondition(&status, "SMS_CODE_WRONG");
    }
    open_with_code(&h, &shop, "u1", PHONE, &code).await?;
    assert!(is_member(&h, &shop, "u1").await);
    Ok(())
}

#[tokio::test]
async fn mp4_concurrent_wrong_tries_still_count_at_most_five() -> TestResult {
    let mut h = start().await?;
    let shop = sms_shop(&mut h).await?;
    send_code(&h, &shop, "u1", PHONE).await?;
    let code = latest_code(&h, PHONE).await?;
    let bad = wrong(&code)?;
    let tries: Vec<_> = (0..12)
        .map(|_| {
            let mut client = h.client.clone();
            let mut request = open_card_request(&shop, "u1", PHONE);
            request.sms_code = bad.clone();
            tokio::spawn(async move { client.open_card(req(&shopper("u1"), request)).await })
        })
        .collect();
    let mut judged_wrong = 0;
    for attempt in tries {
        let status = expect_err(attempt.await?)?;
        assert_code(&status, Code::FailedPrecondition);
        if reason(&status).as_deref() == Some("SMS_CODE_WRONG") {
            judged_wrong += 1;
        }
    }
    assert!(
        judged_wrong <= 5,
        "{judged_wrong} concurrent guesses were judged: a brute-forcer gets more than 5 tries"
    );
    let status = refused(open_with_code(&h, &shop, "u1", PHONE, &code).await)?;
    assert_precondition(&status, "SMS_CODE_TOO_MANY_TRIES");
    Ok(())
}

#[tokio::test]
async fn mp4_a_code_sent_to_one_phone_does_not_open_the_card_with_another() -> TestResult {
    let mut h = start().await?;
    let shop = sms_shop(&mut h).await?;
    send_code(&h, &shop, "u1", PHONE).await?;
    let code = latest_code(&h, PHONE).await?;
    let status = refused(open_with_code(&h, &shop, "u1", OTHER_PHONE, &code).await)?;
    assert_code(&status, Code::FailedPrecondition);
    assert!(!is_member(&h, &shop, "u1").await);
    // Nor can another shopper use it with the phone it was sent to.
    let status = refused(open_with_code(&h, &shop, "u2", PHONE, &code).await)?;
    assert_code(&status, Code::FailedPrecondition);
    assert!(!is_member(&h, &shop, "u2").await);
    // The rightful pair still works.
    open_with_code(&h, &shop, "u1", PHONE, &code).await?;
    Ok(())
}

#[tokio::test]
async fn mp4_a_code_is_per_shop() -> TestResult {
    let mut h = start().await?;
    let a = sms_shop(&mut h).await?;
    let b = sms_shop(&mut h).await?;
    send_code(&h, &a, "u1", PHONE).await?;
    let code = latest_code(&h, PHONE).await?;
    let status = refused(open_with_code(&h, &b, "u1", PHONE, &code).await)?;
    assert_code(&status, Code::FailedPrecondition);
    open_with_code(&h, &a, "u1", PHONE, &code).await?;
    Ok(())
}

#[tokio::test]
async fn mp4_a_retried_send_sends_one_message_and_answers_the_same() -> TestResult {
    let mut h = start().await?;
    let shop = sms_shop(&mut h).await?;
    let request = pb::SendCardSmsCodeRequest {
        request_id: rid("sms"),
        shop_id: shop.clone(),
        user_id: "u1".into(),
        phone: PHONE.into(),
    };
    let first = h
        .client
        .send_card_sms_code(req(&shopper("u1"), request.clone()))
        .await?
        .into_inner();
    h.clock.advance(Duration::seconds(10));
    let again = h
        .client
        .send_card_sms_code(req(&shopper("u1"), request))
        .await?
        .into_inner();
    assert_eq!(again, first);
    assert_eq!(messages_sent(&h, PHONE).await?, 1);
    Ok(())
}

#[tokio::test]
async fn mp4_no_code_is_sent_where_no_card_can_be_opened() -> TestResult {
    let mut h = start().await?;
    let shop = sms_shop(&mut h).await?;
    set_policy(&mut h, &shop, pb::JoinPolicy::Order).await?;
    let status = refused(send_code(&h, &shop, "u1", PHONE).await)?;
    assert_precondition(&status, "CARD_JOIN_DISABLED");
    assert_eq!(messages_sent(&h, PHONE).await?, 0);
    Ok(())
}

#[tokio::test]
async fn mp4_malformed_phone_or_code_is_invalid_naming_the_field() -> TestResult {
    let mut h = start().await?;
    let shop = sms_shop(&mut h).await?;
    for phone in ["", "12345", "23800138000", "1380013800a", "138001380001"] {
        let status = refused(send_code(&h, &shop, "u1", phone).await)?;
        assert_invalid(&status, "phone");
        let status = refused(open_with_code(&h, &shop, "u1", phone, "123456").await)?;
        assert_invalid(&status, "phone");
    }
    for code in ["12345", "1234567", "abcdef"] {
        let status = refused(open_with_code(&h, &shop, "u1", PHONE, code).await)?;
        assert_invalid(&status, "sms_code");
    }
    Ok(())
}

#[tokio::test]
async fn mp4_a_shopper_cannot_ask_for_or_use_a_code_for_someone_else() -> TestResult {
    let mut h = start().await?;
    let shop = sms_shop(&mut h).await?;
    let status = expect_err(
        h.client
            .send_card_sms_code(req(
                &shopper("mallory"),
                pb::SendCardSmsCodeRequest {
                    request_id: rid("sms"),
                    shop_id: shop.clone(),
                    user_id: "u1".into(),
                    phone: PHONE.into(),
                },
            ))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    assert_eq!(messages_sent(&h, PHONE).await?, 0);
    Ok(())
}

// ------------------------------------------------------------------------------ MB-2

#[tokio::test]
async fn mb2_under_order_opening_a_card_is_card_join_disabled() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Order).await?;
    let status = refused(open_card(&h, &shop, "u1", PHONE).await)?;
    assert_precondition(&status, "CARD_JOIN_DISABLED");
    // Also for a member who joined by ordering.
    paid_and_confirmed(&h, &shop, "u2", "o-1", 1_000).await?;
    let status = refused(open_card(&h, &shop, "u2", PHONE).await)?;
    assert_precondition(&status, "CARD_JOIN_DISABLED");
    assert_eq!(membership(&h, &shop, "u2").await?.card_open_time, None);
    Ok(())
}

#[tokio::test]
async fn mb2_under_card_a_non_member_becomes_a_level_1_member_at_once() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let mut request = open_card_request(&shop, "u1", PHONE);
    request.source = pb::MemberSource::Wechat.into();
    request.profile = Some(pb::MemberProfile {
        nickname: "小明".into(),
        gender: "male".into(),
        birthday: "1990-05-01".into(),
    });
    let opened = h
        .client
        .open_card(req(&shopper("u1"), request))
        .await?
        .into_inner();
    assert_eq!(opened.state(), pb::MembershipState::Active);
    assert_eq!(opened.level, 1);
    assert_eq!(opened.join_channel(), pb::JoinChannel::Card);
    assert_eq!(opened.source(), pb::MemberSource::Wechat);
    assert_eq!(time_of(opened.join_time.as_ref())?, t0());
    assert_eq!(time_of(opened.first_join_time.as_ref())?, t0());
    assert_eq!(time_of(opened.card_open_time.as_ref())?, t0());
    assert!(opened.has_phone);
    assert!(!opened.membership_id.is_empty());
    let profile = opened.profile.clone().unwrap_or_default();
    assert_eq!(
        (profile.nickname.as_str(), profile.birthday.as_str()),
        ("小明", "1990-05-01")
    );
    assert_eq!(membership(&h, &shop, "u1").await?, opened);
    Ok(())
}

#[tokio::test]
async fn mb2_under_card_an_order_alone_does_not_make_a_member() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 5_000).await?;
    let after = membership(&h, &shop, "u1").await;
    assert!(
        after.map_or(true, |m| m.state != pb::MembershipState::Active as i32),
        "the refused opening opened nothing"
    );
    Ok(())
}

#[tokio::test]
async fn mb2_under_order_or_card_a_member_by_order_gets_the_card_in_the_same_period() -> TestResult
{
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::OrderOrCard).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 5_000).await?;
    let joined = membership(&h, &shop, "u1").await?;
    assert_eq!(joined.join_channel(), pb::JoinChannel::Order);
    assert_eq!(joined.card_open_time, None);
    h.clock.advance(Duration::hours(3));
    let carded = open_card(&h, &shop, "u1", PHONE).await?;
    assert_eq!(carded.membership_id, joined.membership_id, "no new period");
    assert_eq!(carded.join_channel(), pb::JoinChannel::Order);
    assert_eq!(carded.join_time, joined.join_time);
    assert_eq!(
        time_of(carded.card_open_time.as_ref())?,
        t0() + Duration::hours(3),
        "card_opened_at is recorded apart from the join"
    );
    assert_eq!(
        (carded.total_spend_fen, carded.order_count),
        (5_000, 1),
        "the order history stays"
    );
    // A card-first shopper joins at once under the same policy.
    let other = open_card(&h, &shop, "u2", OTHER_PHONE).await?;
    assert_eq!(
        (other.state(), other.join_channel()),
        (pb::MembershipState::Active, pb::JoinChannel::Card)
    );
    Ok(())
}

#[tokio::test]
async fn mb2_under_order_and_card_a_card_is_pending_until_an_order() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::OrderAndCard).await?;
    let opened = open_card(&h, &shop, "u1", PHONE).await?;
    assert_eq!(opened.state(), pb::MembershipState::Pending);
    assert_eq!(time_of(opened.card_open_time.as_ref())?, t0());
    assert_eq!(opened.join_time, None);
    assert_eq!(opened.level, 0);
    h.clock.advance(Duration::days(2));
    report(
        &h,
        order_event(&h, pb::OrderEventType::Paid, &shop, "o-1", "u1", 8_800),
    )
    .await?;
    let joined = membership(&h, &shop, "u1").await?;
    assert_eq!(joined.state(), pb::MembershipState::Active);
    assert_eq!(joined.level, 1);
    assert_eq!(
        time_of(joined.join_time.as_ref())?,
        t0() + Duration::days(2)
    );
    assert_eq!(time_of(joined.card_open_time.as_ref())?, t0());
    Ok(())
}

#[tokio::test]
async fn mb2_under_order_and_card_an_order_first_waits_for_the_card() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::OrderAndCard).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 8_800).await?;
    let status = refused(membership(&h, &shop, "u1").await)?;
    assert_code(&status, Code::NotFound);
    h.clock.advance(Duration::hours(1));
    let opened = open_card(&h, &shop, "u1", PHONE).await?;
    assert_eq!(opened.state(), pb::MembershipState::Active);
    assert_eq!(
        time_of(opened.join_time.as_ref())?,
        t0() + Duration::hours(1)
    );
    assert_eq!((opened.total_spend_fen, opened.order_count), (8_800, 1));
    Ok(())
}

#[tokio::test]
async fn mb2_a_pending_card_holder_is_a_member_once_the_policy_turns_to_card() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::OrderAndCard).await?;
    let opened = open_card(&h, &shop, "u1", PHONE).await?;
    assert_eq!(opened.state(), pb::MembershipState::Pending);
    // The merchant now admits members by card alone: this shopper has opened the card.
    set_policy(&mut h, &shop, pb::JoinPolicy::Card).await?;
    h.clock.advance(Duration::hours(1));
    // Whatever the shopper does next (open the card again, or order), they must not stay
    // stranded as PENDING: under CARD an order never joins and the card cannot reopen.
    let reopened = open_card(&h, &shop, "u1", PHONE).await;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 1_000).await?;
    let now = membership(&h, &shop, "u1").await?;
    assert_eq!(
        now.state(),
        pb::MembershipState::Active,
        "reopening gave {reopened:?}; membership {now:?}"
    );
    Ok(())
}

#[tokio::test]
async fn mb2_the_card_opens_once_per_membership_period() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let first = open_card(&h, &shop, "u1", PHONE).await?;
    h.clock.advance(Duration::minutes(1));
    let status = refused(open_card(&h, &shop, "u1", OTHER_PHONE).await)?;
    assert_code(&status, Code::AlreadyExists);
    assert_eq!(membership(&h, &shop, "u1").await?, first);
    Ok(())
}

#[tokio::test]
async fn mb2_a_retried_card_opening_returns_the_same_membership() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let request = open_card_request(&shop, "u1", PHONE);
    let first = h
        .client
        .open_card(req(&shopper("u1"), request.clone()))
        .await?
        .into_inner();
    h.clock.advance(Duration::minutes(1));
    let again = h
        .client
        .open_card(req(&shopper("u1"), request))
        .await?
        .into_inner();
    assert_eq!(again, first);
    Ok(())
}

#[tokio::test]
async fn mb2_the_phone_given_is_kept_protected_not_in_clear() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    open_card(&h, &shop, "u1", "+86 139-0013-9000").await?;
    assert!(membership(&h, &shop, "u1").await?.has_phone);
    let pool = h.db.pool(1).await?;
    let dump: Vec<(String,)> = sqlx::query_as("SELECT m::text FROM membership.members m")
        .fetch_all(&pool)
        .await?;
    assert!(
        dump.iter().all(|(row,)| !row.contains("13900139000")),
        "{dump:?}"
    );
    Ok(())
}

#[tokio::test]
async fn mb2_bad_profile_fields_are_invalid_naming_each() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let mut request = open_card_request(&shop, "u1", PHONE);
    request.profile = Some(pb::MemberProfile {
        nickname: "n".repeat(31),
        gender: "robot".into(),
        birthday: "1990-13-45".into(),
    });
    let status = expect_err(h.client.open_card(req(&shopper("u1"), request)).await)?;
    for field in ["profile.nickname", "profile.gender", "profile.birthday"] {
        assert_invalid(&status, field);
    }
    assert!(!is_member(&h, &shop, "u1").await);
    Ok(())
}

#[tokio::test]
async fn mb2_a_shopper_cannot_open_a_card_for_someone_else_and_unknown_shops_are_not_found()
-> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let status = expect_err(
        h.client
            .open_card(req(
                &shopper("mallory"),
                open_card_request(&shop, "u1", PHONE),
            ))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    let unknown = uuid::Uuid::now_v7().to_string();
    let status = refused(open_card(&h, &unknown, "u1", PHONE).await)?;
    assert_code(&status, Code::NotFound);
    Ok(())
}

// ------------------------------------------------------------------------------ MB-3

#[tokio::test]
async fn mb3_quit_then_rejoin_starts_a_new_period_keeping_first_join_time_and_history() -> TestResult
{
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let first = open_card(&h, &shop, "u1", PHONE).await?;
    h.clock.advance(Duration::days(10));
    let quitted = quit(&h, &shop, "u1").await?;
    assert_eq!(quitted.state(), pb::MembershipState::Quit);
    assert_eq!(
        membership(&h, &shop, "u1").await?.state(),
        pb::MembershipState::Quit
    );
    h.clock.advance(Duration::days(5));
    let again = open_card(&h, &shop, "u1", PHONE).await?;
    assert_eq!(again.state(), pb::MembershipState::Active);
    assert_ne!(again.membership_id, first.membership_id, "a new period");
    assert_eq!(
        time_of(again.join_time.as_ref())?,
        t0() + Duration::days(15)
    );
    assert_eq!(
        time_of(again.first_join_time.as_ref())?,
        t0(),
        "the first-ever join is kept"
    );
    assert_eq!(
        time_of(again.card_open_time.as_ref())?,
        t0() + Duration::days(15)
    );
    // History: both periods, the first closed at the quit.
    let pool = h.db.pool(1).await?;
    let periods: Vec<(
        String,
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
    )> = sqlx::query_as(
        "SELECT membership_id::text, joined_at, quit_at FROM membership.membership_periods
             WHERE user_id = 'u1' ORDER BY joined_at",
    )
    .fetch_all(&pool)
    .await?;
    assert_eq!(
        periods,
        vec![
            (
                first.membership_id.clone(),
                t0(),
                Some(t0() + Duration::days(10))
            ),
            (again.membership_id.clone(), t0() + Duration::days(15), None),
        ]
    );
    // The feed says the rejoin is not a first-ever join (GP-1 relies on it).
    let firsts: Vec<(bool,)> = sqlx::query_as(
        "SELECT (payload->>'first_ever')::boolean FROM membership.outbox
         WHERE event_type = 'MEMBER_JOINED' AND user_id = 'u1' ORDER BY position",
    )
    .fetch_all(&pool)
    .await?;
    assert_eq!(firsts, vec![(true,), (false,)]);
    Ok(())
}

#[tokio::test]
async fn mb3_a_member_by_order_rejoins_by_ordering_again_never_as_a_first_join() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Order).await?;
    paid_and_confirmed(&h, &shop, "u1", "o-1", 1_000).await?;
    h.clock.advance(Duration::days(1));
    quit(&h, &shop, "u1").await?;
    h.clock.advance(Duration::days(1));
    paid_and_confirmed(&h, &shop, "u1", "o-2", 1_000).await?;
    let again = membership(&h, &shop, "u1").await?;
    assert_eq!(again.state(), pb::MembershipState::Active);
    assert_eq!(time_of(again.first_join_time.as_ref())?, t0());
    assert_eq!(time_of(again.join_time.as_ref())?, t0() + Duration::days(2));
    Ok(())
}

#[tokio::test]
async fn mb3_quitting_without_being_a_member_is_refused() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let status = refused(quit(&h, &shop, "stranger").await)?;
    assert_precondition(&status, "NOT_A_MEMBER");
    open_card(&h, &shop, "u1", PHONE).await?;
    quit(&h, &shop, "u1").await?;
    let status = refused(quit(&h, &shop, "u1").await)?;
    assert_precondition(&status, "NOT_A_MEMBER");
    Ok(())
}

#[tokio::test]
async fn mb3_a_quit_member_is_no_longer_listed() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    open_card(&h, &shop, "u1", PHONE).await?;
    open_card(&h, &shop, "u2", PHONE).await?;
    quit(&h, &shop, "u1").await?;
    let page = list(&mut h, &shop, pb::ListMembersRequest::default()).await?;
    assert_eq!(users(&page), ["u2"]);
    assert_eq!(page.total_size, 1);
    Ok(())
}

// ------------------------------------------------------------------------------ MB-4

async fn list(
    h: &mut Harness,
    shop: &str,
    mut request: pb::ListMembersRequest,
) -> Result<pb::ListMembersResponse, tonic::Status> {
    request.shop_id = shop.into();
    Ok(h.client
        .list_members(req(&merchant(shop), request))
        .await?
        .into_inner())
}

fn users(page: &pb::ListMembersResponse) -> Vec<String> {
    page.members.iter().map(|m| m.user_id.clone()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// A shop with members joined at t0 + i hours by card (with the given sources) and by
/// order; `gold` and `o-big` reach level 2 (≥ 100 yuan).
async fn listed_shop(h: &mut Harness) -> anyhow::Result<String> {
    let shop = shop_with_policy(h, pb::JoinPolicy::OrderOrCard).await?;
    set_ladder(
        h,
        &shop,
        vec![
            level_one(),
            rung(2, "", Some(10_000), None, pb::ConditionOperator::And),
        ],
    )
    .await?;
    for (user, source) in [
        ("c-store", pb::MemberSource::Storefront),
        ("c-wechat", pb::MemberSource::Wechat),
        ("c-mall", pb::MemberSource::BrandMall),
        ("gold", pb::MemberSource::Wechat),
    ] {
        let mut request = open_card_request(&shop, user, PHONE);
        request.source = source.into();
        h.client.open_card(req(&shopper(user), request)).await?;
        h.clock.advance(Duration::hours(1));
    }
    paid_and_confirmed(h, &shop, "gold", "o-gold", 12_000).await?;
    paid_and_confirmed(h, &shop, "o-small", "o-1", 1_000).await?;
    h.clock.advance(Duration::hours(1));
    paid_and_confirmed(h, &shop, "o-big", "o-2", 20_000).await?;
    Ok(shop)
}

#[tokio::test]
async fn mb4_members_are_filtered_by_level_join_time_channel_and_source() -> TestResult {
    let mut h = start().await?;
    let shop = listed_shop(&mut h).await?;
    // c-store t0, c-wechat t0+1h, c-mall t0+2h, gold t0+3h, o-small t0+4h, o-big t0+5h.
    let all = list(&mut h, &shop, pb::ListMembersRequest::default()).await?;
    assert_eq!(
        users(&all),
        ["o-big", "o-small", "gold", "c-mall", "c-wechat", "c-store"],
        "newest first"
    );
    assert_eq!(all.total_size, 6);
    let cases: Vec<(pb::ListMembersRequest, Vec<&str>)> = vec![
        (
            pb::ListMembersRequest {
                level: 2,
                ..Default::default()
            },
            vec!["gold", "o-big"],
        ),
        (
            pb::ListMembersRequest {
                level: 1,
                ..Default::default()
            },
            vec!["c-mall", "c-store", "c-wechat", "o-small"],
        ),
        (
            pb::ListMembersRequest {
                join_channel: pb::JoinChannel::Order.into(),
                ..Default::default()
            },
            vec!["o-big", "o-small"],
        ),
        (
            pb::ListMembersRequest {
                join_channel: pb::JoinChannel::Card.into(),
                source: pb::MemberSource::Wechat.into(),
                ..Default::default()
            },
            vec!["c-wechat", "gold"],
        ),
        (
            pb::ListMembersRequest {
                source: pb::MemberSource::BrandMall.into(),
                ..Default::default()
            },
            vec!["c-mall"],
        ),
        (
            // [t0+1h, t0+3h): from inclusive, to exclusive.
            pb::ListMembersRequest {
                join_time_from: Some(to_timestamp(t0() + Duration::hours(1))),
                join_time_to: Some(to_timestamp(t0() + Duration::hours(3))),
                ..Default::default()
            },
            vec!["c-mall", "c-wechat"],
        ),
        (
            pb::ListMembersRequest {
                join_time_from: Some(to_timestamp(t0() + Duration::hours(3))),
                level: 2,
                join_channel: pb::JoinChannel::Card.into(),
                ..Default::default()
            },
            vec!["gold"],
        ),
        (
            pb::ListMembersRequest {
                level: 5,
                ..Default::default()
            },
            vec![],
        ),
    ];
    for (request, expected) in cases {
        let page = list(&mut h, &shop, request.clone()).await?;
        assert_eq!(
            sorted(users(&page)),
            expected.iter().map(|u| u.to_string()).collect::<Vec<_>>(),
            "{request:?}"
        );
        assert_eq!(page.total_size, expected.len() as i64, "{request:?}");
    }
    Ok(())
}

#[tokio::test]
async fn mb4_rows_carry_level_spend_order_count_and_points() -> TestResult {
    let mut h = start().await?;
    let shop = listed_shop(&mut h).await?;
    let page = list(
        &mut h,
        &shop,
        pb::ListMembersRequest {
            level: 2,
            ..Default::default()
        },
    )
    .await?;
    let gold = page
        .members
        .iter()
        .find(|m| m.user_id == "gold")
        .ok_or_else(|| anyhow::anyhow!("gold not listed"))?;
    // 120 yuan at 1 point per yuan, earned at level 1.
    assert_eq!(
        (
            gold.level,
            gold.total_spend_fen,
            gold.order_count,
            gold.points_balance
        ),
        (2, 12_000, 1, 120)
    );
    assert_eq!(gold.join_channel(), pb::JoinChannel::Card);
    assert_eq!(gold, &membership(&h, &shop, "gold").await?);
    Ok(())
}

#[tokio::test]
async fn mb4_cursor_paging_walks_every_member_once_with_a_stable_total() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    // 11 members, several sharing a join instant.
    let mut expected = Vec::new();
    for i in 0..11 {
        let user = format!("m{i:02}");
        open_card(&h, &shop, &user, PHONE).await?;
        expected.push(user);
        if i % 3 == 2 {
            h.clock.advance(Duration::seconds(1));
        }
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = list(
            &mut h,
            &shop,
            pb::ListMembersRequest {
                page_size: 4,
                page_token: token.clone(),
                ..Default::default()
            },
        )
        .await?;
        pages += 1;
        assert_eq!(page.total_size, 11, "page {pages}");
        assert!(page.members.len() <= 4);
        seen.extend(users(&page));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no member twice: {seen:?}");
    assert_eq!(sorted(seen), expected);
    Ok(())
}

#[tokio::test]
async fn mb4_a_member_joining_between_pages_neither_repeats_nor_hides_a_listed_member() -> TestResult
{
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    for i in 0..6 {
        open_card(&h, &shop, &format!("m{i}"), PHONE).await?;
        h.clock.advance(Duration::seconds(1));
    }
    let first = list(
        &mut h,
        &shop,
        pb::ListMembersRequest {
            page_size: 3,
            ..Default::default()
        },
    )
    .await?;
    assert_eq!(users(&first), ["m5", "m4", "m3"]);
    // An offset-paged list would now show m3 again on page 2.
    open_card(&h, &shop, "latecomer", PHONE).await?;
    let second = list(
        &mut h,
        &shop,
        pb::ListMembersRequest {
            page_size: 3,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        },
    )
    .await?;
    assert_eq!(users(&second), ["m2", "m1", "m0"]);
    assert_eq!(second.total_size, 7, "the total counts the newcomer");
    Ok(())
}

#[tokio::test]
async fn mb4_no_merchant_response_carries_a_phone() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    open_card(&h, &shop, "u1", "13812345678").await?;
    let me = merchant(&shop);
    let listed = list(&mut h, &shop, pb::ListMembersRequest::default()).await?;
    let one = h
        .client
        .get_membership(req(
            &me,
            pb::GetMembershipRequest {
                shop_id: shop.clone(),
                user_id: "u1".into(),
            },
        ))
        .await?
        .into_inner();
    assert!(one.has_phone);
    for bytes in [listed.encode_to_vec(), one.encode_to_vec()] {
        let text = String::from_utf8_lossy(&bytes).to_string();
        for needle in ["13812345678", "12345678", "138****5678"] {
            assert!(!text.contains(needle), "{needle} in {text:?}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn mb4_bad_list_arguments_are_invalid_naming_the_field() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    for (request, field) in [
        (
            pb::ListMembersRequest {
                level: 6,
                ..Default::default()
            },
            "level",
        ),
        (
            pb::ListMembersRequest {
                level: -1,
                ..Default::default()
            },
            "level",
        ),
        (
            pb::ListMembersRequest {
                page_size: -1,
                ..Default::default()
            },
            "page_size",
        ),
        (
            pb::ListMembersRequest {
                page_size: 201,
                ..Default::default()
            },
            "page_size",
        ),
        (
            pb::ListMembersRequest {
                page_token: "garbage".into(),
                ..Default::default()
            },
            "page_token",
        ),
        (
            pb::ListMembersRequest {
                page_token: "yesterday|u1".into(),
                ..Default::default()
            },
            "page_token",
        ),
        (
            pb::ListMembersRequest {
                join_time_from: Some(prost_types::Timestamp {
                    seconds: 0,
                    nanos: -1,
                }),
                ..Default::default()
            },
            "join_time_from",
        ),
    ] {
        let status = refused(list(&mut h, &shop, request).await)?;
        assert_invalid(&status, field);
    }
    Ok(())
}

#[tokio::test]
async fn x3_a_join_time_filter_out_of_the_databases_range_is_invalid_not_internal() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let ancient = prost_types::Timestamp {
        seconds: -220_000_000_000,
        nanos: 0,
    };
    let status = refused(
        list(
            &mut h,
            &shop,
            pb::ListMembersRequest {
                join_time_from: Some(ancient),
                ..Default::default()
            },
        )
        .await,
    )?;
    assert_not_internal(&status);
    assert_invalid(&status, "join_time_from");
    Ok(())
}

#[tokio::test]
async fn mb4_a_merchant_lists_only_their_own_shop_and_shoppers_not_at_all() -> TestResult {
    let mut h = start().await?;
    let a = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let b = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    open_card(&h, &b, "u1", PHONE).await?;
    for actor in [merchant(&a), shopper("u1")] {
        let status = expect_err(
            h.client
                .list_members(req(
                    &actor,
                    pb::ListMembersRequest {
                        shop_id: b.clone(),
                        ..Default::default()
                    },
                ))
                .await,
        )?;
        assert_code(&status, Code::PermissionDenied);
        let status = expect_err(
            h.client
                .get_membership(req(
                    &merchant(&a),
                    pb::GetMembershipRequest {
                        shop_id: b.clone(),
                        user_id: "u1".into(),
                    },
                ))
                .await,
        )?;
        assert_code(&status, Code::PermissionDenied);
    }
    Ok(())
}

// ------------------------------------------------------------------------------ MB-5

async fn follow(h: &Harness, shop: &str, user: &str, on: bool) -> Result<bool, tonic::Status> {
    let mut client = h.client.clone();
    let response = if on {
        client
            .follow_shop(req(
                &shopper(user),
                pb::FollowShopRequest {
                    request_id: rid("follow"),
                    shop_id: shop.into(),
                    user_id: user.into(),
                },
            ))
            .await?
    } else {
        client
            .unfollow_shop(req(
                &shopper(user),
                pb::UnfollowShopRequest {
                    request_id: rid("unfollow"),
                    shop_id: shop.into(),
                    user_id: user.into(),
                },
            ))
            .await?
    };
    Ok(response.into_inner().following)
}

async fn following_in_db(h: &Harness, shop: &str, user: &str) -> anyhow::Result<bool> {
    let pool = h.db.pool(1).await?;
    let following: bool = sqlx::query_scalar(
        "SELECT following FROM membership.members WHERE shop_id = $1::uuid AND user_id = $2",
    )
    .bind(shop)
    .bind(user)
    .fetch_one(&pool)
    .await?;
    pool.close().await;
    Ok(following)
}

#[tokio::test]
async fn mb5_a_shopper_follows_and_unfollows_a_shop() -> TestResult {
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop)
        .await?
        .shop_id;
    assert!(follow(&h, &shop, "fan", true).await?);
    assert!(following_in_db(&h, &shop, "fan").await?);
    // Following twice is harmless.
    assert!(follow(&h, &shop, "fan", true).await?);
    assert!(!follow(&h, &shop, "fan", false).await?);
    assert!(!following_in_db(&h, &shop, "fan").await?);
    assert!(!follow(&h, &shop, "fan", false).await?);
    // Following is a tag, not a membership.
    follow(&h, &shop, "fan", true).await?;
    let status = refused(membership(&h, &shop, "fan").await)?;
    assert_code(&status, Code::NotFound);
    assert_eq!(
        list(&mut h, &shop, pb::ListMembersRequest::default())
            .await?
            .total_size,
        0
    );
    Ok(())
}

#[tokio::test]
async fn mb5_following_survives_joining_and_quitting() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    follow(&h, &shop, "fan", true).await?;
    open_card(&h, &shop, "fan", PHONE).await?;
    assert!(following_in_db(&h, &shop, "fan").await?);
    quit(&h, &shop, "fan").await?;
    assert!(following_in_db(&h, &shop, "fan").await?);
    Ok(())
}

#[tokio::test]
async fn mb5_a_shopper_cannot_follow_for_another_and_unknown_shops_are_not_found() -> TestResult {
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop)
        .await?
        .shop_id;
    let status = expect_err(
        h.client
            .follow_shop(req(
                &shopper("mallory"),
                pb::FollowShopRequest {
                    request_id: rid("follow"),
                    shop_id: shop.clone(),
                    user_id: "fan".into(),
                },
            ))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    let unknown = uuid::Uuid::now_v7().to_string();
    let status = refused(follow(&h, &unknown, "fan", true).await)?;
    assert_code(&status, Code::NotFound);
    Ok(())
}

#[tokio::test]
async fn x3_unknown_enum_numbers_in_list_filters_and_open_card_are_invalid_naming_the_field()
-> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    for (request, field) in [
        (
            pb::ListMembersRequest {
                join_channel: 99,
                ..Default::default()
            },
            "join_channel",
        ),
        (
            pb::ListMembersRequest {
                source: 99,
                ..Default::default()
            },
            "source",
        ),
        (
            pb::ListMembersRequest {
                page_size: 201,
                ..Default::default()
            },
            "page_size",
        ),
    ] {
        let status = refused(list(&mut h, &shop, request).await)?;
        assert_invalid(&status, field);
    }
    let mut request = open_card_request(&shop, "u1", PHONE);
    request.source = 99;
    let status = expect_err(h.client.open_card(req(&shopper("u1"), request)).await)?;
    assert_invalid(&status, "source");
    let after = membership(&h, &shop, "u1").await;
    assert!(
        after.map_or(true, |m| m.state != pb::MembershipState::Active as i32),
        "the refused opening opened nothing"
    );
    Ok(())
}
