//! The conformance suite: drives a real `hyperclay-server` over HTTP and checks the protocol
//! (`docs/protocol.md`) to the letter. See `common` for running it against another server.

mod common;

use common::*;
use hyperclay_protocol::{ErrorCode, StatusResponse};

#[test]
fn status_names_the_user_plan_and_sites() {
    let t = Target::new();
    let s: StatusResponse = t.api().status().ok();
    assert_eq!(s.plan, "paid");
    assert!(!s.user.id.is_empty());
    assert!(s.sites.used <= s.sites.limit);
    if t.local.is_some() {
        assert_eq!(s.user.name, "demo");
        assert_eq!(s.sites.limit, 50);
    }
}

#[test]
fn no_token_is_unauthorized() {
    let t = Target::new();
    t.anonymous().status().expect_error(ErrorCode::Unauthorized);
}
