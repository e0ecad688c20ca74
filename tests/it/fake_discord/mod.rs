//! A fake Discord on loopback that speaks the protocol the bot uses: REST over HTTP/1.1
//! (hyper) and the gateway over WebSocket (tokio-tungstenite), with payloads shaped as
//! Discord's API documentation (discord/discord-api-docs) describes them. It records every
//! request the bot makes so tests can assert on what reached Discord, and lets a test push
//! interactions to a shard, close a shard's connection, refuse the token, close a member's DMs,
//! and answer the next call to a route with a 429.
#![allow(dead_code)]

use std::{
    collections::{HashMap, HashSet},
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode, body::Bytes, service::service_fn};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::mpsc};
use tokio_tungstenite::tungstenite::{
    Message,
    protocol::{CloseFrame, frame::coding::CloseCode},
};

pub const APP_ID: u64 = 1_100_000_000_000_000_001;
pub const BOT_ID: u64 = APP_ID;
pub const GUILD_ID: u64 = 1_200_000_000_000_000_002;
pub const CHANNEL_ID: u64 = 1_300_000_000_000_000_003;
/// The guild's approximate member count, as `GET /guilds/{id}?with_counts=true` reports it.
pub const MEMBER_COUNT: u64 = 4_321;
/// A token serenity accepts as well formed.
pub const TOKEN: &str = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB";

/// One call the bot made to the REST API.
#[derive(Debug, Clone)]
pub struct Call {
    pub at: Instant,
    pub method: String,
    /// The path after `/api/v10`.
    pub path: String,
    pub body: Value,
}

/// A gateway connection of the bot, by shard.
struct Conn {
    shard: [u32; 2],
    session: String,
    seq: u64,
    out: mpsc::UnboundedSender<Message>,
}

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    conns: Vec<Conn>,
    identifies: Vec<[u32; 2]>,
    resumes: Vec<String>,
    refuse_token: bool,
    closed_dms: HashSet<u64>,
    /// Route prefix (`POST /interactions`) -> how many calls still get a 429.
    limited: HashMap<String, u32>,
    /// Route prefix -> how many calls still get this status and body.
    failing: Vec<(String, u32, u16, Value)>,
    /// Interactions pushed, by id: when.
    pushed: HashMap<u64, Instant>,
    next_id: u64,
    recommended_shards: u32,
    /// The client language of each member who set one (`en-US` for the others).
    locales: HashMap<u64, String>,
}

#[derive(Clone)]
pub struct FakeDiscord {
    pub api: SocketAddr,
    pub gateway: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        let api_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeDiscord {
            api: api_listener.local_addr().unwrap(),
            gateway: ws_listener.local_addr().unwrap(),
            state: Arc::new(Mutex::new(State {
                next_id: 1_400_000_000_000_000_000,
                recommended_shards: 1,
                ..State::default()
            })),
        };
        let f = fake.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = api_listener.accept().await.unwrap();
                let f = f.clone();
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let service = service_fn(move |req| {
                        let f = f.clone();
                        async move { Ok::<_, Infallible>(f.rest(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        let f = fake.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = ws_listener.accept().await.unwrap();
                let f = f.clone();
                tokio::spawn(async move { f.gateway_conn(stream).await });
            }
        });
        fake
    }

    pub fn api_url(&self) -> String {
        format!("http://{}", self.api)
    }

    pub fn gateway_url(&self) -> String {
        format!("ws://{}", self.gateway)
    }

    pub fn refuse_token(&self) {
        self.state.lock().unwrap().refuse_token = true;
    }

    /// The client language `user`'s interactions carry from now on (`de`, `pt-BR`, `ja`).
    pub fn set_locale(&self, user: u64, locale: &str) {
        self.state
            .lock()
            .unwrap()
            .locales
            .insert(user, locale.to_owned());
    }

    pub fn close_dms_of(&self, user: u64) {
        self.state.lock().unwrap().closed_dms.insert(user);
    }

    /// The next `n` calls whose "METHOD /path" starts with `route` get a 429.
    pub fn rate_limit(&self, route: &str, n: u32) {
        self.state
            .lock()
            .unwrap()
            .limited
            .insert(route.to_owned(), n);
    }

    /// The next `n` calls whose "METHOD /path" starts with `route` are answered `status` with
    /// `body` (a 500, a 401 with Discord's 50027, a 429 with a long `retry_after`, 40060).
    pub fn fail_next(&self, route: &str, n: u32, status: u16, body: Value) {
        self.state
            .lock()
            .unwrap()
            .failing
            .push((route.to_owned(), n, status, body));
    }

    pub fn recommend_shards(&self, n: u32) {
        self.state.lock().unwrap().recommended_shards = n;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn identifies(&self) -> Vec<[u32; 2]> {
        self.state.lock().unwrap().identifies.clone()
    }

    pub fn resumes(&self) -> usize {
        self.state.lock().unwrap().resumes.len()
    }

    /// Waits until `done` holds, or fails the test after `secs` seconds.
    pub async fn wait<T>(
        &self,
        what: &str,
        secs: u64,
        done: impl Fn(&FakeDiscord) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = done(self) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; calls: {:#?}",
                self.summary()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// "METHOD path" of every call, for failure messages.
    pub fn summary(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect()
    }

    /// The calls so far whose "METHOD path" starts with `prefix`.
    pub fn calls_to(&self, prefix: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| format!("{} {}", c.method, c.path).starts_with(prefix))
            .collect()
    }

    /// Waits until shard `shard` is connected and has been sent Ready.
    pub async fn wait_ready(&self, shard: u32) {
        self.wait(&format!("shard {shard} to identify"), 30, |f| {
            let s = f.state.lock().unwrap();
            s.conns.iter().any(|c| c.shard[0] == shard).then_some(())
        })
        .await;
    }

    fn next_id(&self) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        s.next_id
    }

    /// Sends a dispatch to the connection of `shard`.
    fn dispatch(&self, shard: u32, event: &str, d: Value) {
        let mut s = self.state.lock().unwrap();
        let conn = s
            .conns
            .iter_mut()
            .rev()
            .find(|c| c.shard[0] == shard)
            .unwrap_or_else(|| panic!("shard {shard} is not connected"));
        conn.seq += 1;
        let frame = json!({"op": 0, "t": event, "s": conn.seq, "d": d});
        conn.out.send(Message::Text(frame.to_string())).unwrap();
    }

    /// A member `user` (with `roles`) runs slash command `name` with `options` in the guild, on
    /// `shard`. Returns the interaction's id and token.
    pub fn command(
        &self,
        shard: u32,
        user: u64,
        roles: &[u64],
        name: &str,
        options: Value,
    ) -> Interaction {
        self.command_in(shard, GUILD_ID, user, roles, name, options)
    }

    /// As [`Self::command`], from the guild `guild`.
    pub fn command_in(
        &self,
        shard: u32,
        guild: u64,
        user: u64,
        roles: &[u64],
        name: &str,
        options: Value,
    ) -> Interaction {
        let id = self.next_id();
        let mut payload = self.interaction_payload(
            id,
            user,
            roles,
            json!({
                "id": (self.next_id()).to_string(),
                "name": name,
                "type": 1,
                "options": options,
                "guild_id": guild.to_string(),
            }),
            2,
        );
        payload["guild_id"] = json!(guild.to_string());
        payload["channel"]["guild_id"] = json!(guild.to_string());
        self.push(shard, id, payload)
    }

    /// Delivers an interaction again, exactly as before (Discord can).
    pub fn redeliver(&self, shard: u32, interaction: &Interaction) {
        self.dispatch(shard, "INTERACTION_CREATE", interaction.payload.clone());
    }

    /// `user` presses the button with `custom_id` under the bot's message.
    pub fn press(&self, shard: u32, user: u64, roles: &[u64], custom_id: &str) -> Interaction {
        let id = self.next_id();
        let mut payload = self.interaction_payload(
            id,
            user,
            roles,
            json!({"custom_id": custom_id, "component_type": 2}),
            3,
        );
        payload["message"] = message(self.next_id(), "Your deletion request", 64);
        self.push(shard, id, payload)
    }

    fn push(&self, shard: u32, id: u64, payload: Value) -> Interaction {
        self.state.lock().unwrap().pushed.insert(id, Instant::now());
        self.dispatch(shard, "INTERACTION_CREATE", payload.clone());
        Interaction {
            id,
            token: payload["token"].as_str().unwrap().to_owned(),
            payload,
        }
    }

    fn interaction_payload(
        &self,
        id: u64,
        user: u64,
        roles: &[u64],
        data: Value,
        kind: u8,
    ) -> Value {
        json!({
            "id": id.to_string(),
            "application_id": APP_ID.to_string(),
            "type": kind,
            "data": data,
            "guild_id": GUILD_ID.to_string(),
            "channel_id": CHANNEL_ID.to_string(),
            "channel": {"id": CHANNEL_ID.to_string(), "type": 0, "guild_id": GUILD_ID.to_string(), "name": "general"},
            "member": {
                "user": user_json(user, &format!("member{user}")),
                "roles": roles.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
                "joined_at": "2024-01-01T00:00:00.000000+00:00",
                "deaf": false,
                "mute": false,
                "flags": 0,
                "pending": false,
                "nick": null,
                "avatar": null,
                "premium_since": null,
                "permissions": "2248473465835073",
            },
            "token": format!("itoken-{id}"),
            "version": 1,
            "locale": self.state.lock().unwrap().locales.get(&user).cloned().unwrap_or_else(|| "en-US".into()),
            "guild_locale": "en-US",
            "app_permissions": "2248473465835073",
            "entitlements": [],
            "authorizing_integration_owners": {"0": GUILD_ID.to_string()},
            "context": 0,
            "attachment_size_limit": 26_214_400,
        })
    }

    /// Closes shard `shard`'s connection with `code`, as Discord does when it restarts a node.
    pub fn close_shard(&self, shard: u32, code: u16) {
        let s = self.state.lock().unwrap();
        for c in s.conns.iter().filter(|c| c.shard[0] == shard) {
            let _ = c.out.send(Message::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: "the fake restarts".into(),
            })));
        }
    }

    /// How long after being pushed the interaction was first answered (its callback).
    pub fn answered_within(&self, i: &Interaction) -> Option<Duration> {
        let s = self.state.lock().unwrap();
        let pushed = *s.pushed.get(&i.id)?;
        s.calls
            .iter()
            .find(|c| c.path.starts_with(&format!("/interactions/{}/", i.id)))
            .map(|c| c.at - pushed)
    }

    /// Waits for the interaction's answer: the callback and then the message text the member
    /// sees (the follow-up or the edit of the original), with its flags. `after` skips that many
    /// earlier answers to the same interaction (the edit that adds a note).
    pub async fn answer(&self, i: &Interaction) -> Answer {
        let token = i.token.clone();
        let callback = self
            .wait("the interaction callback", 10, |f| {
                f.calls_to(&format!("POST /interactions/{}/{}/callback", i.id, token))
                    .into_iter()
                    .find(|c| c.body != Value::Null)
            })
            .await;
        // A message in the callback itself (type 4) is the answer; otherwise the follow-up or
        // the edit that comes after the deferral.
        let message = if callback.body["type"] == 4 {
            callback.body["data"].clone()
        } else {
            self.wait("the answer's text", 10, |f| {
                f.calls().into_iter().rev().find(|c| {
                    c.path.starts_with(&format!("/webhooks/{APP_ID}/{token}"))
                        && c.body.get("content").is_some()
                })
            })
            .await
            .body
        };
        Answer {
            callback: callback.body,
            text: message["content"].as_str().unwrap_or_default().to_owned(),
            message,
        }
    }

    async fn rest(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let method = req.method().to_string();
        let full = req.uri().path().to_owned();
        let path = full.strip_prefix("/api/v10").unwrap_or(&full).to_owned();
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let route = format!("{method} {path}");
        {
            let mut s = self.state.lock().unwrap();
            s.calls.push(Call {
                at: Instant::now(),
                method: method.clone(),
                path: path.clone(),
                body: body.clone(),
            });
            if s.refuse_token || auth != format!("Bot {TOKEN}") {
                return reply(
                    StatusCode::UNAUTHORIZED,
                    json!({"message": "401: Unauthorized", "code": 0}),
                );
            }
            if let Some((_, n, status, body)) = s
                .failing
                .iter_mut()
                .find(|(p, n, _, _)| route.starts_with(p.as_str()) && *n > 0)
            {
                *n -= 1;
                let (status, body) = (*status, body.clone());
                return reply(StatusCode::from_u16(status).unwrap(), body);
            }
            if let Some((prefix, n)) = s
                .limited
                .iter_mut()
                .find(|(p, n)| route.starts_with(p.as_str()) && **n > 0)
            {
                let _ = prefix;
                *n -= 1;
                return reply(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({"message": "You are being rate limited.", "retry_after": 0.5, "global": false, "code": 0}),
                );
            }
        }
        let id = self.next_id();
        let ok = |v: Value| reply(StatusCode::OK, v);
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method.as_str(), segs.as_slice()) {
            ("GET", ["users", "@me"]) => ok(json!({
                "id": BOT_ID.to_string(), "username": "dsr-bot", "discriminator": "0000", "global_name": null,
                "avatar": null, "bot": true, "verified": true, "mfa_enabled": false, "flags": 0, "public_flags": 0,
            })),
            ("GET", ["gateway"]) => ok(json!({"url": format!("ws://{}", self.gateway)})),
            ("GET", ["gateway", "bot"]) => {
                let shards = self.state.lock().unwrap().recommended_shards;
                ok(json!({
                    "url": format!("ws://{}", self.gateway),
                    "shards": shards,
                    "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1},
                }))
            }
            ("GET", ["oauth2", "applications", "@me"]) => ok(json!({
                "id": APP_ID.to_string(), "name": "dsr-bot", "icon": null, "description": "", "bot_public": true,
                "bot_require_code_grant": false, "verify_key": "0".repeat(64), "flags": 0,
                "owner": user_json(1, "owner"), "team": null, "summary": "",
            })),
            ("PUT", ["applications", _, "guilds", _, "commands"])
            | ("PUT", ["applications", _, "commands"]) => {
                let cmds: Vec<Value> = body
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|mut c| {
                        c["id"] = json!(self.next_id().to_string());
                        c["application_id"] = json!(APP_ID.to_string());
                        c["version"] = json!("1");
                        if c.get("type").is_none() {
                            c["type"] = json!(1);
                        }
                        if c.get("description").is_none() {
                            c["description"] = json!("");
                        }
                        c
                    })
                    .collect();
                ok(Value::Array(cmds))
            }
            ("GET", ["users", "@me", "guilds"]) => ok(json!([{
                "id": GUILD_ID.to_string(), "name": "Example Community", "icon": null, "owner": false,
                "permissions": "0", "features": [],
            }])),
            ("GET", ["guilds", guild]) if *guild == GUILD_ID.to_string() => ok(json!({
                "id": GUILD_ID.to_string(), "name": "Example Community", "icon": null, "icon_hash": null,
                "splash": null, "discovery_splash": null, "owner_id": "1", "afk_channel_id": null,
                "afk_timeout": 300, "widget_enabled": false, "widget_channel_id": null,
                "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
                "roles": [], "emojis": [], "features": [], "mfa_level": 0, "application_id": null,
                "system_channel_id": null, "system_channel_flags": 0, "rules_channel_id": null,
                "max_presences": null, "max_members": 500000, "vanity_url_code": null, "description": null,
                "banner": null, "premium_tier": 0, "premium_subscription_count": 0, "preferred_locale": "en-US",
                "public_updates_channel_id": null, "max_video_channel_users": 25,
                "max_stage_video_channel_users": 50, "approximate_member_count": MEMBER_COUNT,
                "approximate_presence_count": 1000, "nsfw_level": 0, "stickers": [],
                "premium_progress_bar_enabled": false, "safety_alerts_channel_id": null,
                "incidents_data": null,
            })),
            ("POST", ["interactions", _, _, "callback"]) => {
                reply(StatusCode::NO_CONTENT, Value::Null)
            }
            ("POST", ["webhooks", _, _]) => ok(message(
                id,
                body["content"].as_str().unwrap_or(""),
                body["flags"].as_u64().unwrap_or(0),
            )),
            ("PATCH", ["webhooks", _, _, "messages", _]) => {
                ok(message(id, body["content"].as_str().unwrap_or(""), 64))
            }
            ("GET", ["webhooks", _, _, "messages", _]) => ok(message(id, "", 64)),
            ("POST", ["users", "@me", "channels"]) => {
                let to: u64 = body["recipient_id"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .or_else(|| body["recipient_id"].as_u64())
                    .unwrap_or(0);
                // The DM channel's id is the member's id plus one: sending to it finds them again.
                ok(
                    json!({"id": (to + 1).to_string(), "type": 1, "last_message_id": null,
                          "recipients": [user_json(to, &format!("member{to}"))]}),
                )
            }
            ("POST", ["channels", channel, "messages"]) => {
                let channel: u64 = channel.parse().unwrap_or(0);
                let closed = self
                    .state
                    .lock()
                    .unwrap()
                    .closed_dms
                    .contains(&channel.saturating_sub(1));
                if closed {
                    reply(
                        StatusCode::FORBIDDEN,
                        json!({"message": "Cannot send messages to this user", "code": 50007}),
                    )
                } else {
                    ok(message(id, body["content"].as_str().unwrap_or(""), 0))
                }
            }
            _ => reply(
                StatusCode::NOT_FOUND,
                json!({"message": "404: Not Found", "code": 0}),
            ),
        }
    }

    async fn gateway_conn(&self, stream: tokio::net::TcpStream) {
        let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        let (mut sink, mut source) = ws.split();
        let (out, mut outgoing) = mpsc::unbounded_channel::<Message>();
        let hello = json!({"op": 10, "d": {"heartbeat_interval": 41_250}});
        let _ = out.send(Message::Text(hello.to_string()));
        tokio::spawn(async move {
            while let Some(m) = outgoing.recv().await {
                let closing = matches!(m, Message::Close(_));
                if sink.send(m).await.is_err() || closing {
                    break;
                }
            }
        });
        let mut this: Option<String> = None;
        while let Some(Ok(msg)) = source.next().await {
            let Message::Text(text) = msg else { continue };
            let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            match frame["op"].as_u64() {
                Some(1) => {
                    let _ = out.send(Message::Text(json!({"op": 11}).to_string()));
                }
                Some(2) => {
                    let d = &frame["d"];
                    let token = d["token"].as_str().unwrap_or("");
                    if token.trim_start_matches("Bot ") != TOKEN
                        || self.state.lock().unwrap().refuse_token
                    {
                        let _ = out.send(Message::Close(Some(CloseFrame {
                            code: CloseCode::from(4004),
                            reason: "Authentication failed.".into(),
                        })));
                        continue;
                    }
                    let shard = [
                        d["shard"][0].as_u64().unwrap_or(0) as u32,
                        d["shard"][1].as_u64().unwrap_or(1) as u32,
                    ];
                    let session = format!("session-{}-{}", shard[0], self.next_id());
                    {
                        let mut s = self.state.lock().unwrap();
                        s.identifies.push(shard);
                        s.conns.retain(|c| c.shard != shard);
                        s.conns.push(Conn {
                            shard,
                            session: session.clone(),
                            seq: 0,
                            out: out.clone(),
                        });
                    }
                    this = Some(session.clone());
                    self.dispatch(
                        shard[0],
                        "READY",
                        json!({
                            "v": 10,
                            "user": user_json(BOT_ID, "dsr-bot"),
                            "guilds": [{"id": GUILD_ID.to_string(), "unavailable": true}],
                            "session_id": session,
                            "resume_gateway_url": format!("ws://{}", self.gateway),
                            "shard": shard,
                            "application": {"id": APP_ID.to_string(), "flags": 0},
                        }),
                    );
                }
                Some(6) => {
                    let session = frame["d"]["session_id"].as_str().unwrap_or("").to_owned();
                    let shard = {
                        let mut s = self.state.lock().unwrap();
                        s.resumes.push(session.clone());
                        let Some(c) = s.conns.iter_mut().find(|c| c.session == session) else {
                            drop(s);
                            // Unknown session: not resumable (op 9, d false).
                            let _ =
                                out.send(Message::Text(json!({"op": 9, "d": false}).to_string()));
                            continue;
                        };
                        c.out = out.clone();
                        c.shard[0]
                    };
                    this = Some(session);
                    self.dispatch(shard, "RESUMED", json!({}));
                }
                _ => {}
            }
        }
        let _ = this;
    }
}

/// An interaction pushed to the bot.
#[derive(Debug, Clone)]
pub struct Interaction {
    pub id: u64,
    pub token: String,
    pub payload: Value,
}

/// What the member saw: the first callback (a deferral, or an update) and the text.
#[derive(Debug, Clone)]
pub struct Answer {
    pub callback: Value,
    pub text: String,
    pub message: Value,
}

impl Answer {
    /// The first response said the answer is only for the member who asked: a deferral
    /// (type 5) or a message (type 4) with the ephemeral flag.
    pub fn ephemeral(&self) -> bool {
        matches!(self.callback["type"].as_u64(), Some(4 | 5))
            && self.callback["data"]["flags"].as_u64().unwrap_or(0) & 64 != 0
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let bytes = if body == Value::Null {
        Bytes::new()
    } else {
        Bytes::from(body.to_string())
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(bytes))
        .unwrap()
}

pub fn user_json(id: u64, name: &str) -> Value {
    json!({"id": id.to_string(), "username": name, "discriminator": "0", "global_name": null,
           "avatar": null, "bot": id == BOT_ID, "public_flags": 0})
}

pub fn message(id: u64, content: &str, flags: u64) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": CHANNEL_ID.to_string(),
        "author": user_json(BOT_ID, "dsr-bot"),
        "content": content,
        "timestamp": "2026-11-25T10:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": 0,
        "flags": flags,
        "components": [],
        "application_id": APP_ID.to_string(),
    })
}
