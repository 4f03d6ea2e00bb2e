//! X-2 idempotency keys through the real gRPC interface on real Postgres.

mod support;

use memberhub_kit::testing::TestResult;
use memberhub_proto::common::ShopType;
use memberhub_proto::membership as pb;
use support::*;
use tonic::Code;

fn one_minute() -> chrono::Duration {
    chrono::Duration::minutes(1)
}

#[tokio::test]
async fn x2_create_shop_replay_returns_the_same_shop_and_creates_no_second() -> TestResult {
    let mut h = start().await?;
    let request = create_shop_request("Tea House", ShopType::Pop);
    let first = h
        .client
        .create_shop(req(&operator(), request.clone()))
        .await?
        .into_inner();
    h.clock.advance(one_minute());
    let second = h
        .client
        .create_shop(req(&operator(), request.clone()))
        .await?
        .into_inner();
    assert_eq!(second, first);
    assert_eq!(shop_count(&h).await?, 1);
    // A different key with the same body is a second shop.
    let mut other = request;
    other.request_id = rid("create");
    let third = h
        .client
        .create_shop(req(&operator(), other))
        .await?
        .into_inner();
    assert_ne!(third.shop_id, first.shop_id);
    assert_eq!(shop_count(&h).await?, 2);
    Ok(())
}

#[tokio::test]
async fn x2_create_shop_same_key_with_a_different_body_is_rejected() -> TestResult {
    let mut h = start().await?;
    let request = create_shop_request("Tea House", ShopType::Pop);
    h.client
        .create_shop(req(&operator(), request.clone()))
        .await?;
    let mut changed = request.clone();
    changed.name = "Coffee House".into();
    let status = expect_err(h.client.create_shop(req(&operator(), changed)).await)?;
    assert_precondition(&status, "IDEMPOTENCY_KEY_REUSED");
    let mut changed = request;
    changed.gift_items = true;
    let status = expect_err(h.client.create_shop(req(&operator(), changed)).await)?;
    assert_precondition(&status, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(shop_count(&h).await?, 1);
    Ok(())
}

#[tokio::test]
async fn x2_set_join_policy_replay_returns_the_first_result_without_a_second_effect() -> TestResult
{
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop).await?;
    let me = merchant(&shop.shop_id);
    let to_card = pb::SetJoinPolicyRequest {
        request_id: rid("policy"),
        shop_id: shop.shop_id.clone(),
        join_policy: pb::JoinPolicy::Card.into(),
    };
    let first = h
        .client
        .set_join_policy(req(&me, to_card.clone()))
        .await?
        .into_inner();
    assert_eq!(first.join_policy(), pb::JoinPolicy::Card);
    // Something else changes the policy afterwards.
    h.clock.advance(one_minute());
    set_policy(&mut h, &shop.shop_id, pb::JoinPolicy::OrderAndCard).await?;
    // The retry answers what the first call answered, and does not set CARD again.
    h.clock.advance(one_minute());
    let replay = h
        .client
        .set_join_policy(req(&me, to_card))
        .await?
        .into_inner();
    assert_eq!(replay, first);
    assert_eq!(
        program(&mut h, &shop.shop_id).await?.join_policy(),
        pb::JoinPolicy::OrderAndCard
    );
    Ok(())
}

#[tokio::test]
async fn x2_set_join_policy_same_key_with_a_different_policy_is_rejected() -> TestResult {
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop).await?;
    let me = merchant(&shop.shop_id);
    let key = rid("policy");
    let request = pb::SetJoinPolicyRequest {
        request_id: key.clone(),
        shop_id: shop.shop_id.clone(),
        join_policy: pb::JoinPolicy::Card.into(),
    };
    h.client.set_join_policy(req(&me, request)).await?;
    let request = pb::SetJoinPolicyRequest {
        request_id: key,
        shop_id: shop.shop_id.clone(),
        join_policy: pb::JoinPolicy::Order.into(),
    };
    let status = expect_err(h.client.set_join_policy(req(&me, request)).await)?;
    assert_precondition(&status, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(
        program(&mut h, &shop.shop_id).await?.join_policy(),
        pb::JoinPolicy::Card
    );
    Ok(())
}

#[tokio::test]
async fn x2_update_card_face_replay_returns_the_first_result_without_a_second_effect() -> TestResult
{
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop).await?;
    let me = merchant(&shop.shop_id);
    let mut first_request = card_face_request(&shop.shop_id);
    first_request.card_name = Some("First".into());
    first_request.level_images = vec![pb::LevelCardImage {
        level: 3,
        image_url: "https://img.example.com/3.png".into(),
    }];
    let first = h
        .client
        .update_card_face(req(&me, first_request.clone()))
        .await?
        .into_inner();

    h.clock.advance(one_minute());
    let mut second_request = card_face_request(&shop.shop_id);
    second_request.card_name = Some("Second".into());
    second_request.level_images = vec![pb::LevelCardImage {
        level: 3,
        image_url: String::new(),
    }];
    let second = h
        .client
        .update_card_face(req(&me, second_request))
        .await?
        .into_inner();

    h.clock.advance(one_minute());
    let replay = h
        .client
        .update_card_face(req(&me, first_request.clone()))
        .await?
        .into_inner();
    assert_eq!(replay, first);
    assert_eq!(program(&mut h, &shop.shop_id).await?, second);

    let mut changed = first_request;
    changed.card_name = Some("Third".into());
    let status = expect_err(h.client.update_card_face(req(&me, changed)).await)?;
    assert_precondition(&status, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(program(&mut h, &shop.shop_id).await?, second);
    Ok(())
}

#[tokio::test]
async fn x2_sms_calls_replay_their_first_result() -> TestResult {
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop).await?;
    let me = merchant(&shop.shop_id);
    let activate = pb::ActivateSmsServiceRequest {
        request_id: rid("activate"),
        shop_id: shop.shop_id.clone(),
    };
    let first = h
        .client
        .activate_sms_service(req(&me, activate.clone()))
        .await?
        .into_inner();
    h.clock.advance(one_minute());
    assert_eq!(
        h.client
            .activate_sms_service(req(&me, activate))
            .await?
            .into_inner(),
        first
    );

    let enable = pb::SetSmsVerificationRequest {
        request_id: rid("sms"),
        shop_id: shop.shop_id.clone(),
        enabled: true,
    };
    let on = h
        .client
        .set_sms_verification(req(&me, enable.clone()))
        .await?
        .into_inner();
    assert!(on.sms_verification_enabled);
    set_sms(&mut h, &shop.shop_id, false).await?;
    let replay = h
        .client
        .set_sms_verification(req(&me, enable.clone()))
        .await?
        .into_inner();
    assert_eq!(replay, on);
    assert!(
        !program(&mut h, &shop.shop_id)
            .await?
            .sms_verification_enabled
    );

    let mut flipped = enable;
    flipped.enabled = false;
    let status = expect_err(h.client.set_sms_verification(req(&me, flipped)).await)?;
    assert_precondition(&status, "IDEMPOTENCY_KEY_REUSED");
    Ok(())
}

#[tokio::test]
async fn x2_the_same_key_used_by_two_merchants_is_independent() -> TestResult {
    let mut h = start().await?;
    let a = register_shop(&mut h, "Shop A", ShopType::Pop).await?;
    let b = register_shop(&mut h, "Shop B", ShopType::Pop).await?;
    let key = "shared-key-1";
    let request = pb::SetJoinPolicyRequest {
        request_id: key.into(),
        shop_id: a.shop_id.clone(),
        join_policy: pb::JoinPolicy::Card.into(),
    };
    let for_a = h
        .client
        .set_join_policy(req(&merchant(&a.shop_id), request))
        .await?
        .into_inner();
    assert_eq!(for_a.shop_id, a.shop_id);
    // B's merchant uses the same key with its own (different) request: neither refused nor
    // answered with A's stored response.
    let request = pb::SetJoinPolicyRequest {
        request_id: key.into(),
        shop_id: b.shop_id.clone(),
        join_policy: pb::JoinPolicy::OrderAndCard.into(),
    };
    let for_b = h
        .client
        .set_join_policy(req(&merchant(&b.shop_id), request))
        .await?
        .into_inner();
    assert_eq!(for_b.shop_id, b.shop_id);
    assert_eq!(for_b.join_policy(), pb::JoinPolicy::OrderAndCard);
    assert_eq!(
        program(&mut h, &a.shop_id).await?.join_policy(),
        pb::JoinPolicy::Card
    );
    assert_eq!(
        program(&mut h, &b.shop_id).await?.join_policy(),
        pb::JoinPolicy::OrderAndCard
    );

    // Same for card faces.
    let mut request = card_face_request(&a.shop_id);
    request.request_id = "shared-key-2".into();
    request.card_name = Some("A card".into());
    h.client
        .update_card_face(req(&merchant(&a.shop_id), request))
        .await?;
    let mut request = card_face_request(&b.shop_id);
    request.request_id = "shared-key-2".into();
    request.card_name = Some("B card".into());
    let b_face = face(
        &h.client
            .update_card_face(req(&merchant(&b.shop_id), request))
            .await?
            .into_inner(),
    )?;
    assert_eq!(b_face.card_name, "B card");
    assert_eq!(
        face(&program(&mut h, &a.shop_id).await?)?.card_name,
        "A card"
    );
    Ok(())
}

#[tokio::test]
async fn x2_a_merchant_and_the_operator_do_not_share_keys() -> TestResult {
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop).await?;
    let key = rid("policy");
    let request = pb::SetJoinPolicyRequest {
        request_id: key.clone(),
        shop_id: shop.shop_id.clone(),
        join_policy: pb::JoinPolicy::Card.into(),
    };
    h.client
        .set_join_policy(req(&merchant(&shop.shop_id), request))
        .await?;
    let request = pb::SetJoinPolicyRequest {
        request_id: key,
        shop_id: shop.shop_id.clone(),
        join_policy: pb::JoinPolicy::OrderOrCard.into(),
    };
    let by_operator = h
        .client
        .set_join_policy(req(&operator(), request))
        .await?
        .into_inner();
    assert_eq!(by_operator.join_policy(), pb::JoinPolicy::OrderOrCard);
    assert_eq!(
        program(&mut h, &shop.shop_id).await?.join_policy(),
        pb::JoinPolicy::OrderOrCard
    );
    Ok(())
}

#[tokio::test]
async fn x2_a_refused_request_does_not_store_its_key() -> TestResult {
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop).await?;
    let me = merchant(&shop.shop_id);
    let enable = pb::SetSmsVerificationRequest {
        request_id: rid("sms"),
        shop_id: shop.shop_id.clone(),
        enabled: true,
    };
    let status = expect_err(
        h.client
            .set_sms_verification(req(&me, enable.clone()))
            .await,
    )?;
    assert_precondition(&status, "SMS_SERVICE_NOT_ACTIVATED");
    // Retrying before fixing the precondition is refused the same way (not a stored failure, not a replay).
    let status = expect_err(
        h.client
            .set_sms_verification(req(&me, enable.clone()))
            .await,
    )?;
    assert_precondition(&status, "SMS_SERVICE_NOT_ACTIVATED");
    activate_sms(&mut h, &me, &shop.shop_id).await?;
    let on = h
        .client
        .set_sms_verification(req(&me, enable.clone()))
        .await?
        .into_inner();
    assert!(on.sms_verification_enabled);
    // Now the key is stored: a replay answers the same.
    assert_eq!(
        h.client
            .set_sms_verification(req(&me, enable))
            .await?
            .into_inner(),
        on
    );
    Ok(())
}

#[tokio::test]
async fn x2_a_request_refused_as_invalid_does_not_store_its_key() -> TestResult {
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop).await?;
    let me = merchant(&shop.shop_id);
    let mut bad = card_face_request(&shop.shop_id);
    bad.card_name = Some("茶".repeat(21));
    let status = expect_err(h.client.update_card_face(req(&me, bad.clone())).await)?;
    assert_invalid(&status, "card_name");
    // The corrected request may reuse the key.
    let mut fixed = bad;
    fixed.card_name = Some("茶".repeat(20));
    let program = h
        .client
        .update_card_face(req(&me, fixed))
        .await?
        .into_inner();
    assert_eq!(face(&program)?.card_name, "茶".repeat(20));

    // Same for CreateShop.
    let mut bad = create_shop_request("Tea House", ShopType::Pop);
    bad.time_zone = "Mars/Base".into();
    assert_invalid(
        &expect_err(h.client.create_shop(req(&operator(), bad.clone())).await)?,
        "time_zone",
    );
    let mut fixed = bad;
    fixed.time_zone = "Asia/Shanghai".into();
    h.client.create_shop(req(&operator(), fixed)).await?;
    assert_eq!(shop_count(&h).await?, 2);
    Ok(())
}

#[tokio::test]
async fn x2_a_request_refused_for_a_missing_shop_does_not_store_its_key() -> TestResult {
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop).await?;
    let key = rid("policy");
    let request = pb::SetJoinPolicyRequest {
        request_id: key.clone(),
        shop_id: uuid::Uuid::now_v7().to_string(),
        join_policy: pb::JoinPolicy::Card.into(),
    };
    assert_code(
        &expect_err(h.client.set_join_policy(req(&operator(), request)).await)?,
        Code::NotFound,
    );
    let request = pb::SetJoinPolicyRequest {
        request_id: key,
        shop_id: shop.shop_id.clone(),
        join_policy: pb::JoinPolicy::Card.into(),
    };
    let program = h
        .client
        .set_join_policy(req(&operator(), request))
        .await?
        .into_inner();
    assert_eq!(program.join_policy(), pb::JoinPolicy::Card);
    Ok(())
}

#[tokio::test]
async fn x2_every_mutation_requires_a_request_id() -> TestResult {
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop).await?;
    let before = program(&mut h, &shop.shop_id).await?;
    let me = merchant(&shop.shop_id);
    let id = shop.shop_id.clone();
    for key in ["", "   ", "键", &"k".repeat(129)] {
        let request = pb::SetJoinPolicyRequest {
            request_id: key.into(),
            shop_id: id.clone(),
            join_policy: pb::JoinPolicy::Card.into(),
        };
        assert_invalid(
            &expect_err(h.client.set_join_policy(req(&me, request)).await)?,
            "request_id",
        );
        let mut request = card_face_request(&id);
        request.request_id = key.into();
        request.card_name = Some("x".into());
        assert_invalid(
            &expect_err(h.client.update_card_face(req(&me, request)).await)?,
            "request_id",
        );
        let request = pb::ActivateSmsServiceRequest {
            request_id: key.into(),
            shop_id: id.clone(),
        };
        assert_invalid(
            &expect_err(h.client.activate_sms_service(req(&me, request)).await)?,
            "request_id",
        );
        let request = pb::SetSmsVerificationRequest {
            request_id: key.into(),
            shop_id: id.clone(),
            enabled: false,
        };
        assert_invalid(
            &expect_err(h.client.set_sms_verification(req(&me, request)).await)?,
            "request_id",
        );
    }
    // A 128-character key is fine.
    let request = pb::SetJoinPolicyRequest {
        request_id: "k".repeat(128),
        shop_id: id.clone(),
        join_policy: pb::JoinPolicy::Card.into(),
    };
    h.client.set_join_policy(req(&me, request)).await?;
    assert_eq!(program(&mut h, &id).await?.card_face, before.card_face);
    Ok(())
}

#[tokio::test]
async fn x2_concurrent_create_shop_with_the_same_request_id_creates_exactly_one_shop() -> TestResult
{
    let h = start().await?;
    let request = create_shop_request("Tea House", ShopType::Pop);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let mut client = h.client.clone();
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            client.create_shop(req(&operator(), request)).await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let shop = task.await??.into_inner();
        ids.insert(shop.shop_id);
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(shop_count(&h).await?, 1);
    Ok(())
}

#[tokio::test]
async fn x2_concurrent_different_requests_under_one_key_have_one_winner() -> TestResult {
    let h = start().await?;
    let key = rid("create");
    let mut tasks = Vec::new();
    for i in 0..16 {
        let mut client = h.client.clone();
        let mut request =
            create_shop_request(if i % 2 == 0 { "Even" } else { "Odd" }, ShopType::Pop);
        request.request_id = key.clone();
        tasks.push(tokio::spawn(async move {
            client.create_shop(req(&operator(), request)).await
        }));
    }
    let (mut winners, mut reused) = (std::collections::BTreeSet::new(), 0);
    for task in tasks {
        match task.await? {
            Ok(shop) => {
                let shop = shop.into_inner();
                winners.insert((shop.shop_id, shop.name));
            }
            Err(status) => {
                assert_precondition(&status, "IDEMPOTENCY_KEY_REUSED");
                reused += 1;
            }
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(reused, 8);
    assert_eq!(shop_count(&h).await?, 1);
    Ok(())
}
