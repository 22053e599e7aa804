//! The 4 magic bytes that open every frame and name the CRDT type of the room.

/// The CRDT type of a room, carried as the first 4 bytes of every frame.
///
/// Two rooms with the same id but different magic are different rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Magic {
    /// `%LOR`: a Loro document.
    Loro,
    /// `%EPH`: a Loro ephemeral store (presence).
    Ephemeral,
    /// `%EPS`: a Loro ephemeral store the server persists for late joiners.
    PersistedEphemeral,
    /// `%ELO`: an end-to-end encrypted Loro document.
    EncryptedLoro,
    /// `%YJS`: a Yjs document.
    Yjs,
    /// `%YAW`: Yjs awareness.
    YjsAwareness,
    /// `%FLO`: a Flock document.
    Flock,
    /// Any other 4 bytes. Decoding still succeeds so the server can refuse just that room.
    Unknown([u8; 4]),
}

impl Magic {
    /// The 4 bytes on the wire.
    pub fn as_bytes(&self) -> &[u8; 4] {
        match self {
            Magic::Loro => b"%LOR",
            Magic::Ephemeral => b"%EPH",
            Magic::PersistedEphemeral => b"%EPS",
            Magic::EncryptedLoro => b"%ELO",
            Magic::Yjs => b"%YJS",
            Magic::YjsAwareness => b"%YAW",
            Magic::Flock => b"%FLO",
            Magic::Unknown(bytes) => bytes,
        }
    }

    /// The magic named by 4 wire bytes; bytes that name no known type give [`Magic::Unknown`].
    pub fn from_bytes(bytes: [u8; 4]) -> Self {
        match &bytes {
            b"%LOR" => Magic::Loro,
            b"%EPH" => Magic::Ephemeral,
            b"%EPS" => Magic::PersistedEphemeral,
            b"%ELO" => Magic::EncryptedLoro,
            b"%YJS" => Magic::Yjs,
            b"%YAW" => Magic::YjsAwareness,
            b"%FLO" => Magic::Flock,
            _ => Magic::Unknown(bytes),
        }
    }

    /// Whether this is one of the CRDT types the protocol defines.
    pub fn is_known(&self) -> bool {
        !matches!(self, Magic::Unknown(_))
    }
}
