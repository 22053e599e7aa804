//! The connection loop: one client's socket, generic over `Sink + Stream` of [`Frame`]s, so
//! it runs unchanged over tungstenite, axum, or in-memory channels in tests.

mod outbound;
mod rooms;
mod status;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use codesync_core::Hub;
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{mpsc, Notify};

use crate::config::ConnectionConfig;
use crate::protocol::{self, AckStatus, Body, Magic, Message, Reassembled, Reassembler};
use crate::security::MessageBudget;

use outbound::{Outbound, QueuedBytes};
use rooms::Rooms;

/// The current time on tokio's clock (pausable in tests), as the std `Instant` the
/// budget and reassembler take.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// How long the writer may take to flush what is queued once the connection ends.
const WRITER_DRAIN: Duration = Duration::from_secs(2);

/// A WebSocket frame as the connection loop sees it, whatever the WebSocket library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A binary frame: one protocol message.
    Binary(Bytes),
    /// A text frame: only the keepalives `"ping"` and `"pong"` are meaningful.
    Text(String),
    /// The socket is closing.
    Close,
}

/// Serves one client until it disconnects, breaks the rules badly enough, or stops reading.
///
/// `socket` yields the client's frames and accepts the server's. The loop never panics on
/// anything the client sends; every refusal is a protocol answer (JoinError, Ack status,
/// RoomError) for the room concerned, and the socket stays open unless the client stops
/// reading, never joins, or closes it.
pub async fn serve_connection<S, E>(socket: S, hub: Hub, config: Arc<ConnectionConfig>)
where
    S: Stream<Item = Result<Frame, E>> + Sink<Frame, Error = E> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    metrics::gauge!("codesync_connections").increment(1.0);
    let (sink, mut stream) = socket.split();
    let (queue, outgoing) = mpsc::channel(config.outbound_queue.max(1));
    let stop = Arc::new(Notify::new());
    let queued = Arc::new(QueuedBytes::default());
    let writer = tokio::spawn(write_frames(sink, outgoing, queued.clone(), stop.clone()));
    let outbound = Outbound::new(
        queue,
        queued,
        config.outbound_bytes,
        stop.clone(),
        config.protocol.clone(),
    );
    let (closed_rooms, mut room_closed) = mpsc::unbounded_channel();
    let mut state = ConnectionState {
        rooms: Rooms::new(hub, config.clone(), outbound.clone(), closed_rooms),
        outbound,
        reassembler: Reassembler::new(config.protocol.clone()),
        budget: MessageBudget::new(config.messages_per_second, config.message_burst),
    };
    let join_deadline = tokio::time::sleep(config.join_deadline);
    tokio::pin!(join_deadline);
    let idle = tokio::time::sleep(config.idle_timeout);
    tokio::pin!(idle);
    let max_age = config.max_connection_age;
    let aged = async move {
        match max_age {
            Some(age) => tokio::time::sleep(age).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(aged);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Frame::Close)) | None => break,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "socket error; closing");
                    break;
                }
                Some(Ok(frame)) => {
                    idle.as_mut().reset(tokio::time::Instant::now() + config.idle_timeout);
                    state.handle(frame).await;
                    if state.rooms.refused_too_often() {
                        tracing::warn!(limit = config.max_refused_updates, "closing a connection that keeps sending invalid or unsafe updates");
                        metrics::counter!("codesync_connections_closed_for_bad_input_total").increment(1);
                        break;
                    }
                }
            },
            () = &mut join_deadline, if !state.rooms.ever_joined() => {
                tracing::debug!("no join before the deadline; closing");
                break;
            }
            () = &mut idle => {
                tracing::debug!("connection idle; closing");
                break;
            }
            () = &mut aged => {
                tracing::debug!("connection reached its maximum age; closing");
                break;
            }
            Some((magic, room)) = room_closed.recv() => state.rooms.leave(magic, &room),
            _ = ticker.tick() => state.expire_fragments().await,
            () = stop.notified() => break,
        }
    }
    // Leaving every room drops its pins and presence; then the writer drains and closes,
    // unless the client is not reading at all, in which case it is cut off.
    drop(state);
    metrics::gauge!("codesync_connections").decrement(1.0);
    let mut writer = writer;
    if tokio::time::timeout(WRITER_DRAIN, &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

async fn write_frames<K, E>(
    mut sink: K,
    mut outgoing: mpsc::Receiver<Frame>,
    queued: Arc<QueuedBytes>,
    stop: Arc<Notify>,
) where
    K: Sink<Frame, Error = E> + Unpin,
    E: std::fmt::Display,
{
    while let Some(frame) = outgoing.recv().await {
        queued.sent(&frame);
        let closing = frame == Frame::Close;
        if let Err(e) = sink.send(frame).await {
            tracing::debug!(error = %e, "write failed; closing");
            stop.notify_one();
            return;
        }
        if closing {
            break;
        }
    }
    let _ = sink.close().await;
}

struct ConnectionState {
    rooms: Rooms,
    outbound: Outbound,
    reassembler: Reassembler,
    budget: MessageBudget,
}

impl ConnectionState {
    async fn handle(&mut self, frame: Frame) {
        match frame {
            Frame::Text(text) => {
                // Keepalives count against the budget too; over it, they go unanswered.
                if text == "ping" && self.budget.try_take(now()) {
                    self.outbound
                        .send_frame(Frame::Text("pong".to_owned()))
                        .await;
                }
            }
            Frame::Close => {}
            Frame::Binary(bytes) => self.handle_binary(&bytes).await,
        }
    }

    async fn handle_binary(&mut self, bytes: &[u8]) {
        let message = match protocol::decode(bytes, self.outbound.limits()) {
            Ok(message) => message,
            Err(e) => return self.refuse_undecodable(bytes, &e).await,
        };
        let Message { magic, room, body } = message;
        // Fragments are charged through their header (whose count is bounded), and a
        // Leave is always honoured.
        let exempt = matches!(body, Body::Fragment { .. } | Body::Leave);
        if !exempt && !self.budget.try_take(now()) {
            return self.refuse_over_budget(magic, room, &body).await;
        }
        match body {
            Body::JoinRequest { auth, version } => {
                self.rooms.join(magic, room, &auth, &version).await;
            }
            Body::DocUpdate { updates, batch_id } => {
                self.rooms.update(magic, room, updates, batch_id).await;
            }
            Body::FragmentHeader { batch_id, .. } if !self.rooms.can_write(magic, &room) => {
                // Refused at the header: nothing is buffered for a room it cannot write.
                self.reassembler.refuse(batch_id);
                self.outbound
                    .ack(magic, room, batch_id, AckStatus::PermissionDenied)
                    .await;
            }
            Body::FragmentHeader { .. } | Body::Fragment { .. } => {
                let message = Message { magic, room, body };
                self.reassemble(message).await;
            }
            Body::Leave => {
                self.reassembler.forget_room(magic, &room);
                self.rooms.leave(magic, &room);
            }
            Body::Ack { ref_id, status } if status != AckStatus::Ok => {
                // The client could not apply something the server sent: without a resync
                // it would stay diverged.
                tracing::debug!(?ref_id, ?status, %room, "client failed to apply an update; asking it to rejoin");
                self.rooms
                    .ask_to_rejoin(magic, room, "an update failed to apply")
                    .await;
            }
            // Server-bound messages only; anything else from a client is ignored.
            _ => {}
        }
    }

    /// A frame that does not decode still gets an answer when its sender awaits one.
    async fn refuse_undecodable(&mut self, bytes: &[u8], error: &crate::Error) {
        tracing::debug!(%error, "undecodable frame");
        if !self.budget.try_take(now()) {
            return;
        }
        if let Some((magic, room, batch_id)) = protocol::peek_batch(bytes, self.outbound.limits()) {
            let status = match error {
                crate::Error::TooLarge { .. } => AckStatus::PayloadTooLarge,
                _ if bytes.len() > self.outbound.limits().max_frame_bytes => {
                    AckStatus::PayloadTooLarge
                }
                _ => AckStatus::InvalidUpdate,
            };
            self.reassembler.refuse(batch_id);
            self.outbound.ack(magic, room, batch_id, status).await;
        }
    }

    async fn refuse_over_budget(&mut self, magic: Magic, room: String, body: &Body) {
        match body {
            Body::DocUpdate { batch_id, .. } => {
                self.outbound
                    .ack(magic, room, *batch_id, AckStatus::RateLimited)
                    .await;
            }
            Body::FragmentHeader { batch_id, .. } => {
                // One answer per batch: its fragments are then dropped silently.
                self.reassembler.refuse(*batch_id);
                self.outbound
                    .ack(magic, room, *batch_id, AckStatus::RateLimited)
                    .await;
            }
            Body::JoinRequest { .. } => self.rooms.refuse_join_rate_limited(magic, room).await,
            _ => {}
        }
    }
    async fn reassemble(&mut self, message: Message) {
        match self.reassembler.accept(message, now()) {
            Ok(None) => {}
            Ok(Some(Reassembled {
                magic,
                room,
                batch_id,
                payload,
            })) => {
                self.rooms
                    .update(magic, room, vec![payload], batch_id)
                    .await;
            }
            Err(refusal) => {
                if let Some((magic, room, batch_id, status)) = refusal.ack() {
                    self.outbound.ack(magic, room, batch_id, status).await;
                }
            }
        }
    }

    async fn expire_fragments(&mut self) {
        for (magic, room, batch_id) in self.reassembler.expire(now()) {
            self.outbound
                .ack(magic, room, batch_id, AckStatus::FragmentTimeout)
                .await;
        }
    }
}
