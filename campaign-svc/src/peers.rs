//! Clients of the services a claim or a campaign calls. Every call carries campaign-svc's own
//! identity, signed with its key, and a deadline, so a stuck peer never holds a claim
//! forever.

use std::sync::Arc;
use std::time::Duration;

use memberhub_kit::auth::{SignAs, Signer};
use memberhub_proto::coupon::coupon_service_client::CouponServiceClient;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::error::Error;

/// Deadline of one call to a peer.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A channel whose calls are signed as campaign-svc.
pub(crate) type Signed = InterceptedService<Channel, SignAs>;

#[derive(Debug, Clone)]
pub struct Peers {
    pub membership: MembershipServiceClient<Signed>,
    pub coupon: CouponServiceClient<Signed>,
}

impl Peers {
    /// Lazily connected clients: the service starts even while a peer is still coming up.
    pub fn connect_lazy(
        membership_url: &str,
        coupon_url: &str,
        signer: Arc<Signer>,
    ) -> Result<Self, tonic::transport::Error> {
        let sign = SignAs::itself(signer);
        Ok(Self {
            membership: MembershipServiceClient::new(sign.clone().channel(membership_url)?),
            coupon: CouponServiceClient::new(sign.channel(coupon_url)?),
        })
    }
}

/// A request from this service, with its deadline (the interceptor signs it).
pub(crate) fn request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(CALL_TIMEOUT);
    request
}

/// Unwraps a peer's answer, sorting its failure (see [`Error::from_peer`]).
pub(crate) fn answer<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Result<T, Error> {
    result
        .map(tonic::Response::into_inner)
        .map_err(Error::from_peer)
}
