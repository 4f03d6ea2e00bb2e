//! Demo data for `memberhub dev`: a POP shop and a self-operated shop. Loaded through the
//! public gRPC API with fixed idempotency keys, so running `dev` again changes nothing.

use memberhub_kit::actor::Actor;
use memberhub_kit::testing::as_actor;
use memberhub_proto::common::ShopType;
use memberhub_proto::membership as pb;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;
use tonic::transport::Channel;

/// The demo shops, as created.
#[derive(Debug, Clone)]
pub struct Demo {
    pub pop_shop: pb::Shop,
    pub self_operated_shop: pb::Shop,
}

/// The demo shopper's user id.
pub const DEMO_SHOPPER: &str = "demo-shopper-1";

/// Creates (or finds again) the demo shops and sets them up.
pub async fn load(
    membership: &mut MembershipServiceClient<Channel>,
) -> Result<Demo, tonic::Status> {
    let operator = Actor::Operator;
    let pop_shop = membership
        .create_shop(as_actor(
            &operator,
            pb::CreateShopRequest {
                request_id: "demo-shop-pop-v1".into(),
                name: "青山茶舍 Green Hill Tea".into(),
                r#type: ShopType::Pop.into(),
                logo_url: "https://static.memberhub.dev/demo/green-hill-tea.png".into(),
                time_zone: "Asia/Shanghai".into(),
                gift_items: false,
            },
        ))
        .await?
        .into_inner();
    let self_operated_shop = membership
        .create_shop(as_actor(
            &operator,
            pb::CreateShopRequest {
                request_id: "demo-shop-self-operated-v1".into(),
                name: "自营数码 Marketplace Digital".into(),
                r#type: ShopType::SelfOperated.into(),
                logo_url: "https://static.memberhub.dev/demo/marketplace-digital.png".into(),
                time_zone: "Asia/Shanghai".into(),
                gift_items: true,
            },
        ))
        .await?
        .into_inner();
    // The POP shop admits members by card, with SMS verification on (MP-2, MP-4).
    let merchant = Actor::Merchant {
        shop_id: pop_shop.shop_id.clone(),
    };
    membership
        .set_join_policy(as_actor(
            &merchant,
            pb::SetJoinPolicyRequest {
                request_id: "demo-pop-join-policy-v1".into(),
                shop_id: pop_shop.shop_id.clone(),
                join_policy: pb::JoinPolicy::OrderOrCard.into(),
            },
        ))
        .await?;
    membership
        .activate_sms_service(as_actor(
            &operator,
            pb::ActivateSmsServiceRequest {
                request_id: "demo-pop-sms-service-v1".into(),
                shop_id: pop_shop.shop_id.clone(),
            },
        ))
        .await?;
    membership
        .set_sms_verification(as_actor(
            &merchant,
            pb::SetSmsVerificationRequest {
                request_id: "demo-pop-sms-verification-v1".into(),
                shop_id: pop_shop.shop_id.clone(),
                enabled: true,
            },
        ))
        .await?;
    Ok(Demo {
        pop_shop,
        self_operated_shop,
    })
}
