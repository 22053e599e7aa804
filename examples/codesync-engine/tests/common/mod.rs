//! Runs the real `codesync-engine` binary and talks to it over a tiny HTTP/1.1 client.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use loro::{LoroDoc, VersionVector};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The secret every test engine is started with.
pub const SECRET: &str = "test-secret-0123456789abcdef";

/// A running engine; killed when dropped.
pub struct Engine {
    pub child: Child,
    pub addr: SocketAddr,
    _stdout: BufReader<ChildStdout>,
}

impl Engine {
    /// Starts the engine on a free port with its store under `data`, and waits until
    /// `/readyz` answers 200.
    pub async fn start(data: &Path, extra: &[&str]) -> Engine {
        let mut child = Command::new(env!("CARGO_BIN_EXE_codesync-engine"))
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .env("CODESYNC_INTERNAL_AUTH", SECRET)
            .env_remove("CODESYNC_POSTGRES_URL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn codesync-engine");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the banner");
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        let engine = Engine {
            child,
            addr,
            _stdout: stdout,
        };
        engine.wait_ready().await;
        engine
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = try_request(self.addr, "GET", "/readyz", &[], b"").await {
                if r.status == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "engine not ready in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A request without the secret.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        try_request(self.addr, method, path, headers, body)
            .await
            .expect("request")
    }

    /// A request with the secret.
    pub async fn authed(&self, method: &str, path: &str, body: &[u8]) -> Response {
        self.request(method, path, &[("X-Internal-Auth", SECRET)], body)
            .await
    }

    /// `POST /merge/{session}` with the secret.
    pub async fn merge(&self, session: &str, update: &[u8]) -> Response {
        self.authed("POST", &format!("/merge/{session}"), update)
            .await
    }

    /// The session's version, via `GET /version/{session}`.
    pub async fn version(&self, session: &str) -> VersionVector {
        let r = self
            .authed("GET", &format!("/version/{session}"), b"")
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        VersionVector::decode(&r.body).expect("decode version")
    }

    /// The session's whole document, rebuilt from `POST /updates-since` at the empty version.
    pub async fn document(&self, session: &str) -> LoroDoc {
        let r = self
            .authed("POST", &format!("/updates-since/{session}"), b"")
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let doc = LoroDoc::new();
        if !r.body.is_empty() {
            doc.import(&r.body).expect("import");
        }
        doc
    }

    /// Sends SIGTERM and waits for the exit; returns whether it exited successfully.
    pub fn terminate(mut self) -> bool {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(exit) = self.child.try_wait().expect("try_wait") {
                return exit.success();
            }
            assert!(
                Instant::now() < deadline,
                "engine did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The version the `X-Codesync-Version` header names.
    pub fn version(&self) -> VersionVector {
        let hex = self.header("x-codesync-version").expect("version header");
        VersionVector::decode(&unhex(hex)).expect("decode version header")
    }
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// One request on a fresh connection (`Connection: close`), read to the end.
pub async fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    // The server may answer (413) and close before reading a large body: ignore write
    // errors and read whatever answer arrived.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .map_err(|_| std::io::Error::other("response timed out"))??;
    parse(&raw)
}

fn parse(raw: &[u8]) -> std::io::Result<Response> {
    let bad = |what: &str| std::io::Error::other(format!("malformed response: {what}"));
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of head"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> std::io::Result<Vec<u8>> {
    let bad = || std::io::Error::other("malformed chunked body");
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| bad())?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad())?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(rest.get(..size).ok_or_else(bad)?);
        rest = rest.get(size + 2..).ok_or_else(bad)?;
    }
}
