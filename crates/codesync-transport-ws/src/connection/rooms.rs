//! The rooms one connection has joined: joining, updates, leaving, and forwarding what
//! other clients do.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use codesync_core::loro::VersionVector;
use codesync_core::{Access, ClientId, Connection, DocKey, Error, Hub, SessionEvent, SessionId};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::outbound::Outbound;
use super::status;
use crate::config::ConnectionConfig;
use crate::protocol::{
    AckStatus, BatchId, Body, JoinErrorCode, Magic, Message, Permission, RoomErrorCode,
};

/// One joined room: the client's hold on the session, and the task forwarding others' changes.
struct Room {
    connection: Connection,
    forwarder: JoinHandle<()>,
}

impl Drop for Room {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}

/// Forwarders report a room they had to give up on (the client fell behind) here, so the
/// connection drops it rather than keep applying updates for a room the client left.
pub(super) type ClosedRooms = mpsc::UnboundedSender<(Magic, String)>;

pub(super) struct Rooms {
    hub: Hub,
    config: Arc<ConnectionConfig>,
    outbound: Outbound,
    closed: ClosedRooms,
    joined: HashMap<(Magic, String), Room>,
    ever_joined: bool,
    /// Updates refused as invalid or unsafe so far.
    refused_updates: u32,
}

impl Rooms {
    pub(super) fn new(
        hub: Hub,
        config: Arc<ConnectionConfig>,
        outbound: Outbound,
        closed: ClosedRooms,
    ) -> Self {
        Self {
            hub,
            config,
            outbound,
            closed,
            joined: HashMap::new(),
            ever_joined: false,
            refused_updates: 0,
        }
    }

    /// Whether this client may send updates to the room (joined, with write access).
    pub(super) fn can_write(&self, magic: Magic, room: &str) -> bool {
        self.joined
            .get(&(magic, room.to_owned()))
            .is_some_and(|r| r.connection.access().can_write())
    }

    /// Drops the room and tells the client to rejoin (which resends what it lacks).
    pub(super) async fn ask_to_rejoin(&mut self, magic: Magic, room: String, why: &str) {
        if self.joined.remove(&(magic, room.clone())).is_none() {
            return;
        }
        self.outbound
            .send(Message {
                magic,
                room,
                body: Body::RoomError {
                    code: RoomErrorCode::RejoinSuggested,
                    message: format!("{why}; rejoin to resync"),
                },
            })
            .await;
    }

    /// Answers a join over the connection's message budget (never left unanswered: the
    /// official client waits for an answer without a timeout).
    pub(super) async fn refuse_join_rate_limited(&self, magic: Magic, room: String) {
        let message = "too many messages; slow down and retry".to_owned();
        self.app_join_error(magic, room, message, "rate_limited")
            .await;
    }

    /// A JoinError with an application code the client can act on.
    async fn app_join_error(&self, magic: Magic, room: String, message: String, app_code: &str) {
        self.outbound
            .send(Message {
                magic,
                room,
                body: Body::JoinError {
                    code: JoinErrorCode::AppError,
                    message,
                    receiver_version: None,
                    app_code: Some(app_code.to_owned()),
                },
            })
            .await;
    }

    pub(super) fn ever_joined(&self) -> bool {
        self.ever_joined
    }

    async fn join_error(&self, magic: Magic, room: String, code: JoinErrorCode, message: String) {
        self.outbound
            .send(Message {
                magic,
                room,
                body: Body::JoinError {
                    code,
                    message,
                    receiver_version: None,
                    app_code: None,
                },
            })
            .await;
    }

    pub(super) async fn join(&mut self, magic: Magic, room: String, auth: &[u8], version: &[u8]) {
        // A rejoin replaces the old membership (after a RoomError, or a client's retry).
        self.joined.remove(&(magic, room.clone()));
        if !matches!(magic, Magic::Loro | Magic::Ephemeral) {
            let message = "this server syncs Loro documents (%LOR) and presence (%EPH) only";
            self.join_error(magic, room, JoinErrorCode::Unknown, message.to_owned())
                .await;
            return;
        }
        if self.joined.len() >= self.config.max_rooms {
            let message = format!("at most {} rooms per connection", self.config.max_rooms);
            self.app_join_error(magic, room, message, "too_many_rooms")
                .await;
            return;
        }
        let session = match SessionId::new(&room) {
            Ok(session) => session,
            Err(e) => {
                self.join_error(magic, room, JoinErrorCode::Unknown, e.to_string())
                    .await;
                return;
            }
        };
        let key = DocKey::new(self.config.tenant.clone(), session);
        let connection = match self.hub.join(&key, auth).await {
            Ok(connection) => connection,
            Err(Error::PermissionDenied { reason, .. }) => {
                self.join_error(magic, room, JoinErrorCode::AuthFailed, reason.to_owned())
                    .await;
                return;
            }
            Err(e @ Error::TooManyConnectedSessions { .. }) => {
                self.app_join_error(magic, room, e.to_string(), "server_full")
                    .await;
                return;
            }
            Err(e) => {
                tracing::warn!(%key, error = %e, "join failed");
                self.join_error(magic, room, JoinErrorCode::Unknown, e.to_string())
                    .await;
                return;
            }
        };
        // Subscribe before reading the version: a change racing the join then arrives
        // twice at worst (harmless), never not at all.
        let events = connection.session().subscribe();
        let permission = match connection.access() {
            Access::ReadWrite => Permission::Write,
            Access::Read => Permission::Read,
        };
        let answered = match magic {
            Magic::Loro => {
                self.answer_doc_join(&connection, &room, permission, version)
                    .await
            }
            _ => {
                self.answer_presence_join(&connection, &room, permission)
                    .await
            }
        };
        if !answered {
            return;
        }
        let forwarder = tokio::spawn(forward(
            events,
            magic,
            room.clone(),
            connection.id(),
            self.outbound.clone(),
            self.closed.clone(),
        ));
        self.ever_joined = true;
        self.joined.insert(
            (magic, room),
            Room {
                connection,
                forwarder,
            },
        );
    }

    /// JoinResponseOk with the server's real version, then exactly what the client lacks.
    async fn answer_doc_join(
        &self,
        connection: &Connection,
        room: &str,
        permission: Permission,
        client_version: &[u8],
    ) -> bool {
        let session = connection.session();
        let server_version = match session.version().await {
            Ok(v) => v,
            Err(e) => {
                self.join_error(
                    Magic::Loro,
                    room.to_owned(),
                    JoinErrorCode::Unknown,
                    e.to_string(),
                )
                .await;
                return false;
            }
        };
        let client_vv = if client_version.is_empty() {
            Ok(VersionVector::default())
        } else {
            VersionVector::decode(client_version)
        };
        let Ok(client_vv) = client_vv else {
            self.outbound
                .send(Message {
                    magic: Magic::Loro,
                    room: room.to_owned(),
                    body: Body::JoinError {
                        code: JoinErrorCode::VersionUnknown,
                        message: "the version vector does not decode".to_owned(),
                        receiver_version: Some(Bytes::from(server_version.encode())),
                        app_code: None,
                    },
                })
                .await;
            return false;
        };
        // The backfill is computed before answering: once the client holds a
        // JoinResponseOk it waits for the server's version to arrive.
        let backfill = if client_vv.includes_vv(&server_version) {
            None
        } else {
            match session.missing_for(&client_vv).await {
                Ok(missing) => Some(missing),
                Err(e) => {
                    self.join_error(
                        Magic::Loro,
                        room.to_owned(),
                        JoinErrorCode::Unknown,
                        e.to_string(),
                    )
                    .await;
                    return false;
                }
            }
        };
        self.outbound
            .send(Message {
                magic: Magic::Loro,
                room: room.to_owned(),
                body: Body::JoinResponseOk {
                    permission,
                    version: Bytes::from(server_version.encode()),
                    extra: Bytes::new(),
                },
            })
            .await;
        if let Some(missing) = backfill {
            self.outbound.send_update(Magic::Loro, room, missing).await;
        }
        true
    }

    /// JoinResponseOk, then everyone's current presence.
    async fn answer_presence_join(
        &self,
        connection: &Connection,
        room: &str,
        permission: Permission,
    ) -> bool {
        self.outbound
            .send(Message {
                magic: Magic::Ephemeral,
                room: room.to_owned(),
                body: Body::JoinResponseOk {
                    permission,
                    version: Bytes::new(),
                    extra: Bytes::new(),
                },
            })
            .await;
        let presence = connection.session().presence();
        // An encoded empty store is a single zero byte (an empty list).
        if presence.len() > 1 {
            self.outbound
                .send_update(Magic::Ephemeral, room, presence)
                .await;
        }
        true
    }

    /// Applies a client's batch and acknowledges it.
    pub(super) async fn update(
        &mut self,
        magic: Magic,
        room: String,
        updates: Vec<Bytes>,
        batch_id: BatchId,
    ) {
        let joined = self.joined.get(&(magic, room.clone()));
        let Some(joined) = joined.filter(|j| j.connection.access().can_write()) else {
            // Not joined, or read-only (documents and presence alike): never applied,
            // broadcast or stored.
            self.outbound
                .ack(magic, room, batch_id, AckStatus::PermissionDenied)
                .await;
            return;
        };
        let mut status = AckStatus::Ok;
        let mut rejoin = false;
        for update in &updates {
            let result = match magic {
                Magic::Loro => joined.connection.apply(update).await.map(|a| a.durable),
                _ => joined.connection.apply_presence(update).map(|()| true),
            };
            match result {
                Ok(true) => {}
                // Merged and broadcast, but not yet on disk: not acknowledged as accepted.
                Ok(false) => status = AckStatus::Unknown,
                Err(e) => {
                    tracing::debug!(%room, error = %e, "update refused");
                    if status::is_bad_input(&e) {
                        self.refused_updates += 1;
                    }
                    status = status::ack_status(&e);
                    rejoin = status::needs_rejoin(&e);
                    break;
                }
            }
        }
        self.outbound
            .ack(magic, room.clone(), batch_id, status)
            .await;
        if rejoin {
            self.joined.remove(&(magic, room.clone()));
            self.outbound
                .send(Message {
                    magic,
                    room,
                    body: Body::RoomError {
                        code: RoomErrorCode::RejoinSuggested,
                        message: "state diverged; rejoin to resync".to_owned(),
                    },
                })
                .await;
        }
    }

    /// Whether this connection sent too many invalid or unsafe updates to keep it.
    pub(super) fn refused_too_often(&self) -> bool {
        self.refused_updates >= self.config.max_refused_updates
    }

    pub(super) fn leave(&mut self, magic: Magic, room: &str) {
        self.joined.remove(&(magic, room.to_owned()));
    }
}

/// Forwards other clients' changes of one room to this client, never its own.
async fn forward(
    mut events: tokio::sync::broadcast::Receiver<SessionEvent>,
    magic: Magic,
    room: String,
    me: ClientId,
    outbound: Outbound,
    closed: ClosedRooms,
) {
    loop {
        let sent = match events.recv().await {
            Ok(SessionEvent::Update(change)) if magic == Magic::Loro => {
                change.origin.is_client(me)
                    || outbound.try_send_update(magic, &room, change.update.clone())
            }
            Ok(SessionEvent::Presence { origin, bytes }) if magic == Magic::Ephemeral => {
                origin.is_client(me) || outbound.try_send_update(magic, &room, bytes)
            }
            Ok(_) => true,
            Err(RecvError::Lagged(missed)) => {
                // Skipping events would leave the client silently diverged: make it rejoin,
                // which resends exactly what it lacks.
                tracing::debug!(%room, missed, "client fell behind; asking it to rejoin");
                let message = Message {
                    magic,
                    room: room.clone(),
                    body: Body::RoomError {
                        code: RoomErrorCode::RejoinSuggested,
                        message: "fell behind; rejoin to resync".to_owned(),
                    },
                };
                outbound.try_send_message(&message);
                let _ = closed.send((magic, room));
                return;
            }
            Err(RecvError::Closed) => return,
        };
        if !sent {
            return;
        }
    }
}
