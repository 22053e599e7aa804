//! The server's side of one worker: a task that owns the child process, writes requests to
//! its stdin, matches answers from its stdout, and restarts it when it dies.
//!
//! When the worker dies (or a check overruns the timeout and it is killed), the oldest
//! unanswered request is the one it was checking: that request is refused as unsafe, and
//! every request queued behind it is sent again to the new worker, so bystanders are never
//! refused for another peer's bytes.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::config::GuardConfig;
use crate::wire::{self, Outcome, Request, Response};
use crate::worker::{MEMORY_ENV, MIRRORS_ENV, WORKER_ENV};

/// What a caller gets back: the worker's outcome, or why there was none.
pub(crate) type Answer = Result<Outcome, String>;

/// One request for the worker task, with where to send the answer.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) request: Request,
    pub(crate) reply: Option<oneshot::Sender<Answer>>,
}

struct Pending {
    request: Request,
    reply: Option<oneshot::Sender<Answer>>,
    /// When the worker (probably) started on it: its send time, or the previous answer's.
    sent: Instant,
    /// Whether the worker received it; one it never received cannot have killed it.
    delivered: bool,
}

/// Why the current worker must be replaced.
enum Death {
    /// It ended, or its pipes broke.
    Died(String),
    /// A check overran the timeout.
    TimedOut,
}

/// Runs worker number `index` until every sender of `jobs` is gone.
pub(crate) async fn run(index: usize, config: Arc<GuardConfig>, mut jobs: mpsc::Receiver<Job>) {
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut next_id: u64 = 0;
    let mut backoff = Duration::from_millis(50);
    loop {
        let (mut child, stdin, stdout) = match spawn(&config) {
            Ok(started) => started,
            Err(e) => {
                tracing::error!(worker = index, error = %e, "cannot start a guard worker; refusing checks until it starts");
                for p in pending.drain(..) {
                    answer(p.reply, Err(format!("the guard worker cannot start: {e}")));
                }
                if !refuse_for(
                    &mut jobs,
                    backoff,
                    &format!("the guard worker cannot start: {e}"),
                )
                .await
                {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        let mut answered = false;
        let death = serve(
            &config,
            &mut jobs,
            &mut pending,
            &mut next_id,
            &mut answered,
            (stdin, stdout),
        )
        .await;
        let Some(death) = death else {
            // Every sender is gone: the guard was dropped.
            let _ = child.start_kill();
            return;
        };
        let _ = child.start_kill();
        let status = child
            .wait()
            .await
            .map(|s| s.to_string())
            .unwrap_or_default();
        let how = match death {
            Death::TimedOut => format!("trying it took longer than {:?}", config.timeout),
            Death::Died(detail) => {
                format!("trying it crashed the guard worker ({status}; {detail})")
            }
        };
        metrics::counter!("codesync_guard_worker_restarts_total").increment(1);
        let culprit = if pending.front().is_some_and(|p| p.delivered) {
            pending.pop_front()
        } else {
            None
        };
        let explained = culprit.is_some();
        if let Some(culprit) = culprit {
            tracing::warn!(worker = index, reason = %how, "refused the input a guard worker was checking when it died; restarting the worker");
            metrics::counter!("codesync_guard_worker_crashes_total").increment(1);
            answer(culprit.reply, Ok(Outcome::Unsafe(how.clone())));
        } else {
            tracing::warn!(worker = index, reason = %how, "a guard worker died while idle; restarting it");
        }
        if answered || explained {
            backoff = Duration::from_millis(50);
        } else {
            // It died before answering anything, and not on an input: maybe it cannot
            // work at all (a wrong program, no memory). Refuse rather than spin, and try again later.
            for p in pending.drain(..) {
                answer(p.reply, Err(format!("the guard worker keeps dying: {how}")));
            }
            if !refuse_for(&mut jobs, backoff, &how).await {
                return;
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}

fn spawn(config: &GuardConfig) -> std::io::Result<(Child, ChildStdin, ChildStdout)> {
    let program = match &config.worker_program {
        Some(program) => program.clone(),
        None => std::env::current_exe()?,
    };
    let mut command = Command::new(program);
    command
        .args(&config.worker_args)
        .env(WORKER_ENV, "1")
        .env(MIRRORS_ENV, config.max_copies.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    match config.worker_memory_bytes {
        Some(bytes) => command.env(MEMORY_ENV, bytes.to_string()),
        None => command.env_remove(MEMORY_ENV),
    };
    let mut child = command.spawn()?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin pipe"))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout pipe"))?;
    Ok((child, stdin, stdout))
}

/// While no worker can start: answer every job with a refusal for `wait`. False when every
/// sender is gone.
async fn refuse_for(jobs: &mut mpsc::Receiver<Job>, wait: Duration, why: &str) -> bool {
    let until = Instant::now() + wait;
    loop {
        tokio::select! {
            job = jobs.recv() => match job {
                Some(job) => answer(job.reply, Err(why.to_owned())),
                None => return false,
            },
            () = tokio::time::sleep_until(until) => return true,
        }
    }
}

fn answer(reply: Option<oneshot::Sender<Answer>>, answer: Answer) {
    if let Some(reply) = reply {
        // The caller may have given up (it was cancelled): nothing to tell then.
        let _ = reply.send(answer);
    }
}

/// Serves one worker process until it dies (`Some`) or the guard is dropped (`None`).
async fn serve(
    config: &GuardConfig,
    jobs: &mut mpsc::Receiver<Job>,
    pending: &mut VecDeque<Pending>,
    next_id: &mut u64,
    answered: &mut bool,
    (mut stdin, stdout): (ChildStdin, ChildStdout),
) -> Option<Death> {
    let (frames_tx, mut frames) = mpsc::unbounded_channel();
    let reader = tokio::spawn(read_frames(stdout, frames_tx));
    let _stop_reader = AbortOnDrop(reader);
    // Nothing is sent before the program proves it is a worker: a wrong program (say, a
    // server whose `main` forgot `run_worker_if_requested`) must never be fed requests.
    match tokio::time::timeout(config.timeout, frames.recv()).await {
        Ok(Some(Ok(Response {
            outcome: Outcome::Ready,
            ..
        }))) => {}
        Ok(_) => return Some(Death::Died("it did not start as a guard worker".to_owned())),
        Err(_) => return Some(Death::Died("it did not say it was ready".to_owned())),
    }
    // Requests left over from the previous worker are sent again, in their order.
    for p in pending.iter_mut() {
        p.delivered = false;
    }
    loop {
        // Exactly one request at a time is in the worker: it checks one at a time anyway,
        // and a request waiting here, not in the pipe, can never block a write (a pipe full
        // of a busy worker's backlog would look like a stuck check).
        if let Some(front) = pending.front_mut().filter(|p| !p.delivered) {
            *next_id += 1;
            front.request.set_id(*next_id);
            if let Err(death) = write(config, &mut stdin, &front.request).await {
                return Some(death);
            }
            front.delivered = true;
            front.sent = Instant::now();
        }
        let deadline = pending
            .front()
            .filter(|p| p.delivered)
            .map(|p| p.sent + config.timeout);
        tokio::select! {
            job = jobs.recv() => {
                let job = job?;
                if job.request.id().is_some() {
                    pending.push_back(Pending {
                        request: job.request,
                        reply: job.reply,
                        sent: Instant::now(),
                        delivered: false,
                    });
                } else if let Err(death) = write(config, &mut stdin, &job.request).await {
                    // A tiny unanswered frame (a `Forget`): it can only fail if the worker
                    // is gone.
                    return Some(death);
                }
            }
            frame = frames.recv() => {
                let response: Response = match frame {
                    Some(Ok(response)) => response,
                    Some(Err(e)) => return Some(Death::Died(e)),
                    None => return Some(Death::Died("its output ended".to_owned())),
                };
                let Some(front) = pending.pop_front() else {
                    return Some(Death::Died("it answered a request never sent".to_owned()));
                };
                if front.request.id() != Some(response.id) {
                    pending.push_front(front);
                    return Some(Death::Died("it answered out of order".to_owned()));
                }
                answer(front.reply, Ok(response.outcome));
                *answered = true;
            }
            () = sleep_until_some(deadline) => return Some(Death::TimedOut),
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Writes a request; a worker that stops reading for longer than the timeout is as good as
/// dead (it is stuck in a check, and its input pipe is full).
async fn write(
    config: &GuardConfig,
    stdin: &mut ChildStdin,
    request: &Request,
) -> Result<(), Death> {
    let frame =
        wire::encode(request).map_err(|e| Death::Died(format!("encoding a request: {e}")))?;
    match tokio::time::timeout(config.timeout, stdin.write_all(&frame)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Death::Died(format!("its input closed: {e}"))),
        Err(_) => Err(Death::TimedOut),
    }
}

/// Reads answers until the worker's stdout ends; a separate task, so a read is never
/// cancelled halfway through a frame.
async fn read_frames(stdout: ChildStdout, frames: mpsc::UnboundedSender<Result<Response, String>>) {
    let mut stdout = BufReader::new(stdout);
    loop {
        let mut header = [0u8; 4];
        if stdout.read_exact(&mut header).await.is_err() {
            return;
        }
        let frame = async {
            let len = wire::body_len(header)?;
            let mut body = vec![0u8; len];
            stdout.read_exact(&mut body).await?;
            wire::decode::<Response>(&body)
        }
        .await
        .map_err(|e| format!("unreadable answer: {e}"));
        let failed = frame.is_err();
        if frames.send(frame).is_err() || failed {
            return;
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
