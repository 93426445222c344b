//! Limits on password login: how many password checks run at once (each Argon2 check holds
//! ~19 MiB, so an unbounded burst exhausts memory), and how fast one account name or one
//! address may guess (a lockout that doubles with every further failure).
//!
//! It must never run a password check without a permit, never tell a locked name from an
//! unknown one, and never grow without bound under a flood of made-up names. Addresses are
//! counted by [`address_key`] (an IPv6 address by its /64), so one machine cannot escape its
//! count by changing the low bits of its address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::client_addr::address_key;

/// Password checks that may run at once: two cores cannot run more Argon2 checks usefully,
/// and this many hold under 100 MiB.
pub const CONCURRENT_CHECKS: usize = 4;
/// Failures in a row after which an account name is locked.
pub const ACCOUNT_FAILURES: u32 = 5;
/// Failures after which one address is locked, whatever names it tries; above
/// [`ACCOUNT_FAILURES`] so one mistyped account does not lock out a whole office.
pub const ADDRESS_FAILURES: u32 = 20;
/// The first lockout; each further failure doubles it, up to [`MAX_LOCK_MS`].
pub const FIRST_LOCK_MS: i64 = 30_000;
pub const MAX_LOCK_MS: i64 = 15 * 60_000;
/// Remembered names and addresses; beyond it, the ones not locked are forgotten first.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Guesser {
    Account(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    locked_until_ms: i64,
}

/// Why a login attempt is not checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures for this name or address: retry after this many seconds (429).
    LockedOut { retry_after_secs: i64 },
    /// Every password check slot is busy (503).
    Busy,
}

#[derive(Clone)]
pub struct LoginLimits {
    checks: Arc<Semaphore>,
    failures: Arc<Mutex<HashMap<Guesser, Failures>>>,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            checks: Arc::new(Semaphore::new(CONCURRENT_CHECKS)),
            failures: Arc::default(),
        }
    }
}

fn lock_ms(count: u32, threshold: u32) -> i64 {
    let doublings = count.saturating_sub(threshold).min(16);
    (FIRST_LOCK_MS << doublings).min(MAX_LOCK_MS)
}

impl LoginLimits {
    /// A permit to check `name`'s password from `addr` now, or why not. Hold the permit for
    /// the whole check.
    pub fn admit(
        &self,
        name: &str,
        addr: IpAddr,
        now_ms: i64,
    ) -> Result<OwnedSemaphorePermit, Refusal> {
        let until = {
            let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            [
                Guesser::Account(name.to_owned()),
                Guesser::Address(address_key(addr)),
            ]
            .iter()
            .filter_map(|g| map.get(g))
            .map(|f| f.locked_until_ms)
            .max()
            .unwrap_or(0)
        };
        if until > now_ms {
            let retry_after_secs = (until - now_ms + 999) / 1000;
            return Err(Refusal::LockedOut { retry_after_secs });
        }
        Arc::clone(&self.checks)
            .try_acquire_owned()
            .map_err(|_| Refusal::Busy)
    }

    /// Records a wrong password (or unknown name) for `name` from `addr`.
    pub fn failed(&self, name: &str, addr: IpAddr, now_ms: i64) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_TRACKED {
            map.retain(|_, f| f.locked_until_ms > now_ms);
            if map.len() >= MAX_TRACKED {
                map.clear();
            }
        }
        for (guesser, threshold) in [
            (Guesser::Account(name.to_owned()), ACCOUNT_FAILURES),
            (Guesser::Address(address_key(addr)), ADDRESS_FAILURES),
        ] {
            let f = map.entry(guesser).or_default();
            f.count = f.count.saturating_add(1);
            if f.count >= threshold {
                f.locked_until_ms = now_ms + lock_ms(f.count, threshold);
            }
        }
    }

    /// A right password clears the account's failures (not the address's: one good login
    /// must not reset a guesser that also knows one password).
    pub fn succeeded(&self, name: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Guesser::Account(name.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn an_account_locks_after_its_failures_and_the_lock_doubles() {
        let l = LoginLimits::default();
        for _ in 0..ACCOUNT_FAILURES - 1 {
            l.failed("demo", HOME, 0);
        }
        assert!(l.admit("demo", HOME, 0).is_ok());
        l.failed("demo", HOME, 0);
        let locked = l.admit("demo", OTHER, 1);
        assert_eq!(
            locked.err(),
            Some(Refusal::LockedOut {
                retry_after_secs: FIRST_LOCK_MS / 1000
            })
        );
        // Another name from the same address is not locked.
        assert!(l.admit("free", HOME, 1).is_ok());
        assert!(l.admit("demo", HOME, FIRST_LOCK_MS).is_ok());
        l.failed("demo", HOME, FIRST_LOCK_MS);
        assert_eq!(
            l.admit("demo", HOME, FIRST_LOCK_MS).err(),
            Some(Refusal::LockedOut {
                retry_after_secs: 2 * FIRST_LOCK_MS / 1000
            })
        );
        assert_eq!(lock_ms(1000, 5), MAX_LOCK_MS);
    }

    #[test]
    fn a_success_clears_the_account_only() {
        let l = LoginLimits::default();
        for _ in 0..ACCOUNT_FAILURES - 1 {
            l.failed("demo", HOME, 0);
        }
        l.succeeded("demo");
        l.failed("demo", HOME, 0);
        assert!(l.admit("demo", HOME, 0).is_ok());
    }

    #[test]
    fn an_address_locks_whatever_names_it_tries() {
        let l = LoginLimits::default();
        for i in 0..ADDRESS_FAILURES {
            l.failed(&format!("name{i}"), HOME, 0);
        }
        assert!(matches!(
            l.admit("fresh", HOME, 0),
            Err(Refusal::LockedOut { .. })
        ));
        assert!(l.admit("fresh", OTHER, 0).is_ok());
    }

    #[test]
    fn an_ipv6_address_locks_its_whole_64() {
        let l = LoginLimits::default();
        let in_64 = |i: u16| IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i, 0, 0, 1));
        // Each failure from another address of the same /64.
        for i in 0..ADDRESS_FAILURES {
            l.failed(&format!("name{i}"), in_64(i as u16), 0);
        }
        assert!(matches!(
            l.admit("fresh", in_64(999), 0),
            Err(Refusal::LockedOut { .. })
        ));
        let next_64 = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        assert!(l.admit("fresh", next_64, 0).is_ok());
    }

    #[test]
    fn checks_beyond_the_bound_are_refused_as_busy() {
        let l = LoginLimits::default();
        let held: Vec<_> = (0..CONCURRENT_CHECKS)
            .map(|_| l.admit("demo", HOME, 0).expect("a permit"))
            .collect();
        assert_eq!(l.admit("demo", HOME, 0).err(), Some(Refusal::Busy));
        drop(held);
        assert!(l.admit("demo", HOME, 0).is_ok());
    }

    #[test]
    fn a_flood_of_names_stays_bounded() {
        let l = LoginLimits::default();
        for i in 0..(MAX_TRACKED * 2) {
            l.failed(&format!("n{i}"), OTHER, 0);
        }
        let len = l.failures.lock().map(|m| m.len()).unwrap_or(0);
        assert!(len <= MAX_TRACKED + 2, "{len}");
    }
}
