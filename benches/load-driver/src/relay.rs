//! `codesync-load relay`: the fan-out baseline. Every binary frame a connection sends goes,
//! unchanged, to every other connection on the same URL path; nothing is parsed, merged,
//! stored or acknowledged. A text `"ping"` is answered `"pong"` (the Loro protocol's
//! keepalive), other text is dropped. Clients of the `relay` protocol skip the join.
//!
//! Each connection has a writer task fed by an unbounded queue, so one slow reader never
//! blocks the others (a real server would bound it; a baseline should not add policy).

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

use crate::cli::RelayArgs;

/// Per path, the connections on it.
pub(crate) type Rooms = Arc<Mutex<HashMap<String, HashMap<u64, mpsc::UnboundedSender<Message>>>>>;

/// Listens and relays until killed.
pub(crate) async fn relay(args: RelayArgs) -> Result<ExitCode> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    println!(
        "codesync-load relay listening on ws://{}",
        listener.local_addr()?
    );
    std::io::stdout().flush()?;
    accept_loop(listener).await?;
    Ok(ExitCode::SUCCESS)
}

/// Serves every connection `listener` accepts, until accepting fails.
pub(crate) async fn accept_loop(listener: TcpListener) -> Result<()> {
    let rooms: Rooms = Arc::default();
    let mut next_id = 0u64;
    loop {
        let (stream, _) = listener.accept().await?;
        next_id += 1;
        let (rooms, id) = (rooms.clone(), next_id);
        tokio::spawn(async move {
            if let Err(e) = serve(stream, rooms, id).await {
                eprintln!("relay: connection {id}: {e:#}");
            }
        });
    }
}

/// Relays one connection, `id` (unique among those sharing `rooms`), until it closes.
/// Listeners sharing `rooms` act as the nodes of one cluster.
// The handshake callback's error type is tungstenite's; it never errs here.
#[allow(clippy::result_large_err)]
pub(crate) async fn serve(stream: TcpStream, rooms: Rooms, id: u64) -> Result<()> {
    stream.set_nodelay(true)?;
    let mut path = String::new();
    let ws =
        tokio_tungstenite::accept_hdr_async(stream, |request: &Request, response: Response| {
            path = request.uri().path().to_owned();
            Ok(response)
        })
        .await?;
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    rooms
        .lock()
        .expect("rooms lock")
        .entry(path.clone())
        .or_default()
        .insert(id, tx.clone());
    // Writes whatever is queued, flushing once per batch rather than once per frame.
    let writer = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            sink.feed(first).await?;
            while let Ok(more) = rx.try_recv() {
                sink.feed(more).await?;
            }
            sink.flush().await?;
        }
        anyhow::Ok(())
    });
    let result = async {
        while let Some(message) = source.next().await {
            match message? {
                Message::Binary(bytes) => {
                    let rooms = rooms.lock().expect("rooms lock");
                    if let Some(peers) = rooms.get(&path) {
                        for (&peer, queue) in peers {
                            if peer != id {
                                let _ = queue.send(Message::Binary(bytes.clone()));
                            }
                        }
                    }
                }
                Message::Text(text) if text.as_str() == "ping" => {
                    let _ = tx.send(Message::Text("pong".into()));
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        anyhow::Ok(())
    }
    .await;
    {
        let mut rooms = rooms.lock().expect("rooms lock");
        if let Some(peers) = rooms.get_mut(&path) {
            peers.remove(&id);
            if peers.is_empty() {
                rooms.remove(&path);
            }
        }
    }
    drop(tx);
    let _ = writer.await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{ws, Frame};

    #[tokio::test]
    async fn forwards_binary_frames_to_the_other_connections_of_the_same_path() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(accept_loop(listener));
        let mut a = ws::connect(&format!("ws://{addr}/doc")).await.expect("a");
        let mut b = ws::connect(&format!("ws://{addr}/doc")).await.expect("b");
        let mut other = ws::connect(&format!("ws://{addr}/other"))
            .await
            .expect("other");
        // Let the server register all three before anything is sent.
        ws::send_text(&mut b, "ping").await.expect("ping");
        assert!(
            matches!(ws::next_frame(&mut b).await.expect("pong"), Frame::Text(t) if t == "pong")
        );
        ws::send_text(&mut other, "ping").await.expect("ping");
        assert!(matches!(
            ws::next_frame(&mut other).await.expect("pong"),
            Frame::Text(_)
        ));
        ws::send_binary(&mut a, vec![1, 2, 3]).await.expect("send");
        assert!(
            matches!(ws::next_frame(&mut b).await.expect("frame"), Frame::Binary(x) if x.as_ref() == [1, 2, 3])
        );
        ws::send_binary(&mut other, vec![9]).await.expect("send");
        ws::send_binary(&mut b, vec![4]).await.expect("send");
        // a gets b's frame, not other's (different path) and not its own.
        assert!(
            matches!(ws::next_frame(&mut a).await.expect("frame"), Frame::Binary(x) if x.as_ref() == [4])
        );
    }
}
