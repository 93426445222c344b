//! The browser of the login tests, played over HTTP: a cookie jar of one cookie, no redirects
//! followed by itself, and the server's login form and consent page filled in as a person
//! would. Shared by the e2e login tests and `tests/engine_login.rs`.

use std::time::Duration;

/// A cookie-less, redirect-less HTTP client: the test follows redirects itself, like a browser
/// with its own cookie jar of one cookie.
pub struct Browser {
    pub agent: ureq::Agent,
    pub cookie: Option<String>,
}

pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(Duration::from_secs(20)))
                .build()
                .new_agent(),
            cookie: None,
        }
    }

    pub fn get(&mut self, url: &str) -> Reply {
        let mut req = self.agent.get(url);
        if let Some(cookie) = &self.cookie {
            req = req.header("Cookie", cookie);
        }
        self.reply(req.call().expect("GET reaches the server"))
    }

    pub fn post_form(&mut self, url: &str, fields: &[(&str, &str)]) -> Reply {
        let mut req = self.agent.post(url);
        if let Some(cookie) = &self.cookie {
            req = req.header("Cookie", cookie);
        }
        let fields: Vec<(&str, &str)> = fields.to_vec();
        self.reply(req.send_form(fields).expect("POST reaches the server"))
    }

    fn reply(&mut self, mut resp: ureq::http::Response<ureq::Body>) -> Reply {
        if let Some(set) = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
        {
            self.cookie = set.split(';').next().map(str::to_owned);
        }
        Reply {
            status: resp.status().as_u16(),
            location: resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: resp.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    /// Opens the authorize URL, signs in on the server's form, allows Sync on the consent page,
    /// and returns where the server finally sends the browser: the redirect to the app (paid)
    /// or the "paid subscribers" page itself (unpaid).
    pub fn sign_in(
        &mut self,
        server: &str,
        authorize_url: &str,
        user: &str,
        password: &str,
    ) -> Reply {
        let page = self.get(authorize_url);
        assert_eq!(page.status, 200, "the login page: {}", page.body);
        let next = hidden_field(&page.body, "next");
        let csrf = hidden_field(&page.body, "csrf");
        let after_login = self.post_form(
            &format!("{server}/login"),
            &[
                ("username", user),
                ("password", password),
                ("next", &next),
                ("csrf", &csrf),
            ],
        );
        assert_eq!(after_login.status, 303, "login: {}", after_login.body);
        let back = after_login.location.expect("login redirects back");
        assert!(self.cookie.is_some(), "login sets a session cookie");
        let consent = self.get(&absolute(server, &back));
        if !consent.body.contains("id=\"allow\"") {
            return consent;
        }
        let field = |name: &str| hidden_field(&consent.body, name);
        let fields = [
            "redirect_uri",
            "state",
            "code_challenge",
            "code_challenge_method",
            "csrf",
        ]
        .map(|name| (name, field(name)));
        let mut form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form.push(("decision", "allow"));
        self.post_form(&format!("{server}/api/local-sync/authorize"), &form)
    }
}

/// `location` as an absolute URL on `server`.
pub fn absolute(server: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else {
        format!("{server}{location}")
    }
}

pub fn unescape_html(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of `<input ... name="NAME" value="...">` in a page.
pub fn hidden_field(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no field {name} in {html}"));
    let rest = &html[at..];
    let value = rest
        .split("value=\"")
        .nth(1)
        .expect("the field has a value");
    unescape_html(&value[..value.find('"').expect("closing quote")])
}

/// The `href` of the element with `id`.
pub fn link(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element {id} in {html}"));
    let value = html[at..].split("href=\"").nth(1).expect("an href");
    unescape_html(&value[..value.find('"').expect("closing quote")])
}
