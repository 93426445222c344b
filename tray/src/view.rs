//! What the tray shows for an engine state: icon, tooltip and menu, as plain data.
//! A pure function of its inputs, so every state is unit-tested; it must never touch the
//! platform (no tray, no menu objects, no I/O).

use hyperclay_sync::status::state::EngineState;
use hyperclay_sync::status::text::{Summary, issues_line};

/// Which of the three icons to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IconKind {
    /// Logged in, switched on, nothing blocking (offline included: the switch is still on).
    On,
    /// Logged out, logging in, or switched off.
    Off,
    /// Something blocks syncing; the tooltip and the menu carry the message.
    Error,
}

/// What a menu item does when clicked. Its string form is the muda menu id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start the browser login.
    Login,
    /// Open the pending login URL again (the first open may have silently failed).
    OpenLoginPage,
    /// Put the pending login URL on the clipboard, for a browser the app cannot open.
    CopyLoginUrl,
    /// Switch sync to the given value.
    SetSync(bool),
    Logout,
    ToggleStartAtLogin,
    ChooseFolder,
    OpenFolder,
    OpenLog,
    /// Open the sync issues report (the one line "3 files not synced" stands for it).
    OpenIssues,
    /// Update this copy to the newest release ("Update…", "Update to 0.2.0…").
    Update,
    Quit,
}

impl Action {
    /// The menu id. Both directions of the sync switch share one id: the item stays the same
    /// item (so an open menu is updated in place), and [`TrayView::action_for`] reads the
    /// direction from the view on screen.
    pub fn id(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::OpenLoginPage => "open-login-page",
            Action::CopyLoginUrl => "copy-login-url",
            Action::SetSync(_) => "sync",
            Action::Logout => "logout",
            Action::ToggleStartAtLogin => "start-at-login",
            Action::ChooseFolder => "choose-folder",
            Action::OpenFolder => "open-folder",
            Action::OpenLog => "open-log",
            Action::OpenIssues => "open-issues",
            Action::Update => "update",
            Action::Quit => "quit",
        }
    }
}

/// One menu line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuLine {
    /// A clickable (or greyed-out) item; `checked` is `Some` for check items.
    Item {
        label: String,
        action: Option<Action>,
        enabled: bool,
        checked: Option<bool>,
    },
    Separator,
}

impl MenuLine {
    fn action(label: impl Into<String>, action: Action) -> MenuLine {
        MenuLine::Item {
            label: label.into(),
            action: Some(action),
            enabled: true,
            checked: None,
        }
    }

    fn check(label: impl Into<String>, action: Action, checked: bool) -> MenuLine {
        MenuLine::Item {
            label: label.into(),
            action: Some(action),
            enabled: true,
            checked: Some(checked),
        }
    }

    /// A greyed-out line that only informs (an error, the login URL).
    fn note(label: impl Into<String>) -> MenuLine {
        MenuLine::Item {
            label: label.into(),
            action: None,
            enabled: false,
            checked: None,
        }
    }

    /// What makes two menus the same shape: same kinds of lines with the same actions, in
    /// order. Menus of the same shape are updated in place, so an open menu stays open.
    pub fn shape(&self) -> (bool, Option<&'static str>, bool) {
        match self {
            MenuLine::Separator => (true, None, false),
            MenuLine::Item {
                action, checked, ..
            } => (false, action.map(Action::id), checked.is_some()),
        }
    }
}

/// The tooltip: the app's name over the error, word for word, or else the status line that
/// `hyperclay-sync status` prints too ("Syncing 1,200 of 3,000", "Up to date", "Off"…).
/// StatusNotifierItem hosts show both parts; one-line tooltips (Windows, macOS) join them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tooltip {
    pub title: &'static str,
    pub text: String,
}

impl Tooltip {
    pub fn one_line(&self) -> String {
        format!("{}: {}", self.title, self.text)
    }
}

/// Everything the tray shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayView {
    pub icon: IconKind,
    pub tooltip: Tooltip,
    pub menu: Vec<MenuLine>,
}

const APP: &str = "Hyperclay Sync";

/// Whether the app can put text on the clipboard (it uses GTK's, which only the Linux build has).
pub const CAN_COPY: bool = cfg!(target_os = "linux");

/// The login URL as shown in the menu: up to its path. The query (state, PKCE challenge) makes
/// it hundreds of characters long, which would stretch the menu across the screen; the whole
/// URL is one click away (open again, copy) and in the log.
fn short_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_owned(),
    }
}

/// The update's lines: "Update…" when this version is no longer accepted, "Update to Y…" when a
/// newer one is offered, the update's progress while it runs (greyed), and how it ended beneath
/// the item when it failed. Nothing when this version is the latest: no nagging.
fn update_lines(state: &EngineState) -> Vec<MenuLine> {
    let running = state.update.as_ref().filter(|u| u.running());
    if let Some(u) = running {
        return vec![MenuLine::note(u.line())];
    }
    let Some(news) = &state.version_news else {
        return Vec::new();
    };
    let label = if news.required || news.version.is_empty() {
        "Update…".to_owned()
    } else {
        format!("Update to {}…", news.version)
    };
    let mut lines = vec![MenuLine::action(label, Action::Update)];
    if let Some(ended) = &state.update {
        lines.push(MenuLine::note(ended.line()));
    }
    lines
}

impl TrayView {
    /// The view for `state`. `start_at_login` is the tray's own setting (the engine does not
    /// know it), shown as a check item.
    pub fn from(state: &EngineState, start_at_login: bool) -> TrayView {
        let error = state.error.as_ref().map(|e| e.message());
        let icon = if error.is_some() {
            IconKind::Error
        } else if state.logged_in() && state.enabled {
            IconKind::On
        } else {
            IconKind::Off
        };

        let switch = match (state.enabled, state.online) {
            (true, true) => "On",
            (true, false) => "On (offline)",
            (false, _) => "Off",
        };
        let tooltip = Tooltip {
            title: APP,
            text: error.clone().unwrap_or_else(|| Summary::of(state).line()),
        };

        let mut menu = Vec::new();
        if state.logged_in() {
            // A check item whose label says the state: GTK draws no check mark in some
            // themes, and the requirements want the words "Sync: On" / "Sync: Off".
            menu.push(MenuLine::check(
                format!("Sync: {switch}"),
                Action::SetSync(!state.enabled),
                state.enabled,
            ));
        } else if let Some(login) = &state.login {
            menu.push(MenuLine::note("Log in in your browser to turn sync on"));
            menu.push(MenuLine::action(
                "Open login page again",
                Action::OpenLoginPage,
            ));
            // Opening a browser can "succeed" without showing anything, so the URL is always
            // at hand: shown here, copyable where the platform allows, and in the log.
            if CAN_COPY {
                menu.push(MenuLine::action("Copy login URL", Action::CopyLoginUrl));
            }
            menu.push(MenuLine::note(short_url(&login.url)));
        } else {
            menu.push(MenuLine::action("Sync", Action::Login));
        }
        if let Some(message) = error {
            menu.push(MenuLine::note(message));
        }
        // One line for all of them, never a notification per file: it opens the report.
        if let Some(line) = issues_line(&state.issues) {
            menu.push(MenuLine::action(line, Action::OpenIssues));
        }
        menu.extend(update_lines(state));
        if state.logged_in() {
            menu.push(MenuLine::action("Logout", Action::Logout));
        }
        menu.push(MenuLine::Separator);
        menu.push(MenuLine::check(
            "Start at login",
            Action::ToggleStartAtLogin,
            start_at_login,
        ));
        if state.logged_in() {
            menu.push(MenuLine::action("Choose folder…", Action::ChooseFolder));
        }
        menu.push(MenuLine::action("Open sync folder", Action::OpenFolder));
        if state.logged_in() {
            menu.push(MenuLine::action("Open log file", Action::OpenLog));
        }
        menu.push(MenuLine::Separator);
        menu.push(MenuLine::action("Quit", Action::Quit));

        TrayView {
            icon,
            tooltip,
            menu,
        }
    }

    /// The action of the item with menu id `id` in this view.
    pub fn action_for(&self, id: &str) -> Option<Action> {
        self.menu.iter().find_map(|line| match line {
            MenuLine::Item {
                action: Some(a), ..
            } if a.id() == id => Some(*a),
            _ => None,
        })
    }

    /// True when `other` can be shown by updating this view's menu items in place.
    pub fn same_shape(&self, other: &TrayView) -> bool {
        self.menu.len() == other.menu.len()
            && self
                .menu
                .iter()
                .zip(&other.menu)
                .all(|(a, b)| a.shape() == b.shape())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use hyperclay_sync::status::state::{IssueKind, PendingLogin, Progress, SyncIssue, UserError};

    use super::*;

    fn logged_out() -> EngineState {
        EngineState {
            online: true,
            ..EngineState::starting(
                "https://hyperclay.com".to_owned(),
                PathBuf::from("/home/u/Hyperclay"),
                PathBuf::from("/home/u/.local/share/hyperclay-sync/logs/sync.log"),
                false,
            )
        }
    }

    fn logged_in(enabled: bool) -> EngineState {
        EngineState {
            account: Some("alice".to_owned()),
            token_given: false,
            enabled,
            ..logged_out()
        }
    }

    /// The menu as text, one line per item: "label [action] (disabled) [x]/[ ]", "---".
    fn lines(view: &TrayView) -> Vec<String> {
        view.menu
            .iter()
            .map(|l| match l {
                MenuLine::Separator => "---".to_owned(),
                MenuLine::Item {
                    label,
                    action,
                    enabled,
                    checked,
                } => {
                    let mut s = label.clone();
                    if let Some(a) = action {
                        s += &match a {
                            Action::SetSync(on) => format!(" <sync={on}>"),
                            a => format!(" <{}>", a.id()),
                        };
                    }
                    if !enabled {
                        s += " (disabled)";
                    }
                    match checked {
                        Some(true) => s += " [x]",
                        Some(false) => s += " [ ]",
                        None => {}
                    }
                    s
                }
            })
            .collect()
    }

    #[test]
    fn logged_out_offers_only_the_sync_button() {
        let view = TrayView::from(&logged_out(), false);
        assert_eq!(view.icon, IconKind::Off);
        assert_eq!(view.tooltip.one_line(), "Hyperclay Sync: Logged out");
        assert_eq!(
            lines(&view),
            [
                "Sync <login>",
                "---",
                "Start at login <start-at-login> [ ]",
                "Open sync folder <open-folder>",
                "---",
                "Quit <quit>",
            ]
        );
    }

    #[test]
    fn logging_in_shows_the_url_and_a_way_to_open_it_again() {
        let state = EngineState {
            login: Some(PendingLogin {
                url: "http://h/api/local-sync/authorize?redirect_uri=x&state=S".to_owned(),
            }),
            ..logged_out()
        };
        let view = TrayView::from(&state, true);
        assert_eq!(view.icon, IconKind::Off);
        assert_eq!(view.tooltip.one_line(), "Hyperclay Sync: Waiting for login");
        let mut expected = vec![
            "Log in in your browser to turn sync on (disabled)",
            "Open login page again <open-login-page>",
        ];
        if CAN_COPY {
            expected.push("Copy login URL <copy-login-url>");
        }
        expected.extend([
            "http://h/api/local-sync/authorize?… (disabled)",
            "---",
            "Start at login <start-at-login> [x]",
            "Open sync folder <open-folder>",
            "---",
            "Quit <quit>",
        ]);
        assert_eq!(lines(&view), expected);
        assert_eq!(short_url("http://h/a"), "http://h/a");
    }

    #[test]
    fn on_is_green_and_offers_switching_off() {
        let view = TrayView::from(&logged_in(true), false);
        assert_eq!(view.icon, IconKind::On);
        assert_eq!(view.tooltip.one_line(), "Hyperclay Sync: Up to date");
        assert_eq!(
            lines(&view),
            [
                "Sync: On <sync=false> [x]",
                "Logout <logout>",
                "---",
                "Start at login <start-at-login> [ ]",
                "Choose folder… <choose-folder>",
                "Open sync folder <open-folder>",
                "Open log file <open-log>",
                "---",
                "Quit <quit>",
            ]
        );
    }

    #[test]
    fn off_is_grey_and_offers_switching_on() {
        let view = TrayView::from(&logged_in(false), false);
        assert_eq!(view.icon, IconKind::Off);
        assert_eq!(view.tooltip.one_line(), "Hyperclay Sync: Off");
        assert_eq!(lines(&view)[0], "Sync: Off <sync=true> [ ]");
        assert!(view.same_shape(&TrayView::from(&logged_in(true), false)));
    }

    #[test]
    fn offline_is_still_on_without_an_error_mark() {
        let state = EngineState {
            online: false,
            ..logged_in(true)
        };
        let view = TrayView::from(&state, false);
        assert_eq!(view.icon, IconKind::On);
        assert_eq!(
            view.tooltip.one_line(),
            "Hyperclay Sync: Offline: cannot reach https://hyperclay.com"
        );
        assert_eq!(lines(&view)[0], "Sync: On (offline) <sync=false> [x]");
        // Offline while switched off is just off: nothing is trying to reach the server.
        let off = EngineState {
            online: false,
            ..logged_in(false)
        };
        assert_eq!(TrayView::from(&off, false).tooltip.text, "Off");
    }

    #[test]
    fn the_tooltip_counts_the_work_in_hand() {
        let state = EngineState {
            progress: Some(Progress {
                done: 1200,
                total: 3000,
            }),
            ..logged_in(true)
        };
        let view = TrayView::from(&state, false);
        assert_eq!(view.icon, IconKind::On);
        assert_eq!(view.tooltip.text, "Syncing 1,200 of 3,000");
        assert_eq!(lines(&view)[0], "Sync: On <sync=false> [x]");
    }

    #[test]
    fn sync_issues_are_one_line_that_opens_the_report() {
        let skipped = |path: &str| SyncIssue {
            path: path.to_owned(),
            kind: IssueKind::Skipped {
                reason: "r".to_owned(),
                hint: "h".to_owned(),
            },
        };
        let state = EngineState {
            issues: vec![skipped("a.html"), skipped("b.html"), skipped("c.html")],
            ..logged_in(true)
        };
        let view = TrayView::from(&state, false);
        assert_eq!(view.icon, IconKind::On, "issues are not an error");
        assert_eq!(view.tooltip.text, "Up to date");
        let menu = lines(&view);
        assert_eq!(menu[1], "3 files not synced <open-issues>");
        assert_eq!(menu[2], "Logout <logout>");
        assert_eq!(view.action_for("open-issues"), Some(Action::OpenIssues));
        // A conflict settled is said too; more issues update the same line in place.
        let more = EngineState {
            issues: vec![
                skipped("a.html"),
                SyncIssue {
                    path: "n.html".to_owned(),
                    kind: IssueKind::Conflict {
                        backup: "sites-versions/n/1.html".to_owned(),
                        restore: None,
                    },
                },
            ],
            ..logged_in(true)
        };
        let more = TrayView::from(&more, false);
        assert_eq!(
            lines(&more)[1],
            "1 file not synced, 1 conflict settled <open-issues>"
        );
        assert!(view.same_shape(&more));
        assert!(!view.same_shape(&TrayView::from(&logged_in(true), false)));
    }

    #[test]
    fn every_error_shows_its_exact_message_and_the_error_mark() {
        let errors = [
            (
                UserError::SubscriptionRequired,
                "Sync is for paid subscribers",
            ),
            (
                UserError::SiteLimit,
                "You've run out of sites. We can't sync any more sites.",
            ),
            (
                UserError::NameTaken,
                "An app name is taken by another account. App names are unique across Hyperclay.",
            ),
            (
                UserError::Other("The sync folder is not writable".to_owned()),
                "The sync folder is not writable",
            ),
        ];
        for (error, message) in errors {
            let state = EngineState {
                error: Some(error.clone()),
                ..logged_in(true)
            };
            let view = TrayView::from(&state, false);
            assert_eq!(view.icon, IconKind::Error, "{error:?}");
            assert_eq!(view.tooltip.title, "Hyperclay Sync");
            assert_eq!(
                view.tooltip.text, message,
                "the tooltip carries the exact message"
            );
            let menu = lines(&view);
            assert_eq!(menu[0], "Sync: On <sync=false> [x]");
            assert_eq!(menu[1], format!("{message} (disabled)"));
            assert_eq!(menu[2], "Logout <logout>");
        }
    }

    #[test]
    fn an_error_while_logged_out_keeps_the_sync_button() {
        // E.g. an unpaid account came back from the browser: it stays logged out.
        let state = EngineState {
            error: Some(UserError::SubscriptionRequired),
            ..logged_out()
        };
        let view = TrayView::from(&state, false);
        assert_eq!(view.icon, IconKind::Error);
        assert_eq!(
            lines(&view)[..2],
            [
                "Sync <login>".to_owned(),
                "Sync is for paid subscribers (disabled)".to_owned()
            ]
        );
    }

    #[test]
    fn clicks_map_to_the_action_on_screen() {
        let on = TrayView::from(&logged_in(true), false);
        let off = TrayView::from(&logged_in(false), false);
        assert_eq!(on.action_for("sync"), Some(Action::SetSync(false)));
        assert_eq!(off.action_for("sync"), Some(Action::SetSync(true)));
        assert_eq!(on.action_for("quit"), Some(Action::Quit));
        // An item that is not in this view (a stale click) does nothing.
        assert_eq!(
            TrayView::from(&logged_out(), false).action_for("logout"),
            None
        );
        assert_eq!(on.action_for("nope"), None);
    }

    #[test]
    fn shapes_differ_across_login_states() {
        let out = TrayView::from(&logged_out(), false);
        let on = TrayView::from(&logged_in(true), false);
        assert!(!out.same_shape(&on));
        assert!(out.same_shape(&TrayView::from(&logged_out(), true)));
    }

    #[test]
    fn an_outdated_app_says_so_and_offers_update_and_a_newer_one_is_offered_quietly() {
        use hyperclay_sync::status::state::{UpdateProgress, VersionNews};
        let outdated = EngineState {
            error: Some(UserError::Outdated {
                minimum: Some("0.2.0".into()),
            }),
            version_news: Some(VersionNews {
                version: "0.2.0".into(),
                required: true,
                download: None,
            }),
            ..logged_in(true)
        };
        let view = TrayView::from(&outdated, false);
        assert_eq!(
            view.tooltip.text,
            "Update Hyperclay Sync to keep syncing (version 0.2.0 or later)"
        );
        assert_eq!(view.icon, IconKind::Error);
        let menu = lines(&view);
        assert!(menu.contains(&"Update… <update>".to_owned()), "{menu:?}");

        let behind = EngineState {
            version_news: Some(VersionNews {
                version: "0.1.1".into(),
                required: false,
                download: None,
            }),
            ..logged_in(true)
        };
        let view = TrayView::from(&behind, false);
        assert_eq!(view.icon, IconKind::On);
        assert!(lines(&view).contains(&"Update to 0.1.1… <update>".to_owned()));

        let downloading = EngineState {
            update: Some(UpdateProgress::Downloading("0.1.1".into())),
            ..behind.clone()
        };
        let menu = lines(&TrayView::from(&downloading, false));
        assert!(
            menu.contains(&"Downloading version 0.1.1… (disabled)".to_owned()),
            "{menu:?}"
        );
        assert!(!menu.iter().any(|l| l.contains("<update>")));

        let failed = EngineState {
            update: Some(UpdateProgress::Failed("the release is not signed".into())),
            ..behind
        };
        let menu = lines(&TrayView::from(&failed, false));
        assert!(menu.contains(&"Update to 0.1.1… <update>".to_owned()));
        assert!(
            menu.iter()
                .any(|l| l.starts_with("The update failed: the release is not signed"))
        );

        // The latest version: not a word about updates.
        let menu = lines(&TrayView::from(&logged_in(true), false));
        assert!(!menu.iter().any(|l| l.contains("Update")), "{menu:?}");
    }
}
