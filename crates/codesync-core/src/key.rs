//! Document addressing: a document is `(tenant, session_id)`.
//!
//! Ids travel in URLs (`ws://HOST/<SESSION_ID>`), in the Loro protocol's room id (at most
//! 128 bytes) and in storage keys, so they are validated once, here, and carried as types
//! that cannot hold an invalid value.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

/// The longest id accepted, in bytes: the Loro protocol's room-id limit.
pub const MAX_ID_BYTES: usize = 128;

/// Ids starting with this character are reserved for the server's own routes
/// (metrics, health, page assets), so no session can shadow them.
pub const RESERVED_PREFIX: char = '_';

/// The tenant used when an application has only one.
pub const DEFAULT_TENANT: &str = "default";

fn validate(kind: &'static str, id: &str) -> Result<()> {
    let refuse = |reason| {
        let mut shown = id.to_owned();
        if shown.len() > 64 {
            let mut cut = 64;
            while !shown.is_char_boundary(cut) {
                cut -= 1;
            }
            shown.truncate(cut);
        }
        Err(Error::InvalidId {
            kind,
            id: shown,
            reason,
        })
    };
    if id.is_empty() {
        return refuse("it is empty");
    }
    if id.len() > MAX_ID_BYTES {
        return refuse("it is longer than 128 bytes");
    }
    if id.starts_with(RESERVED_PREFIX) {
        return refuse("ids starting with '_' are reserved for the server's own routes");
    }
    if id.starts_with('.') {
        return refuse("ids may not start with '.'");
    }
    // URL-unreserved characters only: the id is usable as a path segment, a file name and
    // a database key without escaping.
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~');
    if !id.chars().all(allowed) {
        return refuse("only ASCII letters, digits, '-', '_', '.' and '~' are allowed");
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates `id` and wraps it.
            ///
            /// Refused with [`Error::InvalidId`]: empty ids, ids over 128 bytes, ids
            /// starting with `_` (reserved) or `.`, and characters other than ASCII
            /// letters, digits, `-`, `_`, `.` and `~`.
            pub fn new(id: impl AsRef<str>) -> Result<Self> {
                let id = id.as_ref();
                validate($kind, id)?;
                Ok(Self(Arc::from(id)))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A tenant: an isolated customer of the server, with its own sessions and limits.
    TenantId,
    "tenant"
);
id_type!(
    /// A session: one collaborative document within a tenant.
    SessionId,
    "session"
);

impl TenantId {
    /// The tenant used by single-tenant applications ([`DEFAULT_TENANT`]).
    pub fn default_tenant() -> Self {
        Self(Arc::from(DEFAULT_TENANT))
    }
}

/// The address of one document: `(tenant, session)`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocKey {
    tenant: TenantId,
    session: SessionId,
}

impl DocKey {
    /// A key from already validated ids.
    pub fn new(tenant: TenantId, session: SessionId) -> Self {
        Self { tenant, session }
    }

    /// Validates both ids and builds the key.
    ///
    /// ```
    /// use codesync_core::DocKey;
    /// let key = DocKey::parse("acme", "main.rs").unwrap();
    /// assert_eq!(key.to_string(), "acme/main.rs");
    /// assert!(DocKey::parse("acme", "_metrics").is_err());
    /// ```
    pub fn parse(tenant: &str, session: &str) -> Result<Self> {
        Ok(Self::new(TenantId::new(tenant)?, SessionId::new(session)?))
    }

    /// The tenant that owns the document.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The session (document) id within the tenant.
    pub fn session(&self) -> &SessionId {
        &self.session
    }
}

impl fmt::Display for DocKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.session)
    }
}

impl fmt::Debug for DocKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_ids() {
        for id in ["a", "main.rs", "room-1234", "A_b.c~d", &"x".repeat(128)] {
            assert!(SessionId::new(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn refuses_bad_ids_with_reasons() {
        let cases = [
            ("", "empty"),
            (&"x".repeat(129) as &str, "128 bytes"),
            ("_metrics", "reserved"),
            (".", "'.'"),
            ("..", "'.'"),
            ("a/b", "only ASCII"),
            ("a b", "only ASCII"),
            ("é", "only ASCII"),
            ("a%2F", "only ASCII"),
            ("a\0", "only ASCII"),
        ];
        for (id, why) in cases {
            let err = SessionId::new(id).expect_err(id);
            let text = err.to_string();
            assert!(text.contains(why), "{id:?}: {text}");
            assert!(matches!(
                err,
                Error::InvalidId {
                    kind: "session",
                    ..
                }
            ));
        }
    }

    #[test]
    fn long_ids_are_cut_in_errors_on_a_char_boundary() {
        let err = TenantId::new("é".repeat(100)).expect_err("too long");
        let Error::InvalidId { id, kind, .. } = err else {
            panic!("wrong variant")
        };
        assert_eq!(kind, "tenant");
        assert!(id.len() <= 64);
    }
}
