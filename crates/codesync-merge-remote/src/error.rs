//! The one error type of `codesync-merge-remote`.

use codesync_core::DocKey;

/// Everything that can go wrong talking to the engine or keeping a hub in step with it.
///
/// [`Error::is_unavailable`] sorts the variants the way a fallback needs: "try again later,
/// meanwhile merge in-process" versus "the engine refused these bytes for good".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine URL cannot be used.
    #[error("invalid engine URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The internal auth secret cannot be used.
    #[error("invalid internal auth secret: {reason}")]
    InvalidSecret {
        /// What is wrong with it (never the secret itself).
        reason: &'static str,
    },

    /// The HTTP client could not be built (a TLS backend failed to initialise, …).
    #[error("could not build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),

    /// The request did not get an answer: connection refused or reset, DNS failure,
    /// timeout. The engine may be down or restarting.
    #[error("engine unreachable ({what}): {source}")]
    Unreachable {
        /// The request, as `METHOD /path`.
        what: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },

    /// The engine answered with an error status.
    #[error("engine refused {what} with {status} ({reason}): {message}")]
    Refused {
        /// The request, as `METHOD /path`.
        what: String,
        /// The HTTP status code.
        status: u16,
        /// The engine's `X-Codesync-Error` header (empty when absent), for example
        /// `missing-dependencies` or `document-too-large`.
        reason: String,
        /// The engine's explanation, cut to its first 512 bytes.
        message: String,
    },

    /// The engine answered 200 with bytes that are not what the route promises.
    #[error("engine sent an invalid {what} for {key}: {detail}")]
    InvalidAnswer {
        /// What was expected: `"version vector"`, `"update"`, `"snapshot"`.
        what: &'static str,
        /// The document concerned.
        key: DocKey,
        /// What the decoder said.
        detail: String,
    },

    /// [`EngineSync::start`](crate::EngineSync::start) was called a second time.
    #[error("this EngineSync was already started")]
    AlreadyStarted,

    /// The local hub refused or failed.
    #[error(transparent)]
    Core(#[from] codesync_core::Error),
}

impl Error {
    /// Whether the engine could not be used *for now*: unreachable, overloaded, not ready,
    /// storage down, or refusing the secret (a misconfiguration that only an operator can
    /// fix, so the work waits rather than being dropped). A fallback merges in-process and
    /// replays later; every other refusal is final for the bytes sent.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Unreachable { .. } => true,
            Error::Refused { status, .. } => {
                *status >= 500 || *status == 401 || *status == 403 || *status == 429
            }
            _ => false,
        }
    }

    /// Whether the engine lacks changes the update builds on: resync (send what the engine
    /// is missing from its own version) rather than resend.
    pub fn is_missing_dependencies(&self) -> bool {
        matches!(self, Error::Refused { reason, .. } if reason == "missing-dependencies")
    }

    /// This error as the core's, for the [`Merge`](codesync_core::Merge) seam: refusals
    /// of the bytes keep their meaning (invalid update, missing dependencies), everything
    /// else becomes a failed backend named `"remote-engine"`.
    pub fn into_core(self, key: &DocKey) -> codesync_core::Error {
        use codesync_core::Error as Core;
        match self {
            Error::Core(e) => e,
            Error::Refused { ref reason, .. } if reason == "missing-dependencies" => {
                Core::MissingDependencies { key: key.clone() }
            }
            Error::Refused {
                ref reason,
                ref message,
                ..
            } if reason == "invalid-update" => Core::InvalidUpdate {
                key: key.clone(),
                reason: message.clone(),
            },
            Error::Refused { ref reason, .. } if reason == "import-panicked" => {
                Core::ImportPanicked { key: key.clone() }
            }
            other => Core::storage(crate::remote::BACKEND, other),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
