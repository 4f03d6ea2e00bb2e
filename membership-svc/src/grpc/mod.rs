//! tonic handlers: check the caller, decode the request into a domain command, make one
//! store call, encode the result. The trait impl only routes to the module of each area.

mod events;
mod ledger;
mod levels;
mod members;
mod orders;
mod program;

use std::sync::Arc;

use memberhub_kit::clock::SharedClock;
use memberhub_kit::error::Failure;
use memberhub_proto::membership as pb;
use memberhub_proto::membership::membership_service_server::MembershipService;
use tonic::{Request, Response, Status};

use crate::domain::ids::{ShopId, UserId};
use crate::domain::sms::HashKey;
use crate::error::Error;
use crate::store::Store;
use crate::store::sms::SmsSender;

/// The membership gRPC service.
#[derive(Debug, Clone)]
pub(crate) struct Membership {
    store: Store,
    clock: SharedClock,
    key: HashKey,
    sender: Arc<dyn SmsSender>,
}

impl Membership {
    pub(crate) fn new(
        store: Store,
        clock: SharedClock,
        key: HashKey,
        sender: Arc<dyn SmsSender>,
    ) -> Self {
        Self {
            store,
            clock,
            key,
            sender,
        }
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, Error> {
        Ok(self.store.pool.acquire().await?)
    }
}

fn shop_id(raw: &str) -> Result<ShopId, Failure> {
    ShopId::parse("shop_id", raw).map_err(|v| Failure::InvalidArgument(vec![v]))
}

/// Both ids of a shopper-in-shop request, with every bad field reported at once.
fn shop_and_user(shop: &str, user: &str) -> Result<(ShopId, UserId), Failure> {
    let mut violations = memberhub_kit::error::Violations::new();
    let shop = violations.check(ShopId::parse("shop_id", shop));
    let user = violations.check(UserId::parse("user_id", user));
    violations.finish()?;
    shop.zip(user).ok_or(Failure::Internal)
}

type Rpc<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl MembershipService for Membership {
    async fn create_shop(&self, r: Request<pb::CreateShopRequest>) -> Rpc<pb::Shop> {
        program::create_shop(self, r).await
    }
    async fn get_shop(&self, r: Request<pb::GetShopRequest>) -> Rpc<pb::Shop> {
        program::get_shop(self, r).await
    }
    async fn get_shop_statistics(
        &self,
        r: Request<pb::GetShopStatisticsRequest>,
    ) -> Rpc<pb::ShopStatistics> {
        program::get_shop_statistics(self, r).await
    }
    async fn list_shops(&self, r: Request<pb::ListShopsRequest>) -> Rpc<pb::ListShopsResponse> {
        program::list_shops(self, r).await
    }
    async fn update_shop(&self, r: Request<pb::UpdateShopRequest>) -> Rpc<pb::Shop> {
        program::update_shop(self, r).await
    }
    async fn get_program(&self, r: Request<pb::GetProgramRequest>) -> Rpc<pb::Program> {
        program::get_program(self, r).await
    }
    async fn set_join_policy(&self, r: Request<pb::SetJoinPolicyRequest>) -> Rpc<pb::Program> {
        program::set_join_policy(self, r).await
    }
    async fn hold_card_join(&self, r: Request<pb::HoldCardJoinRequest>) -> Rpc<pb::CardJoinHold> {
        program::hold_card_join(self, r).await
    }
    async fn release_card_join_hold(
        &self,
        r: Request<pb::ReleaseCardJoinHoldRequest>,
    ) -> Rpc<pb::CardJoinHold> {
        program::release_card_join_hold(self, r).await
    }
    async fn update_card_face(&self, r: Request<pb::UpdateCardFaceRequest>) -> Rpc<pb::Program> {
        program::update_card_face(self, r).await
    }
    async fn activate_sms_service(
        &self,
        r: Request<pb::ActivateSmsServiceRequest>,
    ) -> Rpc<pb::Program> {
        program::activate_sms_service(self, r).await
    }
    async fn set_sms_verification(
        &self,
        r: Request<pb::SetSmsVerificationRequest>,
    ) -> Rpc<pb::Program> {
        program::set_sms_verification(self, r).await
    }
    async fn update_program_settings(
        &self,
        r: Request<pb::UpdateProgramSettingsRequest>,
    ) -> Rpc<pb::UpdateProgramSettingsResponse> {
        program::update_program_settings(self, r).await
    }
    async fn get_member_center(
        &self,
        r: Request<pb::GetMemberCenterRequest>,
    ) -> Rpc<pb::MemberCenter> {
        program::get_member_center(self, r).await
    }
    async fn get_level_rules(&self, r: Request<pb::GetLevelRulesRequest>) -> Rpc<pb::LevelRules> {
        levels::get_level_rules(self, r).await
    }
    async fn update_level_rules(
        &self,
        r: Request<pb::UpdateLevelRulesRequest>,
    ) -> Rpc<pb::UpdateLevelRulesResponse> {
        levels::update_level_rules(self, r).await
    }
    async fn update_level_benefits(
        &self,
        r: Request<pb::UpdateLevelBenefitsRequest>,
    ) -> Rpc<pb::UpdateLevelBenefitsResponse> {
        levels::update_level_benefits(self, r).await
    }
    async fn send_card_sms_code(
        &self,
        r: Request<pb::SendCardSmsCodeRequest>,
    ) -> Rpc<pb::SendCardSmsCodeResponse> {
        members::send_card_sms_code(self, r).await
    }
    async fn open_card(&self, r: Request<pb::OpenCardRequest>) -> Rpc<pb::Membership> {
        members::open_card(self, r).await
    }
    async fn quit_membership(&self, r: Request<pb::QuitMembershipRequest>) -> Rpc<pb::Membership> {
        members::quit_membership(self, r).await
    }
    async fn get_membership(&self, r: Request<pb::GetMembershipRequest>) -> Rpc<pb::Membership> {
        members::get_membership(self, r).await
    }
    async fn list_members(
        &self,
        r: Request<pb::ListMembersRequest>,
    ) -> Rpc<pb::ListMembersResponse> {
        members::list_members(self, r).await
    }
    async fn follow_shop(&self, r: Request<pb::FollowShopRequest>) -> Rpc<pb::FollowShopResponse> {
        members::follow_shop(self, r).await
    }
    async fn unfollow_shop(
        &self,
        r: Request<pb::UnfollowShopRequest>,
    ) -> Rpc<pb::FollowShopResponse> {
        members::unfollow_shop(self, r).await
    }
    async fn report_order_event(
        &self,
        r: Request<pb::ReportOrderEventRequest>,
    ) -> Rpc<pb::ReportOrderEventResponse> {
        orders::report_order_event(self, r).await
    }
    async fn batch_report_order_events(
        &self,
        r: Request<pb::BatchReportOrderEventsRequest>,
    ) -> Rpc<pb::BatchReportOrderEventsResponse> {
        orders::batch_report_order_events(self, r).await
    }
    async fn batch_report_cart_events(
        &self,
        r: Request<pb::BatchReportCartEventsRequest>,
    ) -> Rpc<pb::BatchReportCartEventsResponse> {
        orders::batch_report_cart_events(self, r).await
    }
    async fn create_transfer(&self, r: Request<pb::CreateTransferRequest>) -> Rpc<pb::Transfer> {
        ledger::create_transfer(self, r).await
    }
    async fn abort_step(&self, r: Request<pb::AbortStepRequest>) -> Rpc<pb::AbortStepResponse> {
        ledger::abort_step(self, r).await
    }
    async fn recharge_budget(&self, r: Request<pb::RechargeBudgetRequest>) -> Rpc<pb::Transfer> {
        ledger::recharge_budget(self, r).await
    }
    async fn reserve_budget(
        &self,
        r: Request<pb::ReserveBudgetRequest>,
    ) -> Rpc<pb::BudgetReservation> {
        ledger::reserve_budget(self, r).await
    }
    async fn release_budget_reservation(
        &self,
        r: Request<pb::ReleaseBudgetReservationRequest>,
    ) -> Rpc<pb::BudgetReservation> {
        ledger::release_budget_reservation(self, r).await
    }
    async fn list_ledger_entries(
        &self,
        r: Request<pb::ListLedgerEntriesRequest>,
    ) -> Rpc<pb::ListLedgerEntriesResponse> {
        ledger::list_ledger_entries(self, r).await
    }
    async fn list_budget_balances(
        &self,
        r: Request<pb::ListBudgetBalancesRequest>,
    ) -> Rpc<pb::ListBudgetBalancesResponse> {
        ledger::list_budget_balances(self, r).await
    }
    async fn expire_points(
        &self,
        r: Request<pb::ExpirePointsRequest>,
    ) -> Rpc<pb::ExpirePointsResponse> {
        ledger::expire_points(self, r).await
    }

    async fn watch_events(&self, r: Request<pb::WatchEventsRequest>) -> Rpc<events::EventStream> {
        events::watch_events(self, r).await
    }
}
