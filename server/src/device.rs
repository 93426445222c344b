//! Device logins (RFC 8628): a program with no browser on its machine gets a secret device code
//! to poll `/token` with and a short user code that its user confirms on `/device` in a browser
//! anywhere. This module holds the pending logins and their rules; time is passed in, so every
//! rule is tested without waiting.
//!
//! Kept in memory, not in SQLite: a device login lives 10 minutes, a restart costs its user one
//! more `login --device`, and no secret ever touches the disk. It must never hand out a login
//! twice, never approve an expired code, never grow without bound, and never keep a device code
//! itself (only its SHA-256).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use hyperclay_protocol::sha256_hex;

use crate::client_addr::address_key;

/// How long a device login may wait for its user, by default.
pub const DEFAULT_LIFETIME_SECS: u64 = 600;
/// Seconds between two polls, by default (RFC 8628 §3.2's default).
pub const DEFAULT_INTERVAL_SECS: u64 = 5;
/// What a `slow_down` adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_SECS: u64 = 5;
/// Device logins waiting at once (unexpired); beyond it new ones are refused until some expire.
/// Expired ones are kept a lifetime longer (their devices still hear `expired_token`) but never
/// count: so at most twice this many are ever held.
const MAX_PENDING: usize = 1_000;
/// Device logins one address (an IPv6 /64: [`address_key`]) may have waiting, so that no one
/// address can fill [`MAX_PENDING`] and keep everyone else from logging in.
pub const MAX_PENDING_PER_ADDRESS: usize = 20;
/// A poll this much earlier than the interval still counts as on time: the client's sleep
/// starts when it reads the previous answer, so only a scheduling hiccup can make it early.
const POLL_SLACK_MS: i64 = 250;

/// The letters of a user code: consonants without vowels (no words), none easily confused
/// (RFC 8628 §6.1). 20^8 ≈ 2.6·10^10 codes.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 8;

/// What the user decided on `/device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Waiting,
    Allowed { account_id: i64 },
    Denied,
}

#[derive(Debug)]
struct PendingLogin {
    user_code: String,
    /// Who asked for it, when, and what it says it is: shown on the consent page, so that a
    /// user sent a code by someone else (RFC 8628 §5.4) sees it is not their own device.
    address: IpAddr,
    asked_at_ms: i64,
    device: String,
    expires_at_ms: i64,
    interval_ms: i64,
    last_poll_ms: Option<i64>,
    answer: Answer,
}

/// A device login just started: what `/device/code` answers (the device code in clear, once).
#[derive(Debug)]
pub struct Started {
    pub device_code: String,
    /// Formatted for people: `WDJB-MJHT`.
    pub user_code: String,
    pub expires_in_secs: u64,
    pub interval_secs: u64,
}

/// The most characters of a device's name (its own, or its User-Agent) that are kept.
const MAX_DEVICE_NAME_CHARS: usize = 64;
/// What a device that names itself nowhere is called.
pub const UNKNOWN_DEVICE: &str = "unknown device";

/// How a device describes itself: the name it sent and its User-Agent, each made safe to show
/// (no control, bidi or invisible characters, at most [`MAX_DEVICE_NAME_CHARS`]) and
/// `unknown device` when it sent no name.
pub fn describe_device(name: Option<&str>, user_agent: Option<&str>) -> String {
    let clean = |s: &str| -> String {
        let kept: String = s
            .chars()
            .filter(|c| !c.is_control() && !hyperclay_protocol::is_deceptive_char(*c))
            .take(MAX_DEVICE_NAME_CHARS)
            .collect();
        kept.trim().to_owned()
    };
    let name = name.map(clean).filter(|n| !n.is_empty());
    let agent = user_agent.map(clean).filter(|a| !a.is_empty());
    match (name, agent) {
        (Some(n), Some(a)) => format!("{n} ({a})"),
        (Some(n), None) => n,
        (None, Some(a)) => format!("{UNKNOWN_DEVICE} ({a})"),
        (None, None) => UNKNOWN_DEVICE.to_owned(),
    }
}

/// A login waiting for its user, as the consent page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Formatted for people: `WDJB-MJHT`.
    pub user_code: String,
    pub address: IpAddr,
    pub asked_at_ms: i64,
    pub device: String,
}

/// Why a poll gets no token now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotYet {
    /// The user has not answered.
    Pending,
    /// Polled before the interval passed; the interval is now 5 s longer.
    SlowDown,
    Denied,
    Expired,
    /// Never issued, already exchanged for a token, or forgotten by a restart.
    Unknown,
}

/// Why a user code cannot be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeProblem {
    /// No waiting login has this code (mistyped, expired, or already answered).
    Unknown,
}

/// The logins by the SHA-256 of their device code, and those hashes by user code.
#[derive(Debug, Default)]
struct Pending {
    by_device: HashMap<String, PendingLogin>,
    by_user_code: HashMap<String, String>,
}

impl Pending {
    fn remove(&mut self, device_hash: &str) {
        if let Some(p) = self.by_device.remove(device_hash) {
            self.by_user_code.remove(&p.user_code);
        }
    }

    fn waiting_mut(
        &mut self,
        user_code: &str,
        now_ms: i64,
    ) -> Result<&mut PendingLogin, CodeProblem> {
        let code = normalize_user_code(user_code).ok_or(CodeProblem::Unknown)?;
        let hash = self.by_user_code.get(&code).ok_or(CodeProblem::Unknown)?;
        self.by_device
            .get_mut(hash)
            .filter(|p| p.answer == Answer::Waiting && p.expires_at_ms > now_ms)
            .ok_or(CodeProblem::Unknown)
    }
}

/// Every device login waiting for its user; cheap to clone (shared).
#[derive(Clone)]
pub struct DeviceLogins {
    lifetime_ms: i64,
    interval_secs: u64,
    pending: Arc<Mutex<Pending>>,
}

/// Why no device login can start now: try again in a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// This address has [`MAX_PENDING_PER_ADDRESS`] waiting.
    Address,
    /// The server has [`MAX_PENDING`] waiting.
    Server,
}

impl Default for DeviceLogins {
    fn default() -> Self {
        DeviceLogins::new(DEFAULT_LIFETIME_SECS, DEFAULT_INTERVAL_SECS)
    }
}

/// `WDJBMJHT` → `WDJB-MJHT`.
fn for_people(code: &str) -> String {
    let (a, b) = code.split_at(USER_CODE_LEN / 2);
    format!("{a}-{b}")
}

/// A user code as typed (any case, with or without the dash or spaces) in its stored form, or
/// `None` when it cannot be one.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

fn new_user_code() -> String {
    (0..USER_CODE_LEN)
        .map(|_| {
            let i = rand::random_range(0..USER_CODE_ALPHABET.len());
            char::from(USER_CODE_ALPHABET[i])
        })
        .collect()
}

impl DeviceLogins {
    pub fn new(lifetime_secs: u64, interval_secs: u64) -> DeviceLogins {
        DeviceLogins {
            lifetime_ms: i64::try_from(lifetime_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            interval_secs: interval_secs.max(1),
            pending: Arc::default(),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a device login asked for by `address` at `now_ms`, by a device described as
    /// `device` (see [`describe_device`]).
    pub fn start(&self, address: IpAddr, device: &str, now_ms: i64) -> Result<Started, Full> {
        let mut pending = self.pending();
        // An expired login is kept a lifetime longer, so its device still hears `expired_token`.
        let lifetime_ms = self.lifetime_ms;
        let Pending {
            by_device,
            by_user_code,
        } = &mut *pending;
        by_device.retain(|_, p| p.expires_at_ms.saturating_add(lifetime_ms) > now_ms);
        by_user_code.retain(|_, hash| by_device.contains_key(hash));
        let key = address_key(address);
        let waiting = || by_device.values().filter(|p| p.expires_at_ms > now_ms);
        if waiting().filter(|p| address_key(p.address) == key).count() >= MAX_PENDING_PER_ADDRESS {
            return Err(Full::Address);
        }
        if waiting().count() >= MAX_PENDING {
            return Err(Full::Server);
        }
        let user_code = loop {
            let code = new_user_code();
            if !by_user_code.contains_key(&code) {
                break code;
            }
        };
        let device_code = crate::oauth::random_secret();
        let hash = sha256_hex(device_code.as_bytes());
        by_user_code.insert(user_code.clone(), hash.clone());
        by_device.insert(
            hash,
            PendingLogin {
                user_code: user_code.clone(),
                address,
                asked_at_ms: now_ms,
                device: device.to_owned(),
                expires_at_ms: now_ms + self.lifetime_ms,
                interval_ms: i64::try_from(self.interval_secs * 1000).unwrap_or(i64::MAX),
                last_poll_ms: None,
                answer: Answer::Waiting,
            },
        );
        Ok(Started {
            device_code,
            user_code: for_people(&user_code),
            expires_in_secs: u64::try_from(self.lifetime_ms / 1000).unwrap_or(0),
            interval_secs: self.interval_secs,
        })
    }

    /// The login with `user_code`, when it waits for an answer.
    pub fn check(&self, user_code: &str, now_ms: i64) -> Result<Waiting, CodeProblem> {
        let mut pending = self.pending();
        pending.waiting_mut(user_code, now_ms).map(|p| Waiting {
            user_code: for_people(&p.user_code),
            address: p.address,
            asked_at_ms: p.asked_at_ms,
            device: p.device.clone(),
        })
    }

    /// The user allowed the login with `user_code` for `account_id`; only a waiting one.
    pub fn allow(&self, user_code: &str, account_id: i64, now_ms: i64) -> Result<(), CodeProblem> {
        let mut pending = self.pending();
        pending.waiting_mut(user_code, now_ms)?.answer = Answer::Allowed { account_id };
        Ok(())
    }

    /// The user denied the login with `user_code`; only a waiting one.
    pub fn deny(&self, user_code: &str, now_ms: i64) -> Result<(), CodeProblem> {
        let mut pending = self.pending();
        pending.waiting_mut(user_code, now_ms)?.answer = Answer::Denied;
        Ok(())
    }

    /// A device's poll with `device_code`: the account to issue a token for (once: the login is
    /// then forgotten), or why not yet.
    pub fn poll(&self, device_code: &str, now_ms: i64) -> Result<i64, NotYet> {
        let mut pending = self.pending();
        let key = sha256_hex(device_code.as_bytes());
        let p = pending.by_device.get_mut(&key).ok_or(NotYet::Unknown)?;
        if p.expires_at_ms <= now_ms {
            return Err(NotYet::Expired);
        }
        let too_soon = p
            .last_poll_ms
            .is_some_and(|last| now_ms - last < p.interval_ms - POLL_SLACK_MS);
        p.last_poll_ms = Some(now_ms);
        match p.answer {
            Answer::Denied => Err(NotYet::Denied),
            Answer::Allowed { account_id } => {
                pending.remove(&key);
                Ok(account_id)
            }
            Answer::Waiting if too_soon => {
                p.interval_ms += i64::try_from(SLOW_DOWN_SECS * 1000).unwrap_or(0);
                Err(NotYet::SlowDown)
            }
            Answer::Waiting => Err(NotYet::Pending),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const LIFE: u64 = 600;
    const EVERY: u64 = 5;

    fn logins() -> DeviceLogins {
        DeviceLogins::new(LIFE, EVERY)
    }

    #[test]
    fn user_codes_are_short_unambiguous_and_typed_loosely() {
        let l = logins();
        let s = l.start(HOME, "test device", 0).expect("room");
        assert_eq!(s.user_code.len(), 9, "{}", s.user_code);
        assert_eq!(&s.user_code[4..5], "-");
        assert!(
            s.user_code
                .bytes()
                .filter(|b| *b != b'-')
                .all(|b| USER_CODE_ALPHABET.contains(&b))
        );
        assert_eq!((s.expires_in_secs, s.interval_secs), (LIFE, EVERY));
        let loose = s.user_code.to_ascii_lowercase().replace('-', " ");
        assert_eq!(
            l.check(&loose, 1).map(|w| w.user_code),
            Ok(s.user_code.clone())
        );
        assert_eq!(normalize_user_code("WDJB-MJH"), None);
        assert_eq!(normalize_user_code("WDJB-MJHA"), None, "no vowels");
        assert_eq!(
            normalize_user_code("wdjb-mjht").as_deref(),
            Some("WDJBMJHT")
        );
    }

    #[test]
    fn a_waiting_login_says_who_asked_when_and_as_what() {
        let l = logins();
        let s = l
            .start(HOME, "laptop (hyperclay-sync/1.0)", 1_234)
            .expect("room");
        let w = l.check(&s.user_code, 2_000).expect("waiting");
        assert_eq!(w.address, HOME);
        assert_eq!(w.asked_at_ms, 1_234);
        assert_eq!(w.device, "laptop (hyperclay-sync/1.0)");
    }

    #[test]
    fn a_device_is_described_safely_and_unknown_when_it_does_not_say() {
        assert_eq!(describe_device(None, None), "unknown device");
        assert_eq!(
            describe_device(None, Some("hyperclay-sync/0.1.0")),
            "unknown device (hyperclay-sync/0.1.0)"
        );
        assert_eq!(
            describe_device(Some("Ann's laptop"), Some("hyperclay-sync/0.1.0")),
            "Ann's laptop (hyperclay-sync/0.1.0)"
        );
        // No control, bidi or invisible characters, and a bounded length.
        assert_eq!(
            describe_device(Some("a\u{1b}[2J\u{202e}b\u{200b}c\n"), None),
            "a[2Jbc"
        );
        assert_eq!(describe_device(Some(&"x".repeat(500)), None).len(), 64);
        assert_eq!(describe_device(Some(" \u{200b} "), None), "unknown device");
    }

    #[test]
    fn a_waiting_login_is_pending_until_allowed_then_issued_once() {
        let l = logins();
        let s = l.start(HOME, "test device", 0).expect("room");
        assert_eq!(l.poll(&s.device_code, 5_000), Err(NotYet::Pending));
        l.allow(&s.user_code, 7, 6_000).expect("waiting");
        assert_eq!(l.poll(&s.device_code, 10_000), Ok(7));
        assert_eq!(l.poll(&s.device_code, 15_000), Err(NotYet::Unknown));
        assert_eq!(l.allow(&s.user_code, 7, 16_000), Err(CodeProblem::Unknown));
    }

    #[test]
    fn an_answered_code_cannot_be_answered_again() {
        let l = logins();
        let s = l.start(HOME, "test device", 0).expect("room");
        l.deny(&s.user_code, 1).expect("waiting");
        assert_eq!(l.allow(&s.user_code, 7, 2), Err(CodeProblem::Unknown));
        assert_eq!(l.check(&s.user_code, 2), Err(CodeProblem::Unknown));
        assert_eq!(l.poll(&s.device_code, 3), Err(NotYet::Denied));
        assert_eq!(l.poll(&s.device_code, 10_000), Err(NotYet::Denied));
    }

    #[test]
    fn polling_faster_than_the_interval_slows_the_device_down() {
        let l = logins();
        let s = l.start(HOME, "test device", 0).expect("room");
        assert_eq!(l.poll(&s.device_code, 0), Err(NotYet::Pending));
        assert_eq!(l.poll(&s.device_code, 1_000), Err(NotYet::SlowDown));
        // The interval is now 10 s from the last poll.
        assert_eq!(l.poll(&s.device_code, 6_000), Err(NotYet::SlowDown));
        assert_eq!(l.poll(&s.device_code, 21_000), Err(NotYet::Pending));
        assert_eq!(l.poll(&s.device_code, 36_000), Err(NotYet::Pending));
    }

    #[test]
    fn expired_logins_cannot_be_allowed_or_polled() {
        let l = logins();
        let s = l.start(HOME, "test device", 0).expect("room");
        let end = (LIFE * 1000) as i64;
        assert_eq!(l.check(&s.user_code, end), Err(CodeProblem::Unknown));
        assert_eq!(l.allow(&s.user_code, 7, end), Err(CodeProblem::Unknown));
        assert_eq!(l.poll(&s.device_code, end), Err(NotYet::Expired));
        // Allowed just in time, polled too late: still expired.
        let s = l.start(HOME, "test device", 0).expect("room");
        l.allow(&s.user_code, 7, end - 1).expect("waiting");
        assert_eq!(l.poll(&s.device_code, end), Err(NotYet::Expired));
    }

    #[test]
    fn unknown_codes_are_refused() {
        let l = logins();
        assert_eq!(l.poll("made-up", 0), Err(NotYet::Unknown));
        assert_eq!(l.check("BCDF-GHJK", 0), Err(CodeProblem::Unknown));
        assert_eq!(l.deny("nonsense", 0), Err(CodeProblem::Unknown));
    }

    fn address(i: usize) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i as u32))
    }

    #[test]
    fn the_waiting_logins_stay_bounded_and_expired_ones_make_room() {
        let l = DeviceLogins::new(1, EVERY);
        for i in 0..MAX_PENDING {
            l.start(address(i / MAX_PENDING_PER_ADDRESS), "test device", 0)
                .expect("room");
        }
        assert_eq!(
            l.start(address(MAX_PENDING), "test device", 0).err(),
            Some(Full::Server)
        );
        // Expired a lifetime ago: forgotten.
        assert!(l.start(HOME, "test device", 2_000).is_ok());
    }

    /// Issue 23, 3: 51 addresses × 20 logins blocked every new device login for a lifetime after
    /// they had expired.
    #[test]
    fn expired_logins_leave_the_server_count_at_once() {
        let l = logins();
        for i in 0..MAX_PENDING {
            l.start(address(i / MAX_PENDING_PER_ADDRESS), "test device", 0)
                .expect("room");
        }
        assert_eq!(l.start(HOME, "test device", 1).err(), Some(Full::Server));
        let end = (LIFE * 1000) as i64;
        // The moment they expire, new logins start; the old ones still answer expired_token.
        let s = l
            .start(HOME, "test device", end)
            .expect("room once they expired");
        assert_eq!(l.poll(&s.device_code, end + 1), Err(NotYet::Pending));
        for i in 1..MAX_PENDING {
            l.start(address(100_000 + i), "test device", end)
                .expect("room");
        }
        assert_eq!(l.start(HOME, "test device", end).err(), Some(Full::Server));
        // Held: the expired thousand and the waiting thousand, no more.
        assert!(l.pending().by_device.len() <= 2 * MAX_PENDING);
    }

    #[test]
    fn an_ipv6_address_counts_by_its_64() {
        let l = logins();
        let in_64 = |i: u16| IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 7, 7, i, i, i, 1));
        for i in 0..MAX_PENDING_PER_ADDRESS {
            l.start(in_64(i as u16), "test device", 0).expect("room");
        }
        assert_eq!(
            l.start(in_64(999), "test device", 0).err(),
            Some(Full::Address)
        );
        let other_64 = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 7, 8, 0, 0, 0, 1));
        assert!(l.start(other_64, "test device", 0).is_ok());
    }

    #[test]
    fn one_address_cannot_fill_the_server() {
        let l = logins();
        for _ in 0..MAX_PENDING_PER_ADDRESS {
            l.start(HOME, "test device", 0).expect("room");
        }
        assert_eq!(l.start(HOME, "test device", 0).err(), Some(Full::Address));
        assert!(l.start(address(1), "test device", 0).is_ok());
        // Expired ones do not count.
        assert!(l.start(HOME, "test device", (LIFE * 1000) as i64).is_ok());
    }
}
