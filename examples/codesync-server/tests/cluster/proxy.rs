//! A TCP proxy in front of the bus that a test can sever and restore, to cut one node off
//! the bus without stopping the shared bus server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards `127.0.0.1:PORT` to the bus while connected.
pub struct Proxy {
    /// The proxy's own address, as `host:port`.
    pub addr: String,
    up: Arc<AtomicBool>,
    /// Bumped on each sever: every forwarding task of an older generation stops.
    generation: watch::Sender<u64>,
}

impl Proxy {
    /// Starts forwarding to `target` (`host:port`).
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr").to_string();
        let up = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0_u64);
        let accepting = (up.clone(), generation.clone());
        tokio::spawn(async move {
            let (up, generation) = accepting;
            while let Ok((inbound, _)) = listener.accept().await {
                if !up.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cut = generation.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut a, mut b) = (inbound, outbound);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut a, &mut b) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            up,
            generation,
        }
    }

    /// Closes every forwarded connection and refuses new ones.
    pub fn sever(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
