//! The Linux tray where the desktop has a StatusNotifierItem host (KDE Plasma, GNOME with the
//! AppIndicator extension, Xfce, Cinnamon, MATE, Budgie): the item is served over D-Bus by
//! `ksni`, with no GTK. Unlike tray-icon's AppIndicator backend it has a left click (Activate)
//! and a tooltip. It only renders a [`TrayView`] and reports clicks; it must never decide what
//! a click means, and the UI thread must never wait for the bus (all of that runs on the
//! thread started here).

use std::sync::mpsc;

use ksni::blocking::TrayMethods as _;
use ksni::menu::{CheckmarkItem, StandardItem};
use ksni::{Category, Icon, MenuItem, Status, ToolTip};

use super::icons::{IconSet, Rgba};
use super::view::{Action, IconKind, MenuLine, TrayView};

/// What the user did on the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Click {
    /// A left click on the icon.
    Icon,
    /// A menu item, by its [`Action::id`].
    Menu(&'static str),
}

/// How the tray reaches the UI thread (an event loop proxy).
pub type Report = Box<dyn Fn(Click) + Send>;

/// A running item: views sent here are shown; dropping it removes the item.
#[derive(Debug)]
pub struct Shown {
    views: mpsc::Sender<TrayView>,
}

impl Shown {
    /// Shows `view`. Never blocks: the item's thread applies it.
    pub fn show(&self, view: TrayView) {
        // Fails only once the item's thread has ended, when there is nothing left to update.
        let _ = self.views.send(view);
    }
}

/// Serves the item on a thread of its own; `started` gets the running item, or why there is
/// none (no session bus, no `org.kde.StatusNotifierWatcher`): then the caller falls back to
/// another tray. Returns at once; an error means the thread could not start, and `started` is
/// never called.
pub fn start(
    view: TrayView,
    icons: &IconSet,
    report: Report,
    started: impl FnOnce(Result<Shown, String>) + Send + 'static,
) -> std::io::Result<()> {
    let item = Item {
        view,
        pixmaps: Pixmaps::from(icons),
        report,
    };
    std::thread::Builder::new()
        .name("sni-tray".into())
        .spawn(move || {
            let handle = match item.spawn() {
                Ok(handle) => handle,
                Err(e) => return started(Err(e.to_string())),
            };
            let (views, next) = mpsc::channel();
            started(Ok(Shown { views }));
            while let Ok(view) = next.recv() {
                if handle.update(|item| item.view = view).is_none() {
                    return;
                }
            }
            handle.shutdown().wait();
        })?;
    Ok(())
}

/// The three icons as SNI pixmaps (ARGB, network byte order), converted once.
struct Pixmaps {
    on: Vec<Icon>,
    off: Vec<Icon>,
    error: Vec<Icon>,
}

impl Pixmaps {
    fn from(icons: &IconSet) -> Pixmaps {
        Pixmaps {
            on: vec![argb(&icons.on)],
            off: vec![argb(&icons.off)],
            error: vec![argb(&icons.error)],
        }
    }

    fn get(&self, kind: IconKind) -> &[Icon] {
        match kind {
            IconKind::On => &self.on,
            IconKind::Off => &self.off,
            IconKind::Error => &self.error,
        }
    }
}

fn argb(icon: &Rgba) -> Icon {
    let data = icon
        .pixels
        .chunks_exact(4)
        .flat_map(|px| [px[3], px[0], px[1], px[2]])
        .collect();
    Icon {
        // Icons are at most a few hundred pixels wide.
        width: i32::try_from(icon.width).unwrap_or(i32::MAX),
        height: i32::try_from(icon.height).unwrap_or(i32::MAX),
        data,
    }
}

/// An error asks the host to draw attention to the icon; otherwise it is simply shown.
fn status(kind: IconKind) -> Status {
    match kind {
        IconKind::Error => Status::NeedsAttention,
        IconKind::On | IconKind::Off => Status::Active,
    }
}

/// dbusmenu reads `_` as a mnemonic marker; labels (error messages, paths) are shown as they are.
fn label(text: &str) -> String {
    text.replace('_', "__")
}

/// Hosts read the tooltip's description as a subset of HTML; a message (a file name with `&`, a
/// path with `<`) is shown as written.
fn plain_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

struct Item {
    view: TrayView,
    pixmaps: Pixmaps,
    report: Report,
}

impl ksni::Tray for Item {
    fn id(&self) -> String {
        "hyperclay-sync".into()
    }

    fn title(&self) -> String {
        self.view.tooltip.title.into()
    }

    fn category(&self) -> Category {
        Category::ApplicationStatus
    }

    fn status(&self) -> Status {
        status(self.view.icon)
    }

    // No icon name: a host prefers a themed icon over the pixmap, and the installed theme icon
    // is the green one whatever the state.
    fn icon_pixmap(&self) -> Vec<Icon> {
        self.pixmaps.get(self.view.icon).to_vec()
    }

    fn attention_icon_pixmap(&self) -> Vec<Icon> {
        self.pixmaps.error.clone()
    }

    fn tool_tip(&self) -> ToolTip {
        ToolTip {
            icon_name: String::new(),
            icon_pixmap: Vec::new(),
            title: self.view.tooltip.title.into(),
            description: plain_text(&self.view.tooltip.text),
        }
    }

    fn activate(&mut self, _x: i32, _y: i32) {
        (self.report)(Click::Icon);
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        self.view.menu.iter().map(menu_item).collect()
    }

    fn watcher_offline(&self, reason: ksni::OfflineReason) -> bool {
        // Keep serving: ksni registers again when the host comes back (a restarted shell).
        log::warn!("the system tray host went away ({reason:?}); the icon returns with it");
        true
    }
}

fn menu_item(line: &MenuLine) -> MenuItem<Item> {
    let MenuLine::Item {
        label: text,
        action,
        enabled,
        checked,
    } = line
    else {
        return MenuItem::Separator;
    };
    let id = action.map(Action::id);
    let activate = Box::new(move |item: &mut Item| {
        if let Some(id) = id {
            (item.report)(Click::Menu(id));
        }
    });
    match checked {
        Some(checked) => CheckmarkItem {
            label: label(text),
            enabled: *enabled,
            checked: *checked,
            activate,
            ..Default::default()
        }
        .into(),
        None => StandardItem {
            label: label(text),
            enabled: *enabled,
            activate,
            ..Default::default()
        }
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixmaps_are_argb_in_network_order() {
        let icon = Rgba {
            pixels: vec![10, 20, 30, 255, 1, 2, 3, 0],
            width: 2,
            height: 1,
        };
        let icon = argb(&icon);
        assert_eq!((icon.width, icon.height), (2, 1));
        assert_eq!(icon.data, [255, 10, 20, 30, 0, 1, 2, 3]);
    }

    #[test]
    fn only_an_error_asks_for_attention() {
        assert!(matches!(status(IconKind::Error), Status::NeedsAttention));
        assert!(matches!(status(IconKind::On), Status::Active));
        assert!(matches!(status(IconKind::Off), Status::Active));
    }

    #[test]
    fn tooltip_markup_characters_are_escaped() {
        assert_eq!(plain_text("a<b> & c's"), "a&lt;b&gt; &amp; c's");
        let quota = "You've run out of sites. We can't sync any more sites.";
        assert_eq!(plain_text(quota), quota);
    }

    #[test]
    fn underscores_are_shown_not_read_as_mnemonics() {
        assert_eq!(label("my_site.html"), "my__site.html");
    }
}
