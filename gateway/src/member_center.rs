//! MP-5: the storefront member center, one HTTP call composing three services concurrently.
//!
//! - membership-svc `GetMemberCenter` (card face, membership, level, benefits, points) is
//!   critical: when it fails, the call fails with its error (deadline
//!   `compose_critical_deadline`).
//! - campaign-svc `GetStorefrontOffers` and coupon-svc `ListWalletCoupons` (AVAILABLE, this
//!   shop) are optional: each has its own deadline (`compose_deadline`). One that fails or
//!   misses it is left out of the reply and named in `degraded` (with the gRPC code name in
//!   `degraded_reasons`); the reply is still 200. Each omission is logged, recorded on the
//!   `member_center` span (`degraded`) and counted in
//!   `memberhub_gateway_degraded_sections_total{section, reason}`.
//!
//! The deadlines are enforced here with a local timer, not only sent as `grpc-timeout`: a
//! service that accepted the connection and never answers cannot hold the page.

use std::collections::BTreeMap;
use std::time::Duration;

use memberhub_kit::actor::Actor;
use memberhub_proto::{campaign as campaign_pb, coupon as coupon_pb, membership as pb};

use crate::error::ApiError;
use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};
use crate::views::{self, Section};

/// How many available coupons the member center asks for (the count is exact below it).
const COUPON_PAGE: i32 = 50;
/// How many coupons the member center shows.
const COUPONS_SHOWN: usize = 3;

/// A tonic request for `actor` whose `grpc-timeout` is `deadline`.
fn request_within<T>(
    state: &AppState,
    actor: &Actor,
    message: T,
    deadline: Duration,
) -> tonic::Request<T> {
    let mut request = request(state, actor, message);
    request.set_timeout(deadline);
    request
}

/// `call`, or DEADLINE_EXCEEDED once `deadline` has passed without an answer. tonic's own
/// client timer (from `grpc-timeout`) may fire first; it reports CANCELLED ("Timeout
/// expired"), which is the same deadline miss.
async fn within<T>(
    deadline: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<tonic::Response<T>, tonic::Status> {
    let missed = || {
        tonic::Status::deadline_exceeded("the service did not answer within the compose deadline")
    };
    let started = tokio::time::Instant::now();
    match tokio::time::timeout(deadline, call).await {
        Ok(Err(status))
            if status.code() == tonic::Code::Cancelled && started.elapsed() >= deadline =>
        {
            Err(missed())
        }
        Ok(result) => result,
        Err(_) => Err(missed()),
    }
}

/// The sections left out, in a stable order, and why.
#[derive(Debug, Default)]
struct Degraded(BTreeMap<Section, &'static str>);

impl Degraded {
    /// The section's value, or `None` once its omission is recorded.
    fn keep<T>(&mut self, section: Section, outcome: Result<T, tonic::Status>) -> Option<T> {
        match outcome {
            Ok(value) => Some(value),
            Err(status) => {
                let reason = memberhub_kit::error::code_name(status.code());
                tracing::warn!(
                    section = section.name(),
                    reason,
                    "member center section left out"
                );
                metrics::counter!(
                    "memberhub_gateway_degraded_sections_total",
                    "section" => section.name(),
                    "reason" => reason,
                )
                .increment(1);
                self.0.insert(section, reason);
                None
            }
        }
    }
}

/// MP-5: the composed member center of `shop_id` for the shopper `user_id`.
#[tracing::instrument(name = "member_center", skip_all, fields(degraded = tracing::field::Empty))]
pub(crate) async fn compose(
    state: &AppState,
    actor: &Actor,
    shop_id: String,
    user_id: String,
) -> ApiResult<views::StorefrontMemberCenter> {
    let critical = state.compose_critical_deadline;
    let optional = state.compose_deadline;
    let center = async {
        let message = pb::GetMemberCenterRequest {
            shop_id: shop_id.clone(),
            user_id: user_id.clone(),
        };
        let request = request_within(state, actor, message, critical);
        within(
            critical,
            state.membership.clone().get_member_center(request),
        )
        .await
        .map_err(ApiError::from)
    };
    let offers = async {
        let message = campaign_pb::GetStorefrontOffersRequest {
            shop_id: shop_id.clone(),
            user_id: user_id.clone(),
        };
        let request = request_within(state, actor, message, optional);
        let outcome = within(
            optional,
            state.campaign.clone().get_storefront_offers(request),
        )
        .await;
        Ok::<_, ApiError>(outcome.map(|r| views::StorefrontOffers::from(r.into_inner())))
    };
    let coupons = async {
        let message = coupon_pb::ListWalletCouponsRequest {
            user_id: user_id.clone(),
            shop_id: shop_id.clone(),
            state: coupon_pb::CouponState::Available.into(),
            page_size: COUPON_PAGE,
            page_token: String::new(),
        };
        let request = request_within(state, actor, message, optional);
        let outcome = within(optional, state.coupon.clone().list_wallet_coupons(request)).await;
        Ok::<_, ApiError>(outcome.map(|r| coupon_summary(r.into_inner())))
    };
    // A failed critical section ends the call at once; the optional ones never fail it.
    let (center, offers, coupons) = tokio::try_join!(center, offers, coupons)?;

    let mut degraded = Degraded::default();
    let offers = degraded.keep(Section::Offers, offers);
    let coupons = degraded.keep(Section::Coupons, coupons);
    let names: Vec<String> = degraded.0.keys().map(|s| s.name().to_string()).collect();
    if !names.is_empty() {
        tracing::Span::current().record("degraded", names.join(",").as_str());
    }
    let reply = Reply::<views::MemberCenter>::from_response(center);
    Ok(Reply {
        body: views::StorefrontMemberCenter {
            center: reply.body,
            offers,
            coupons,
            degraded: names,
            degraded_reasons: degraded
                .0
                .into_iter()
                .map(|(section, reason)| (section.name().to_string(), reason.to_string()))
                .collect(),
        },
        trace_id: reply.trace_id,
    })
}

fn coupon_summary(page: coupon_pb::ListWalletCouponsResponse) -> views::MemberCenterCoupons {
    views::MemberCenterCoupons {
        available_count: i64::try_from(page.coupons.len()).unwrap_or(i64::MAX),
        has_more: !page.next_page_token.is_empty(),
        coupons: page
            .coupons
            .into_iter()
            .take(COUPONS_SHOWN)
            .map(crate::coupon_views::WalletCoupon::from)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_that_never_answers_misses_its_deadline() {
        let never = std::future::pending::<Result<tonic::Response<()>, tonic::Status>>();
        let outcome = within(Duration::from_millis(10), never).await;
        assert_eq!(
            outcome.err().map(|s| s.code()),
            Some(tonic::Code::DeadlineExceeded)
        );
    }

    #[test]
    fn degraded_sections_are_named_with_their_reason() {
        let mut degraded = Degraded::default();
        let kept = degraded.keep(Section::Offers, Ok::<_, tonic::Status>(1));
        let lost = degraded.keep(
            Section::Coupons,
            Err::<i32, _>(tonic::Status::unavailable("down")),
        );
        assert_eq!((kept, lost), (Some(1), None));
        assert_eq!(
            degraded.0.into_iter().collect::<Vec<_>>(),
            [(Section::Coupons, "UNAVAILABLE")]
        );
    }

    #[test]
    fn the_coupon_count_is_exact_below_a_page() {
        let page = coupon_pb::ListWalletCouponsResponse {
            coupons: vec![coupon_pb::Coupon::default(); 5],
            next_page_token: String::new(),
        };
        let summary = coupon_summary(page);
        assert_eq!(
            (
                summary.available_count,
                summary.has_more,
                summary.coupons.len()
            ),
            (5, false, COUPONS_SHOWN)
        );
    }
}
