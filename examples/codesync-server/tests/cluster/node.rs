//! A `codesync-server` process on loopback, one node of a cluster.

use std::process::{Child, Command};

/// One running node; killed (SIGKILL) when dropped.
pub struct Node {
    child: Child,
    /// `ws://127.0.0.1:PORT`
    pub url: String,
}

/// What every node of one test shares.
#[derive(Clone)]
pub struct ClusterSetup {
    pub bus: String,
    pub store: String,
    pub schema: String,
}

impl Node {
    /// Starts a node on the bus `bus_url` (the setup's bus, or a proxy in front of it).
    pub fn start(setup: &ClusterSetup, bus_url: &str) -> Node {
        let log = std::env::temp_dir().join(format!(
            "codesync-cluster-node-{}-{}.log",
            std::process::id(),
            next_node_number()
        ));
        let stderr = std::fs::File::create(&log).expect("node log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_codesync-server"));
        command
            .args(["--listen", "127.0.0.1:0"])
            .args(["--store", &setup.store, "--store-schema", &setup.schema])
            .args(["--cluster", bus_url])
            // Small, so several nodes compact the same sessions at once during the tests.
            .args(["--compact-after-updates", "7"])
            .args(["--untrusted-input-guard", "off"])
            .args(["--messages-per-second", "10000", "--message-burst", "10000"])
            .args(["--rate-limit-per-minute", "100000"])
            .env(
                "RUST_LOG",
                "info,codesync_cluster=debug,loro=warn,loro_internal=warn",
            )
            .stderr(stderr);
        let (child, addr) = crate::support::start_server(command).unwrap_or_else(|line| {
            panic!(
                "no address in {line:?}; node log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        Node {
            child,
            url: format!("ws://{addr}"),
        }
    }

    /// SIGKILL: no flush, no goodbye.
    pub fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

fn next_node_number() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
