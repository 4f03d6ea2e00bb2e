//! The OpenAPI 3 document, generated from the handlers' annotations.

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::error::{ErrorBody, FieldViolation};
use crate::routes::{backoffice, platform, storefront};
use crate::views;

#[derive(OpenApi)]
#[openapi(
    info(title = "memberhub API", description = "Storefront, back-office and platform HTTP API of memberhub. \
        Every route takes a JWT bearer token; every mutation an Idempotency-Key header."),
    paths(
        platform::create_shop,
        platform::get_shop,
        platform::activate_sms_service,
        backoffice::get_program,
        backoffice::set_join_policy,
        backoffice::update_card_face,
        backoffice::set_sms_verification,
        backoffice::activate_sms_service,
        storefront::member_center,
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
        views::SetJoinPolicy,
        views::UpdateCardFace,
        views::SetSmsVerification,
        views::ShopType,
        views::JoinPolicy,
    )),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

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
