//! The classification oracle: runs the full ingest sequence ([`crate::ingest`]) in a
//! worker process and says what happened to it, including the outcomes no process can
//! report about itself (it aborted, it hung).
//!
//! The worker is the caller's own executable run again with [`WORKER_ENV`] set (a binary
//! calls [`serve_if_requested`] first; a test binary names a test that does). It serves
//! requests one after another and is restarted after any verdict but `Ok` and `Refused`,
//! so one input's leftovers never colour the next verdict. Each worker runs under an
//! address-space limit (4 GiB unless changed): a few hundred bytes of update that need
//! more than that to import are a crasher whatever the machine.

mod wire;
mod worker;

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use worker::{serve_if_requested, WORKER_ENV};

use crate::ingest::{Outcome, Stage};
use wire::Event;

/// What the ingest sequence did with an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every stage succeeded; `text` is the reloaded document's `content` text.
    Ok {
        /// The `content` text after the reload.
        text: String,
    },
    /// Loro returned an error: the input is refused and nothing changed.
    Refused {
        /// Where.
        stage: Stage,
        /// Loro's error.
        error: String,
    },
    /// Loro panicked; a process that catches panics and leaks the document survives.
    Panicked {
        /// Where.
        stage: Stage,
        /// The panic message.
        message: String,
    },
    /// The worker process died: no in-process defence survives this input.
    Aborted {
        /// The last stage the worker announced (none if it died before the first).
        stage: Option<Stage>,
        /// How it ended, for example `signal 6 (SIGABRT)`.
        status: String,
        /// The last lines it wrote to stderr (the allocation or panic message).
        detail: String,
    },
    /// The worker did not answer in time and was killed.
    TimedOut {
        /// The last stage the worker announced.
        stage: Option<Stage>,
    },
}

impl Verdict {
    /// The class name: `ok`, `refused`, `panicked`, `aborted` or `timed-out`.
    pub fn class(&self) -> &'static str {
        match self {
            Verdict::Ok { .. } => "ok",
            Verdict::Refused { .. } => "refused",
            Verdict::Panicked { .. } => "panicked",
            Verdict::Aborted { .. } => "aborted",
            Verdict::TimedOut { .. } => "timed-out",
        }
    }

    /// The stage the verdict is about, when known.
    pub fn stage(&self) -> Option<Stage> {
        match self {
            Verdict::Ok { .. } => None,
            Verdict::Refused { stage, .. } | Verdict::Panicked { stage, .. } => Some(*stage),
            Verdict::Aborted { stage, .. } | Verdict::TimedOut { stage } => *stage,
        }
    }
}

/// Runs inputs through the ingest sequence in a worker process.
#[derive(Debug)]
pub struct Oracle {
    program: PathBuf,
    args: Vec<String>,
    timeout: Duration,
    memory_limit_mib: Option<u64>,
    worker: Option<Worker>,
}

#[derive(Debug)]
struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    stderr_reader: JoinHandle<()>,
}

impl Oracle {
    /// An oracle whose worker is `program args…` (a binary that calls
    /// [`serve_if_requested`] before anything else).
    pub fn new(program: impl Into<PathBuf>, args: Vec<String>) -> Self {
        Self {
            program: program.into(),
            args,
            timeout: Duration::from_secs(20),
            memory_limit_mib: Some(4096),
            worker: None,
        }
    }

    /// An oracle whose worker is this executable run again without arguments.
    pub fn current_exe() -> io::Result<Self> {
        Ok(Self::new(std::env::current_exe()?, Vec::new()))
    }

    /// An oracle whose worker is this test binary running only the test `test_name`, which
    /// must call [`serve_if_requested`].
    pub fn test_binary(test_name: &str) -> io::Result<Self> {
        let args = ["--exact", test_name, "--nocapture", "--test-threads=1"];
        Ok(Self::new(
            std::env::current_exe()?,
            args.iter().map(|a| (*a).to_owned()).collect(),
        ))
    }

    /// How long one input may take before the worker is killed (default 20 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The worker's address-space limit (default 4096 MiB; `None` for none).
    pub fn with_memory_limit_mib(mut self, limit: Option<u64>) -> Self {
        self.memory_limit_mib = limit;
        self
    }

    /// Imports `bases` then `input`, exports a snapshot and reloads it, in the worker; says
    /// what happened. Errors only when no worker can be started or talked to.
    pub fn classify(&mut self, bases: &[&[u8]], input: &[u8]) -> io::Result<Verdict> {
        let mut worker = match self.worker.take() {
            Some(worker) => worker,
            None => self.spawn()?,
        };
        // A failed write means the worker is gone; its exit status tells why, below.
        let _ = wire::write_request(&mut worker.stdin, bases, input);
        let deadline = Instant::now() + self.timeout;
        let mut stage = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match worker.lines.recv_timeout(left) {
                Ok(line) => match wire::parse_line(&line) {
                    Some(Event::Stage(s)) => stage = Some(s),
                    Some(Event::Done(outcome)) => return Ok(self.done(worker, outcome)),
                    None => {}
                },
                Err(RecvTimeoutError::Timeout) => {
                    let _ = worker.child.kill();
                    let _ = worker.finish();
                    return Ok(Verdict::TimedOut { stage });
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let (status, detail) = worker.finish()?;
                    return Ok(Verdict::Aborted {
                        stage,
                        status: describe(status),
                        detail,
                    });
                }
            }
        }
    }

    fn done(&mut self, worker: Worker, outcome: Outcome) -> Verdict {
        match outcome {
            Outcome::Ok { text } => {
                self.worker = Some(worker);
                Verdict::Ok { text }
            }
            Outcome::Refused { stage, error } => {
                self.worker = Some(worker);
                Verdict::Refused { stage, error }
            }
            Outcome::Panicked { stage, message } => {
                // The worker exits after a panic; wait so its exit is not taken for the
                // next input's abort.
                let _ = worker.finish();
                Verdict::Panicked { stage, message }
            }
        }
    }

    fn spawn(&self) -> io::Result<Worker> {
        let mut command = match self.memory_limit_mib {
            Some(mib) => {
                // `ulimit -v` (KiB) in a shell that then becomes the worker: the limit
                // without any unsafe code in this process.
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg("ulimit -v \"$0\" && exec \"$@\"")
                    .arg((mib * 1024).to_string())
                    .arg(&self.program);
                sh
            }
            None => Command::new(&self.program),
        };
        command
            .args(&self.args)
            .env(WORKER_ENV, "1")
            // The message, not a backtrace, is what the verdict's detail keeps.
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn()?;
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => return Err(io::Error::other("the worker's pipes were not set up")),
            };
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = Arc::clone(&stderr_tail);
        let stderr_reader = std::thread::spawn(move || keep_tail(stderr, &tail));
        Ok(Worker {
            child,
            stdin,
            lines,
            stderr_tail,
            stderr_reader,
        })
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        if let Some(mut worker) = self.worker.take() {
            let _ = worker.child.kill();
            let _ = worker.finish();
        }
    }
}

impl Worker {
    /// Waits for the worker to end; its exit status and the tail of its stderr.
    fn finish(mut self) -> io::Result<(ExitStatus, String)> {
        drop(self.stdin);
        let status = self.child.wait()?;
        // The pipe closes when the process ends, so the reader finishes too.
        let _ = self.stderr_reader.join();
        let tail = self
            .stderr_tail
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join(" | "))
            .unwrap_or_default();
        Ok((status, tail))
    }
}

/// Keeps the last few lines of a stream (stderr of a worker that may abort).
fn keep_tail(stream: impl Read, tail: &Mutex<VecDeque<String>>) {
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == 6 {
                tail.pop_front();
            }
            tail.push_back(line.chars().take(300).collect());
        }
    }
}

/// `signal 6 (SIGABRT)`, `exit code 1`, …
pub fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                4 => " (SIGILL)",
                6 => " (SIGABRT)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                _ => "",
            };
            return format!("signal {signal}{name}");
        }
    }
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => "an unknown status".to_owned(),
    }
}
