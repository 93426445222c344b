//! The test as a StatusNotifierItem host, over the test's own session bus: it owns
//! `org.kde.StatusNotifierWatcher` as KDE's and GNOME's hosts do, takes the app's
//! RegisterStatusNotifierItem, and then reads the item's properties and clicks it the way a
//! panel does (Activate for a left click, the dbusmenu for the right button).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zbus::blocking::{Connection, Proxy, connection};
use zbus::message::Header;
use zbus::proxy::CacheProperties;
use zbus::zvariant::{OwnedValue, Structure, Value};

use super::{DEADLINE, wait_for};

/// The watcher side: records who registered.
struct Watcher {
    items: Arc<Mutex<Vec<String>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(&self, service: &str, #[zbus(header)] header: Header<'_>) {
        // The spec allows a bus name or an object path; ksni sends its well-known name.
        let name = if service.starts_with('/') {
            header.sender().map(|s| s.to_string()).unwrap_or_default()
        } else {
            service.to_owned()
        };
        self.items.lock().expect("items lock").push(name);
    }

    fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().expect("items lock").clone()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

pub struct SniHost {
    connection: Connection,
    items: Arc<Mutex<Vec<String>>>,
}

/// An SNI pixmap: (width, height, ARGB in network byte order).
pub type Pixmap = (i32, i32, Vec<u8>);

/// A dbusmenu layout node: (id, properties, children as variants of nodes).
type MenuNode = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

impl SniHost {
    /// Owns the watcher name on the bus at `address`.
    pub fn start(address: &str) -> SniHost {
        let items = Arc::new(Mutex::new(Vec::new()));
        let connection = connection::Builder::address(address)
            .expect("a bus address")
            .name("org.kde.StatusNotifierWatcher")
            .expect("a valid name")
            .serve_at(
                "/StatusNotifierWatcher",
                Watcher {
                    items: items.clone(),
                },
            )
            .expect("serve the watcher")
            .build()
            .expect("connect to the test's session bus and own the watcher name");
        SniHost { connection, items }
    }

    /// Waits for the first item to register and returns a way to talk to it.
    pub fn wait_for_item(&self, context: impl Fn() -> String) -> SniItem<'_> {
        let service = wait_for(
            "the app to register its StatusNotifierItem",
            DEADLINE,
            || self.items.lock().expect("items lock").first().cloned(),
            context,
        );
        // No property cache: ksni announces changes with NewIcon/NewToolTip/NewStatus, not
        // PropertiesChanged, so every read must go to the item.
        let proxy = |path: &'static str, interface: &'static str| {
            zbus::blocking::proxy::Builder::new(&self.connection)
                .destination(service.clone())
                .expect("a bus name")
                .path(path)
                .expect("an object path")
                .interface(interface)
                .expect("an interface name")
                .cache_properties(CacheProperties::No)
                .build()
                .expect("a proxy for the item")
        };
        SniItem {
            item: proxy("/StatusNotifierItem", "org.kde.StatusNotifierItem"),
            menu: proxy("/MenuBar", "com.canonical.dbusmenu"),
        }
    }
}

pub struct SniItem<'a> {
    item: Proxy<'a>,
    menu: Proxy<'a>,
}

/// One line of the item's menu as the host reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniMenuLine {
    pub id: i32,
    /// "" for a separator.
    pub label: String,
    pub separator: bool,
    pub enabled: bool,
    /// `Some` for check items.
    pub checked: Option<bool>,
}

impl SniItem<'_> {
    /// A left click on the icon.
    pub fn activate(&self) {
        self.item
            .call_method("Activate", &(0i32, 0i32))
            .expect("call Activate");
    }

    pub fn status(&self) -> String {
        self.item.get_property("Status").expect("read Status")
    }

    /// The tooltip's (title, description).
    pub fn tooltip(&self) -> (String, String) {
        let (_, _, title, text): (String, Vec<Pixmap>, String, String) =
            self.item.get_property("ToolTip").expect("read ToolTip");
        (title, text)
    }

    pub fn icon_name(&self) -> String {
        self.item.get_property("IconName").expect("read IconName")
    }

    pub fn icon_pixmap(&self) -> Vec<Pixmap> {
        self.item
            .get_property("IconPixmap")
            .expect("read IconPixmap")
    }

    /// The menu as the host shows it on the right button (top level only).
    pub fn menu(&self) -> Vec<SniMenuLine> {
        let names: Vec<&str> = Vec::new();
        let (_, (_, _, children)): (u32, MenuNode) = self
            .menu
            .call("GetLayout", &(0i32, 1i32, names))
            .expect("call GetLayout");
        children
            .into_iter()
            .map(|child| {
                let child = Structure::try_from(Value::from(child)).expect("a layout node");
                let fields = child.into_fields();
                let id = i32::try_from(&fields[0]).expect("a node id");
                let props: HashMap<String, OwnedValue> =
                    HashMap::try_from(fields[1].try_clone().expect("clone the properties"))
                        .expect("node properties");
                let text = |key: &str| {
                    props
                        .get(key)
                        .and_then(|v| String::try_from(v.try_clone().ok()?).ok())
                };
                let flag = |key: &str| props.get(key).and_then(|v| bool::try_from(v).ok());
                SniMenuLine {
                    id,
                    label: text("label").unwrap_or_default(),
                    separator: text("type").as_deref() == Some("separator"),
                    enabled: flag("enabled").unwrap_or(true),
                    checked: text("toggle-type").filter(|t| t == "checkmark").map(|_| {
                        props
                            .get("toggle-state")
                            .and_then(|v| i32::try_from(v).ok())
                            == Some(1)
                    }),
                }
            })
            .collect()
    }

    /// Clicks menu item `id`, as the host does when the user picks it.
    pub fn click_menu(&self, id: i32) {
        self.menu
            .call_method("Event", &(id, "clicked", Value::from(0i32), 0u32))
            .expect("call Event");
    }
}

/// The mean colour (r, g, b) of the opaque pixels of the largest pixmap.
pub fn mean_colour(pixmaps: &[Pixmap]) -> [f64; 3] {
    let (_, _, data) = pixmaps
        .iter()
        .max_by_key(|(w, _, _)| *w)
        .expect("at least one pixmap");
    let mut sum = [0f64; 3];
    let mut n = 0f64;
    for px in data.chunks_exact(4).filter(|px| px[0] == 255) {
        for c in 0..3 {
            sum[c] += f64::from(px[c + 1]);
        }
        n += 1.0;
    }
    assert!(n > 0.0, "the pixmap has no opaque pixels");
    sum.map(|s| s / n)
}

/// Counts the opaque, clearly red pixels of the largest pixmap (the error mark).
pub fn red_pixels(pixmaps: &[Pixmap]) -> usize {
    let Some((_, _, data)) = pixmaps.iter().max_by_key(|(w, _, _)| *w) else {
        return 0;
    };
    data.chunks_exact(4)
        .filter(|px| px[0] == 255 && px[1] > 170 && px[2] < 90 && px[3] < 90)
        .count()
}

pub fn is_green([r, g, b]: [f64; 3]) -> bool {
    g > r + 40.0 && g > b + 40.0
}

pub fn is_grey([r, g, b]: [f64; 3]) -> bool {
    (r - g).abs() < 20.0 && (g - b).abs() < 20.0
}
