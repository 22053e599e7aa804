//! One simulated client: connect and join, wait for the start, then send its share of the
//! transactions (each once its dependencies have arrived and its keystroke slot has come)
//! while importing everything it receives and timing each delivery.
//!
//! The loop is the same for every protocol: one task per client owning its socket, racing
//! "a frame arrived" against "the next send is due", so a client reads whatever is waiting
//! before it sends again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::time::sleep_until;

use crate::cli::{Pace, Protocol};
use crate::crdt::Replica;
use crate::placement::Placement;
use crate::plan::Plan;
use crate::proto::{Conn, Event};
use crate::receipts::Receipts;
use crate::stats::Stats;

/// How often an idle client shows the server it is alive.
const KEEPALIVE: Duration = Duration::from_secs(20);

/// What every client of the run shares.
#[derive(Debug)]
pub(crate) struct RunShared {
    /// The workload.
    pub(crate) plan: Plan,
    /// Wire protocol.
    pub(crate) protocol: Protocol,
    /// Server URLs and which client connects to which (the session is appended).
    pub(crate) placement: Placement,
    /// Join credential.
    pub(crate) token: String,
    /// Pacing and rate.
    pub(crate) pace: Pace,
    /// Keystrokes per second per writer.
    pub(crate) rate: f64,
    /// Sessions in the run (for spreading writers' schedules).
    pub(crate) sessions: usize,
    /// The instant all timestamps count from.
    pub(crate) base: Instant,
}

/// What the clients of one session share.
#[derive(Debug)]
pub(crate) struct SessionShared {
    /// Session id.
    pub(crate) name: String,
    /// Its index in the run.
    pub(crate) index: usize,
    /// Per transaction, nanoseconds from `base` to its send, plus one (0: not sent).
    pub(crate) sent_at: Vec<AtomicU64>,
}

/// Signals from a client to the run.
#[derive(Debug)]
pub(crate) enum Signal {
    /// Connected and joined (or failed to).
    Ready(Result<(), String>),
    /// Has every transaction and every ack it waits for, at this instant.
    Done(Instant),
    /// Cannot go on (connection lost, fatal protocol error).
    Failed,
}

/// What a client ends with.
#[derive(Debug)]
pub(crate) struct ClientOutcome {
    /// Session index.
    pub(crate) session: usize,
    /// Client index within the session.
    pub(crate) client: usize,
    /// Counts and latencies.
    pub(crate) stats: Stats,
    /// Its final text.
    pub(crate) text: String,
}

/// The channels a client listens on and reports to.
#[derive(Debug)]
pub(crate) struct Wiring {
    /// Carries the start instant once every client has joined.
    pub(crate) start: watch::Receiver<Option<Instant>>,
    /// Becomes true when the run ends.
    pub(crate) stop: watch::Receiver<bool>,
    /// Ready / done / failed.
    pub(crate) signals: mpsc::UnboundedSender<Signal>,
}

fn nanos_since(base: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(base).as_nanos()).unwrap_or(u64::MAX)
}

/// Runs client `me` of `session` until the run stops.
pub(crate) async fn run_client(
    run: Arc<RunShared>,
    session: Arc<SessionShared>,
    me: usize,
    mut wiring: Wiring,
) -> ClientOutcome {
    let plan = &run.plan;
    let mut stats = Stats::new();
    let mut replica = Replica::new(plan.crdt);
    let mut receipts = Receipts::new(plan, me);
    let signal = |s: Signal| {
        let _ = wiring.signals.send(s);
    };
    let outcome = |stats: Stats, replica: &Replica| ClientOutcome {
        session: session.index,
        client: me,
        stats,
        text: replica.text(),
    };

    let (mut conn, early) = match Conn::open(
        run.protocol,
        run.placement.url_of(me),
        &session.name,
        &run.token,
        &replica,
    )
    .await
    {
        Ok(opened) => opened,
        Err(e) => {
            stats.disconnects += 1;
            stats.note(format!("{}#{me}: {e:#}", session.name));
            signal(Signal::Ready(Err(format!("{e:#}"))));
            return outcome(stats, &replica);
        }
    };
    for event in early {
        if let Event::Updates(updates) = event {
            for u in updates {
                if replica.import(&u).is_err() {
                    stats.protocol_errors += 1;
                }
            }
        }
    }
    signal(Signal::Ready(Ok(())));

    let start = tokio::select! {
        s = wiring.start.wait_for(|s| s.is_some()) => s.ok().and_then(|s| *s),
        _ = wiring.stop.wait_for(|&s| s) => None,
    };
    let Some(start) = start else {
        conn.close().await;
        return outcome(stats, &replica);
    };

    let queue = &plan.queues[me];
    let interval = Duration::from_secs_f64(1.0 / run.rate.max(1e-6));
    // Spread the writers of all sessions evenly over one keystroke interval.
    let slot = (session.index * plan.clients + me) as f64 / (run.sessions * plan.clients) as f64;
    let t0 = start + interval.mul_f64(slot);
    let mut next = 0usize;
    let mut pending_acks: HashMap<u64, u64> = HashMap::new();
    let mut done = false;
    let mut keepalive = tokio::time::interval_at((start + KEEPALIVE).into(), KEEPALIVE);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    enum Wake {
        Stop,
        Frame(anyhow::Result<Vec<Event>>),
        Keepalive,
        Send,
    }

    loop {
        if !done
            && receipts.foreign_missing() == 0
            && next == queue.len()
            && pending_acks.is_empty()
        {
            done = true;
            signal(Signal::Done(Instant::now()));
        }
        let due = queue.get(next).and_then(|&t| {
            let ready = plan.txns[t].deps.iter().all(|&d| receipts.has(d));
            match (ready, run.pace) {
                (false, _) => None,
                (true, Pace::Open) => Some(Instant::now()),
                (true, Pace::Keystroke) => Some(t0 + interval.mul_f64(next as f64)),
            }
        });
        let wake = tokio::select! {
            biased;
            _ = wiring.stop.wait_for(|&s| s) => Wake::Stop,
            // Before recv: a client that always has a frame waiting would otherwise never
            // send its keepalive, and Hocuspocus closes sockets silent for 60 s.
            _ = keepalive.tick() => Wake::Keepalive,
            frame = conn.recv() => Wake::Frame(frame),
            // A due time already past must not go through the timer: tokio's timer has
            // millisecond ticks, which would cap an open-paced writer near 1000 sends/s.
            _ = async {
                if let Some(due) = due.filter(|&d| d > Instant::now()) {
                    sleep_until(due.into()).await;
                }
            }, if due.is_some() => Wake::Send,
        };
        match wake {
            Wake::Stop => break,
            Wake::Keepalive => {
                if let Err(e) = conn.keepalive().await {
                    stats.disconnects += 1;
                    stats.note(format!("{}#{me}: keepalive: {e:#}", session.name));
                    signal(Signal::Failed);
                    break;
                }
            }
            Wake::Send => {
                let t = queue[next];
                let update = &plan.txns[t].update;
                let sent = nanos_since(run.base, Instant::now());
                // Stored before the send, so a receiver always finds it.
                session.sent_at[t].store(sent + 1, Ordering::Release);
                match conn.send_update(update).await {
                    Ok(Some(ticket)) => {
                        pending_acks.insert(ticket, sent);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        stats.disconnects += 1;
                        stats.note(format!("{}#{me}: send: {e:#}", session.name));
                        signal(Signal::Failed);
                        break;
                    }
                }
                stats.sent += 1;
                next += 1;
                // The sender's editor applied the edit locally; its replica must agree.
                match replica.import(update) {
                    Ok(coverage) => {
                        receipts.after_import(plan, &replica, &coverage, &session.sent_at);
                    }
                    Err(e) => {
                        stats.protocol_errors += 1;
                        stats.note(format!("{}#{me}: own update: {e:#}", session.name));
                    }
                }
            }
            Wake::Frame(Err(e)) => {
                stats.disconnects += 1;
                stats.note(format!("{}#{me}: {e:#}", session.name));
                signal(Signal::Failed);
                break;
            }
            Wake::Frame(Ok(events)) => {
                for event in events {
                    match event {
                        Event::Updates(updates) => {
                            for u in updates {
                                stats.updates_in += 1;
                                let coverage = match replica.import(&u) {
                                    Ok(c) => c,
                                    Err(e) => {
                                        stats.protocol_errors += 1;
                                        stats.note(format!("{}#{me}: import: {e:#}", session.name));
                                        continue;
                                    }
                                };
                                let now = nanos_since(run.base, Instant::now());
                                if !coverage.changed {
                                    stats.redundant_updates += 1;
                                }
                                let progress = receipts.after_import(
                                    plan,
                                    &replica,
                                    &coverage,
                                    &session.sent_at,
                                );
                                stats.duplicates += progress.duplicates;
                                stats.echoes += progress.echoes;
                                for t in progress.delivered {
                                    stats.deliveries += 1;
                                    let sent = session.sent_at[t].load(Ordering::Acquire);
                                    if sent == 0 {
                                        stats.protocol_errors += 1;
                                        stats.note(format!("txn {t} received before it was sent"));
                                    } else {
                                        let micros = now.saturating_sub(sent - 1) / 1000;
                                        let sender = plan.txns[t].sender;
                                        let locality = run.placement.locality(sender, me);
                                        stats.record_delivery(locality, micros);
                                    }
                                }
                            }
                        }
                        Event::Ack { ticket, refused } => match pending_acks.remove(&ticket) {
                            None => {
                                stats.protocol_errors += 1;
                                stats.note(format!(
                                    "{}#{me}: ack for unknown batch {ticket}",
                                    session.name
                                ));
                            }
                            Some(sent) => match refused {
                                None => {
                                    let now = nanos_since(run.base, Instant::now());
                                    Stats::record(
                                        &mut stats.ack_latency,
                                        now.saturating_sub(sent) / 1000,
                                    );
                                }
                                Some(reason) => {
                                    stats.refused_acks += 1;
                                    *stats.refused_by_reason.entry(reason).or_default() += 1;
                                }
                            },
                        },
                        Event::SyncRequest(sv) => {
                            if let Err(e) = conn.answer(&replica, &sv).await {
                                stats.disconnects += 1;
                                stats.note(format!("{}#{me}: {e:#}", session.name));
                                signal(Signal::Failed);
                                break;
                            }
                        }
                        Event::ProtocolError(message) => {
                            stats.protocol_errors += 1;
                            stats.note(format!("{}#{me}: {message}", session.name));
                        }
                        Event::Fatal(message) => {
                            stats.protocol_errors += 1;
                            stats.note(format!("{}#{me}: {message}", session.name));
                            signal(Signal::Failed);
                            // The socket is useless now; leave the loop below.
                            stats.disconnects += 1;
                        }
                    }
                }
                if stats.disconnects > 0 {
                    break;
                }
            }
        }
    }
    stats.unacked = pending_acks.len() as u64;
    let (lost, _unsent) = receipts.missing(plan, &session.sent_at);
    stats.lost = lost;
    conn.close().await;
    outcome(stats, &replica)
}
