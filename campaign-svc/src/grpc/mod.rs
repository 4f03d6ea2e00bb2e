//! tonic handlers: check the caller, decode the request into a domain command, then one
//! store call or one saga run, and encode the result. One file per area.

mod claims;
mod entitlements;
mod exchanges;
mod exclusives;
mod gift_packs;
mod items;
mod offers;
mod open_card_gifts;
mod pack_offers;
mod parked_events;
mod sprint_plans;
mod sprint_registrations;

use memberhub_kit::actor::Actor;
use memberhub_kit::clock::SharedClock;
use memberhub_kit::error::{Failure, FieldViolation};
use memberhub_proto::campaign as pb;
use memberhub_proto::campaign::campaign_service_server::CampaignService;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::domain::types::ClaimId;
use crate::error::Error;
use crate::peers::Peers;
use crate::saga::Saga;
use crate::store::Store;
use crate::store::claims::{ClaimRecord, Lease};

type Rpc<T> = Result<Response<T>, Status>;

/// The campaign gRPC service.
#[derive(Debug, Clone)]
pub(crate) struct Campaigns {
    store: Store,
    peers: Peers,
    saga: Saga,
    clock: SharedClock,
}

impl Campaigns {
    pub(crate) fn new(store: Store, peers: Peers, saga: Saga, clock: SharedClock) -> Self {
        Self {
            store,
            peers,
            saga,
            clock,
        }
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, Error> {
        Ok(self.store.pool.acquire().await?)
    }

    /// The claim a claiming RPC answers with. `recorded` names the claim this request
    /// recorded as `mine` (then it runs it, holding the lease it recorded it under), or the
    /// claim an earlier attempt recorded (then it is read as it stands, and taken over only
    /// if its runner's lease ran out).
    async fn claim_reply(
        &self,
        recorded: &pb::Claim,
        mine: (ClaimId, Lease),
    ) -> Result<ClaimRecord, Status> {
        let id = one(ClaimId::parse("claim_id", &recorded.claim_id))?;
        let held = (id == mine.0).then_some(mine.1);
        Ok(self.saga.answer(id, held).await?)
    }
}

fn actor<T>(request: &Request<T>) -> Result<Actor, Failure> {
    Actor::from_request(request)
}

fn one<T>(result: Result<T, FieldViolation>) -> Result<T, Failure> {
    result.map_err(|v| Failure::InvalidArgument(vec![v]))
}

/// A page size: 0 means the default (50), at most 200.
fn page_size(raw: i32) -> Result<i64, Failure> {
    one(memberhub_kit::input::page_size("page_size", raw))
}

/// A page token: the last id of the previous page.
fn page_token(raw: &str) -> Result<Option<Uuid>, Failure> {
    if raw.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(raw)
        .map(Some)
        .map_err(|_| Failure::invalid("page_token", "must be a token from a previous page"))
}

fn next_page_token<T>(page: &[T], limit: i64, id: impl Fn(&T) -> String) -> String {
    match page.last() {
        Some(last) if page.len() as i64 == limit => id(last),
        _ => String::new(),
    }
}

#[tonic::async_trait]
impl CampaignService for Campaigns {
    async fn create_open_card_gift(
        &self,
        r: Request<pb::CreateOpenCardGiftRequest>,
    ) -> Rpc<pb::OpenCardGift> {
        open_card_gifts::create(self, r).await
    }

    async fn get_open_card_gift(
        &self,
        r: Request<pb::GetOpenCardGiftRequest>,
    ) -> Rpc<pb::OpenCardGift> {
        open_card_gifts::get(self, r).await
    }

    async fn list_open_card_gifts(
        &self,
        r: Request<pb::ListOpenCardGiftsRequest>,
    ) -> Rpc<pb::ListOpenCardGiftsResponse> {
        open_card_gifts::list(self, r).await
    }

    async fn update_open_card_gift(
        &self,
        r: Request<pb::UpdateOpenCardGiftRequest>,
    ) -> Rpc<pb::OpenCardGift> {
        open_card_gifts::update(self, r).await
    }

    async fn close_open_card_gift(
        &self,
        r: Request<pb::CloseOpenCardGiftRequest>,
    ) -> Rpc<pb::OpenCardGift> {
        open_card_gifts::close(self, r).await
    }

    async fn get_open_card_gift_statistics(
        &self,
        r: Request<pb::GetOpenCardGiftStatisticsRequest>,
    ) -> Rpc<pb::OpenCardGiftStatistics> {
        open_card_gifts::statistics(self, r).await
    }

    async fn get_claim(&self, r: Request<pb::GetClaimRequest>) -> Rpc<pb::Claim> {
        claims::get(self, r).await
    }

    async fn list_claims(&self, r: Request<pb::ListClaimsRequest>) -> Rpc<pb::ListClaimsResponse> {
        claims::list(self, r).await
    }

    async fn list_parked_events(
        &self,
        r: Request<pb::ListParkedEventsRequest>,
    ) -> Rpc<pb::ListParkedEventsResponse> {
        parked_events::list(self, r).await
    }

    async fn get_storefront_offers(
        &self,
        r: Request<pb::GetStorefrontOffersRequest>,
    ) -> Rpc<pb::StorefrontOffers> {
        offers::get(self, r).await
    }

    async fn create_sprint_plan(
        &self,
        r: Request<pb::CreateSprintPlanRequest>,
    ) -> Rpc<pb::SprintPlan> {
        sprint_plans::create(self, r).await
    }

    async fn get_sprint_plan(&self, r: Request<pb::GetSprintPlanRequest>) -> Rpc<pb::SprintPlan> {
        sprint_plans::get(self, r).await
    }

    async fn list_sprint_plans(
        &self,
        r: Request<pb::ListSprintPlansRequest>,
    ) -> Rpc<pb::ListSprintPlansResponse> {
        sprint_plans::list(self, r).await
    }

    async fn invite_sprint_plan_shop(
        &self,
        r: Request<pb::InviteSprintPlanShopRequest>,
    ) -> Rpc<pb::SprintPlanShop> {
        sprint_plans::invite(self, r).await
    }

    async fn get_sprint_plan_shop(
        &self,
        r: Request<pb::GetSprintPlanShopRequest>,
    ) -> Rpc<pb::SprintPlanShop> {
        sprint_plans::get_shop(self, r).await
    }

    async fn list_sprint_plan_shops(
        &self,
        r: Request<pb::ListSprintPlanShopsRequest>,
    ) -> Rpc<pb::ListSprintPlanShopsResponse> {
        sprint_plans::list_shops(self, r).await
    }

    async fn join_sprint_plan(
        &self,
        r: Request<pb::JoinSprintPlanRequest>,
    ) -> Rpc<pb::SprintPlanShop> {
        sprint_plans::join(self, r).await
    }

    async fn withdraw_sprint_plan_shop(
        &self,
        r: Request<pb::WithdrawSprintPlanShopRequest>,
    ) -> Rpc<pb::SprintPlanShop> {
        sprint_plans::withdraw(self, r).await
    }

    async fn register_sprint_plan(
        &self,
        r: Request<pb::RegisterSprintPlanRequest>,
    ) -> Rpc<pb::SprintRegistration> {
        sprint_registrations::register(self, r).await
    }

    async fn get_sprint_registration(
        &self,
        r: Request<pb::GetSprintRegistrationRequest>,
    ) -> Rpc<pb::SprintRegistration> {
        sprint_registrations::get(self, r).await
    }

    async fn get_sprint_plan_shop_statistics(
        &self,
        r: Request<pb::GetSprintPlanShopStatisticsRequest>,
    ) -> Rpc<pb::SprintPlanShopStatistics> {
        sprint_registrations::shop_statistics(self, r).await
    }

    async fn create_gift_pack(&self, r: Request<pb::CreateGiftPackRequest>) -> Rpc<pb::GiftPack> {
        gift_packs::create(self, r).await
    }

    async fn get_gift_pack(&self, r: Request<pb::GetGiftPackRequest>) -> Rpc<pb::GiftPack> {
        gift_packs::get(self, r).await
    }

    async fn list_gift_packs(
        &self,
        r: Request<pb::ListGiftPacksRequest>,
    ) -> Rpc<pb::ListGiftPacksResponse> {
        gift_packs::list(self, r).await
    }

    async fn close_gift_pack(&self, r: Request<pb::CloseGiftPackRequest>) -> Rpc<pb::GiftPack> {
        gift_packs::close(self, r).await
    }

    async fn claim_gift_pack(&self, r: Request<pb::ClaimGiftPackRequest>) -> Rpc<pb::Claim> {
        gift_packs::claim(self, r).await
    }

    async fn exchange_points(&self, r: Request<pb::ExchangePointsRequest>) -> Rpc<pb::Claim> {
        exchanges::exchange(self, r).await
    }

    async fn upsert_gift_item(
        &self,
        r: Request<pb::UpsertGiftItemRequest>,
    ) -> Rpc<pb::GiftItemRecord> {
        items::upsert(self, r).await
    }

    async fn list_gift_items(
        &self,
        r: Request<pb::ListGiftItemsRequest>,
    ) -> Rpc<pb::ListGiftItemsResponse> {
        items::list(self, r).await
    }

    async fn set_new_member_exclusive(
        &self,
        r: Request<pb::SetNewMemberExclusiveRequest>,
    ) -> Rpc<pb::NewMemberExclusive> {
        exclusives::set(self, r).await
    }

    async fn get_new_member_exclusive(
        &self,
        r: Request<pb::GetNewMemberExclusiveRequest>,
    ) -> Rpc<pb::NewMemberExclusive> {
        exclusives::get(self, r).await
    }

    async fn claim_new_member_exclusive(
        &self,
        r: Request<pb::ClaimNewMemberExclusiveRequest>,
    ) -> Rpc<pb::Claim> {
        exclusives::claim(self, r).await
    }

    async fn list_entitlements(
        &self,
        r: Request<pb::ListEntitlementsRequest>,
    ) -> Rpc<pb::ListEntitlementsResponse> {
        entitlements::list(self, r).await
    }

    async fn consume_entitlement(
        &self,
        r: Request<pb::ConsumeEntitlementRequest>,
    ) -> Rpc<pb::Entitlement> {
        entitlements::consume(self, r).await
    }
}
