//! The bench's HTTP: the test kit's one client (keep-alive) that seeds accounts, makes the floor
//! PUTs and the remote edits, and a raw HTTP/1.1 exchange over a TcpStream that counts every
//! byte on the wire (what no HTTP client reports, so it is written here). It never logs a token.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hyperclay_protocol::{ChangesResponse, Entry, PutResponse, RemotePath, Timestamp, sha256_hex};
use hyperclay_testkit::http::Reply;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// A client for one account: the test kit's one HTTP client on keep-alive connections, its
/// replies turned into the protocol's types or an error that says which call failed.
#[derive(Clone)]
pub struct Api {
    http: hyperclay_testkit::http::Api,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Api {
        Api {
            http: hyperclay_testkit::http::Api::new(base, Some(token)).keep_alive(),
        }
    }

    /// `PUT /files/{path}` stamped now, as a client saving a fresh edit would.
    pub fn put_file(&self, path: &str, bytes: &[u8]) -> Result<PutResponse> {
        self.put_file_summed(path, bytes, &sha256_hex(bytes))
    }

    /// [`Api::put_file`] with the checksum already computed (the floor's bare PUT).
    pub fn put_file_summed(&self, path: &str, bytes: &[u8], checksum: &str) -> Result<PutResponse> {
        RemotePath::file(path).with_context(|| format!("bad bench path {path}"))?;
        let reply = self
            .http
            .try_put_summed(path, bytes, Timestamp::now(), checksum)?;
        json(&reply, &format!("PUT {path}"))
    }

    /// The platform's own `POST /save/{app}` (a remote edit), authenticated by the bearer token.
    pub fn platform_save(&self, app: &str, html: &[u8]) -> Result<PutResponse> {
        let reply = self.http.try_platform_save(app, html)?;
        json(&reply, &format!("POST /save/{app}"))
    }

    /// One page of `/changes`.
    pub fn changes(&self, cursor: Option<&str>) -> Result<ChangesResponse> {
        let reply = self.http.try_changes(cursor, None)?;
        json(&reply, "GET /changes")
    }

    /// Every live file of the account (folders left out) and the cursor after the listing.
    pub fn files(&self) -> Result<(Vec<Entry>, String)> {
        Ok(self.http.try_files()?)
    }
}

fn json<T: serde::de::DeserializeOwned>(reply: &Reply, what: &str) -> Result<T> {
    if !reply.is_success() {
        bail!("{what}: HTTP {}: {}", reply.status, reply.text());
    }
    reply
        .try_json()
        .with_context(|| format!("{what}: the reply is not the protocol's JSON"))
}

/// One request and its reply as they crossed the wire.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub status: u16,
    /// Bytes of the request line, headers and body, as sent.
    pub request_bytes: usize,
    /// Bytes of the status line, headers and body, as received.
    pub response_bytes: usize,
    pub body: Vec<u8>,
    /// From the first byte written to the last byte read (the connection already open).
    pub elapsed: Duration,
}

/// A `GET` over a fresh connection with `Connection: close`, read to its end, counting bytes.
/// The headers are the ones the sync client sends on a poll.
pub fn raw_get(host_port: &str, path_and_query: &str, token: &str) -> Result<Exchange> {
    let mut stream =
        TcpStream::connect(host_port).with_context(|| format!("connecting to {host_port}"))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let request = format!(
        "GET {path_and_query} HTTP/1.1\r\nhost: {host_port}\r\nauthorization: Bearer {token}\r\n\
         user-agent: hyperclay-sync/0.1.0\r\naccept: */*\r\nconnection: close\r\n\r\n"
    );
    let start = Instant::now();
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).context("reading the reply")?;
    let elapsed = start.elapsed();
    let (status, body) = parse_response(&raw)?;
    Ok(Exchange {
        status,
        request_bytes: request.len(),
        response_bytes: raw.len(),
        body,
        elapsed,
    })
}

/// `?cursor=…` with the cursor percent-encoded.
pub fn cursor_query(cursor: &str) -> String {
    format!("cursor={}", utf8_percent_encode(cursor, NON_ALPHANUMERIC))
}

/// Status and body of a complete HTTP/1.1 reply (content-length or chunked).
fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>)> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("the reply has no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let rest = &raw[split + 4..];
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .context("the reply has no status")?;
    if head.contains("transfer-encoding: chunked") {
        return Ok((status, dechunk(rest)?));
    }
    Ok((status, rest.to_vec()))
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("a chunk has no size line")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .context("a chunk size is not hex")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size + 2 {
            bail!("a chunk is cut short");
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_parsed_with_length_or_chunks() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi";
        assert_eq!(parse_response(plain).unwrap(), (200, b"hi".to_vec()));
        let chunked =
            b"HTTP/1.1 410 Gone\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (410, b"abcde".to_vec()));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn cursors_are_encoded_for_the_query() {
        assert_eq!(cursor_query("a+b/c="), "cursor=a%2Bb%2Fc%3D");
    }
}
