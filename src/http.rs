//! The feed's HTTP API, for the systems that must honour the choices (axum on tokio). Every
//! call but `/healthz` carries a consumer's bearer token; answers are JSON, errors too
//! (`{"error": "..."}`), and a page of choices is signed with the log's key
//! (`Dsr-Signature`, the base64 Ed25519 signature of the body; `Dsr-Key`, the public key as
//! `dsr-bot keys public` prints it). TLS is a reverse proxy's work.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use axum::{
    Router,
    body::Bytes,
    extract::{RawQuery, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use tokio::{net::TcpListener, sync::watch};

use crate::{
    db::feed::Consumer,
    services::{
        Services,
        feed::{AckIn, Refusal},
    },
};

/// The most a request body may hold.
pub const BODY_LIMIT: usize = 8 * 1024;

/// The bucket calls without a valid token draw on (no consumer has this id).
const UNKNOWN: i64 = -1;

/// How many entries a page holds unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 500;

struct Api {
    services: Services,
    buckets: Mutex<HashMap<i64, Bucket>>,
    per_minute: f64,
}

/// A token bucket per consumer: `per_minute` calls, in bursts of a sixth of that.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Api {
    /// `Ok` when `consumer` may call now, or the seconds until it may.
    fn admit(&self, consumer: i64) -> Result<(), u64> {
        let capacity = (self.per_minute / 6.0).max(1.0);
        let rate = self.per_minute / 60.0;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = buckets.entry(consumer).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

/// Why a call is refused, as its answer says.
enum ApiError {
    Status(StatusCode, String),
    TooMany(u64),
    Busy,
    Internal(crate::error::ServiceError),
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Unauthorized(m) => ApiError::Status(StatusCode::UNAUTHORIZED, m),
            Refusal::Forbidden(m) => ApiError::Status(StatusCode::FORBIDDEN, m),
            Refusal::Bad(m) => ApiError::Status(StatusCode::BAD_REQUEST, m),
            // Busy (the database is held by a key change): worth trying again soon.
            Refusal::Internal(crate::error::ServiceError::Deferred) => ApiError::Busy,
            Refusal::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<crate::error::ServiceError> for ApiError {
    fn from(e: crate::error::ServiceError) -> Self {
        Refusal::from(e).into()
    }
}

fn json_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Status(status, message) => {
                let mut r = json_error(status, &message);
                if status == StatusCode::UNAUTHORIZED {
                    r.headers_mut()
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                }
                r
            }
            ApiError::TooMany(secs) => {
                let mut r = json_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!("Too many calls with this token: try again in {secs} s."),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                r
            }
            ApiError::Busy => {
                let mut r = json_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is busy for a moment (its database is being changed): try again in 30 s.",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
                r
            }
            ApiError::Internal(e) => {
                // Logged once with its cause chain and a reference; the caller gets the reference.
                let told = e.for_person();
                json_error(StatusCode::INTERNAL_SERVER_ERROR, &told)
            }
        }
    }
}

/// The consumer the call's bearer token belongs to, if it may call now.
async fn consumer(api: &Api, headers: &HeaderMap) -> Result<Consumer, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| {
            ApiError::Status(
                StatusCode::UNAUTHORIZED,
                "No token: send `Authorization: Bearer TOKEN` with the token `dsr-bot consumers add` printed."
                    .into(),
            )
        })?;
    // Guessing tokens is slowed down too: every refused token draws on one shared bucket.
    let c = match api.services.feed().authenticate(token).await {
        Ok(c) => c,
        Err(refused) => {
            api.admit(UNKNOWN).map_err(ApiError::TooMany)?;
            return Err(refused.into());
        }
    };
    api.admit(c.id).map_err(ApiError::TooMany)?;
    Ok(c)
}

async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

async fn metrics(State(api): State<Arc<Api>>, headers: HeaderMap) -> Result<Response, ApiError> {
    consumer(&api, &headers).await?;
    let text = api.services.feed().metrics().await?;
    let mut r = (StatusCode::OK, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    Ok(r)
}

async fn choices(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let c = consumer(&api, &headers).await?;
    let (mut cursor, mut limit) = (None, DEFAULT_LIMIT);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "cursor" if !v.is_empty() => cursor = Some(v.into_owned()),
            "cursor" => {}
            "limit" => {
                limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=crate::services::feed::MAX_PAGE).contains(n))
                    .ok_or_else(|| {
                        ApiError::Status(
                            StatusCode::BAD_REQUEST,
                            format!(
                                "limit {v:?} is not a whole number from 1 to {}.",
                                crate::services::feed::MAX_PAGE
                            ),
                        )
                    })?;
            }
            other => {
                return Err(ApiError::Status(
                    StatusCode::BAD_REQUEST,
                    format!("Unknown parameter {other:?}: /v1/choices takes cursor and limit."),
                ));
            }
        }
    }
    let page = api
        .services
        .feed()
        .page(&c, cursor.as_deref(), limit)
        .await?;
    let body =
        serde_json::to_vec(&page).map_err(|e| ApiError::Internal(anyhow::Error::from(e).into()))?;
    let mut r = (StatusCode::OK, body.clone()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some((key, signature)) = api.services.feed().sign(&body)
        && let (Ok(k), Ok(s)) = (
            HeaderValue::from_str(&key),
            HeaderValue::from_str(&signature),
        )
    {
        h.insert("dsr-key", k);
        h.insert("dsr-signature", s);
    }
    Ok(r)
}

async fn acks(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let c = consumer(&api, &headers).await?;
    let body = body.map_err(|e| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::Status(
                status,
                format!("The body is over {BODY_LIMIT} bytes: an acknowledgement is {{run, cursor, excluded, applied_at}}."),
            )
        } else {
            ApiError::Status(status, format!("The body could not be read ({e})."))
        }
    })?;
    let ack: AckIn = serde_json::from_slice(&body).map_err(|e| {
        ApiError::Status(
            StatusCode::BAD_REQUEST,
            format!(
                "The body is not an acknowledgement ({e}): send JSON {{\"run\": \"...\", \"cursor\": \"...\", \
                 \"excluded\": N, \"applied_at\": \"RFC 3339 time\"}}."
            ),
        )
    })?;
    let out = api.services.feed().acknowledge(&c, ack).await?;
    Ok((StatusCode::OK, axum::Json(out)).into_response())
}

async fn not_found() -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        "No such endpoint: GET /v1/choices, POST /v1/acks, GET /metrics, GET /healthz.",
    )
}

/// The API's routes over `services`.
pub fn router(services: Services) -> Router {
    let per_minute = f64::from(services.config().http.rate_per_minute);
    let api = Arc::new(Api {
        services,
        buckets: Mutex::new(HashMap::new()),
        per_minute,
    });
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/choices", get(choices))
        .route("/v1/acks", post(acks))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(api)
}

/// Serves the API on `listener` until `stop`.
pub async fn serve(
    services: Services,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    axum::serve(listener, router(services))
        .with_graceful_shutdown(async move {
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    return;
                }
            }
        })
        .await?;
    Ok(())
}
