//! The change bell: wakes the `/changes` requests waiting on one account (long-polling) when
//! that account's change sequence moves. It only says "look again"; it never carries data, so a
//! spurious ring costs one listing query and a missed one is impossible as long as a waiter
//! subscribes before it reads. It must never block: it is rung from inside a store transaction.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

/// One `watch` channel per account that ever had a waiter (a few bytes each, kept for the
/// server's life: accounts are few next to waiting connections).
#[derive(Default)]
pub struct ChangeBell {
    accounts: Mutex<HashMap<i64, watch::Sender<()>>>,
    closed: AtomicBool,
}

impl ChangeBell {
    /// A receiver that sees every ring of `account_id` from now on.
    pub fn subscribe(&self, account_id: i64) -> watch::Receiver<()> {
        self.lock()
            .entry(account_id)
            .or_insert_with(|| watch::channel(()).0)
            .subscribe()
    }

    pub fn ring(&self, account_id: i64) {
        if let Some(tx) = self.lock().get(&account_id) {
            tx.send_replace(());
        }
    }

    /// Wakes every waiter: another process (the admin CLI) changed the data dir, and which
    /// accounts it touched is not known here.
    pub fn ring_all(&self) {
        for tx in self.lock().values() {
            tx.send_replace(());
        }
    }

    /// The server is shutting down: every waiter answers now rather than holding the shutdown
    /// up for its whole wait.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.ring_all();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, watch::Sender<()>>> {
        self.accounts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_ring_wakes_only_that_accounts_waiters() {
        let bell = ChangeBell::default();
        let mut a = bell.subscribe(1);
        let b = bell.subscribe(2);
        bell.ring(1);
        assert!(a.has_changed().unwrap());
        assert!(!b.has_changed().unwrap());
        a.changed().await.unwrap();
        bell.ring_all();
        assert!(a.has_changed().unwrap() && b.has_changed().unwrap());
        // Ringing an account nobody waits on is a no-op.
        bell.ring(3);
    }
}
