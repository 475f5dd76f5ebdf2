//! InitProducerId: a fresh producer id (epoch 0) for an idempotent producer. Transactions are
//! not served: a transactional id is refused.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::session::Session;

/// Allocates an id that no earlier producer of this broker had.
pub(super) async fn handle(
    session: &Session,
    _version: i16,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let mut response = InitProducerIdResponse::default();
    response.producer_id = ProducerId(-1);
    response.producer_epoch = -1;
    if request.transactional_id.is_some() {
        tracing::warn!("InitProducerId with a transactional id: transactions are not served");
        response.error_code = ResponseError::TransactionalIdAuthorizationFailed.code();
        return response;
    }
    match crate::cluster::producer_ids::allocate(&session.broker).await {
        Ok(id) => {
            response.producer_id = ProducerId(id);
            response.producer_epoch = 0;
        }
        Err(e) => {
            tracing::error!("cannot reserve producer ids: {e}");
            response.error_code = ResponseError::CoordinatorNotAvailable.code();
        }
    }
    response
}
