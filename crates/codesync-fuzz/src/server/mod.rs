//! A black-box driver of a running codesync server: start its process, check it is alive
//! and healthy, restart it on the same data, look inside its data directory (feature
//! `server-driver`, on by default). It knows nothing of how the server defends itself:
//! it attacks from outside, as a peer would.

mod bystander;
mod peer;

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use bystander::Bystander;
pub use peer::{Peer, SendError};

/// Flags that lift the per-connection and per-IP budgets: a test sends thousands of
/// updates from one address, and a budget refusal would read as a false refusal.
const UNTHROTTLED: [&str; 6] = [
    "--messages-per-second",
    "100000",
    "--message-burst",
    "100000",
    "--rate-limit-per-minute",
    "1000000",
];

/// A server process listening on a port the OS chose, its data in `dir/data` and its
/// stderr in `dir/server-N.log`. Killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    program: PathBuf,
    dir: PathBuf,
    extra: Vec<String>,
    child: Child,
    addr: String,
    starts: usize,
}

impl ServerProcess {
    /// Starts `program --listen 127.0.0.1:0 --data dir/data` (budgets lifted, `extra`
    /// flags appended) and waits for the banner naming its address.
    pub fn start(program: &Path, dir: &Path, extra: &[&str]) -> io::Result<Self> {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let (child, addr) = launch(program, dir, &extra, 0)?;
        Ok(Self {
            program: program.to_owned(),
            dir: dir.to_owned(),
            extra,
            child,
            addr,
            starts: 1,
        })
    }

    /// `host:port`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Err` saying how the process ended, and what it last wrote, if it has ended.
    pub fn check_running(&mut self) -> Result<(), String> {
        self.fail_if_exited("")
    }

    /// [`check_running`](Self::check_running), then `GET /_/healthz` must answer 200.
    /// `after` names what was just done, for the message ("server process exited with
    /// signal 6 (SIGABRT) after input …").
    pub async fn check_alive(&mut self, after: &str) -> Result<(), String> {
        let after = format!(" after {after}");
        self.fail_if_exited(&after)?;
        match self.health().await {
            Ok(200) => Ok(()),
            Ok(status) => Err(format!("/_/healthz answered {status}{after}")),
            Err(e) => {
                // Give a dying process a moment, so the message names its exit status.
                tokio::time::sleep(Duration::from_millis(200)).await;
                self.fail_if_exited(&after)?;
                Err(format!("/_/healthz failed{after}: {e}"))
            }
        }
    }

    fn fail_if_exited(&mut self, after: &str) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "server process exited with {}{after}; its last stderr lines:\n{}",
                crate::oracle::describe(status),
                self.stderr_tail(8)
            )),
            Err(e) => Err(format!("cannot tell whether the server runs: {e}")),
        }
    }

    /// The status code of `GET /_/healthz`.
    pub async fn health(&self) -> io::Result<u16> {
        let request = async {
            let mut stream = tokio::net::TcpStream::connect(&self.addr).await?;
            stream
                .write_all(b"GET /_/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await?;
            let mut response = String::new();
            stream.read_to_string(&mut response).await?;
            Ok::<_, io::Error>(response)
        };
        let response = tokio::time::timeout(Duration::from_secs(10), request)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer in 10 s"))??;
        response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("not an HTTP answer: {response:.80}")))
    }

    /// Stops the server with SIGTERM (it flushes every session) and starts it again on
    /// the same data directory.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop()?;
        let (child, addr) = launch(&self.program, &self.dir, &self.extra, self.starts)?;
        self.child = child;
        self.addr = addr;
        self.starts += 1;
        Ok(())
    }

    /// Stops the server with SIGTERM, killing it if it has not exited within 40 s.
    pub fn stop(&mut self) -> io::Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        self.child.wait().map(drop)
    }

    /// The last `lines` lines the current process wrote to stderr.
    pub fn stderr_tail(&self, lines: usize) -> String {
        let log = self.dir.join(format!("server-{}.log", self.starts - 1));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The files under the data directory whose bytes contain `needle`. Stores keep
    /// updates as they came (SQLite keeps a small blob whole inside one page), so a
    /// refused update that was stored anyway shows up here.
    pub fn stored_copies_of(&self, needle: &[u8]) -> io::Result<Vec<PathBuf>> {
        let mut found = Vec::new();
        let mut pending = vec![self.data_dir()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                if path.is_dir() {
                    pending.push(path);
                } else if contains(&std::fs::read(&path)?, needle) {
                    found.push(path);
                }
            }
        }
        Ok(found)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn launch(
    program: &Path,
    dir: &Path,
    extra: &[String],
    start: usize,
) -> io::Result<(Child, String)> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    let log = std::fs::File::create(dir.join(format!("server-{start}.log")))?;
    let mut child = Command::new(program)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .args(UNTHROTTLED)
        .args(extra)
        // Warnings and errors only, uncoloured: its stderr tail goes into failure messages.
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
        )
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("no stdout pipe"))?;
    let mut reader = BufReader::new(stdout);
    let mut banner = String::new();
    reader.read_line(&mut banner)?;
    // Keep draining stdout, so a later line never meets a closed pipe.
    std::thread::spawn(move || io::copy(&mut reader, &mut io::sink()));
    let addr = banner
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .map(str::to_owned);
    match addr {
        Some(addr) => Ok((child, addr)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(io::Error::other(format!(
                "no address in the banner {banner:?}"
            )))
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
