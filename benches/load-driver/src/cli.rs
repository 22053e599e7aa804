//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::crdt::Crdt;

/// codesync-load: replays real editing traces against collaboration servers (codesync, a
/// plain relay, y-websocket, Hocuspocus, loro-websocket) and reports latency, throughput
/// and server memory. Traces: josephg/editing-traces (CC BY 4.0: Joseph Gentle and the
/// trace authors).
#[derive(Debug, Parser)]
#[command(name = "codesync-load", version)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Open S sessions × C clients against a server and replay a trace through them.
    Run(RunArgs),
    /// A plain WebSocket relay doing no CRDT work: every binary frame goes to every other
    /// connection on the same URL path (the fan-out baseline).
    Relay(RelayArgs),
    /// The raw import rate of the same precomputed updates into one document (Loro and
    /// Yjs): the merge-limit baseline.
    MergeLimit(MergeLimitArgs),
}

/// Which trace, from where, how much of it.
#[derive(Debug, Clone, Args)]
pub(crate) struct TraceArgs {
    /// Trace name: a file `NAME.json.gz` in `sequential/` (automerge-paper, rustcode,
    /// sveltecomponent, seph-blog1, friendsforever_flat) or `concurrent/` (friendsforever,
    /// clownschool).
    #[arg(long)]
    pub(crate) trace: String,
    /// Directory holding `sequential/` and `concurrent/`.
    #[arg(long, env = "CODESYNC_TRACES_DIR")]
    pub(crate) traces_dir: PathBuf,
    /// Replay only the first N transactions (a causally closed prefix; the expected text is
    /// then computed by replaying it).
    #[arg(long)]
    pub(crate) limit: Option<usize>,
}

/// The wire protocol the clients speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Protocol {
    /// Loro protocol v1 (codesync, loro-websocket): join, DocUpdate, Ack.
    Loro,
    /// Loro protocol v1 frames through `codesync-load relay` (no join, no acks).
    Relay,
    /// y-websocket (`@y/websocket-server`): y-protocols sync messages.
    Yjs,
    /// Hocuspocus (`@hocuspocus/server` v2+): document-name-prefixed y-protocols, Auth first.
    Hocuspocus,
}

impl Protocol {
    /// The CRDT its updates are in.
    pub(crate) fn crdt(self) -> Crdt {
        match self {
            Protocol::Loro | Protocol::Relay => Crdt::Loro,
            Protocol::Yjs | Protocol::Hocuspocus => Crdt::Yjs,
        }
    }
}

/// Who writes in a sequential trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Mode {
    /// Client 0 sends every transaction; the others read.
    SingleWriter,
    /// Transaction i is sent by client i % C, only once it has received transaction i-1.
    Handoff,
}

/// How fast writers send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Pace {
    /// As fast as the connection takes them.
    Open,
    /// One transaction per keystroke slot: at most `--rate` per second per writer, on a
    /// fixed schedule from the start.
    Keystroke,
}

/// Flags of `run`.
#[derive(Debug, Clone, Args)]
pub(crate) struct RunArgs {
    /// Server URL; each session connects to `{url}/{session}`. Repeat it for the nodes of
    /// a cluster: with n URLs, client i of every session connects to the (i mod n)-th, and
    /// each delivery is counted as same-node or cross-node by the URLs' positions.
    #[arg(long, required = true)]
    pub(crate) url: Vec<String>,
    /// Wire protocol.
    #[arg(long, value_enum, default_value_t = Protocol::Loro)]
    pub(crate) protocol: Protocol,
    #[command(flatten)]
    pub(crate) trace: TraceArgs,
    /// Sessions (documents), each with its own clients.
    #[arg(long, default_value_t = 1)]
    pub(crate) sessions: usize,
    /// Clients per session.
    #[arg(long, default_value_t = 2)]
    pub(crate) clients: usize,
    /// Sequential traces: single writer, or hand-off between clients. Concurrent traces
    /// always replay by agent (agent a's transactions are sent by client a % C, each once
    /// that client has all its parents).
    #[arg(long, value_enum, default_value_t = Mode::SingleWriter)]
    pub(crate) mode: Mode,
    /// Send pacing.
    #[arg(long, value_enum, default_value_t = Pace::Open)]
    pub(crate) pace: Pace,
    /// Keystrokes (transactions) per second per writer with `--pace keystroke`.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) rate: f64,
    /// Sample this process's memory (VmRSS) and CPU time, its child processes' included,
    /// every 100 ms.
    #[arg(long)]
    pub(crate) server_pid: Option<u32>,
    /// Write the result as JSON here.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// A name for this run, copied into the result.
    #[arg(long)]
    pub(crate) label: Option<String>,
    /// Session ids are `PREFIX-N` (N = 0, 1, ...); random by default, so reruns never meet stored
    /// sessions.
    #[arg(long)]
    pub(crate) session_prefix: Option<String>,
    /// Give up after this many seconds (connecting included).
    #[arg(long, default_value_t = 600)]
    pub(crate) timeout_secs: u64,
    /// Join credential: the Loro JoinRequest's auth bytes, or the Hocuspocus token.
    #[arg(long, default_value = "")]
    pub(crate) token: String,
}

/// Flags of `relay`.
#[derive(Debug, Clone, Args)]
pub(crate) struct RelayArgs {
    /// Address to listen on (port 0: any free port; the banner says which).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub(crate) listen: SocketAddr,
}

/// Flags of `merge-limit`.
#[derive(Debug, Clone, Args)]
pub(crate) struct MergeLimitArgs {
    #[command(flatten)]
    pub(crate) trace: TraceArgs,
    /// Sequential traces: the updates of this mode (peer ids differ by mode).
    #[arg(long, value_enum, default_value_t = Mode::SingleWriter)]
    pub(crate) mode: Mode,
    /// Clients the plan is built for (matters for handoff and concurrent traces).
    #[arg(long, default_value_t = 2)]
    pub(crate) clients: usize,
    /// Measure this many times and report the median.
    #[arg(long, default_value_t = 3)]
    pub(crate) repeat: usize,
    /// Write the result as JSON here.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
}
