//! What every route handler shares: token settings and the upstream gRPC clients.

use std::time::Duration;

use memberhub_proto::campaign::campaign_service_client::CampaignServiceClient;
use memberhub_proto::coupon::coupon_service_client::CouponServiceClient;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;
use tonic::transport::Channel;

use crate::auth::JwtConfig;

#[derive(Debug, Clone)]
pub struct AppState {
    pub jwt: JwtConfig,
    /// signs the actor of every upstream call with the gateway's internal key.
    pub signer: std::sync::Arc<memberhub_kit::auth::Signer>,
    pub membership: MembershipServiceClient<Channel>,
    pub coupon: CouponServiceClient<Channel>,
    pub campaign: CampaignServiceClient<Channel>,
    /// the sandbox clock's service, in `memberhub dev --test-clock` only.
    pub sandbox:
        Option<memberhub_proto::sandbox::sandbox_service_client::SandboxServiceClient<Channel>>,
    /// Deadline passed to every upstream call (`grpc-timeout`).
    pub upstream_timeout: Duration,
    /// MP-5: the deadline of each optional section of a composed page.
    pub compose_deadline: Duration,
    /// MP-5: the deadline of the section a composed page cannot do without.
    pub compose_critical_deadline: Duration,
}
