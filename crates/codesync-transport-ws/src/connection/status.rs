//! How core errors become protocol answers.

use codesync_core::Error;

use crate::protocol::AckStatus;

/// The Ack status for an update the core refused.
pub(super) fn ack_status(error: &Error) -> AckStatus {
    match error {
        Error::InvalidUpdate { .. }
        | Error::ImportPanicked { .. }
        | Error::UnsafeUpdate { .. }
        | Error::InvalidPresence { .. }
        | Error::MissingDependencies { .. }
        | Error::CorruptDocument { .. } => AckStatus::InvalidUpdate,
        Error::DocumentTooLarge { .. }
        | Error::PresenceTooLarge { .. }
        | Error::TooManyPresenceKeys { .. } => AckStatus::PayloadTooLarge,
        Error::PermissionDenied { .. } | Error::PresenceKeyTaken { .. } => {
            AckStatus::PermissionDenied
        }
        _ => AckStatus::Unknown,
    }
}

/// Whether the client must rejoin the room to recover (its state and the server's
/// diverged, or the server's session was replaced).
pub(super) fn needs_rejoin(error: &Error) -> bool {
    matches!(
        error,
        Error::MissingDependencies { .. } | Error::Evicted { .. }
    )
}

/// Whether the refusal was caused by the bytes themselves being bad (as opposed to a limit,
/// a permission, or a state the client can fix by resyncing).
pub(super) fn is_bad_input(error: &Error) -> bool {
    matches!(
        error,
        Error::InvalidUpdate { .. } | Error::ImportPanicked { .. } | Error::UnsafeUpdate { .. }
    )
}
