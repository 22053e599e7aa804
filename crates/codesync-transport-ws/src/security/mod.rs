//! Who may connect, and how fast: the origin allow-list, signed tokens, the per-IP
//! connection rate limit, the per-connection message budget, and the client IP behind a
//! proxy.
//!
//! | concern | type | stops |
//! |---|---|---|
//! | browser origin | [`OriginPolicy`] | other web sites opening a socket with the user's cookies (browsers only) |
//! | credentials | [`TokenKey`], [`TokenPolicy`] | anyone without a token for this tenant and session |
//! | connection flood | [`IpRateLimiter`] | one address opening connections faster than its budget |
//! | message flood | [`MessageBudget`] | one connection sending messages faster than people type |
//! | client address | [`ClientIp`] | forged forwarding headers when no trusted proxy is configured |
//!
//! Everything that depends on time takes the time as an argument (`Instant` or unix
//! seconds), so callers decide the clock and tests need no sleeping.

mod client_ip;
mod message_budget;
mod origin;
mod rate_limit;
mod token;
mod token_policy;

pub use client_ip::{ClientIp, ForwardedHeader, TrustedProxy};
pub use message_budget::{MessageBudget, DEFAULT_MESSAGES_PER_SECOND, DEFAULT_MESSAGE_BURST};
pub use origin::{InvalidOrigin, OriginPolicy, OriginRefusal};
pub use rate_limit::{IpRateLimiter, RateDecision, RateLimitConfig};
pub use token::{Claims, SessionScope, TokenKey, MAX_TOKEN_BYTES, MIN_SECRET_BYTES};
pub use token_policy::TokenPolicy;
