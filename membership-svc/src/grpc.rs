//! tonic handlers: check the caller, decode the request into a domain command, make one
//! store call, encode the result. RPCs of later issues answer UNIMPLEMENTED (default stubs).

use memberhub_kit::actor::Actor;
use memberhub_kit::clock::SharedClock;
use memberhub_kit::error::{Failure, Violations};
use memberhub_kit::idempotency::IdempotencyKey;
use memberhub_proto::membership as pb;
use memberhub_proto::membership::membership_service_server::MembershipService;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::domain::ids::{ShopId, UserId};
use crate::domain::program::CardFaceChange;
use crate::domain::shop::NewShop;
use crate::store::{Store, programs, shops};

/// The membership gRPC service.
#[derive(Debug, Clone)]
pub struct Membership {
    store: Store,
    clock: SharedClock,
}

impl Membership {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self { store, clock }
    }
}

fn shop_id(raw: &str) -> Result<ShopId, Failure> {
    ShopId::parse("shop_id", raw).map_err(|v| Failure::InvalidArgument(vec![v]))
}

#[tonic::async_trait]
impl MembershipService for Membership {
    async fn create_shop(
        &self,
        request: Request<pb::CreateShopRequest>,
    ) -> Result<Response<pb::Shop>, Status> {
        let actor = Actor::from_metadata(request.metadata())?;
        actor.ensure_operator()?;
        let request = request.into_inner();
        let key = IdempotencyKey::new(&actor, "CreateShop", &request.request_id, &request)?;
        let shop_type = convert::shop_type(request.r#type);
        let new = NewShop::parse(
            &request.name,
            shop_type,
            &request.logo_url,
            &request.time_zone,
            request.gift_items,
        )?;
        let now = self.clock.now();
        let shop = self
            .store
            .idempotent(&key, now, async |tx| {
                shops::insert(tx, new, now).await.map(pb::Shop::from)
            })
            .await?;
        Ok(Response::new(shop))
    }

    async fn get_shop(
        &self,
        request: Request<pb::GetShopRequest>,
    ) -> Result<Response<pb::Shop>, Status> {
        let actor = Actor::from_metadata(request.metadata())?;
        let id = shop_id(&request.get_ref().shop_id)?;
        actor.ensure_shop_admin(&id.to_string())?;
        let mut conn = self
            .store
            .pool
            .acquire()
            .await
            .map_err(crate::error::Error::from)?;
        let shop = shops::get(&mut conn, id)
            .await?
            .ok_or(crate::error::Error::ShopNotFound(id))?;
        Ok(Response::new(shop.into()))
    }

    async fn get_program(
        &self,
        request: Request<pb::GetProgramRequest>,
    ) -> Result<Response<pb::Program>, Status> {
        let actor = Actor::from_metadata(request.metadata())?;
        let id = shop_id(&request.get_ref().shop_id)?;
        actor.ensure_shop_admin(&id.to_string())?;
        let mut conn = self
            .store
            .pool
            .acquire()
            .await
            .map_err(crate::error::Error::from)?;
        Ok(Response::new(programs::get(&mut conn, id).await?.into()))
    }

    async fn set_join_policy(
        &self,
        request: Request<pb::SetJoinPolicyRequest>,
    ) -> Result<Response<pb::Program>, Status> {
        let actor = Actor::from_metadata(request.metadata())?;
        let request = request.into_inner();
        let id = shop_id(&request.shop_id)?;
        actor.ensure_shop_admin(&id.to_string())?;
        let key = IdempotencyKey::new(&actor, "SetJoinPolicy", &request.request_id, &request)?;
        let policy = convert::join_policy(request.join_policy).ok_or_else(|| {
            Failure::invalid(
                "join_policy",
                "must be ORDER, CARD, ORDER_OR_CARD or ORDER_AND_CARD",
            )
        })?;
        let now = self.clock.now();
        let program = self
            .store
            .idempotent(&key, now, async |tx| {
                programs::set_join_policy(tx, id, policy, now)
                    .await
                    .map(pb::Program::from)
            })
            .await?;
        Ok(Response::new(program))
    }

    async fn update_card_face(
        &self,
        request: Request<pb::UpdateCardFaceRequest>,
    ) -> Result<Response<pb::Program>, Status> {
        let actor = Actor::from_metadata(request.metadata())?;
        let request = request.into_inner();
        let id = shop_id(&request.shop_id)?;
        actor.ensure_shop_admin(&id.to_string())?;
        let key = IdempotencyKey::new(&actor, "UpdateCardFace", &request.request_id, &request)?;
        let images: Vec<(i32, &str)> = request
            .level_images
            .iter()
            .map(|i| (i.level, i.image_url.as_str()))
            .collect();
        let change = CardFaceChange::parse(
            request.card_name.as_deref(),
            request.logo_url.as_deref(),
            request.opening_image_url.as_deref(),
            &images,
        )?;
        let now = self.clock.now();
        let program = self
            .store
            .idempotent(&key, now, async |tx| {
                programs::update_card_face(tx, id, change, now)
                    .await
                    .map(pb::Program::from)
            })
            .await?;
        Ok(Response::new(program))
    }

    async fn activate_sms_service(
        &self,
        request: Request<pb::ActivateSmsServiceRequest>,
    ) -> Result<Response<pb::Program>, Status> {
        let actor = Actor::from_metadata(request.metadata())?;
        let request = request.into_inner();
        let id = shop_id(&request.shop_id)?;
        actor.ensure_shop_admin(&id.to_string())?;
        let key = IdempotencyKey::new(&actor, "ActivateSmsService", &request.request_id, &request)?;
        let now = self.clock.now();
        let program = self
            .store
            .idempotent(&key, now, async |tx| {
                programs::activate_sms_service(tx, id, now)
                    .await
                    .map(pb::Program::from)
            })
            .await?;
        Ok(Response::new(program))
    }

    async fn set_sms_verification(
        &self,
        request: Request<pb::SetSmsVerificationRequest>,
    ) -> Result<Response<pb::Program>, Status> {
        let actor = Actor::from_metadata(request.metadata())?;
        let request = request.into_inner();
        let id = shop_id(&request.shop_id)?;
        actor.ensure_shop_admin(&id.to_string())?;
        let key = IdempotencyKey::new(&actor, "SetSmsVerification", &request.request_id, &request)?;
        let (enable, now) = (request.enabled, self.clock.now());
        let program = self
            .store
            .idempotent(&key, now, async |tx| {
                programs::set_sms_verification(tx, id, enable, now)
                    .await
                    .map(pb::Program::from)
            })
            .await?;
        Ok(Response::new(program))
    }

    async fn get_member_center(
        &self,
        request: Request<pb::GetMemberCenterRequest>,
    ) -> Result<Response<pb::MemberCenter>, Status> {
        let actor = Actor::from_metadata(request.metadata())?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        let id = violations.check(ShopId::parse("shop_id", &request.shop_id));
        let user = violations.check(UserId::parse("user_id", &request.user_id));
        violations.finish()?;
        let (Some(id), Some(user)) = (id, user) else {
            return Err(Failure::Internal.into());
        };
        actor.ensure_user(user.as_str())?;
        let mut conn = self
            .store
            .pool
            .acquire()
            .await
            .map_err(crate::error::Error::from)?;
        let program = programs::get(&mut conn, id).await?;
        Ok(Response::new(convert::member_center_for_non_member(
            &program,
        )))
    }
}
