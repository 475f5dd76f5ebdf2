//! What a handler knows about the connection a request came in on: the broker's shared state,
//! the listener (whose advertised address Metadata answers with) and the client's address.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::broker::Broker;

/// One client connection's context, shared by the handlers of its requests.
#[derive(Debug)]
pub(crate) struct Session {
    /// The broker's state.
    pub(crate) broker: Arc<Broker>,
    /// Index in [`Broker::listeners`] of the listener the client connected through.
    pub(crate) listener: usize,
    /// The client's address (shown as a group member's host).
    pub(crate) peer: SocketAddr,
    /// The `client.id` of the connection's first request.
    pub(crate) client_id: std::sync::OnceLock<String>,
}
