//! Per-IP rate limiting, the per-connection message budget and client-IP resolution,
//! all driven by injected clocks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codesync_transport_ws::security::{
    ClientIp, IpRateLimiter, MessageBudget, RateDecision, RateLimitConfig, TrustedProxy,
};
use proptest::prelude::*;

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
