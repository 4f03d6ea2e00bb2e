//! X-1 tenancy (and the X-3 codes it answers with) through the real gRPC interface.

mod support;

use memberhub_kit::actor::Actor;
use memberhub_kit::testing::TestResult;
use memberhub_proto::common::ShopType;
use memberhub_proto::membership as pb;
use support::*;
use tonic::Code;

/// Two shops: A (whose merchant attacks) and B (the victim), B with a customised program.
async fn two_shops(h: &mut Harness) -> anyhow::Result<(pb::Shop, pb::Shop, pb::Program)> {
    let a = register_shop(h, "Shop A", ShopType::Pop).await?;
    let b = register_shop(h, "Shop B", ShopType::Pop).await?;
    set_policy(h, &b.shop_id, pb::JoinPolicy::Card).await?;
    let mut request = card_face_request(&b.shop_id);
    request.card_name = Some("B 会员卡".into());
    request.level_images = vec![pb::LevelCardImage {
        level: 2,
        image_url: "https://img.example.com/b2.png".into(),
    }];
    h.client
        .update_card_face(req(&merchant(&b.shop_id), request))
        .await?;
    let before = program(h, &b.shop_id).await?;
    Ok((a, b, before))
}

#[tokio::test]
async fn x1_merchant_of_shop_a_cannot_read_shop_b_or_its_program() -> TestResult {
    let mut h = start().await?;
    let (a, b, _) = two_shops(&mut h).await?;
    let attacker = merchant(&a.shop_id);
    let status = expect_err(
        h.client
            .get_program(req(
                &attacker,
                pb::GetProgramRequest {
                    shop_id: b.shop_id.clone(),
                },
            ))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    let status = expect_err(
        h.client
            .get_shop(req(
                &attacker,
                pb::GetShopRequest {
                    shop_id: b.shop_id.clone(),
                },
            ))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    // Its own shop is fine.
    h.client
        .get_program(req(
            &attacker,
            pb::GetProgramRequest {
                shop_id: a.shop_id.clone(),
            },
        ))
        .await?;
    Ok(())
}

#[tokio::test]
async fn x1_merchant_of_shop_a_cannot_set_shop_bs_join_policy_and_b_is_unchanged() -> TestResult {
    let mut h = start().await?;
    let (a, b, before) = two_shops(&mut h).await?;
    let request = pb::SetJoinPolicyRequest {
        request_id: rid("policy"),
        shop_id: b.shop_id.clone(),
        join_policy: pb::JoinPolicy::Order.into(),
    };
    let status = expect_err(
        h.client
            .set_join_policy(req(&merchant(&a.shop_id), request))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    assert_eq!(program(&mut h, &b.shop_id).await?, before);
    assert_eq!(
        program(&mut h, &a.shop_id).await?.join_policy(),
        pb::JoinPolicy::Order
    );
    Ok(())
}

#[tokio::test]
async fn x1_merchant_of_shop_a_cannot_update_shop_bs_card_face_and_b_is_unchanged() -> TestResult {
    let mut h = start().await?;
    let (a, b, before) = two_shops(&mut h).await?;
    let before_a = program(&mut h, &a.shop_id).await?;
    let mut request = card_face_request(&b.shop_id);
    request.card_name = Some("Hijacked".into());
    request.logo_url = Some("https://evil.example.com/logo.png".into());
    request.level_images = vec![pb::LevelCardImage {
        level: 2,
        image_url: String::new(),
    }];
    let status = expect_err(
        h.client
            .update_card_face(req(&merchant(&a.shop_id), request))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    assert_eq!(program(&mut h, &b.shop_id).await?, before);
    assert_eq!(program(&mut h, &a.shop_id).await?, before_a);
    Ok(())
}

#[tokio::test]
async fn x1_merchant_of_shop_a_cannot_touch_shop_bs_sms_settings() -> TestResult {
    let mut h = start().await?;
    let (a, b, before) = two_shops(&mut h).await?;
    let request = pb::ActivateSmsServiceRequest {
        request_id: rid("activate"),
        shop_id: b.shop_id.clone(),
    };
    let status = expect_err(
        h.client
            .activate_sms_service(req(&merchant(&a.shop_id), request))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    let request = pb::SetSmsVerificationRequest {
        request_id: rid("sms"),
        shop_id: b.shop_id.clone(),
        enabled: false,
    };
    let status = expect_err(
        h.client
            .set_sms_verification(req(&merchant(&a.shop_id), request))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    assert_eq!(program(&mut h, &b.shop_id).await?, before);
    Ok(())
}

#[tokio::test]
async fn x1_a_foreign_shop_is_refused_before_its_input_is_judged() -> TestResult {
    let mut h = start().await?;
    let (a, b, before) = two_shops(&mut h).await?;
    // An invalid request against someone else's shop says "not yours", not "bad field".
    let request = pb::SetJoinPolicyRequest {
        request_id: String::new(),
        shop_id: b.shop_id.clone(),
        join_policy: pb::JoinPolicy::Unspecified.into(),
    };
    let status = expect_err(
        h.client
            .set_join_policy(req(&merchant(&a.shop_id), request))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    let mut request = card_face_request(&b.shop_id);
    request.card_name = Some("x".repeat(50));
    let status = expect_err(
        h.client
            .update_card_face(req(&merchant(&a.shop_id), request))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    assert_eq!(program(&mut h, &b.shop_id).await?, before);
    Ok(())
}

#[tokio::test]
async fn x1_a_merchant_probing_an_unknown_shop_is_refused_not_told_it_is_missing() -> TestResult {
    let mut h = start().await?;
    let a = register_shop(&mut h, "Shop A", ShopType::Pop).await?;
    let missing = uuid::Uuid::now_v7().to_string();
    let status = expect_err(
        h.client
            .get_program(req(
                &merchant(&a.shop_id),
                pb::GetProgramRequest { shop_id: missing },
            ))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    Ok(())
}

#[tokio::test]
async fn x1_a_shopper_cannot_manage_a_shop() -> TestResult {
    let mut h = start().await?;
    let (_, b, before) = two_shops(&mut h).await?;
    let who = shopper("u1");
    let status = expect_err(
        h.client
            .get_program(req(
                &who,
                pb::GetProgramRequest {
                    shop_id: b.shop_id.clone(),
                },
            ))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    let request = pb::SetJoinPolicyRequest {
        request_id: rid("policy"),
        shop_id: b.shop_id.clone(),
        join_policy: pb::JoinPolicy::Order.into(),
    };
    assert_code(
        &expect_err(h.client.set_join_policy(req(&who, request)).await)?,
        Code::PermissionDenied,
    );
    let mut request = card_face_request(&b.shop_id);
    request.card_name = Some("mine".into());
    assert_code(
        &expect_err(h.client.update_card_face(req(&who, request)).await)?,
        Code::PermissionDenied,
    );
    let request = pb::ActivateSmsServiceRequest {
        request_id: rid("activate"),
        shop_id: b.shop_id.clone(),
    };
    assert_code(
        &expect_err(h.client.activate_sms_service(req(&who, request)).await)?,
        Code::PermissionDenied,
    );
    assert_eq!(program(&mut h, &b.shop_id).await?, before);
    Ok(())
}

#[tokio::test]
async fn x1_a_merchant_can_read_a_shoppers_storefront_only_as_that_shopper() -> TestResult {
    let mut h = start().await?;
    let (a, b, _) = two_shops(&mut h).await?;
    // The shopper sees any shop's member center, for themselves.
    let request = pb::GetMemberCenterRequest {
        shop_id: b.shop_id.clone(),
        user_id: "u1".into(),
    };
    let center = h
        .client
        .get_member_center(req(&shopper("u1"), request))
        .await?
        .into_inner();
    assert_eq!(center.shop_id, b.shop_id);
    // A merchant may not act as a shopper.
    let request = pb::GetMemberCenterRequest {
        shop_id: a.shop_id.clone(),
        user_id: "u1".into(),
    };
    let status = expect_err(
        h.client
            .get_member_center(req(&merchant(&a.shop_id), request))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    Ok(())
}

#[tokio::test]
async fn x1_calls_without_an_actor_are_unauthenticated() -> TestResult {
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop).await?;
    let before = program(&mut h, &shop.shop_id).await?;
    let id = shop.shop_id.clone();
    let status = expect_err(
        h.client
            .get_shop(tonic::Request::new(pb::GetShopRequest {
                shop_id: id.clone(),
            }))
            .await,
    )?;
    assert_code(&status, Code::Unauthenticated);
    let status = expect_err(
        h.client
            .get_program(tonic::Request::new(pb::GetProgramRequest {
                shop_id: id.clone(),
            }))
            .await,
    )?;
    assert_code(&status, Code::Unauthenticated);
    let request = pb::SetJoinPolicyRequest {
        request_id: rid("p"),
        shop_id: id.clone(),
        join_policy: pb::JoinPolicy::Card.into(),
    };
    assert_code(
        &expect_err(h.client.set_join_policy(tonic::Request::new(request)).await)?,
        Code::Unauthenticated,
    );
    let mut request = card_face_request(&id);
    request.card_name = Some("x".into());
    assert_code(
        &expect_err(
            h.client
                .update_card_face(tonic::Request::new(request))
                .await,
        )?,
        Code::Unauthenticated,
    );
    let request = pb::ActivateSmsServiceRequest {
        request_id: rid("a"),
        shop_id: id.clone(),
    };
    assert_code(
        &expect_err(
            h.client
                .activate_sms_service(tonic::Request::new(request))
                .await,
        )?,
        Code::Unauthenticated,
    );
    let request = pb::SetSmsVerificationRequest {
        request_id: rid("s"),
        shop_id: id.clone(),
        enabled: false,
    };
    assert_code(
        &expect_err(
            h.client
                .set_sms_verification(tonic::Request::new(request))
                .await,
        )?,
        Code::Unauthenticated,
    );
    assert_eq!(program(&mut h, &id).await?, before);
    Ok(())
}

#[tokio::test]
async fn x1_forged_unsigned_expired_or_tampered_actors_are_unauthenticated() -> TestResult {
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop).await?;
    let read = pb::GetProgramRequest {
        shop_id: shop.shop_id.clone(),
    };
    for (label, request) in memberhub_kit::testing::forgeries(&read) {
        let status = expect_err(h.client.get_program(request).await)?;
        assert_eq!(status.code(), Code::Unauthenticated, "{label}: {status:?}");
    }
    let create = create_shop_request("Sneaky", ShopType::Pop);
    for (label, request) in memberhub_kit::testing::forgeries(&create) {
        let status = expect_err(h.client.create_shop(request).await)?;
        assert_eq!(status.code(), Code::Unauthenticated, "{label}: {status:?}");
    }
    assert_eq!(shop_count(&h).await?, 1);
    Ok(())
}

#[tokio::test]
async fn x1_a_service_calls_only_what_it_is_granted() -> TestResult {
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop).await?;
    // campaign-svc reads programs for its campaigns, but reports no orders and makes no shops
    let campaign = Actor::Service {
        name: "campaign-svc".into(),
    };
    let status = expect_err(
        h.client
            .create_shop(req(&campaign, create_shop_request("Sneaky", ShopType::Pop)))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    // the order system reports orders, and reads no program
    let orders = Actor::Service {
        name: "order-system".into(),
    };
    let status = expect_err(
        h.client
            .get_program(req(
                &orders,
                pb::GetProgramRequest {
                    shop_id: shop.shop_id.clone(),
                },
            ))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    assert_eq!(shop_count(&h).await?, 1);
    Ok(())
}

#[tokio::test]
async fn x1_a_trusted_service_may_manage_any_shop() -> TestResult {
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop).await?;
    let service = Actor::Service {
        name: "campaign-svc".into(),
    };
    let read = h
        .client
        .get_program(req(
            &service,
            pb::GetProgramRequest {
                shop_id: shop.shop_id.clone(),
            },
        ))
        .await?;
    assert_eq!(read.into_inner().shop_id, shop.shop_id);
    Ok(())
}
