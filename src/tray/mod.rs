//! The tray app: a thin shell over the engine, in the binary only (the library stays UI-free).
//! It shows the engine's state as an icon and a menu and sends the engine commands; it must
//! never sync, talk to the server or hold a token itself.
//!
//! - `view`: the pure mapping from engine state to icon, tooltip and menu;
//! - `icons`: the embedded icons;
//! - `autostart`: start at login;
//! - `app`: the event loop that ties them to the platform's tray.
//!
//! Clicks on the icon: on Windows and macOS a left click switches sync on/off (or starts the
//! login when logged out) and the right button opens the menu. On Linux the tray library reports
//! no clicks (AppIndicator and XEmbed hosts show the menu on any click), so sync is switched with
//! the menu's "Sync: On/Off" item there.

mod app;
mod autostart;
mod icons;
mod view;

pub use app::run;
