//! The security pieces: origin allow-list, tokens, rate limits, client IP. Every clock is
//! injected; nothing sleeps.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codesync_core::{Access, DocKey, Limits, LimitsConfig, SessionId, SessionPolicy, TenantId};
use codesync_transport_ws::security::{
    Claims, ClientIp, IpRateLimiter, MessageBudget, OriginPolicy, OriginRefusal, RateDecision,
    RateLimitConfig, SessionScope, TokenKey, TokenPolicy, TrustedProxy, MAX_TOKEN_BYTES,
};
use codesync_transport_ws::Error;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Origin

fn origins() -> OriginPolicy {
    OriginPolicy::new()
        .allow_all(["https://example.com", "http://localhost:5173"])
        .expect("valid allow-list")
}

#[test]
fn origin_exact_match_table() {
    use OriginRefusal::{Malformed, NotAllowed, Null};
    let policy = origins();
    let cases: &[(&str, Result<(), OriginRefusal>)] = &[
        // Allowed, in any spelling a browser or proxy might normalise to.
        ("https://example.com", Ok(())),
        ("HTTPS://EXAMPLE.COM", Ok(())),
        ("https://Example.Com:443", Ok(())),
        ("http://localhost:5173", Ok(())),
        // Look-alike hosts.
        ("https://example.com.evil.net", Err(NotAllowed)),
        ("https://evil-example.com", Err(NotAllowed)),
        ("https://evilexample.com", Err(NotAllowed)),
        ("https://sub.example.com", Err(NotAllowed)),
        ("https://example.co", Err(NotAllowed)),
        ("https://example.com.", Err(NotAllowed)),
        ("https://xn--exmple-cua.com", Err(NotAllowed)),
        // Same host, other scheme or port.
        ("http://example.com", Err(NotAllowed)),
        ("wss://example.com", Err(NotAllowed)),
        ("https://example.com:8443", Err(NotAllowed)),
        ("http://localhost:5174", Err(NotAllowed)),
        ("http://localhost", Err(NotAllowed)),
        ("http://127.0.0.1:5173", Err(NotAllowed)),
        // Userinfo: the host is really evil.net.
        ("https://example.com@evil.net", Err(Malformed)),
        ("https://user:pass@example.com", Err(Malformed)),
        ("https://example.com\\@evil.net", Err(Malformed)),
        // Paths, queries, fragments: never part of an origin.
        ("https://example.com/", Err(Malformed)),
        ("https://example.com/path", Err(Malformed)),
        ("https://example.com?x=1", Err(Malformed)),
        ("https://example.com#x", Err(Malformed)),
        ("https://example.com%2eevil.net", Err(Malformed)),
        // Whitespace and control characters, anywhere.
        (" https://example.com", Err(Malformed)),
        ("https://example.com ", Err(Malformed)),
        ("https://example.com\t", Err(Malformed)),
        ("https://exa mple.com", Err(Malformed)),
        ("https://example.com\r\nX-Evil: 1", Err(Malformed)),
        ("https://example.com\0", Err(Malformed)),
        // Case tricks through Unicode: Kelvin sign, Cyrillic a, fullwidth letters.
        ("https://\u{212A}ample.com", Err(Malformed)),
        ("https://ex\u{0430}mple.com", Err(Malformed)),
        ("https://\u{FF45}xample.com", Err(Malformed)),
        // Not origins at all.
        ("null", Err(Null)),
        ("NULL", Err(Malformed)),
        ("", Err(Malformed)),
        ("example.com", Err(Malformed)),
        ("https:/example.com", Err(Malformed)),
        ("https:example.com", Err(Malformed)),
        ("https://", Err(Malformed)),
        ("https://:443", Err(Malformed)),
        ("https://example.com:", Err(Malformed)),
        ("https://example.com:0443", Err(Malformed)),
        ("https://example.com:443:443", Err(Malformed)),
        ("https://example.com, https://evil.net", Err(Malformed)),
        ("*", Err(Malformed)),
    ];
    for (origin, expected) in cases {
        assert_eq!(policy.check(Some(origin)), *expected, "{origin:?}");
    }
}

#[test]
fn missing_origin_is_configurable() {
    assert_eq!(origins().check(None), Ok(()));
    assert_eq!(
        origins().with_allow_missing(false).check(None),
        Err(OriginRefusal::Missing)
    );
    assert!(OriginPolicy::default().allows_missing());
    // The default list is empty: every browser refused.
    assert_eq!(
        OriginPolicy::default().check(Some("https://example.com")),
        Err(OriginRefusal::NotAllowed)
    );
}

#[test]
fn any_origin_for_development() {
    let any = OriginPolicy::any();
    for origin in ["https://evil.net", "null", "garbage", "https://a.b/c"] {
        assert_eq!(any.check(Some(origin)), Ok(()), "{origin}");
    }
    assert_eq!(any.check(None), Ok(()));
    assert_eq!(any.check_bytes(Some(b"\xff")), Ok(()));
    assert!(any.allows_any());
}

#[test]
fn origin_allow_list_entries_are_validated() {
    for bad in [
        "null",
        "*",
        "https://example.com/",
        "example.com",
        "https://a@b",
    ] {
        assert!(OriginPolicy::new().allow(bad).is_err(), "{bad}");
    }
    let policy = OriginPolicy::new()
        .allow("HTTP://[0:0::1]:80")
        .expect("ipv6 origin");
    assert_eq!(policy.check(Some("http://[::1]")), Ok(()));
}

#[test]
fn origin_bytes() {
    let policy = origins();
    assert_eq!(policy.check_bytes(Some(b"https://example.com")), Ok(()));
    assert_eq!(
        policy.check_bytes(Some(b"https://example.com\xff")),
        Err(OriginRefusal::Malformed)
    );
    assert_eq!(policy.check_bytes(None), Ok(()));
}

// ---------------------------------------------------------------------------------------
// Tokens

const NOW: u64 = 1_700_000_000;
const LATER: u64 = NOW + 3600;

fn token_key() -> TokenKey {
    TokenKey::new(b"0123456789abcdef0123456789abcdef").expect("32-byte secret")
}

fn doc(tenant: &str, session: &str) -> DocKey {
    DocKey::parse(tenant, session).expect("valid ids")
}

fn refusal<T: std::fmt::Debug>(result: Result<T, Error>) -> &'static str {
    match result {
        Err(Error::Token { reason }) => reason,
        other => panic!("expected a token refusal, got {other:?}"),
    }
}

#[test]
fn secrets_shorter_than_32_bytes_are_refused() {
    assert!(matches!(TokenKey::new([1u8; 31]), Err(Error::Token { .. })));
    assert!(TokenKey::new([]).is_err());
    assert!(TokenKey::new([1u8; 32]).is_ok());
    assert!(TokenKey::new([1u8; 200]).is_ok());
}

#[test]
fn token_round_trip() {
    let key = token_key();
    let main = doc("acme", "main.rs");
    let token = key.issue(&Claims::for_session(&main, Access::ReadWrite, LATER));
    assert!(token.len() < 200, "{token}");
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')));
    assert_eq!(
        key.verify(&token, &main, NOW).expect("valid token"),
        Access::ReadWrite
    );
    let claims = key.decode(&token, NOW).expect("valid token");
    assert_eq!(claims, Claims::for_session(&main, Access::ReadWrite, LATER));
}

#[test]
fn read_only_token_gives_read() {
    let key = token_key();
    let main = doc("acme", "main.rs");
    let token = key.issue(&Claims::for_session(&main, Access::Read, LATER));
    assert_eq!(key.verify(&token, &main, NOW).expect("valid"), Access::Read);
}

#[test]
fn tampering_with_any_byte_is_refused() {
    let key = token_key();
    let main = doc("acme", "main.rs");
    let token = key.issue(&Claims::for_session(&main, Access::Read, LATER));
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
    let mut tried = 0;
    for i in 0..token.len() {
        for replacement in alphabet.chars() {
            let mut tampered = token.clone();
            tampered.replace_range(i..=i, &replacement.to_string());
            if tampered == token {
                continue;
            }
            tried += 1;
            assert!(
                key.verify(&tampered, &main, NOW).is_err(),
                "byte {i} -> {replacement:?} accepted: {tampered}"
            );
        }
    }
    assert!(tried > 1000);
    // Truncated or extended anywhere.
    for len in 0..token.len() {
        assert!(
            key.verify(&token[..len], &main, NOW).is_err(),
            "prefix {len}"
        );
    }
    for suffix in ["A", "=", ".", "..", " ", "\n"] {
        assert!(key.verify(&format!("{token}{suffix}"), &main, NOW).is_err());
        assert!(key.verify(&format!("{suffix}{token}"), &main, NOW).is_err());
    }
}

#[test]
fn a_token_signed_with_another_secret_is_refused() {
    let main = doc("acme", "main.rs");
    let other = TokenKey::new([9u8; 32]).expect("secret");
    let token = other.issue(&Claims::for_session(&main, Access::ReadWrite, LATER));
    assert_eq!(
        refusal(token_key().verify(&token, &main, NOW)),
        "bad token signature"
    );
}

#[test]
fn a_signature_moved_to_another_payload_is_refused() {
    let key = token_key();
    let main = doc("acme", "main.rs");
    let read = key.issue(&Claims::for_session(&main, Access::Read, LATER));
    let write = key.issue(&Claims::for_session(&main, Access::ReadWrite, LATER));
    let (read_payload, _) = read.split_once('.').expect("dot");
    let (_, write_tag) = write.split_once('.').expect("dot");
    let forged = format!("{read_payload}.{write_tag}");
    assert_eq!(
        refusal(key.verify(&forged, &main, NOW)),
        "bad token signature"
    );
}

#[test]
fn expired_tokens_are_refused() {
    let key = token_key();
    let main = doc("acme", "main.rs");
    let token = key.issue(&Claims::for_session(&main, Access::ReadWrite, LATER));
    assert!(key.verify(&token, &main, LATER - 1).is_ok());
    assert_eq!(refusal(key.verify(&token, &main, LATER)), "token expired");
    assert_eq!(
        refusal(key.verify(&token, &main, u64::MAX)),
        "token expired"
    );
    let stillborn = key.issue(&Claims::for_session(&main, Access::ReadWrite, 0));
    assert_eq!(refusal(key.verify(&stillborn, &main, 0)), "token expired");
}

#[test]
fn tokens_for_another_session_or_tenant_are_refused() {
    let key = token_key();
    let token = key.issue(&Claims::for_session(
        &doc("acme", "main.rs"),
        Access::ReadWrite,
        LATER,
    ));
    assert_eq!(
        refusal(key.verify(&token, &doc("acme", "lib.rs"), NOW)),
        "token is for another session"
    );
    assert_eq!(
        refusal(key.verify(&token, &doc("acme", "main.rs2"), NOW)),
        "token is for another session"
    );
    assert_eq!(
        refusal(key.verify(&token, &doc("evil", "main.rs"), NOW)),
        "token is for another tenant"
    );
}

#[test]
fn wildcard_tokens_open_every_session_of_their_tenant_only() {
    let key = token_key();
    let acme = TenantId::new("acme").expect("tenant");
    let token = key.issue(&Claims::for_tenant(acme.clone(), Access::Read, LATER));
    for session in ["main.rs", "lib.rs", "x"] {
        assert_eq!(
            key.verify(&token, &doc("acme", session), NOW)
                .expect("wildcard"),
            Access::Read
        );
    }
    assert_eq!(
        refusal(key.verify(&token, &doc("acme2", "main.rs"), NOW)),
        "token is for another tenant"
    );
    let claims = key.decode(&token, NOW).expect("valid");
    assert_eq!(claims.scope, SessionScope::AllSessions);
    assert!(claims
        .scope
        .covers(&SessionId::new("anything").expect("id")));
}

#[test]
fn garbage_and_huge_tokens_are_refused_without_panicking() {
    let key = token_key();
    let main = doc("acme", "main.rs");
    let valid = key.issue(&Claims::for_session(&main, Access::Read, LATER));
    let (payload, tag) = valid.split_once('.').expect("dot");
    let huge = "A".repeat(10 * 1024 * 1024);
    let just_over = format!("{}.{tag}", "A".repeat(MAX_TOKEN_BYTES - tag.len()));
    let cases: Vec<String> = vec![
        String::new(),
        ".".into(),
        "..".into(),
        "a.b".into(),
        "é.é".into(),
        "\0".into(),
        format!("{payload}."),
        format!(".{tag}"),
        format!("{payload}.{tag}.{tag}"),
        format!("{payload}..{tag}"),
        format!("{payload}={tag}"),
        format!("{payload}.{tag}="),
        format!("{payload}.{}", &tag[..tag.len() - 1]),
        format!("{payload}.{tag}A"),
        format!("{payload}.{}", "A".repeat(43)),
        format!("{payload}.{}", "A".repeat(86)),
        format!("{}.{tag}", payload.to_uppercase()),
        just_over.clone(),
        huge.clone(),
        format!("{huge}.{tag}"),
    ];
    for token in &cases {
        let shown: String = token.chars().take(60).collect();
        assert!(key.verify(token, &main, NOW).is_err(), "{shown:?}");
    }
    assert_eq!(just_over.len(), MAX_TOKEN_BYTES + 1);
    assert_eq!(
        refusal(key.verify(&just_over, &main, NOW)),
        "token too long"
    );
    assert_eq!(refusal(key.verify(&huge, &main, NOW)), "token too long");
    assert_eq!(refusal(key.verify("a.b", &main, NOW)), "malformed token");
}

#[test]
fn longest_ids_fit_well_under_the_cap() {
    let key = token_key();
    let long = doc(&"t".repeat(128), &"s".repeat(128));
    let token = key.issue(&Claims::for_session(&long, Access::ReadWrite, u64::MAX));
    assert!(token.len() < 500, "{}", token.len());
    assert_eq!(
        key.verify(&token, &long, NOW).expect("valid"),
        Access::ReadWrite
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings_never_verify_and_never_panic(token in ".{0,600}") {
        let main = doc("acme", "main.rs");
        prop_assert!(token_key().verify(&token, &main, NOW).is_err());
    }

    #[test]
    fn arbitrary_base64ish_tokens_never_verify(
        payload in "[A-Za-z0-9_-]{0,80}",
        tag in "[A-Za-z0-9_-]{40,46}",
    ) {
        let main = doc("acme", "main.rs");
        let token = format!("{payload}.{tag}");
        prop_assert!(token_key().verify(&token, &main, NOW).is_err());
    }

    #[test]
    fn any_single_byte_change_is_refused(index in 0usize..200, byte in 0u8..128) {
        let key = token_key();
        let main = doc("acme", "main.rs");
        let token = key.issue(&Claims::for_session(&main, Access::ReadWrite, LATER));
        let mut bytes = token.clone().into_bytes();
        let index = index % bytes.len();
        bytes[index] = byte;
        if let Ok(tampered) = String::from_utf8(bytes) {
            if tampered != token {
                prop_assert!(key.verify(&tampered, &main, NOW).is_err());
            }
        }
    }

    #[test]
    fn claims_round_trip(
        tenant in "[a-zA-Z0-9][a-zA-Z0-9._~-]{0,127}",
        session in proptest::option::of("[a-zA-Z0-9][a-zA-Z0-9._~-]{0,127}"),
        write in any::<bool>(),
        expires_at in 1u64..,
    ) {
        let key = token_key();
        let tenant = TenantId::new(&tenant).expect("generated tenant is valid");
        let scope = match session {
            Some(session) => SessionScope::Session(SessionId::new(&session).expect("valid")),
            None => SessionScope::AllSessions,
        };
        let access = if write { Access::ReadWrite } else { Access::Read };
        let claims = Claims::new(tenant, scope, access, expires_at);
        let token = key.issue(&claims);
        prop_assert!(token.len() <= MAX_TOKEN_BYTES);
        prop_assert_eq!(key.decode(&token, expires_at - 1).expect("valid"), claims);
    }
}

// ---------------------------------------------------------------------------------------
// TokenPolicy (the SessionPolicy seam)

fn denial_reason(result: codesync_core::Result<Access>) -> &'static str {
    match result {
        Err(codesync_core::Error::PermissionDenied { reason, .. }) => reason,
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
}

#[test]
fn token_policy_maps_refusals_to_permission_denied() {
    let policy = TokenPolicy::new(token_key(), LimitsConfig::default());
    let main = doc("acme", "main.rs");
    let token = token_key().issue(&Claims::for_session(&main, Access::Read, LATER));
    assert_eq!(
        policy
            .authorize_at(&main, token.as_bytes(), NOW)
            .expect("valid"),
        Access::Read
    );
    assert_eq!(
        denial_reason(policy.authorize_at(&main, token.as_bytes(), LATER)),
        "token expired"
    );
    assert_eq!(
        denial_reason(policy.authorize_at(&doc("acme", "x"), token.as_bytes(), NOW)),
        "token is for another session"
    );
    assert_eq!(
        denial_reason(policy.authorize_at(&main, b"\xff\xfe", NOW)),
        "malformed token"
    );
    assert_eq!(
        denial_reason(policy.authorize_at(&main, b"", NOW)),
        "malformed token"
    );
}

#[tokio::test]
async fn token_policy_uses_the_system_clock() {
    let big = TenantId::new("big").expect("tenant");
    let limits = LimitsConfig::default()
        .with_tenant(big.clone(), Limits::default().with_max_document_bytes(7));
    let policy: Arc<dyn SessionPolicy> = Arc::new(TokenPolicy::new(token_key(), limits));
    let main = doc("acme", "main.rs");
    let valid = token_key().issue(&Claims::for_session(&main, Access::ReadWrite, u64::MAX));
    let expired = token_key().issue(&Claims::for_session(&main, Access::ReadWrite, NOW));
    assert_eq!(
        policy
            .authorize(&main, valid.as_bytes())
            .await
            .expect("valid"),
        Access::ReadWrite
    );
    assert_eq!(
        denial_reason(policy.authorize(&main, expired.as_bytes()).await),
        "token expired"
    );
    assert_eq!(policy.limits(&big).max_document_bytes, 7);
    assert_eq!(
        policy
            .limits(&TenantId::default_tenant())
            .max_document_bytes,
        Limits::default().max_document_bytes
    );
}

// ---------------------------------------------------------------------------------------
// IpRateLimiter

fn v4(last: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0xC000_0200 + last))
}

const MINUTE: Duration = Duration::from_secs(60);

#[test]
fn thousand_allowed_then_blocked_for_ten_minutes() {
    let limiter = IpRateLimiter::default();
    let t0 = Instant::now();
    let ip = v4(1);
    for i in 0..1000 {
        assert_eq!(limiter.check(ip, t0), RateDecision::Allowed, "request {i}");
    }
    assert_eq!(
        limiter.check(ip, t0),
        RateDecision::Limited {
            retry_after: 10 * MINUTE
        }
    );
    // Other addresses are unaffected.
    assert!(limiter.check(v4(2), t0).is_allowed());
    // Still blocked a second before the end, though a whole budget window has passed.
    let almost = t0 + 10 * MINUTE - Duration::from_secs(1);
    assert_eq!(
        limiter.check(ip, almost),
        RateDecision::Limited {
            retry_after: Duration::from_secs(1)
        }
    );
    // Retrying while blocked neither counts nor extends the block.
    let end = t0 + 10 * MINUTE;
    assert!(limiter.check(ip, end).is_allowed());
    // And the budget starts afresh.
    for _ in 1..1000 {
        assert!(limiter.check(ip, end).is_allowed());
    }
    assert!(!limiter.check(ip, end).is_allowed());
}

#[test]
fn block_and_budget_are_configurable() {
    let limiter = IpRateLimiter::new(
        RateLimitConfig::default()
            .with_budget(5, Duration::from_secs(1))
            .with_block_for(Duration::from_secs(30)),
    );
    let t0 = Instant::now();
    for _ in 0..5 {
        assert!(limiter.check(v4(1), t0).is_allowed());
    }
    assert_eq!(
        limiter.check(v4(1), t0),
        RateDecision::Limited {
            retry_after: Duration::from_secs(30)
        }
    );
    assert!(limiter
        .check(v4(1), t0 + Duration::from_secs(30))
        .is_allowed());
}

#[test]
fn a_steady_rate_under_the_budget_is_never_limited() {
    let limiter = IpRateLimiter::default();
    let t0 = Instant::now();
    // 900 a minute for ten minutes.
    let step = MINUTE / 900;
    for i in 0..9000u32 {
        assert!(
            limiter.check(v4(1), t0 + step * i).is_allowed(),
            "request {i}"
        );
    }
}

#[test]
fn a_steady_rate_over_the_budget_is_limited() {
    let limiter = IpRateLimiter::default();
    let t0 = Instant::now();
    let step = MINUTE / 1100;
    let first_refusal = (0..5000u32).find(|&i| !limiter.check(v4(1), t0 + step * i).is_allowed());
    let first_refusal = first_refusal.expect("limited eventually");
    // Not before the budget was spent, and within the second window.
    assert!((1000..2200).contains(&first_refusal), "{first_refusal}");
}

#[test]
fn memory_stays_bounded_under_100k_distinct_addresses() {
    let limiter = IpRateLimiter::default();
    let cap = limiter.config().max_tracked_ips();
    assert!(cap < 100_000);
    let t0 = Instant::now();
    // An address over its budget before the flood.
    let offender = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    for _ in 0..1000 {
        limiter.check(offender, t0);
    }
    assert!(!limiter.check(offender, t0).is_allowed());
    for i in 0..100_000u32 {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + i));
        assert!(limiter.check(ip, t0).is_allowed());
        assert!(
            limiter.tracked() <= cap,
            "{} tracked after {i}",
            limiter.tracked()
        );
    }
    // IPv6: distinct /64s.
    for i in 0..100_000u128 {
        let ip = IpAddr::V6(Ipv6Addr::from((0x2001_0db8_u128 << 96) | (i << 64)));
        limiter.check(ip, t0);
    }
    assert!(limiter.tracked() <= cap);
    // The flood did not unblock the offender.
    assert!(!limiter.check(offender, t0 + MINUTE).is_allowed());
    // Once the flood is two windows old, a sweep forgets it (the offender stays blocked).
    let later = t0 + 3 * MINUTE;
    assert!(limiter.check(v4(9), later).is_allowed());
    assert_eq!(limiter.tracked(), 2);
}

#[test]
fn addresses_within_one_ipv6_64_share_a_budget() {
    let limiter = IpRateLimiter::new(RateLimitConfig::default().with_budget(10, MINUTE));
    let t0 = Instant::now();
    for i in 0..10u128 {
        let ip = IpAddr::V6(Ipv6Addr::from((0x2001_0db8_u128 << 96) | i));
        assert!(limiter.check(ip, t0).is_allowed());
    }
    let same_64 = IpAddr::V6(Ipv6Addr::from((0x2001_0db8_u128 << 96) | 0xffff));
    assert!(!limiter.check(same_64, t0).is_allowed());
    let other_64 = IpAddr::V6(Ipv6Addr::from((0x2001_0db8_u128 << 96) | (1 << 64)));
    assert!(limiter.check(other_64, t0).is_allowed());
}

#[test]
fn the_limiter_is_shared_between_threads() {
    let limiter = Arc::new(IpRateLimiter::default());
    let t0 = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let limiter = Arc::clone(&limiter);
            std::thread::spawn(move || {
                (0..200)
                    .filter(|_| limiter.check(v4(1), t0).is_allowed())
                    .count()
            })
        })
        .collect();
    let allowed: usize = threads
        .into_iter()
        .map(|thread| thread.join().expect("thread"))
        .sum();
    assert_eq!(allowed, 1000);
}

// ---------------------------------------------------------------------------------------
// MessageBudget

#[test]
fn message_budget_allows_a_burst_then_the_steady_rate() {
    let mut budget = MessageBudget::default();
    let t0 = Instant::now();
    for i in 0..60 {
        assert!(budget.try_take(t0), "burst message {i}");
    }
    assert!(!budget.try_take(t0));
    assert!(!budget.try_take(t0 + Duration::from_millis(49)));
    // Then exactly one message every 50 ms (20/s), for a minute of fast typing.
    for step in 1..=1200u32 {
        let now = t0 + Duration::from_millis(50) * step;
        assert!(budget.try_take(now), "step {step}");
        assert!(!budget.try_take(now), "step {step}: only one");
    }
}

#[test]
fn message_budget_refills_only_up_to_the_burst() {
    let mut budget = MessageBudget::new(20.0, 60.0);
    let t0 = Instant::now();
    for _ in 0..60 {
        assert!(budget.try_take(t0));
    }
    // A long pause refills the bucket, but not beyond its capacity.
    let later = t0 + Duration::from_secs(3600);
    let allowed = (0..1000).filter(|_| budget.try_take(later)).count();
    assert_eq!(allowed, 60);
    // Half a bucket after 1.5 s.
    let half = later + Duration::from_millis(1500);
    assert_eq!((0..1000).filter(|_| budget.try_take(half)).count(), 30);
}

#[test]
fn message_budget_at_25_per_second_is_throttled_to_20() {
    let mut budget = MessageBudget::default();
    let t0 = Instant::now();
    let step = Duration::from_millis(40);
    let allowed = (0..=2500u32)
        .filter(|&i| budget.try_take(t0 + step * i))
        .count();
    // 25/s offered from 0 s to 100 s inclusive: the burst, plus 20/s for 100 s.
    assert_eq!(allowed, 60 + 2000);
}

// ---------------------------------------------------------------------------------------
// ClientIp

fn peer() -> SocketAddr {
    "10.1.2.3:40000".parse().expect("socket address")
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

#[test]
fn without_a_trusted_proxy_headers_are_ignored() {
    let resolver = ClientIp::socket_only();
    assert_eq!(resolver.header_name(), None);
    for header in [None, Some("203.0.113.9"), Some("for=203.0.113.9")] {
        assert_eq!(resolver.resolve(&peer(), header), ip("10.1.2.3"));
    }
    assert_eq!(ClientIp::default(), ClientIp::socket_only());
}

#[test]
fn cloud_run_takes_the_last_x_forwarded_for_entry() {
    let resolver = ClientIp::behind(TrustedProxy::cloud_run());
    assert_eq!(resolver.header_name(), Some("x-forwarded-for"));
    let cases = [
        ("203.0.113.9", "203.0.113.9"),
        ("6.6.6.6, 203.0.113.9", "203.0.113.9"),
        ("6.6.6.6,7.7.7.7,203.0.113.9", "203.0.113.9"),
        ("garbage, 203.0.113.9", "203.0.113.9"),
        ("\"6.6.6.6, 203.0.113.9", "203.0.113.9"),
        ("2001:db8::9", "2001:db8::9"),
        ("[2001:db8::9]:1234", "2001:db8::9"),
        ("203.0.113.9:1234", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("\t203.0.113.9 ", "203.0.113.9"),
    ];
    for (header, expected) in cases {
        assert_eq!(
            resolver.resolve(&peer(), Some(header)),
            ip(expected),
            "{header:?}"
        );
    }
}

#[test]
fn google_load_balancer_takes_the_second_entry_from_the_right() {
    let resolver = ClientIp::behind(TrustedProxy::google_load_balancer());
    let cases = [
        ("203.0.113.9, 34.120.0.1", "203.0.113.9"),
        ("6.6.6.6, 203.0.113.9, 34.120.0.1", "203.0.113.9"),
        ("6.6.6.6,7.7.7.7,203.0.113.9,34.120.0.1", "203.0.113.9"),
        // Too few entries: not what the load balancer writes.
        ("203.0.113.9", "10.1.2.3"),
    ];
    for (header, expected) in cases {
        assert_eq!(
            resolver.resolve(&peer(), Some(header)),
            ip(expected),
            "{header:?}"
        );
    }
}

#[test]
fn malformed_forwarding_headers_fall_back_to_the_socket() {
    for proxy in [
        TrustedProxy::cloud_run(),
        TrustedProxy::x_forwarded_for(3),
        TrustedProxy::forwarded(1),
    ] {
        let resolver = ClientIp::behind(proxy);
        assert_eq!(resolver.resolve(&peer(), None), ip("10.1.2.3"));
        for header in [
            "",
            ",",
            " ",
            "garbage",
            "203.0.113.9,",
            "203.0.113.9, unknown",
            "203.0.113.9, _hidden",
            "203.0.113.9, 256.1.1.1",
            "203.0.113.9, 203.0.113.9:99999",
            "203.0.113.9, example.com",
            "203.0.113.9, [2001:db8::1",
            "\u{0661}.1.1.1",
        ] {
            assert_eq!(
                resolver.resolve(&peer(), Some(header)),
                ip("10.1.2.3"),
                "{proxy:?} {header:?}"
            );
        }
    }
}

#[test]
fn forwarded_header_rfc_7239() {
    let resolver = ClientIp::behind(TrustedProxy::forwarded(1));
    assert_eq!(resolver.header_name(), Some("forwarded"));
    let cases = [
        ("for=203.0.113.9", "203.0.113.9"),
        ("for=\"203.0.113.9\";proto=https", "203.0.113.9"),
        (
            "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\"",
            "2001:db8:cafe::17",
        ),
        ("for=\"6.6.6.6, for=203.0.113.9", "203.0.113.9"),
        ("by=10.0.0.1;FOR=203.0.113.9;proto=http", "203.0.113.9"),
        ("for=203.0.113.9, for=unknown", "10.1.2.3"),
        ("for=203.0.113.9;for=6.6.6.6", "10.1.2.3"),
    ];
    for (header, expected) in cases {
        assert_eq!(
            resolver.resolve(&peer(), Some(header)),
            ip(expected),
            "{header:?}"
        );
    }
    let second = ClientIp::behind(TrustedProxy::forwarded(2));
    assert_eq!(
        second.resolve(&peer(), Some("for=6.6.6.6, for=203.0.113.9, for=34.1.1.1")),
        ip("203.0.113.9")
    );
}

#[test]
fn dual_stack_peers_are_reported_as_ipv4() {
    let mapped: SocketAddr = "[::ffff:10.1.2.3]:40000".parse().expect("socket address");
    assert_eq!(
        ClientIp::socket_only().resolve(&mapped, None),
        ip("10.1.2.3")
    );
}

#[test]
fn hop_counts_below_one_mean_the_last_entry() {
    assert_eq!(TrustedProxy::x_forwarded_for(0).nth_from_right(), 1);
    assert_eq!(TrustedProxy::forwarded(0).nth_from_right(), 1);
}

proptest! {
    #[test]
    fn any_header_resolves_without_panicking(header in ".{0,200}", hops in 0usize..5) {
        for proxy in [TrustedProxy::x_forwarded_for(hops), TrustedProxy::forwarded(hops)] {
            let _ = ClientIp::behind(proxy).resolve(&peer(), Some(&header));
        }
    }
}
