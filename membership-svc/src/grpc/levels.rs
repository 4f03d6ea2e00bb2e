//! LV-1..LV-6.

use memberhub_kit::actor::Actor;
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_proto::membership as pb;
use tonic::{Request, Response};

use super::{Membership, Rpc, shop_id};
use crate::convert;
use crate::domain::levels::Ladder;
use crate::store::levels;

pub(super) async fn get_level_rules(
    svc: &Membership,
    request: Request<pb::GetLevelRulesRequest>,
) -> Rpc<pb::LevelRules> {
    let actor = Actor::from_request(&request)?;
    let id = shop_id(&request.get_ref().shop_id)?;
    actor.ensure_shop_admin(&id.to_string())?;
    let mut conn = svc.conn().await?;
    let rules = levels::get(&mut conn, id).await?;
    Ok(Response::new(convert::level_rules(&rules, svc.clock.now())))
}

/// LV-1..LV-5: the whole ladder; a change within 30 days of the last is refused (LV-4).
pub(super) async fn update_level_rules(
    svc: &Membership,
    request: Request<pb::UpdateLevelRulesRequest>,
) -> Rpc<pb::UpdateLevelRulesResponse> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let id = shop_id(&request.shop_id)?;
    actor.ensure_shop_admin(&id.to_string())?;
    let key = IdempotencyKey::new(&actor, "UpdateLevelRules", &request.request_id, &request)?;
    let ladder = Ladder::parse(&convert::raw_levels(&request.levels)?)?;
    let now = svc.clock.now();
    let response = svc
        .store
        .idempotent(&key, now, async |tx| {
            let rules = levels::update_ladder(tx, id, ladder.clone(), now).await?;
            Ok(pb::UpdateLevelRulesResponse {
                warnings: convert::benefit_warnings(&rules),
                rules: Some(convert::level_rules(&rules, now)),
            })
        })
        .await?;
    Ok(Response::new(response))
}

/// LV-6: one level's benefits, with the recommendation warnings beside a successful save.
pub(super) async fn update_level_benefits(
    svc: &Membership,
    request: Request<pb::UpdateLevelBenefitsRequest>,
) -> Rpc<pb::UpdateLevelBenefitsResponse> {
    let actor = Actor::from_request(&request)?;
    let request = request.into_inner();
    let id = shop_id(&request.shop_id)?;
    actor.ensure_shop_admin(&id.to_string())?;
    let key = IdempotencyKey::new(&actor, "UpdateLevelBenefits", &request.request_id, &request)?;
    if !(1..=crate::domain::program::MAX_LEVELS).contains(&request.level) {
        return Err(
            memberhub_kit::error::Failure::invalid("level", "must be a level 1 to 5").into(),
        );
    }
    let benefits = convert::benefits(&request.benefits.unwrap_or_default()).validate()?;
    let (level, now) = (request.level, svc.clock.now());
    let response = svc
        .store
        .idempotent(&key, now, async |tx| {
            let rules = levels::update_benefits(tx, id, level, benefits.clone()).await?;
            Ok(pb::UpdateLevelBenefitsResponse {
                warnings: convert::benefit_warnings(&rules),
                rules: Some(convert::level_rules(&rules, now)),
            })
        })
        .await?;
    Ok(Response::new(response))
}
