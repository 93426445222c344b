//! Issue 23, 3: the per-address limits count the client, not the proxy in front of it, and not
//! whatever a client claims. `X-Forwarded-For` is read only from `--trusted-proxy`; IPv6
//! clients are counted by their /64. (That expired device logins leave the server's count at
//! once is the unit test `device::tests::expired_logins_leave_the_server_count_at_once`.)

use hyperclay_protocol::ErrorCode;

use crate::common::Target;
use crate::exhaustion::Local;
use crate::oauth_flow::post_login_with;

const XFF: &str = "X-Forwarded-For";

/// `ADDRESS_FAILURES` wrong logins (each for another made-up name) from `client`.
fn lock_out_address(t: &Target, client: &str) {
    for i in 0..20 {
        let r = post_login_with(t, &format!("nobody{i}"), "wrong", "/", &[(XFF, client)]);
        assert_eq!(r.status, 401, "guess {i}: {}", r.text());
    }
}

fn login_status(t: &Target, client: &str) -> u16 {
    post_login_with(t, "demo", "demo", "/", &[(XFF, client)]).status
}

fn device_login(t: &Target, client: &str) -> crate::common::Reply {
    t.anonymous()
        .post_with("/api/local-sync/device/code", b"", &[(XFF, client)])
}

/// Behind a TLS proxy every TCP peer is the proxy: 20 bad logins from anyone locked out
/// everyone. With `--trusted-proxy` each forwarded client has its own count, and a client
/// cannot choose its count by sending its own `X-Forwarded-For` (the proxy appends the
/// address it saw, and only that rightmost entry is believed).
#[test]
fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_lockout() {
    let s = Local::start(&["--trusted-proxy=127.0.0.1"], None);
    let t = s.target();
    lock_out_address(&t, "203.0.113.1");
    assert_eq!(
        login_status(&t, "203.0.113.1"),
        429,
        "the guesser is locked out"
    );
    assert_eq!(
        login_status(&t, "203.0.113.2"),
        303,
        "another client is not"
    );
    // The guesser claims to be someone else; its proxy appends what it saw.
    assert_eq!(login_status(&t, "203.0.113.2, 203.0.113.1"), 429);
}

/// Without `--trusted-proxy` the header is anyone's word and is ignored: the count is the TCP
/// peer's, so a guesser cannot escape its lockout by sending a new address each time.
#[test]
fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let s = Local::start(&[], None);
    let t = s.target();
    for i in 0..20 {
        let r = post_login_with(
            &t,
            &format!("nobody{i}"),
            "wrong",
            "/",
            &[(XFF, &format!("198.51.100.{i}"))],
        );
        assert_eq!(r.status, 401, "{}", r.text());
    }
    assert_eq!(login_status(&t, "203.0.113.9"), 429);
}

/// Device logins are counted per client behind the proxy too, and an IPv6 client by its /64:
/// changing the low 64 bits of the address does not buy more.
#[test]
fn device_logins_count_per_forwarded_client_and_per_ipv6_64() {
    let s = Local::start(&["--trusted-proxy=127.0.0.1"], None);
    let t = s.target();
    for i in 0..20 {
        let r = device_login(&t, "203.0.113.1");
        assert_eq!(r.status, 200, "{i}: {}", r.text());
    }
    device_login(&t, "203.0.113.1").expect_error(ErrorCode::TooManyRequests);
    assert_eq!(device_login(&t, "203.0.113.2").status, 200);
    for i in 0..20 {
        let r = device_login(&t, &format!("2001:db8:1:2::{:x}", i + 1));
        assert_eq!(r.status, 200, "{i}: {}", r.text());
    }
    device_login(&t, "2001:db8:1:2:ffff:ffff:ffff:ffff").expect_error(ErrorCode::TooManyRequests);
    assert_eq!(device_login(&t, "[2001:db8:1:3::1]:443").status, 200);
}

/// The IPv6 /64 rule for the password lockout, through the proxy.
#[test]
fn an_ipv6_client_is_locked_out_by_its_64() {
    let s = Local::start(&["--trusted-proxy=127.0.0.1"], None);
    let t = s.target();
    for i in 0..20 {
        let r = post_login_with(
            &t,
            &format!("nobody{i}"),
            "wrong",
            "/",
            &[(XFF, &format!("2001:db8:5:5::{:x}", i + 1))],
        );
        assert_eq!(r.status, 401, "{}", r.text());
    }
    assert_eq!(login_status(&t, "2001:db8:5:5:1234::1"), 429);
    assert_eq!(login_status(&t, "2001:db8:5:6::1"), 303);
}
