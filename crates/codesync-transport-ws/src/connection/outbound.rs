//! Everything the server sends to one client goes through one bounded queue.
//!
//! Replies to the client's own messages wait for room in the queue (back-pressure on a
//! client that sends faster than it reads), but only so long. Broadcasts from other
//! clients never wait: if the queue is full, this client has stopped reading, and it is
//! disconnected rather than silently skipped (it reconnects and resyncs).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

use super::Frame;
use crate::protocol::{self, AckStatus, BatchId, Body, Magic, Message};

/// How long a reply may wait for room in the queue before the client is dropped.
const REPLY_WAIT: Duration = Duration::from_secs(10);

/// Bytes waiting in one client's queue, shared by the producers and the writer.
#[derive(Debug, Default)]
pub(super) struct QueuedBytes(AtomicUsize);

impl QueuedBytes {
    /// Called by the writer once a frame has left.
    pub(super) fn sent(&self, frame: &Frame) {
        self.0.fetch_sub(frame_len(frame), Ordering::Relaxed);
    }
}

fn frame_len(frame: &Frame) -> usize {
    match frame {
        Frame::Binary(bytes) => bytes.len(),
        Frame::Text(text) => text.len(),
        Frame::Close => 0,
    }
}

#[derive(Debug, Clone)]
pub(super) struct Outbound {
    queue: mpsc::Sender<Frame>,
    queued: Arc<QueuedBytes>,
    max_queued_bytes: usize,
    stop: Arc<Notify>,
    limits: Arc<protocol::Limits>,
    next_batch: Arc<AtomicU64>,
}

impl Outbound {
    pub(super) fn new(
        queue: mpsc::Sender<Frame>,
        queued: Arc<QueuedBytes>,
        max_queued_bytes: usize,
        stop: Arc<Notify>,
        limits: protocol::Limits,
    ) -> Self {
        Self {
            queue,
            queued,
            max_queued_bytes,
            stop,
            limits: Arc::new(limits),
            next_batch: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Counts `frame` as queued; false (and the connection told to stop) if that would
    /// exceed the byte budget. A single frame larger than the budget still passes when
    /// nothing else is queued.
    fn reserve(&self, frame: &Frame) -> bool {
        let len = frame_len(frame);
        let before = self.queued.0.fetch_add(len, Ordering::Relaxed);
        if before > 0 && before + len > self.max_queued_bytes {
            self.queued.0.fetch_sub(len, Ordering::Relaxed);
            tracing::debug!("client's queue is over its byte budget; disconnecting");
            self.stop.notify_one();
            return false;
        }
        true
    }

    pub(super) fn limits(&self) -> &protocol::Limits {
        &self.limits
    }

    /// A batch id for a server-originated update, unique on this connection.
    pub(super) fn new_batch_id(&self) -> BatchId {
        BatchId(
            self.next_batch
                .fetch_add(1, Ordering::Relaxed)
                .to_be_bytes(),
        )
    }

    /// Queues a reply, waiting (bounded) for room.
    pub(super) async fn send_frame(&self, frame: Frame) {
        if !self.reserve(&frame) {
            return;
        }
        let counted = frame_len(&frame);
        match tokio::time::timeout(REPLY_WAIT, self.queue.send(frame)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                self.queued.0.fetch_sub(counted, Ordering::Relaxed);
            }
            Err(_) => {
                self.queued.0.fetch_sub(counted, Ordering::Relaxed);
                tracing::debug!("client not reading replies; disconnecting");
                self.stop.notify_one();
            }
        }
    }

    /// Queues a reply message.
    pub(super) async fn send(&self, message: Message) {
        self.send_frame(Frame::Binary(Bytes::from(protocol::encode(&message))))
            .await;
    }

    /// Acknowledges a client batch.
    pub(super) async fn ack(&self, magic: Magic, room: String, batch: BatchId, status: AckStatus) {
        metrics::counter!("codesync_acks_total", "status" => status_label(status)).increment(1);
        self.send(Message {
            magic,
            room,
            body: Body::Ack {
                ref_id: batch,
                status,
            },
        })
        .await;
    }

    /// The frames that carry `payload` as one update: a DocUpdate, or fragments when that
    /// would exceed the frame limit.
    fn update_frames(&self, magic: Magic, room: &str, payload: Bytes) -> Vec<Frame> {
        let batch_id = self.new_batch_id();
        let single = Message {
            magic,
            room: room.to_owned(),
            body: Body::DocUpdate {
                updates: vec![payload.clone()],
                batch_id,
            },
        };
        let encoded = protocol::encode(&single);
        if encoded.len() <= self.limits.max_frame_bytes {
            return vec![Frame::Binary(Bytes::from(encoded))];
        }
        protocol::fragment(magic, room, batch_id, &payload, self.limits.max_frame_bytes)
            .iter()
            .map(|m| Frame::Binary(Bytes::from(protocol::encode(m))))
            .collect()
    }

    /// Queues an update as a reply (waiting for room).
    pub(super) async fn send_update(&self, magic: Magic, room: &str, payload: Bytes) {
        for frame in self.update_frames(magic, room, payload) {
            self.send_frame(frame).await;
        }
    }

    /// Queues a broadcast without waiting. Returns false if the client is not keeping up
    /// (the connection is then told to stop).
    pub(super) fn try_send(&self, frames: Vec<Frame>) -> bool {
        if self.queue.capacity() < frames.len() {
            tracing::debug!("client not reading broadcasts; disconnecting");
            self.stop.notify_one();
            return false;
        }
        for frame in frames {
            if !self.reserve(&frame) {
                return false;
            }
            let counted = frame_len(&frame);
            if self.queue.try_send(frame).is_err() {
                self.queued.0.fetch_sub(counted, Ordering::Relaxed);
                self.stop.notify_one();
                return false;
            }
        }
        true
    }

    /// Queues an update as a broadcast; see [`try_send`](Self::try_send).
    pub(super) fn try_send_update(&self, magic: Magic, room: &str, payload: Bytes) -> bool {
        let frames = self.update_frames(magic, room, payload);
        self.try_send(frames)
    }

    /// Queues any message as a broadcast; see [`try_send`](Self::try_send).
    pub(super) fn try_send_message(&self, message: &Message) -> bool {
        self.try_send(vec![Frame::Binary(Bytes::from(protocol::encode(message)))])
    }
}

/// A bounded label per Ack status.
fn status_label(status: AckStatus) -> &'static str {
    match status {
        AckStatus::Ok => "ok",
        AckStatus::Unknown => "unknown",
        AckStatus::PermissionDenied => "permission_denied",
        AckStatus::InvalidUpdate => "invalid_update",
        AckStatus::PayloadTooLarge => "payload_too_large",
        AckStatus::RateLimited => "rate_limited",
        AckStatus::FragmentTimeout => "fragment_timeout",
        AckStatus::AppError => "app_error",
        _ => "other",
    }
}
