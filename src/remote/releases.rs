//! The release feed: the newest release for a platform, and its file. Neither call carries the
//! login: the feed is public, an outdated client must reach it, and a release file may be served
//! from another host (whatever serves it, the update checks its signature before using it).

use std::io::Read;
use std::time::Instant;

use hyperclay_protocol::ReleaseResponse;

use super::{Remote, RemoteError, STALL_MIN_BYTES, StallDetector, check, json, transport};

/// `u` when it is an http(s) URL made of visible ASCII (no spaces, no controls): the only kind of
/// server-given address this client opens or shows.
pub fn web_url(u: &str) -> Option<String> {
    let u = u.trim();
    let scheme_ok = u.starts_with("https://") || u.starts_with("http://");
    let clean = u.len() <= 2048 && u.bytes().all(|b| b.is_ascii_graphic());
    (scheme_ok && clean).then(|| u.to_owned())
}

impl Remote {
    /// `GET /releases/latest?platform=P`.
    pub fn latest_release(&self, platform: &str) -> Result<ReleaseResponse, RemoteError> {
        let reply = self
            .agent
            .get(format!("{}/releases/latest", self.base))
            .query("platform", platform)
            .call();
        json(reply)
    }

    /// Where a release's `url` points: a path on this server, or an absolute http(s) URL.
    pub fn release_url(&self, url: &str) -> Result<String, RemoteError> {
        if url.starts_with('/') && !url.starts_with("//") {
            return Ok(format!("{}{url}", self.server_url()));
        }
        web_url(url).ok_or_else(|| RemoteError::malformed("a release URL that is not http(s)"))
    }

    /// Streams a release file into `sink`, at most `limit` bytes, abandoned when it stalls for a
    /// whole stall window. Returns how many bytes came.
    pub fn release_file(
        &self,
        url: &str,
        limit: u64,
        mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64, RemoteError> {
        let url = self.release_url(url)?;
        let reply = self
            .agent
            .get(&url)
            .config()
            // A large file on a slow line takes minutes: only a stall ends it.
            .timeout_global(None)
            .timeout_per_read(Some(self.stall_window))
            .build()
            .call();
        let response = check(reply)?;
        let mut reader = response
            .into_body()
            .into_with_config()
            .limit(limit)
            .reader();
        let mut detector = StallDetector::new(self.stall_window, Instant::now());
        let mut total = 0_u64;
        let mut buf = vec![0_u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    sink(&buf[..n]).map_err(|e| RemoteError::Network(super::Cause::new(e)))?;
                    total += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(transport(ureq::Error::from(e))),
            }
            if detector.stalled(Instant::now(), total) {
                return Err(RemoteError::Stalled(format!(
                    "less than {STALL_MIN_BYTES} bytes in {:.1} s ({total} received)",
                    self.stall_window.as_secs_f64(),
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_http_urls_are_kept() {
        assert_eq!(
            web_url(" https://hyperclay.com/sync "),
            Some("https://hyperclay.com/sync".into())
        );
        assert!(web_url("javascript:alert(1)").is_none());
        assert!(web_url("file:///etc/passwd").is_none());
        assert!(web_url("https://x.com/\u{1b}[31m").is_none());
        assert!(web_url("https://x.com/a b").is_none());
    }

    #[test]
    fn a_release_path_is_on_this_server_and_a_scheme_relative_one_is_refused() {
        let r = Remote::new(crate::remote::agent(), "http://127.0.0.1:9/", "t");
        assert_eq!(
            r.release_url("/api/local-sync/releases/x/0.1.1/file")
                .unwrap(),
            "http://127.0.0.1:9/api/local-sync/releases/x/0.1.1/file"
        );
        assert!(r.release_url("//evil.example/x").is_err());
        assert!(r.release_url("ftp://evil.example/x").is_err());
        assert_eq!(
            r.release_url("https://cdn.example/x.exe").unwrap(),
            "https://cdn.example/x.exe"
        );
    }
}
