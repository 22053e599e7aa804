//! The one-byte codes of `JoinError`, `RoomError` and `Ack`.
//!
//! Each code enum has a variant per value the protocol names and `Other(u8)` for any other
//! byte, so decoding never loses information. [`from_u8`](AckStatus::from_u8) always
//! picks the named variant when there is one; `Other` holding a named value encodes to
//! that same byte.

/// Defines a one-byte code enum with `from_u8`, `as_u8` and the `From` conversions.
macro_rules! byte_code {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A byte the protocol does not name.
            Other(u8),
        }

        impl $name {
            /// The code for a wire byte.
            pub fn from_u8(byte: u8) -> Self {
                match byte {
                    $( $value => $name::$variant, )+
                    other => $name::Other(other),
                }
            }

            /// The wire byte.
            pub fn as_u8(self) -> u8 {
                match self {
                    $( $name::$variant => $value, )+
                    $name::Other(byte) => byte,
                }
            }
        }

        impl From<u8> for $name {
            fn from(byte: u8) -> Self {
                $name::from_u8(byte)
            }
        }

        impl From<$name> for u8 {
            fn from(code: $name) -> u8 {
                code.as_u8()
            }
        }
    };
}

byte_code! {
    /// Why a join was refused (`JoinError`).
    JoinErrorCode {
        /// `0x00`: unspecified.
        Unknown = 0x00,
        /// `0x01`: the requester's version could not be interpreted; the message may carry
        /// the receiver's version.
        VersionUnknown = 0x01,
        /// `0x02`: authentication or authorization failed.
        AuthFailed = 0x02,
        /// `0x7F`: application-defined; the message may carry an `app_code` string.
        AppError = 0x7F,
    }
}

byte_code! {
    /// Why a peer was removed from a room (`RoomError`).
    RoomErrorCode {
        /// `0x01`: rejoin once so both sides can reconcile.
        RejoinSuggested = 0x01,
        /// `0x02`: evicted; do not rejoin automatically.
        Evicted = 0x02,
        /// `0x7F`: unknown / application error; fatal unless the application decides otherwise.
        Unknown = 0x7F,
    }
}

byte_code! {
    /// The outcome of an update batch (`Ack`).
    AckStatus {
        /// `0x00`: accepted.
        Ok = 0x00,
        /// `0x01`: unspecified failure.
        Unknown = 0x01,
        /// `0x03`: the sender has no write permission.
        PermissionDenied = 0x03,
        /// `0x04`: the update is malformed or was rejected.
        InvalidUpdate = 0x04,
        /// `0x05`: a message or a reassembled update exceeded the limits.
        PayloadTooLarge = 0x05,
        /// `0x06`: the sender is rate limited.
        RateLimited = 0x06,
        /// `0x07`: fragments of the batch did not all arrive in time; resend the batch.
        FragmentTimeout = 0x07,
        /// `0x7F`: application-defined error.
        AppError = 0x7F,
    }
}
