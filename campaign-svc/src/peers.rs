//! Clients of the services a claim or a campaign calls. Every call carries campaign-svc's
//! service actor and a deadline, so a stuck peer never holds a claim forever.

use std::time::Duration;

use memberhub_kit::actor::Actor;
use memberhub_proto::coupon::coupon_service_client::CouponServiceClient;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;
use tonic::transport::{Channel, Endpoint};

use crate::error::Error;

/// The actor name peers see.
pub const SERVICE_NAME: &str = "campaign-svc";
/// Deadline of one call to a peer.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Peers {
    pub membership: MembershipServiceClient<Channel>,
    pub coupon: CouponServiceClient<Channel>,
}

impl Peers {
    /// Lazily connected clients: the service starts even while a peer is still coming up.
    pub fn connect_lazy(
        membership_url: &str,
        coupon_url: &str,
    ) -> Result<Self, tonic::transport::Error> {
        let channel = |url: &str| -> Result<Channel, tonic::transport::Error> {
            Ok(Endpoint::from_shared(url.to_string())?
                .connect_timeout(Duration::from_secs(2))
                .tcp_nodelay(true)
                .connect_lazy())
        };
        Ok(Self {
            membership: MembershipServiceClient::new(channel(membership_url)?),
            coupon: CouponServiceClient::new(channel(coupon_url)?),
        })
    }
}

/// A request from this service, with its actor and deadline.
pub fn request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    Actor::Service {
        name: SERVICE_NAME.to_string(),
    }
    .insert_into(request.metadata_mut());
    request.set_timeout(CALL_TIMEOUT);
    request
}

/// Unwraps a peer's answer, sorting its failure (see [`Error::from_peer`]).
pub fn answer<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Result<T, Error> {
    result
        .map(tonic::Response::into_inner)
        .map_err(Error::from_peer)
}
