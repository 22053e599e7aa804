//! The WebSocket under every protocol, set up the same way for all of them so that latency
//! compares like with like: TCP_NODELAY on (a load driver's small frames must not wait for
//! Nagle's algorithm and the peer's delayed ACK), one frame per send, flushed at once.

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// One client WebSocket.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A data frame from the server.
#[derive(Debug)]
pub(crate) enum Frame {
    /// A binary frame.
    Binary(Bytes),
    /// A text frame.
    Text(String),
}

/// Opens `url` with TCP_NODELAY.
pub(crate) async fn connect(url: &str) -> Result<Ws> {
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    Ok(ws)
}

/// The next data frame. Only awaits the stream, so it is cancel-safe (the client loop
/// races it against its send timer). Pings are answered by tungstenite itself.
pub(crate) async fn next_frame(ws: &mut Ws) -> Result<Frame> {
    loop {
        let frame = ws
            .next()
            .await
            .ok_or_else(|| anyhow!("connection closed"))?
            .context("reading from the server")?;
        match frame {
            WsMessage::Binary(bytes) => return Ok(Frame::Binary(bytes)),
            WsMessage::Text(text) => return Ok(Frame::Text(text.to_string())),
            WsMessage::Close(close) => match close {
                Some(c) => bail!("closed by the server: {} {}", c.code, c.reason),
                None => bail!("closed by the server"),
            },
            _ => {}
        }
    }
}

/// Sends one binary frame.
pub(crate) async fn send_binary(ws: &mut Ws, bytes: Vec<u8>) -> Result<()> {
    ws.send(WsMessage::Binary(bytes.into()))
        .await
        .context("sending to the server")
}

/// Sends one text frame.
pub(crate) async fn send_text(ws: &mut Ws, text: &str) -> Result<()> {
    ws.send(WsMessage::Text(text.into()))
        .await
        .context("sending to the server")
}
