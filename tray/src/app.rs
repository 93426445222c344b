//! The tray app's event loop: owns the main thread, shows the engine's state, and turns menu
//! clicks into engine commands. Everything slow (dialogs, opening files, registering start at
//! login, waiting for the engine) runs on helper threads and reports back through the event
//! loop proxy; this loop must never block and never poll (tao's timers do not fire on Linux).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use hyperclay_sync::auth::TokenStore;
use hyperclay_sync::engine::{Engine, EngineError, EngineHandle};
use hyperclay_sync::home::config::EngineConfig;
use hyperclay_sync::home::settings;
use hyperclay_sync::status::report::issues_report_file;
use hyperclay_sync::status::state::{Command, EngineState, UpdateProgress};
use tao::event::{Event, StartCause};
use tao::event_loop::{ControlFlow, EventLoop, EventLoopBuilder, EventLoopProxy};
use tray_icon::menu::{MenuEvent, MenuId};
use tray_icon::{MouseButton, MouseButtonState, TrayIconEvent};

use super::autostart;
use super::desktop::{
    block_on, catch_panic, copy_to_clipboard, on_stop_signal, open_in_background,
};
use super::icons::{self, IconSet};
#[cfg(target_os = "linux")]
use super::sni;
use super::system_tray::SystemTray;
use super::view::{Action, TrayView};

/// How long Quit waits for the engine to finish the transfer in hand.
const QUIT_GRACE: Duration = Duration::from_secs(5);

/// What reaches the event loop from other threads.
#[derive(Debug)]
enum UserEvent {
    State(Box<EngineState>),
    Menu(MenuId),
    /// A left click on the icon (Windows, macOS and StatusNotifierItem hosts; the Linux
    /// fallback tray reports no clicks).
    IconClick,
    /// The StatusNotifierItem is served, or why not (then the fallback tray is built).
    #[cfg(target_os = "linux")]
    Sni(Result<sni::Shown, String>),
    FolderChosen(Option<PathBuf>),
    /// SIGTERM or Ctrl-C: quit as from the menu.
    StopSignal,
    StartAtLogin(Result<bool, String>),
    EngineStopped,
}

/// Runs the tray app until the user quits. Falls back to syncing without an icon when there is
/// no display or no tray library.
pub fn run(config: EngineConfig) -> anyhow::Result<()> {
    // tao panics when GTK cannot open a display.
    let event_loop = match catch_panic(|| EventLoopBuilder::<UserEvent>::with_user_event().build())
    {
        Ok(event_loop) => event_loop,
        Err(why) => return run_without_tray(config, &why),
    };
    let proxy = event_loop.create_proxy();
    let home = config.home.clone();
    hyperclay_sync::home::lock::DataDirLock::wait_after_update(&home);

    let observer_proxy = proxy.clone();
    let engine = Engine::start(
        config,
        Box::new(move |state: &EngineState| {
            // Fails only once the loop is gone, when nobody needs the state any more.
            let _ = observer_proxy.send_event(UserEvent::State(Box::new(state.clone())));
        }),
    )
    .map_err(already_running_message)?;

    let signal_proxy = proxy.clone();
    on_stop_signal(move || {
        let _ = signal_proxy.send_event(UserEvent::StopSignal);
    });

    let menu_proxy = Mutex::new(proxy.clone());
    MenuEvent::set_event_handler(Some(move |event: MenuEvent| {
        if let Ok(proxy) = menu_proxy.lock() {
            let _ = proxy.send_event(UserEvent::Menu(event.id));
        }
    }));

    let click_proxy = Mutex::new(proxy.clone());
    TrayIconEvent::set_event_handler(Some(move |event: TrayIconEvent| {
        if let TrayIconEvent::Click {
            button: MouseButton::Left,
            button_state: MouseButtonState::Up,
            ..
        } = event
            && let Ok(proxy) = click_proxy.lock()
        {
            let _ = proxy.send_event(UserEvent::IconClick);
        }
    }));

    // The OS entry itself counts too: it may have been made by hand, or by an older version.
    let remembered = match settings::load(&home) {
        Ok(s) => s.start_at_login,
        Err(e) => {
            log::warn!("{e}; start at login counts as off");
            false
        }
    };
    let start_at_login = remembered || autostart::is_registered();
    let icons = icons::load().context("the app's icons are broken")?;
    let state = engine.handle().state();
    let app = App {
        handle: engine.handle(),
        engine: Some(engine),
        proxy: proxy.clone(),
        icons,
        icon_dir: home.join("tray-icon"),
        home,
        tray: None,
        #[cfg(target_os = "linux")]
        sni: None,
        view: TrayView::from(&state, start_at_login),
        state,
        start_at_login,
        quitting: false,
    };
    // Re-register at every start so the entry follows the app when it moves (a new AppImage).
    if start_at_login {
        app.register_start_at_login(true);
    }
    run_loop(event_loop, app)
}

fn already_running_message(e: EngineError) -> anyhow::Error {
    match e {
        EngineError::AlreadyRunning => anyhow::anyhow!(
            "Hyperclay Sync is already running (look for its icon in the system tray); \
             only one copy can sync a data folder, so this one exits"
        ),
        other => anyhow::Error::new(other).context("cannot start syncing"),
    }
}

/// The tray cannot show anything and there is no login to sync with: the caller exits with the
/// command line's "not logged in" code after saying what to do.
#[derive(Debug, thiserror::Error)]
#[error(
    "there is no display to show the tray on ({0}), and no login to sync with. On a machine \
     without a desktop, run `hyperclay-sync login`, then `hyperclay-sync run --headless`"
)]
pub struct NoDisplayNoLogin(String);

/// No display: with a login, keep syncing without an icon until the process is stopped, and say
/// so on the terminal as well as in the log; without one, say what to do and stop (nothing could
/// ever log in: the login needs the menu).
fn run_without_tray(config: EngineConfig, why: &str) -> anyhow::Result<()> {
    let logged_in = config.token_override.is_some()
        || TokenStore::open(&config.home, &config.server_url)
            .load()
            .ok()
            .flatten()
            .is_some();
    if !logged_in {
        return Err(NoDisplayNoLogin(why.to_owned()).into());
    }
    let engine =
        Engine::start(config, Box::new(|_: &EngineState| {})).map_err(already_running_message)?;
    let handle = engine.handle();
    on_stop_signal(move || handle.send(Command::Shutdown));
    let said = format!(
        "no display to show the tray icon on ({why}): syncing without one until stopped \
         (`hyperclay-sync run --headless` does the same on purpose)"
    );
    eprintln!("hyperclay-sync-tray: {said}");
    log::warn!("{said}");
    engine.join();
    Ok(())
}

struct App {
    engine: Option<Engine>,
    handle: EngineHandle,
    proxy: EventLoopProxy<UserEvent>,
    icons: IconSet,
    home: PathBuf,
    icon_dir: PathBuf,
    tray: Option<SystemTray>,
    #[cfg(target_os = "linux")]
    sni: Option<sni::Shown>,
    view: TrayView,
    state: EngineState,
    start_at_login: bool,
    quitting: bool,
}

fn run_loop(event_loop: EventLoop<UserEvent>, mut app: App) -> ! {
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        match event {
            // macOS needs the tray built once the loop runs; the other platforms accept it too.
            Event::NewEvents(StartCause::Init) => app.start_tray(),
            #[cfg(target_os = "linux")]
            Event::UserEvent(UserEvent::Sni(started)) => app.on_sni(started),
            Event::UserEvent(UserEvent::State(state)) => app.on_state(*state),
            Event::UserEvent(UserEvent::Menu(id)) => app.on_menu(id.as_ref()),
            Event::UserEvent(UserEvent::IconClick) => app.on_icon_click(),
            Event::UserEvent(UserEvent::FolderChosen(Some(folder))) => {
                log::info!("sync folder chosen: {}", folder.display());
                app.handle.send(Command::SetFolder(folder));
            }
            Event::UserEvent(UserEvent::FolderChosen(None)) => {}
            Event::UserEvent(UserEvent::StopSignal) if !app.quitting => app.quit(),
            Event::UserEvent(UserEvent::StartAtLogin(result)) => app.on_start_at_login(result),
            Event::UserEvent(UserEvent::EngineStopped) => {
                // Dropping the tray removes its icon and icon file.
                app.tray = None;
                #[cfg(target_os = "linux")]
                {
                    app.sni = None;
                }
                *control_flow = ControlFlow::Exit;
            }
            _ => {}
        }
    })
}

impl App {
    /// On Linux the StatusNotifierItem is tried first, as it is the only tray there with a left
    /// click and a tooltip; its answer comes back as [`UserEvent::Sni`].
    fn start_tray(&mut self) {
        #[cfg(target_os = "linux")]
        {
            let clicks = Mutex::new(self.proxy.clone());
            let started = Mutex::new(self.proxy.clone());
            let spawned = sni::start(
                self.view.clone(),
                &self.icons,
                Box::new(move |click| {
                    let event = match click {
                        sni::Click::Icon => UserEvent::IconClick,
                        sni::Click::Menu(id) => UserEvent::Menu(MenuId::new(id)),
                    };
                    if let Ok(proxy) = clicks.lock() {
                        let _ = proxy.send_event(event);
                    }
                }),
                move |result| {
                    if let Ok(proxy) = started.lock() {
                        let _ = proxy.send_event(UserEvent::Sni(result));
                    }
                },
            );
            if let Err(e) = spawned {
                self.on_sni(Err(format!("cannot start its thread: {e}")));
            }
        }
        #[cfg(not(target_os = "linux"))]
        self.build_tray();
    }

    #[cfg(target_os = "linux")]
    fn on_sni(&mut self, started: Result<sni::Shown, String>) {
        match started {
            Ok(shown) => {
                log::info!(
                    "tray icon shown through the desktop's StatusNotifierItem host: a left \
                     click switches sync, the right button opens the menu"
                );
                // States that arrived while the item was being registered.
                shown.show(self.view.clone());
                self.sni = Some(shown);
            }
            Err(why) => {
                // The AppIndicator tray built instead still registers with an SNI host that
                // starts later, so a desktop whose tray comes up after the app still shows the
                // icon (with the menu only).
                log::info!("no StatusNotifierItem host ({why}): using the system tray instead");
                self.build_tray();
            }
        }
    }

    fn build_tray(&mut self) {
        self.tray = SystemTray::build(&self.view, &self.icons, &self.icon_dir);
    }

    fn on_state(&mut self, state: EngineState) {
        // The new version is in place and starting (it waits for this one to let go of the
        // data folder): this one quits as if the user had chosen Quit.
        let restarting = matches!(state.update, Some(UpdateProgress::Restarting(_)));
        self.state = state;
        self.show();
        if restarting && !self.quitting {
            self.quit();
        }
    }

    /// Brings the tray in line with the current state, touching only what changed.
    fn show(&mut self) {
        let view = TrayView::from(&self.state, self.start_at_login);
        if view == self.view {
            return;
        }
        #[cfg(target_os = "linux")]
        if let Some(sni) = &self.sni {
            sni.show(view.clone());
        }
        if let Some(tray) = &mut self.tray {
            tray.show(&self.view, &view, &self.icons);
        }
        self.view = view;
    }

    fn on_menu(&mut self, id: &str) {
        let Some(action) = self.view.action_for(id) else {
            return;
        };
        if self.quitting {
            return;
        }
        match action {
            Action::Login => self.handle.send(Command::Login),
            Action::OpenLoginPage => {
                if let Some(login) = &self.state.login {
                    let url = login.url.clone();
                    std::thread::spawn(move || {
                        if let Err(e) = webbrowser::open(&url) {
                            log::warn!("cannot open a browser ({e}); open {url} by hand");
                        }
                    });
                }
            }
            Action::CopyLoginUrl => {
                if let Some(login) = &self.state.login {
                    copy_to_clipboard(&login.url);
                }
            }
            Action::SetSync(on) => {
                log::info!(
                    "sync switched {} from the tray",
                    if on { "on" } else { "off" }
                );
                self.handle.send(Command::SetEnabled(on));
            }
            Action::Logout => self.handle.send(Command::Logout),
            Action::ToggleStartAtLogin => self.register_start_at_login(!self.start_at_login),
            Action::ChooseFolder => self.choose_folder(),
            Action::OpenFolder => open_in_background(self.state.folder.clone(), true),
            Action::OpenLog => open_in_background(self.state.log_file.clone(), false),
            Action::OpenIssues => open_in_background(issues_report_file(&self.home), false),
            Action::Update => {
                log::info!("update asked for from the tray");
                self.handle.send(Command::Update);
            }
            Action::Quit => self.quit(),
        }
        // What is true stays shown until the engine (or the start-at-login worker) reports
        // the new state.
        if let Some(tray) = &self.tray {
            tray.reset(&self.view);
        }
    }

    /// The one control, on the icon itself: switch sync, or start the login when logged out.
    fn on_icon_click(&mut self) {
        if self.quitting {
            return;
        }
        if self.state.logged_in() {
            self.handle.send(Command::SetEnabled(!self.state.enabled));
        } else if self.state.login.is_none() {
            self.handle.send(Command::Login);
        }
    }

    /// Registers (or removes) the app with the OS on a helper thread; the engine, the settings
    /// file's one writer, remembers what took.
    fn register_start_at_login(&self, enabled: bool) {
        let proxy = self.proxy.clone();
        let engine = self.handle.clone();
        std::thread::spawn(move || {
            let result = autostart::apply(enabled).map_err(|e| e.to_string());
            if let Ok(actual) = result {
                engine.send(Command::SetStartAtLogin(actual));
            }
            let _ = proxy.send_event(UserEvent::StartAtLogin(result));
        });
    }

    fn on_start_at_login(&mut self, result: Result<bool, String>) {
        match result {
            Ok(on) => {
                log::info!("start at login is {}", if on { "on" } else { "off" });
                self.start_at_login = on;
            }
            Err(e) => log::error!("start at login: {e}"),
        }
        self.show();
        if let Some(tray) = &self.tray {
            tray.reset(&self.view);
        }
    }

    fn choose_folder(&self) {
        let proxy = self.proxy.clone();
        let current = self.state.folder.clone();
        // The async dialog is shown by GTK's own loop; only this helper thread waits for it.
        let dialog = rfd::AsyncFileDialog::new()
            .set_title("Choose the folder to sync with Hyperclay")
            .set_directory(&current)
            .pick_folder();
        std::thread::spawn(move || {
            let chosen = block_on(dialog).map(|handle| handle.path().to_path_buf());
            let _ = proxy.send_event(UserEvent::FolderChosen(chosen));
        });
    }

    fn quit(&mut self) {
        self.quitting = true;
        log::info!("quit from the tray");
        self.handle.send(Command::Shutdown);
        let stopped = self.proxy.clone();
        if let Some(engine) = self.engine.take() {
            std::thread::spawn(move || {
                engine.join();
                let _ = stopped.send_event(UserEvent::EngineStopped);
            });
        }
        // A transfer that does not finish in time is picked up again at the next start.
        let late = self.proxy.clone();
        std::thread::spawn(move || {
            std::thread::sleep(QUIT_GRACE);
            let _ = late.send_event(UserEvent::EngineStopped);
        });
    }
}
