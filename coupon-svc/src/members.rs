//! membership-svc as coupon-svc reads it: the shopper's level and that level's benefits,
//! which price a cart (LV-6). Calls carry coupon-svc's own signed identity and a
//! deadline.

use std::sync::Arc;
use std::time::Duration;

use memberhub_kit::auth::{SignAs, Signer};
use memberhub_kit::error::Failure;
use memberhub_proto::membership as mpb;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::domain::ids::{ShopId, UserId};
use crate::domain::member_price::MemberTerms;

/// Deadline of one call to membership-svc.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Where member terms come from: membership-svc, lazily connected; or, when none is
/// configured (coupon-svc alone, in its own tests), nowhere: every shopper is then priced as
/// a non-member, which never grants more than list prices.
#[derive(Debug, Clone)]
pub(crate) struct Members(Option<MembershipServiceClient<InterceptedService<Channel, SignAs>>>);

impl Members {
    pub(crate) fn connect_lazy(
        url: Option<&str>,
        signer: Arc<Signer>,
    ) -> Result<Self, tonic::transport::Error> {
        let Some(url) = url else {
            return Ok(Members(None));
        };
        Ok(Members(Some(MembershipServiceClient::new(
            SignAs::itself(signer).channel(url)?,
        ))))
    }

    /// LV-6: `user`'s terms in `shop`. NOT_FOUND when membership-svc knows no such shop;
    /// UNAVAILABLE when it cannot be asked (a cart is never priced on a guess).
    pub(crate) async fn terms(&self, shop: ShopId, user: &UserId) -> Result<MemberTerms, Failure> {
        let Some(client) = &self.0 else {
            return Ok(MemberTerms::default());
        };
        let (mut a, mut b) = (client.clone(), client.clone());
        let (rules, membership) = tokio::join!(
            a.get_level_rules(request(mpb::GetLevelRulesRequest {
                shop_id: shop.to_string(),
            })),
            b.get_membership(request(mpb::GetMembershipRequest {
                shop_id: shop.to_string(),
                user_id: user.as_str().to_string(),
            })),
        );
        let rules = match rules {
            Ok(found) => found.into_inner(),
            // the shop has no program in membership-svc
            Err(status) if status.code() == tonic::Code::NotFound => {
                return Err(Failure::NotFound(status.message().to_string()));
            }
            Err(status) => return Err(unpriceable(&status)),
        };
        let membership = match membership {
            Ok(found) => Some(found.into_inner()),
            Err(status) if status.code() == tonic::Code::NotFound => None,
            Err(status) => return Err(unpriceable(&status)),
        };
        Ok(terms(&rules, membership.as_ref()))
    }
}

/// The terms `membership` (if any) has under `rules`: only an ACTIVE membership counts.
fn terms(rules: &mpb::LevelRules, membership: Option<&mpb::Membership>) -> MemberTerms {
    let exclusive_access_level = rules
        .levels
        .iter()
        .filter(|l| l.benefits.as_ref().is_some_and(|b| b.exclusive_access))
        .map(|l| l.level)
        .min()
        .unwrap_or(0);
    let level = membership
        .filter(|m| m.state == mpb::MembershipState::Active as i32)
        .map_or(0, |m| m.level);
    let benefits = rules
        .levels
        .iter()
        .find(|l| level > 0 && l.level == level)
        .and_then(|l| l.benefits.as_ref());
    MemberTerms {
        level,
        discount_percent: benefits.map_or(0, |b| b.discount_permille),
        exclusive_access: benefits.is_some_and(|b| b.exclusive_access),
        exclusive_access_level,
    }
}

fn request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(CALL_TIMEOUT);
    request
}

/// membership-svc failed otherwise than "no such shop or member": the cart cannot be priced
/// now.
fn unpriceable(status: &tonic::Status) -> Failure {
    tracing::warn!(code = ?status.code(), message = status.message(), "membership-svc could not price a cart");
    Failure::Unavailable("member benefits cannot be read now; retry".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(level: i32, discount: i32, exclusive: bool) -> mpb::Level {
        mpb::Level {
            level,
            benefits: Some(mpb::LevelBenefits {
                discount_permille: discount,
                exclusive_access: exclusive,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn member(level: i32, state: mpb::MembershipState) -> mpb::Membership {
        mpb::Membership {
            level,
            state: state as i32,
            ..Default::default()
        }
    }

    #[test]
    fn lv6_terms_come_from_the_members_own_level_and_only_an_active_membership() {
        let rules = mpb::LevelRules {
            levels: vec![level(1, 98, false), level(2, 95, true), level(3, 90, true)],
            ..Default::default()
        };
        let active = member(2, mpb::MembershipState::Active);
        assert_eq!(
            terms(&rules, Some(&active)),
            MemberTerms {
                level: 2,
                discount_percent: 95,
                exclusive_access: true,
                exclusive_access_level: 2,
            }
        );
        for not_a_member in [
            None,
            Some(member(2, mpb::MembershipState::Quit)),
            Some(member(1, mpb::MembershipState::Pending)),
        ] {
            let t = terms(&rules, not_a_member.as_ref());
            assert_eq!(
                (t.level, t.discount_percent, t.exclusive_access),
                (0, 0, false)
            );
            assert_eq!(t.exclusive_access_level, 2);
        }
    }
}
