//! The server's JWT check: arbitrary tokens, and real tokens with fuzz-chosen bytes changed.
//! Nothing made without the key is accepted; a changed token that still verifies must carry
//! exactly the original claims (base64 slack, never forged claims). Must never panic.
#![no_main]

use std::sync::OnceLock;

use hyperclay_server::Clock;
use hyperclay_server::token::{Claims, TokenKeys};
use libfuzzer_sys::fuzz_target;

struct Keys {
    keys: TokenKeys,
    token: String,
    claims: Claims,
    _dir: tempfile::TempDir,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let keys = TokenKeys::load_or_create(dir.path()).expect("keys");
        let (token, claims) = keys
            .issue("42", ("a-family", 0), &Clock::default(), 0)
            .expect("issue");
        Keys {
            keys,
            token,
            claims,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let k = keys();
    let clock = Clock::default();
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(claims) = k.keys.verify(text, &clock) {
            assert_eq!(
                claims, k.claims,
                "accepted a token it never issued: {text:?}"
            );
        }
    }
    // Flip bytes of the real token at fuzz-chosen places.
    let mut t = k.token.clone().into_bytes();
    for pair in data.chunks(2) {
        if let [at, x] = pair {
            let i = *at as usize * t.len() / 256;
            t[i] ^= *x;
        }
    }
    if let Ok(text) = String::from_utf8(t) {
        if let Ok(claims) = k.keys.verify(&text, &clock) {
            assert_eq!(
                claims, k.claims,
                "a changed token verified with other claims"
            );
        }
    }
});
