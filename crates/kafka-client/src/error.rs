//! The one error type of the client: what went wrong, said so a user can act on it.

use std::time::Duration;

pub use kafka_protocol::ResponseError;

/// Everything that can go wrong talking to a Kafka cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No TCP connection could be made to a broker.
    #[error("cannot connect to broker {addr}: {source}")]
    Connect {
        /// `host:port` we tried.
        addr: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A connection failed while a request was in flight.
    #[error("connection to {addr} failed: {source}")]
    Io {
        /// `host:port` of the broker.
        addr: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A request got no answer in time.
    #[error("no answer from {addr} to {api} after {after:?}")]
    Timeout {
        /// `host:port` of the broker.
        addr: String,
        /// The request's name (`Metadata`, `Fetch`, …).
        api: &'static str,
        /// How long we waited.
        after: Duration,
    },
    /// A frame that cannot be encoded or decoded (a broker bug or not a Kafka broker).
    #[error("malformed {api} message from {addr}: {reason}")]
    Codec {
        /// `host:port` of the broker ("" when encoding).
        addr: String,
        /// The request's name.
        api: &'static str,
        /// The codec's explanation.
        reason: String,
    },
    /// A response frame larger than we accept, or a negative length.
    #[error("broker {addr} sent a frame of {size} bytes (limit {max})")]
    FrameSize {
        /// `host:port` of the broker.
        addr: String,
        /// The length prefix it sent.
        size: i64,
        /// Our limit.
        max: usize,
    },
    /// The broker and this client share no version of an API we need.
    #[error("broker {addr} does not support {api} in a version this client speaks ({ours})")]
    UnsupportedVersion {
        /// `host:port` of the broker.
        addr: String,
        /// The request's name.
        api: &'static str,
        /// The versions this client speaks, `min..max`.
        ours: String,
    },
    /// The broker answered with a Kafka error code.
    #[error("{context}: {}", describe(.error, .message))]
    Broker {
        /// What we were doing (`create topic Hello-Kafka`, …).
        context: String,
        /// The Kafka error code, with its standard meaning.
        error: ResponseError,
        /// The broker's own message, when it sent one.
        message: Option<String>,
    },
    /// None of the bootstrap servers answered.
    #[error("no broker reachable among {bootstrap}: {last}")]
    NoBroker {
        /// The bootstrap list as given.
        bootstrap: String,
        /// The last failure.
        last: Box<Error>,
    },
    /// A topic the cluster does not know.
    #[error("topic '{0}' does not exist")]
    UnknownTopic(String),
    /// A partition without a live leader (or not in the metadata at all).
    #[error("no leader for partition {topic}-{partition}")]
    NoLeader {
        /// The topic.
        topic: String,
        /// The partition index.
        partition: i32,
    },
    /// An argument the caller gave that cannot work (empty bootstrap list, bad address…).
    #[error("{0}")]
    Invalid(String),
}

/// A broker error's text: its own message when it sent one, else the error's name.
fn describe(error: &ResponseError, message: &Option<String>) -> String {
    match message {
        Some(m) if !m.is_empty() => m.clone(),
        _ => error.to_string(),
    }
}

impl Error {
    /// The Kafka error code behind this error, when the broker sent one.
    pub fn response_error(&self) -> Option<ResponseError> {
        match self {
            Error::Broker { error, .. } => Some(*error),
            _ => None,
        }
    }

    /// True when retrying after a metadata refresh may succeed (leader moved, topic being created,
    /// connection lost).
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Broker { error, .. } => error.is_retriable(),
            Error::Io { .. }
            | Error::Connect { .. }
            | Error::Timeout { .. }
            | Error::NoBroker { .. } => true,
            Error::NoLeader { .. } => true,
            _ => false,
        }
    }
}

/// Turns a response's error code into `Ok(())` or an [`Error::Broker`] with `context`.
pub(crate) fn check(code: i16, context: impl FnOnce() -> String) -> Result<()> {
    check_with_message(code, None, context)
}

/// Like [`check`], keeping the broker's own error message.
pub(crate) fn check_with_message(
    code: i16,
    message: Option<&str>,
    context: impl FnOnce() -> String,
) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    Err(Error::Broker {
        context: context(),
        error: ResponseError::try_from_code(code).unwrap_or(ResponseError::Unknown(code)),
        message: message.map(str::to_owned),
    })
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broker_error_says_what_we_did_and_why() {
        let err = check(36, || "create topic Hello-Kafka".into()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "create topic Hello-Kafka: TopicAlreadyExists"
        );
        assert_eq!(
            err.response_error(),
            Some(ResponseError::TopicAlreadyExists)
        );
        assert!(check(0, || unreachable!()).is_ok());
    }

    #[test]
    fn the_brokers_own_message_wins() {
        let err = check_with_message(
            38,
            Some("Replication factor: 3 larger than available brokers: 1."),
            || "create topic t".into(),
        )
        .unwrap_err();
        assert!(err.to_string().ends_with("available brokers: 1."));
    }
}
