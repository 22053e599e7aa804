//! The one error type of `codesync-transport-ws`.

/// Everything that can go wrong in the transport.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A frame does not follow the Loro protocol; `reason` says where it went wrong.
    #[error("malformed protocol message: {reason}")]
    Malformed {
        /// What was wrong, in words safe to log.
        reason: &'static str,
    },

    /// A frame or a reassembled update is larger than allowed.
    #[error("message of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The offending size.
        size: usize,
        /// The limit in force.
        limit: usize,
    },

    /// A fragmented update could not be reassembled.
    #[error("fragmented update refused: {reason}")]
    Fragment {
        /// What was wrong.
        reason: &'static str,
    },

    /// A token did not verify (bad signature, expired, wrong session, malformed).
    #[error("token refused: {reason}")]
    Token {
        /// Why, in words safe to show the client.
        reason: &'static str,
    },

    /// The WebSocket failed.
    #[error("websocket: {0}")]
    WebSocket(String),

    /// Binding or accepting failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),

    /// The core refused something.
    #[error(transparent)]
    Core(#[from] codesync_core::Error),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(feature = "tungstenite")]
impl From<tokio_tungstenite::tungstenite::Error> for Error {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        Error::WebSocket(e.to_string())
    }
}

#[cfg(feature = "axum")]
impl From<axum::Error> for Error {
    fn from(e: axum::Error) -> Self {
        Error::WebSocket(e.to_string())
    }
}
