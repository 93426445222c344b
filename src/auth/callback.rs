//! The loopback end of the browser login (RFC 8252 §7.3): a tiny HTTP/1.1 listener on
//! 127.0.0.1 that reads only the request line of `GET /callback?...` and answers with a short
//! page. It must never listen beyond the loopback interface, never echo request data into a page
//! (so nothing a hostile page sends can become script), and never log a code or a state.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Browsers send a request line of a few hundred bytes here; anything near this is hostile.
const MAX_REQUEST_LINE: usize = 4096;
/// Header bytes read (and discarded) so the browser sees our page instead of a reset.
const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// The whole request (line and headers) must arrive within this of the connection's accept. A
/// deadline per read would restart with every byte, so one byte every few seconds could hold a
/// reader for hours (issue 23, 7); browsers send the whole request in one go.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Local processes could open connections by the thousand; past this many readers, the oldest
/// connection is closed to make room, so slow connections cannot keep a new one (the browser's)
/// from being read.
const MAX_READERS: usize = 16;

/// What a well-formed `GET /callback?...` carried.
#[derive(PartialEq, Eq)]
pub(crate) struct Callback {
    pub state: String,
    pub outcome: Outcome,
}

#[derive(PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `code=...`: the authorization code to exchange at `/token`.
    Code(String),
    /// `error=...`: the OAuth error code (e.g. `subscription_required`).
    Error(String),
}

// Hand-written so a stray `{:?}` can never print the code or the state.
impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.outcome {
            Outcome::Code(_) => f.write_str("Callback(code=<redacted>)"),
            Outcome::Error(e) => write!(f, "Callback(error={e})"),
        }
    }
}

/// Why a request is not a usable callback. Carries no request data on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// Not even an HTTP/1.x request line.
    BadRequest,
    /// A method other than GET.
    MethodNotAllowed,
    /// A path other than `/callback` (e.g. the browser asking for `/favicon.ico`).
    NotFound,
    /// `/callback` with a missing, repeated or undecodable parameter.
    BadCallback,
}

impl Rejection {
    pub(crate) fn page(self) -> Page {
        match self {
            Rejection::BadRequest => Page::error(400, "Bad request", "This is not a login answer."),
            Rejection::MethodNotAllowed => {
                Page::error(405, "Method not allowed", "This is not a login answer.")
            }
            Rejection::NotFound => Page::error(404, "Not found", "Nothing to see here."),
            Rejection::BadCallback => Page::error(
                400,
                "Login answer not understood",
                "The login answer was incomplete. Start the login again from Hyperclay Sync.",
            ),
        }
    }
}

/// Parses one HTTP request line. Only `GET /callback?<query> HTTP/1.x` is accepted; the query
/// must carry one `state` and exactly one of `code` or `error`. Unknown parameters are ignored
/// (RFC 6749 §4.1.2), repeated known ones refused (§3.1).
pub(crate) fn parse_request_line(line: &str) -> Result<Callback, Rejection> {
    if line.len() > MAX_REQUEST_LINE
        || !line
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) || b == b' ')
    {
        return Err(Rejection::BadRequest);
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::BadRequest);
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(Rejection::BadRequest);
    }
    // Only origin-form targets: absolute-form ("GET http://x/callback") is for proxies.
    if !target.starts_with('/') {
        return Err(Rejection::BadRequest);
    }
    if method != "GET" {
        return Err(Rejection::MethodNotAllowed);
    }
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    if path != "/callback" {
        return Err(Rejection::NotFound);
    }
    parse_callback_query(query.ok_or(Rejection::BadCallback)?)
}

fn parse_callback_query(query: &str) -> Result<Callback, Rejection> {
    let (mut state, mut code, mut error) = (None, None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match form_decode(key).ok_or(Rejection::BadCallback)?.as_str() {
            "state" => &mut state,
            "code" => &mut code,
            "error" => &mut error,
            _ => continue,
        };
        if slot.is_some() {
            return Err(Rejection::BadCallback);
        }
        let value = form_decode(value).ok_or(Rejection::BadCallback)?;
        // Codes, states and error codes are short printable ASCII (RFC 6749 appendix A).
        if value.is_empty() || !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(Rejection::BadCallback);
        }
        *slot = Some(value);
    }
    let state = state.ok_or(Rejection::BadCallback)?;
    let outcome = match (code, error) {
        (Some(code), None) => Outcome::Code(code),
        (None, Some(error)) => Outcome::Error(error),
        _ => return Err(Rejection::BadCallback),
    };
    Ok(Callback { state, outcome })
}

/// `application/x-www-form-urlencoded` decoding that refuses malformed escapes and non-UTF-8,
/// where a lenient decoder would pass them through and let two spellings mean one value.
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A complete response to the browser. Bodies are fixed text chosen here, never request data.
pub(crate) struct Page {
    status: u16,
    title: &'static str,
    message: String,
}

impl Page {
    pub(crate) fn connected() -> Page {
        Page {
            status: 200,
            title: "Connected",
            message: "Connected \u{2014} you can close this tab.".to_owned(),
        }
    }

    pub(crate) fn error(status: u16, title: &'static str, message: impl Into<String>) -> Page {
        Page {
            status,
            title,
            message: message.into(),
        }
    }

    fn to_http(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            402 => "Payment Required",
            404 => "Not Found",
            405 => "Method Not Allowed",
            _ => "Error",
        };
        let body = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Hyperclay Sync \u{2014} {}</title></head>\
             <body style=\"font-family:sans-serif;margin:4em auto;max-width:32em\"><h1>{}</h1><p>{}</p></body></html>\n",
            html_escape(self.title),
            html_escape(self.title),
            html_escape(&self.message)
        );
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
            self.status,
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body.as_bytes());
        out
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One connection whose request has been read: what it asked for, and where to answer.
pub(crate) struct Incoming {
    pub request: Result<Callback, Rejection>,
    stream: TcpStream,
}

impl Incoming {
    /// Sends `page` and closes the connection. A browser that went away is not an error worth
    /// reporting: the login outcome does not depend on it.
    pub(crate) fn answer(mut self, page: &Page) {
        let _ = self.stream.set_write_timeout(Some(WRITE_TIMEOUT));
        if let Err(e) = self
            .stream
            .write_all(&page.to_http())
            .and_then(|()| self.stream.flush())
        {
            log::debug!("login: could not answer the browser: {e}");
        }
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// The listener plus its accept thread. Requests are read on short-lived threads, so a browser's
/// idle pre-connection cannot delay the real callback behind it.
///
/// The parsing stays hand-written rather than a small HTTP server crate: it reads one request
/// line and is fuzzed by the tests below, and the candidates (`tiny_http` among them) offer no
/// whole-request deadline, which is the one thing this listener needed.
pub(crate) struct CallbackServer {
    addr: SocketAddr,
    incoming: Receiver<Incoming>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl CallbackServer {
    /// Binds 127.0.0.1 on a port the OS picks and starts accepting.
    pub(crate) fn bind() -> io::Result<CallbackServer> {
        CallbackServer::bind_with_deadline(REQUEST_DEADLINE)
    }

    fn bind_with_deadline(deadline: Duration) -> io::Result<CallbackServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let (tx, incoming) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = thread::Builder::new()
            .name("login-callback".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || accept_loop(listener, tx, stop, deadline)
            })?;
        Ok(CallbackServer {
            addr,
            incoming,
            stop,
            acceptor: Some(acceptor),
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The next request read, or `None` once `deadline` passes.
    pub(crate) fn next(&self, deadline: Instant) -> Option<Incoming> {
        let left = deadline.checked_duration_since(Instant::now())?;
        // Disconnected cannot happen while the acceptor runs; either way nothing more will come.
        self.incoming.recv_timeout(left).ok()
    }
}

impl Drop for CallbackServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // accept() has no timeout: one connection of our own wakes it to see the flag.
        if TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok()
            && let Some(acceptor) = self.acceptor.take()
        {
            let _ = acceptor.join();
        }
    }
}

/// The connections being read, oldest first, each with its number so its reader can leave.
#[derive(Default)]
struct Readers {
    next: u64,
    open: VecDeque<(u64, TcpStream)>,
}

impl Readers {
    /// Makes room for one more (closing the oldest connection when full) and registers `stream`.
    fn admit(&mut self, stream: &TcpStream) -> io::Result<u64> {
        if self.open.len() >= MAX_READERS
            && let Some((_, oldest)) = self.open.pop_front()
        {
            // Its reader sees the end of the stream and finishes at once.
            let _ = oldest.shutdown(Shutdown::Both);
        }
        let id = self.next;
        self.next += 1;
        self.open.push_back((id, stream.try_clone()?));
        Ok(id)
    }

    fn leave(&mut self, id: u64) {
        self.open.retain(|(i, _)| *i != id);
    }
}

fn accept_loop(
    listener: TcpListener,
    tx: Sender<Incoming>,
    stop: Arc<AtomicBool>,
    deadline: Duration,
) {
    let readers = Arc::new(Mutex::new(Readers::default()));
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let stream = match conn {
            Ok(stream) => stream,
            Err(e) => {
                log::debug!("login: accept failed: {e}");
                // Out of file descriptors and the like: do not spin on the error.
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let until = Instant::now() + deadline;
        let admitted = match readers.lock() {
            Ok(mut r) => r.admit(&stream),
            Err(_) => return,
        };
        let id = match admitted {
            Ok(id) => id,
            Err(e) => {
                log::debug!("login: could not keep a connection: {e}");
                continue;
            }
        };
        let (tx, readers) = (tx.clone(), Arc::clone(&readers));
        let spawned = thread::Builder::new()
            .name("login-request".into())
            .spawn(move || {
                let request = read_request(&stream, until);
                if let Ok(mut r) = readers.lock() {
                    r.leave(id);
                }
                let _ = tx.send(Incoming { request, stream });
            });
        if let Err(e) = spawned {
            log::debug!("login: could not start a reader: {e}");
        }
    }
}

/// Reads up to the end of the headers (bounded in bytes, and in time by `until`) and parses the
/// request line.
fn read_request(mut stream: &TcpStream, until: Instant) -> Result<Callback, Rejection> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while buf.len() < MAX_REQUEST_BYTES && !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let Some(left) = until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        else {
            return Err(Rejection::BadRequest);
        };
        if stream.set_read_timeout(Some(left)).is_err() {
            return Err(Rejection::BadRequest);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let line_end = buf
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(Rejection::BadRequest)?;
    let line = &buf[..line_end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = std::str::from_utf8(line).map_err(|_| Rejection::BadRequest)?;
    parse_request_line(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(line: &str) -> (String, String) {
        match parse_request_line(line) {
            Ok(Callback {
                state,
                outcome: Outcome::Code(code),
            }) => (state, code),
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    #[test]
    fn reads_code_and_state() {
        assert_eq!(
            code("GET /callback?code=abc-123&state=S_t-8 HTTP/1.1"),
            ("S_t-8".into(), "abc-123".into())
        );
        assert_eq!(
            code("GET /callback?state=s&code=c&iss=http%3A%2F%2Fx&unknown HTTP/1.0"),
            ("s".into(), "c".into())
        );
        assert_eq!(
            code("GET /callback?state=a%2Bb+c&code=%7E HTTP/1.1"),
            ("a+b c".into(), "~".into())
        );
    }

    #[test]
    fn reads_errors() {
        let cb = parse_request_line("GET /callback?error=subscription_required&state=s HTTP/1.1")
            .unwrap();
        assert_eq!(cb.state, "s");
        assert!(cb.outcome == Outcome::Error("subscription_required".into()));
    }

    #[test]
    fn refuses_what_is_not_a_get_of_the_callback() {
        use Rejection::*;
        let cases: &[(&str, Rejection)] = &[
            ("", BadRequest),
            ("GET", BadRequest),
            ("GET /callback?code=c&state=s", BadRequest),
            ("GET /callback?code=c&state=s HTTP/2", BadRequest),
            ("GET /callback?code=c&state=s HTTP/1.1 extra", BadRequest),
            ("GET  /callback?code=c&state=s HTTP/1.1", BadRequest),
            ("GET /callback?code=c&state=s\tHTTP/1.1", BadRequest),
            ("GET /callback?code=c\0&state=s HTTP/1.1", BadRequest),
            ("GET /callback?code=\u{e9}&state=s HTTP/1.1", BadRequest),
            (
                "GET http://127.0.0.1/callback?code=c&state=s HTTP/1.1",
                BadRequest,
            ),
            ("GET * HTTP/1.1", BadRequest),
            ("POST /callback?code=c&state=s HTTP/1.1", MethodNotAllowed),
            ("get /callback?code=c&state=s HTTP/1.1", MethodNotAllowed),
            ("GET /favicon.ico HTTP/1.1", NotFound),
            ("GET / HTTP/1.1", NotFound),
            ("GET /callback/?code=c&state=s HTTP/1.1", NotFound),
            ("GET /callbackx?code=c&state=s HTTP/1.1", NotFound),
            ("GET /x/../callback?code=c&state=s HTTP/1.1", NotFound),
            ("GET /%63allback?code=c&state=s HTTP/1.1", NotFound),
        ];
        for (line, want) in cases {
            assert_eq!(parse_request_line(line).err(), Some(*want), "{line:?}");
        }
        let long = format!("GET /callback?code={}&state=s HTTP/1.1", "a".repeat(5000));
        assert_eq!(parse_request_line(&long).err(), Some(BadRequest));
    }

    #[test]
    fn refuses_incomplete_repeated_or_undecodable_parameters() {
        for query in [
            "",
            "code=c",
            "state=s",
            "state=s&code=",
            "state=&code=c",
            "state=s&code=c&error=e",
            "state=s&state=t&code=c",
            "state=s&code=c&code=d",
            "state=s&st%61te=t&code=c",
            "state=s&code=%zz",
            "state=s&code=%4",
            "state=s&code=%",
            "state=s&code=%00",
            "state=s&code=%0A",
            "state=s&code=%C3%A9",
            "state=s&code=%FF",
        ] {
            let line = format!("GET /callback?{query} HTTP/1.1");
            assert_eq!(
                parse_request_line(&line).err(),
                Some(Rejection::BadCallback),
                "{line:?}"
            );
        }
        assert_eq!(
            parse_request_line("GET /callback HTTP/1.1").err(),
            Some(Rejection::BadCallback)
        );
    }

    /// `%XX` for every byte that is not a letter or digit.
    fn percent_encode_all(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b if b.is_ascii_alphanumeric() => (b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect()
    }

    proptest::proptest! {
        /// Whatever arrives, parsing never panics, and nothing but a GET of /callback with a
        /// state and a code or an error is ever accepted.
        #[test]
        fn hostile_request_lines_are_refused_or_well_formed(
            line in proptest::prop_oneof![
                "\\PC{0,200}",
                "GET /callback\\?[ -~]{0,120}( HTTP/1\\.[019])?",
            ]
        ) {
            if let Ok(cb) = parse_request_line(&line) {
                proptest::prop_assert!(line.starts_with("GET /callback?"));
                proptest::prop_assert!(
                    line.ends_with(" HTTP/1.1") || line.ends_with(" HTTP/1.0")
                );
                proptest::prop_assert_eq!(line.matches(' ').count(), 2);
                proptest::prop_assert!(!cb.state.is_empty());
            }
        }

        #[test]
        fn well_formed_callbacks_round_trip(
            state in "[A-Za-z0-9_~.-]{1,64}",
            code in "[ -~]{1,64}",
        ) {
            let line = format!(
                "GET /callback?state={state}&code={} HTTP/1.1",
                percent_encode_all(&code)
            );
            let cb = parse_request_line(&line).map_err(|r| {
                proptest::test_runner::TestCaseError::fail(format!("{r:?}"))
            })?;
            proptest::prop_assert_eq!(&cb.state, &state);
            proptest::prop_assert!(cb.outcome == Outcome::Code(code));
        }
    }

    #[test]
    fn debug_output_hides_the_code() {
        let (_, _) = code("GET /callback?code=secret-code&state=secret-state HTTP/1.1");
        let cb = parse_request_line("GET /callback?code=secret-code&state=secret-state HTTP/1.1")
            .unwrap();
        let shown = format!("{cb:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn pages_are_complete_http_responses_and_escape_text() {
        let http = Page::error(400, "Oops", "<script>x</script> & co").to_http();
        let http = String::from_utf8(http).unwrap();
        let (head, body) = http.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        assert!(body.contains("&lt;script&gt;x&lt;/script&gt; &amp; co"));
        assert!(!body.contains("<script>"));
        let ok = String::from_utf8(Page::connected().to_http()).unwrap();
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(ok.contains("you can close this tab"));
    }

    #[test]
    fn listener_reads_requests_sent_in_pieces_and_answers() {
        let server = CallbackServer::bind().unwrap();
        let mut client = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        client.write_all(b"GET /callback?code=c&sta").unwrap();
        client.flush().unwrap();
        client
            .write_all(b"te=s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let incoming = server
            .next(Instant::now() + Duration::from_secs(20))
            .expect("a request within the deadline");
        assert_eq!(incoming.request.as_ref().unwrap().state, "s");
        incoming.answer(&Page::connected());
        let mut reply = String::new();
        client.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    }

    #[test]
    fn an_idle_connection_does_not_hold_up_the_next_one() {
        let server = CallbackServer::bind().unwrap();
        let _idle = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        let mut real = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        real.write_all(b"GET /favicon.ico HTTP/1.1\r\n\r\n")
            .unwrap();
        // Were requests read one after another, the first to come out would be the idle
        // connection's BadRequest, once its read timed out.
        let incoming = server
            .next(Instant::now() + Duration::from_secs(20))
            .expect("a request within the deadline");
        assert_eq!(incoming.request.err(), Some(Rejection::NotFound));
    }

    /// Writes one byte every 200 ms to `port` until the server closes the connection or `stop`
    /// is set (at most a minute); says whether the server closed it.
    fn trickler(port: u16, stop: Arc<AtomicBool>) -> JoinHandle<bool> {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        thread::spawn(move || {
            for _ in 0..300 {
                if stop.load(Ordering::SeqCst) {
                    return false;
                }
                if conn.write_all(b"G").is_err() {
                    return true;
                }
                thread::sleep(Duration::from_millis(200));
            }
            false
        })
    }

    #[test]
    fn a_trickling_connection_is_cut_at_the_whole_request_deadline() {
        // Issue 23, 7: the read timeout restarted with every byte, so a trickle held a reader.
        let server = CallbackServer::bind_with_deadline(Duration::from_millis(600)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let slow = trickler(server.port(), Arc::clone(&stop));
        let incoming = server
            .next(Instant::now() + Duration::from_secs(30))
            .expect("the trickle ends as a refused request");
        assert_eq!(
            incoming.request.as_ref().err(),
            Some(&Rejection::BadRequest)
        );
        incoming.answer(&Rejection::BadRequest.page());
        let closed = slow.join().unwrap();
        assert!(closed, "the trickling connection was never closed");
    }

    #[test]
    fn tricklers_in_every_reader_cannot_keep_the_browser_out() {
        // The attack of issue 23, 7: one trickling connection per reader, then the browser.
        let server = CallbackServer::bind().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let slow: Vec<_> = (0..MAX_READERS)
            .map(|_| trickler(server.port(), Arc::clone(&stop)))
            .collect();
        thread::sleep(Duration::from_millis(300));
        let mut browser = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        browser
            .write_all(b"GET /callback?code=c&state=s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut got = None;
        while let Some(incoming) = server.next(deadline) {
            if let Ok(cb) = &incoming.request {
                got = Some(cb.state.clone());
                incoming.answer(&Page::connected());
                break;
            }
        }
        stop.store(true, Ordering::SeqCst);
        assert_eq!(
            got.as_deref(),
            Some("s"),
            "the browser's callback never came through"
        );
        let mut reply = String::new();
        browser.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
        for t in slow {
            let _ = t.join();
        }
    }

    #[test]
    fn next_gives_up_at_the_deadline() {
        let server = CallbackServer::bind().unwrap();
        assert!(server.next(Instant::now()).is_none());
    }

    #[test]
    fn listens_only_on_loopback() {
        let server = CallbackServer::bind().unwrap();
        assert!(server.addr.ip().is_loopback());
    }
}
