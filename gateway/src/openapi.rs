//! The OpenAPI 3 document, generated from the handlers' annotations.

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::error::{ErrorBody, FieldViolation};
use crate::routes::{backoffice, campaigns, coupons, internal, platform, sprint_plans, storefront};
use crate::{coupon_views, views};

#[derive(OpenApi)]
#[openapi(
    info(title = "memberhub API", description = "Storefront, back-office, platform and internal HTTP API of memberhub. \
        Every route takes a JWT bearer token; every mutation an Idempotency-Key header."),
    paths(
        platform::create_shop,
        platform::get_shop,
        platform::activate_sms_service,
        platform::list_shops,
        platform::update_shop,
        platform::get_program,
        platform::get_level_rules,
        platform::list_members,
        platform::get_member,
        platform::expire_points,
        platform::list_parked_events,
        platform::shop_statistics,
        sprint_plans::create_plan,
        sprint_plans::list_plans,
        sprint_plans::get_plan,
        sprint_plans::invite_shop,
        sprint_plans::list_plan_shops,
        sprint_plans::my_invitations,
        sprint_plans::my_invitation,
        sprint_plans::create_reward_batch,
        sprint_plans::join,
        sprint_plans::withdraw,
        sprint_plans::my_statistics,
        sprint_plans::shop_statistics,
        sprint_plans::register,
        sprint_plans::my_registration,
        backoffice::get_program,
        backoffice::set_join_policy,
        backoffice::update_card_face,
        backoffice::set_sms_verification,
        backoffice::activate_sms_service,
        backoffice::update_program_settings,
        backoffice::get_level_rules,
        backoffice::update_level_rules,
        backoffice::update_level_benefits,
        backoffice::list_members,
        backoffice::get_member,
        backoffice::member_ledger,
        backoffice::list_budget_balances,
        backoffice::recharge_budget,
        backoffice::expire_points,
        storefront::member_center,
        storefront::send_card_sms_code,
        storefront::open_card,
        storefront::my_membership,
        storefront::quit_membership,
        storefront::my_ledger,
        storefront::follow_shop,
        storefront::unfollow_shop,
        internal::report_order_event,
        internal::batch_report_order_events,
        internal::batch_report_cart_events,
        internal::lock_order_coupons,
        internal::redeem_order_coupons,
        internal::release_order_coupons,
        coupons::create_batch,
        coupons::list_batches,
        coupons::get_batch,
        coupons::submit_batch,
        coupons::close_batch,
        coupons::issue_to_member,
        coupons::batch_statistics,
        coupons::coupon_centre,
        coupons::storefront_batch,
        coupons::claim,
        coupons::wallet,
        coupons::evaluate_cart,
        coupons::platform_batches,
        coupons::approve_batch,
        coupons::reject_batch,
        campaigns::create_open_card_gift,
        campaigns::list_open_card_gifts,
        campaigns::get_open_card_gift,
        campaigns::update_open_card_gift,
        campaigns::close_open_card_gift,
        campaigns::open_card_gift_statistics,
        campaigns::create_gift_pack,
        campaigns::list_gift_packs,
        campaigns::get_gift_pack,
        campaigns::close_gift_pack,
        campaigns::list_gift_items,
        campaigns::upsert_gift_item,
        campaigns::get_new_member_exclusive,
        campaigns::set_new_member_exclusive,
        campaigns::list_claims,
        campaigns::get_shop_claim,
        campaigns::claim_gift_pack,
        campaigns::claim_new_member_exclusive,
        campaigns::exchange_points,
        campaigns::list_my_claims,
        campaigns::get_my_claim,
        campaigns::my_entitlements,
        campaigns::consume_entitlement,
    ),
    components(schemas(
        ErrorBody,
        FieldViolation,
        views::Shop,
        views::Program,
        views::CardFace,
        views::LevelCardImage,
        views::MemberCenter,
        views::CreateShop,
        views::UpdateShop,
        views::ShopPage,
        views::ParkedEvent,
        views::ParkedEventPage,
        views::CreateSprintPlan,
        views::SprintPlan,
        views::SprintPlanPage,
        views::SprintPhase,
        views::SprintThresholds,
        views::InviteSprintPlanShop,
        views::JoinSprintPlan,
        views::CreateRewardBatch,
        views::ShopStatistics,
        views::SprintPlanShop,
        views::SprintPlanShopPage,
        views::RegisterSprintPlan,
        views::SprintRegistration,
        views::SprintPlanShopStatistics,
        views::SetJoinPolicy,
        views::UpdateCardFace,
        views::SetSmsVerification,
        views::ShopType,
        views::JoinPolicy,
        views::Warning,
        views::UpdateProgramSettings,
        views::ProgramSettingsSaved,
        views::ConditionOperator,
        views::LevelCondition,
        views::ExchangeItem,
        views::CouponExchangeItem,
        views::LevelBenefits,
        views::Level,
        views::LevelRules,
        views::LevelRulesSaved,
        views::LevelDefinition,
        views::UpdateLevelRules,
        views::JoinChannel,
        views::MemberSource,
        views::MemberProfile,
        views::Membership,
        views::MemberPage,
        views::SendCardSmsCode,
        views::SmsCodeSent,
        views::OpenCard,
        views::Following,
        views::Asset,
        views::LedgerEntry,
        views::LedgerPage,
        views::Account,
        views::Transfer,
        views::BudgetBalance,
        views::BudgetBalances,
        views::BudgetAsset,
        views::RechargeBudget,
        views::PointsExpired,
        views::OrderEventType,
        views::OrderLine,
        views::OrderEvent,
        views::OrderEventBatch,
        views::OrderEventReported,
        views::OrderEventsReported,
        views::CartEvent,
        views::CartEventBatch,
        views::CartEventsReported,
        coupon_views::CreateCouponBatch,
        coupon_views::CouponBatch,
        coupon_views::CouponBatchList,
        coupon_views::CouponBatchStatistics,
        coupon_views::RejectCouponBatch,
        coupon_views::StorefrontCouponBatch,
        coupon_views::CouponCentre,
        coupon_views::WalletCoupon,
        coupon_views::Wallet,
        coupon_views::ClaimedCoupons,
        coupon_views::CartLine,
        coupon_views::EvaluateCart,
        coupon_views::CouponEvaluation,
        coupon_views::CartEvaluation,
        coupon_views::CartLinePrice,
        coupon_views::MemberPricing,
        coupon_views::ItemScope,
        coupon_views::Validity,
        coupon_views::ValidityKind,
        coupon_views::CouponKind,
        coupon_views::CouponChannel,
        coupon_views::BatchStatus,
        coupon_views::CouponState,
        coupon_views::LockOrderCoupons,
        coupon_views::OrderShopper,
        coupon_views::LockedCoupons,
        coupon_views::OrderCoupons,
        coupon_views::IssueToMember,
        views::PrizeType,
        views::GiftPackKind,
        views::ClaimState,
        views::ExclusiveChoice,
        views::Prize,
        views::NewPrize,
        views::OpenCardGift,
        views::OpenCardGiftBody,
        views::OpenCardGiftList,
        views::PrizeTotal,
        views::DailyStatistics,
        views::OpenCardGiftStatistics,
        views::GiftItem,
        views::GiftPack,
        views::CreateGiftPack,
        views::GiftPackList,
        views::GiftItemRecord,
        views::GiftItemList,
        views::UpsertGiftItem,
        views::NewMemberExclusive,
        views::SetNewMemberExclusive,
        views::GrantedItem,
        views::Claim,
        views::ClaimList,
        views::ClaimNewMemberExclusive,
        views::ExchangePoints,
        views::Entitlement,
        views::EntitlementList,
        views::ConsumeEntitlement,
        views::StorefrontOpenCardGift,
        views::StorefrontNewMemberExclusive,
        views::StorefrontOffers,
        views::MemberCenterCoupons,
        views::StorefrontMemberCenter,
    )),
    modifiers(&BearerAuth, &CommonErrors),
    security(("bearer" = [])),
)]
pub(crate) struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The constraints every route shares, published so generated clients (and schemathesis)
/// send what the API accepts: an `Idempotency-Key` is 1..128 printable ASCII characters
/// and the ids the services parse as UUIDs (`shop_id`, `campaign_id`, `pack_id`,
/// `claim_id`, `entitlement_id`, in a path or a query) are UUIDs. And the errors any route can answer, declared on every
/// operation that does not declare them itself: a bad request, a missing or bad token, another tenant's data, an unknown id, a
/// conflict with current state, an oversized body, an overloaded gateway or service
/// (with `Retry-After`) and a deadline that ran out.
struct CommonErrors;

impl utoipa::Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::{Content, Header, Ref, RefOr, ResponseBuilder};
        let error = |description: &str, retry_after: bool| {
            let mut response = ResponseBuilder::new().description(description).content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            );
            if retry_after {
                response = response.header(
                    "Retry-After",
                    Header::new(ObjectBuilder::new().schema_type(Type::Integer)),
                );
            }
            RefOr::T(response.build())
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                for parameter in operation.parameters.iter_mut().flatten() {
                    let RefOr::T(parameter) = parameter else {
                        continue;
                    };
                    let schema = match parameter.name.as_str() {
                        "Idempotency-Key" => ObjectBuilder::new()
                            .schema_type(Type::String)
                            .min_length(Some(1))
                            .max_length(Some(128))
                            .pattern(Some("^[!-~]{1,128}$")),
                        "shop_id" | "campaign_id" | "pack_id" | "claim_id" | "entitlement_id" => {
                            ObjectBuilder::new().schema_type(Type::String).format(Some(
                                utoipa::openapi::SchemaFormat::KnownFormat(
                                    utoipa::openapi::KnownFormat::Uuid,
                                ),
                            ))
                        }
                        _ => continue,
                    };
                    parameter.schema = Some(RefOr::T(schema.into()));
                }
                let has_body = operation.request_body.is_some();
                let common = [
                    (
                        "400",
                        "invalid argument (names each field) or a broken rule (with a reason)",
                        false,
                        true,
                    ),
                    (
                        "401",
                        "missing, malformed or expired bearer token",
                        false,
                        true,
                    ),
                    ("403", "the token may not act here", false, true),
                    ("404", "no such resource for this caller", false, true),
                    (
                        "409",
                        "conflicts with the current state, or the Idempotency-Key was used for another request",
                        false,
                        true,
                    ),
                    ("413", "the body is larger than 1 MiB", false, has_body),
                    ("429", "out of stock or budget", false, true),
                    ("500", "internal error (quote x-trace-id)", false, true),
                    (
                        "503",
                        "overloaded or a service is unavailable: retry after Retry-After",
                        true,
                        true,
                    ),
                    ("504", "the deadline ran out", false, true),
                ];
                for (status, description, retry_after, applies) in common {
                    if applies {
                        operation
                            .responses
                            .responses
                            .entry(status.to_string())
                            .or_insert_with(|| error(description, retry_after));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    use super::ApiDoc;

    #[test]
    fn x3_the_error_body_declares_its_error_info_metadata_as_a_string_map() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let metadata = &doc["components"]["schemas"]["ErrorBody"]["properties"]["metadata"];
        assert_eq!(metadata["type"], "object", "{metadata}");
        assert_eq!(
            metadata["additionalProperties"]["type"], "string",
            "{metadata}"
        );
    }

    /// Every value under `key` anywhere in the document, with where it is.
    fn every(value: &serde_json::Value, key: &str, at: &str, out: &mut Vec<(String, String)>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let here = format!("{at}/{k}");
                    match v.as_str() {
                        Some(found) if k == key => out.push((here, found.to_string())),
                        _ => every(v, key, &here, out),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    every(v, key, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    /// the attributes copy `constraints`' patterns as literals (utoipa takes no
    /// constants); a copy that drifted would publish a rule no service has.
    #[test]
    fn x3_every_published_pattern_is_a_known_constraint() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let mut patterns = Vec::new();
        every(&doc, "pattern", "", &mut patterns);
        assert!(patterns.len() > 30, "{patterns:?}");
        let idempotency_key = "^[!-~]{1,128}$";
        for (at, pattern) in patterns {
            assert!(
                crate::constraints::ALL.contains(&pattern.as_str()) || pattern == idempotency_key,
                "{at}: {pattern} is not in gateway::constraints"
            );
        }
    }

    /// page sizes are published as the kit's bounds (0 asks for the default).
    #[test]
    fn x3_page_size_bounds_are_the_kits() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let mut checked = 0;
        for item in doc["paths"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
        {
            let parameters = item["get"]["parameters"].as_array().into_iter().flatten();
            for parameter in parameters.filter(|p| p["name"] == "page_size") {
                let schema = &parameter["schema"];
                assert_eq!(schema["minimum"], 0, "{parameter}");
                assert_eq!(
                    schema["maximum"],
                    memberhub_kit::input::MAX_PAGE_SIZE,
                    "{parameter}"
                );
                checked += 1;
            }
        }
        assert_eq!(
            checked, 17,
            "every paged list publishes its page_size bounds"
        );
    }
}
