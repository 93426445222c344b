//! The token store as the engine's control loop holds it: not asked for yet, opening on its own
//! thread (a locked keyring's unlock prompt may take as long as the user does), or open. A login
//! change asked for while it opens is kept and applied once it is open, the last change winning.
//! It must never open the store on the control loop's thread while a thread can be had, and
//! never log a token.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::Sender;

use crate::auth::{AuthError, StoredToken, TokenStore};
use crate::engine::event::Event;

/// Opens the token store for a home and a server URL.
pub(crate) type StoreOpener = Arc<dyn Fn(&Path, &str) -> TokenStore + Send + Sync>;

/// A login change for the token store.
pub(crate) enum StoreWrite {
    Save(StoredToken),
    Clear,
}

enum Slot {
    /// Not asked for yet (a token from the environment needs none until a login).
    Closed,
    /// Opening; the login change asked for meanwhile, applied once it is open.
    Opening(Option<StoreWrite>),
    Open(TokenStore),
}

pub(crate) struct TokenSlot {
    slot: Slot,
    open: StoreOpener,
    home: PathBuf,
    server_url: String,
    /// Where [`Event::StoreOpened`] goes.
    events: Sender<Event>,
}

impl TokenSlot {
    pub(crate) fn new(
        open: StoreOpener,
        home: PathBuf,
        server_url: String,
        events: Sender<Event>,
    ) -> TokenSlot {
        TokenSlot {
            slot: Slot::Closed,
            open,
            home,
            server_url,
            events,
        }
    }

    /// Starts opening the store on its own thread, if not yet asked for; [`Event::StoreOpened`]
    /// brings it back to the control loop.
    pub(crate) fn begin_opening(&mut self) {
        if !matches!(self.slot, Slot::Closed) {
            return;
        }
        self.slot = Slot::Opening(None);
        let (home, url) = (self.home.clone(), self.server_url.clone());
        let (open, tx) = (self.open.clone(), self.events.clone());
        let spawned = std::thread::Builder::new()
            .name("token-store".into())
            .spawn(move || {
                let store = open(&home, &url);
                let loaded = store.load();
                let _ = tx.send(Event::StoreOpened(store, loaded));
            });
        if let Err(e) = spawned {
            // No thread to spare: open it here rather than never.
            log::warn!("cannot open the token store in the background: {e}");
            let store = (self.open)(&self.home, &self.server_url);
            let loaded = store.load();
            let _ = self.events.send(Event::StoreOpened(store, loaded));
        }
    }

    /// The store finished opening with `loaded` in it. Returns what it held, unless a login
    /// change asked for meanwhile (newer than what it held) was written instead.
    pub(crate) fn opened(
        &mut self,
        store: TokenStore,
        loaded: Result<Option<StoredToken>, AuthError>,
    ) -> Option<Result<Option<StoredToken>, AuthError>> {
        let pending = match std::mem::replace(&mut self.slot, Slot::Open(store)) {
            Slot::Opening(pending) => pending,
            _ => None,
        };
        match pending {
            Some(write) => {
                self.write(write);
                None
            }
            None => Some(loaded),
        }
    }

    /// Saves or forgets the login now, or as soon as the store is open (the last change wins).
    pub(crate) fn write(&mut self, write: StoreWrite) {
        match &mut self.slot {
            Slot::Open(store) => {
                let (result, what) = match &write {
                    StoreWrite::Save(t) => (store.save(t), "store"),
                    StoreWrite::Clear => (store.clear(), "forget"),
                };
                if let Err(e) = result {
                    log::error!("Cannot {what} the login: {e}");
                }
            }
            Slot::Opening(pending) => *pending = Some(write),
            Slot::Closed => {
                self.begin_opening();
                self.write(write);
            }
        }
    }
}
