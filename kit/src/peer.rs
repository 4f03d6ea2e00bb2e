//! Channels to a peer service. A peer's URL may list several endpoints (`http://a:50052,
//! http://b:50052`): calls are then balanced over them (power of two choices on pending
//! requests), so several replicas share the load and one of them restarting leaves the
//! others serving. Every channel connects lazily: a caller starts before its peers.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

/// How long one connection attempt to a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A lazily connected channel to the endpoint, or balanced over the endpoints, in `urls`
/// (comma-separated).
pub fn channel(urls: &str) -> Result<Channel, tonic::transport::Error> {
    let endpoints = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|url| {
            Ok(Endpoint::from_shared(url.to_string())?
                .connect_timeout(CONNECT_TIMEOUT)
                .tcp_nodelay(true))
        })
        .collect::<Result<Vec<_>, tonic::transport::Error>>()?;
    match endpoints.as_slice() {
        [one] => Ok(one.connect_lazy()),
        // an empty list is refused like an unparsable URL
        [] => Endpoint::from_shared(String::new()).map(|e| e.connect_lazy()),
        _ => Ok(Channel::balance_list(endpoints.into_iter())),
    }
}
