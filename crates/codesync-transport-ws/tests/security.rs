//! The origin allow-list and signed tokens (rate limits and client IPs are in
//! `rate_limits.rs`). Every clock is injected; nothing sleeps.

use std::sync::Arc;

use codesync_core::{Access, DocKey, Limits, LimitsConfig, SessionId, SessionPolicy, TenantId};
use codesync_transport_ws::security::{
    Claims, OriginPolicy, OriginRefusal, SessionScope, TokenKey, TokenPolicy, MAX_TOKEN_BYTES,
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
