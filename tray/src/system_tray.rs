//! The tray-icon crate's tray (AppIndicator/XEmbed on Linux, the native tray on macOS and
//! Windows) showing a [`TrayView`]: built once, then brought in line with each new view by
//! changing only what moved, so a menu the user has open stays open. It renders; it must never
//! decide what a click means (the menu ids come back to the event loop).

use std::panic::AssertUnwindSafe;
use std::path::Path;

use tray_icon::menu::{CheckMenuItem, Menu, MenuId, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use super::desktop::catch_panic;
use super::icons::IconSet;
use super::view::{Action, IconKind, MenuLine, TrayView};

/// The tray's id: names its icon files (`tray-icon-hyperclay-sync-N.png`) and, on the XEmbed
/// fallback, its window ("tray-icon tray app hyperclay-sync"), which the UI tests look for.
const TRAY_ID: &str = "hyperclay-sync";

/// A tray on screen. Dropping it removes the icon and its icon file.
pub struct SystemTray {
    tray: TrayIcon,
    menu: ShownMenu,
}

impl SystemTray {
    /// Shows `view`, with the icon files under `icon_dir`; `None` (logged) when the platform has
    /// no tray to show it in, and syncing goes on without one.
    pub fn build(view: &TrayView, icons: &IconSet, icon_dir: &Path) -> Option<SystemTray> {
        remove_stale_icon_files(icon_dir);
        let menu = build_menu(view);
        let icon = match icon(icons, view.icon) {
            Ok(icon) => icon,
            Err(e) => {
                log::error!("cannot make the tray icon: {e}; syncing without one");
                return None;
            }
        };
        let builder = TrayIconBuilder::new()
            .with_id(TRAY_ID)
            .with_temp_dir_path(icon_dir)
            .with_menu(Box::new(menu.menu.clone()))
            .with_tooltip(view.tooltip.one_line())
            .with_icon(icon)
            // Where clicks are reported (Windows, macOS), a left click is the sync switch and
            // the menu is on the right button; Linux always shows the menu.
            .with_menu_on_left_click(false);
        // Without libayatana-appindicator the Linux backend panics instead of failing.
        match catch_panic(AssertUnwindSafe(|| builder.build())) {
            Ok(Ok(tray)) => {
                log::info!(
                    "tray icon shown; if it is not visible, the desktop has no system tray \
                     (GNOME needs the AppIndicator extension): syncing continues anyway"
                );
                if cfg!(target_os = "linux") {
                    log::info!(
                        "on Linux a click on the icon opens the menu; sync is toggled there"
                    );
                }
                Some(SystemTray { tray, menu })
            }
            Ok(Err(e)) => {
                log::error!("cannot show the tray icon: {e}; syncing without one");
                None
            }
            Err(why) => {
                log::error!(
                    "cannot show the tray icon ({why}; is libayatana-appindicator3-1 installed?): \
                     syncing without one"
                );
                None
            }
        }
    }

    /// Changes what differs between `old` (on screen) and `new`.
    pub fn show(&mut self, old: &TrayView, new: &TrayView, icons: &IconSet) {
        if old.icon != new.icon {
            match icon(icons, new.icon) {
                Ok(icon) => {
                    if let Err(e) = self.tray.set_icon(Some(icon)) {
                        log::warn!("cannot change the tray icon: {e}");
                    }
                }
                Err(e) => log::warn!("cannot change the tray icon: {e}"),
            }
        }
        if old.tooltip != new.tooltip
            && let Err(e) = self.tray.set_tooltip(Some(new.tooltip.one_line()))
        {
            log::warn!("cannot change the tray tooltip: {e}");
        }
        if old.same_shape(new) {
            // Same items: update them in place, so a menu the user has open stays open.
            update_menu(&self.menu, new);
        } else {
            self.menu = build_menu(new);
            self.tray.set_menu(Some(Box::new(self.menu.menu.clone())));
        }
    }

    /// Puts the menu's items back to `view`: GTK flips a check item as it is clicked, before
    /// anyone knows whether the change took.
    pub fn reset(&self, view: &TrayView) {
        update_menu(&self.menu, view);
    }
}

fn icon(icons: &IconSet, kind: IconKind) -> Result<Icon, tray_icon::BadIcon> {
    let rgba = icons.get(kind);
    Icon::from_rgba(rgba.pixels.clone(), rgba.width, rgba.height)
}

/// The menu on screen and its items, one per [`MenuLine`] of the view it shows.
struct ShownMenu {
    menu: Menu,
    items: Vec<ShownItem>,
}

enum ShownItem {
    Plain(MenuItem),
    Check(CheckMenuItem),
    Separator,
}

fn build_menu(view: &TrayView) -> ShownMenu {
    let menu = Menu::new();
    let mut items = Vec::with_capacity(view.menu.len());
    for line in &view.menu {
        let shown = match line {
            MenuLine::Separator => {
                let separator = PredefinedMenuItem::separator();
                append(&menu, &separator);
                ShownItem::Separator
            }
            MenuLine::Item {
                label,
                action,
                enabled,
                checked,
            } => {
                let id = action.map(Action::id).map(MenuId::new);
                match checked {
                    Some(checked) => {
                        let item = match id {
                            Some(id) => CheckMenuItem::with_id(id, label, *enabled, *checked, None),
                            None => CheckMenuItem::new(label, *enabled, *checked, None),
                        };
                        append(&menu, &item);
                        ShownItem::Check(item)
                    }
                    None => {
                        let item = match id {
                            Some(id) => MenuItem::with_id(id, label, *enabled, None),
                            None => MenuItem::new(label, *enabled, None),
                        };
                        append(&menu, &item);
                        ShownItem::Plain(item)
                    }
                }
            }
        };
        items.push(shown);
    }
    ShownMenu { menu, items }
}

fn append(menu: &Menu, item: &dyn tray_icon::menu::IsMenuItem) {
    if let Err(e) = menu.append(item) {
        log::warn!("cannot add a tray menu item: {e}");
    }
}

fn update_menu(shown: &ShownMenu, view: &TrayView) {
    for (item, line) in shown.items.iter().zip(&view.menu) {
        let MenuLine::Item {
            label,
            enabled,
            checked,
            ..
        } = line
        else {
            continue;
        };
        match item {
            ShownItem::Plain(item) => {
                item.set_text(label);
                item.set_enabled(*enabled);
            }
            ShownItem::Check(item) => {
                item.set_text(label);
                item.set_enabled(*enabled);
                item.set_checked(checked.unwrap_or(false));
            }
            ShownItem::Separator => {}
        }
    }
}

/// Icon files left behind by a run that was killed (a clean exit removes its own). Only this
/// app's directory is cleaned, and only once the engine holds the single-instance lock, so no
/// live tray's file is touched.
fn remove_stale_icon_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("tray-icon-")
            && name.ends_with(".png")
            && let Err(e) = std::fs::remove_file(entry.path())
        {
            log::debug!("cannot remove stale icon {name}: {e}");
        }
    }
}
