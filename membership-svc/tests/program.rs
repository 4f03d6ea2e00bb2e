//! MP-1..MP-5 through the real gRPC interface on real Postgres.

mod support;

use memberhub_proto::common::ShopType;
use memberhub_proto::membership as pb;
use support::*;

#[tokio::test]
async fn mp1_registering_a_shop_creates_its_program_with_defaults() -> anyhow::Result<()> {
    let mut h = start().await?;
    let shop = register_shop(&mut h, "Tea House", ShopType::Pop).await?;
    assert_eq!(shop.time_zone, "Asia/Shanghai");
    let program = h
        .client
        .get_program(req(&merchant(&shop.shop_id), pb::GetProgramRequest { shop_id: shop.shop_id.clone() }))
        .await?
        .into_inner();
    assert_eq!(program.join_policy(), pb::JoinPolicy::Order);
    let face = program.card_face.unwrap_or_default();
    assert_eq!(face.card_name, "Tea House");
    assert_eq!(face.logo_url, shop.logo_url);
    assert!(!face.opening_image_url.is_empty());
    assert_eq!(face.level_images.len(), 5);
    assert!(!program.join_terms.is_empty());
    assert!(!program.sms_verification_enabled && !program.sms_service_active);
    Ok(())
}
