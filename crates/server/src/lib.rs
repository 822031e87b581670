//! The ringfence HTTP API (`ringfence serve`). **Boundary:** the only crate that knows HTTP.
//!
//! Every request is authenticated by an API token (`Authorization: Bearer rf_…`, see
//! `ringfence token create`) and allowed by its roles (the table [`ROUTES`]); everything it
//! writes is journaled with the token's actor. Writes need an `Idempotency-Key` header. One
//! thread owns the store ([`engine`]): concurrent writes share one durable commit.
//!
//! Limits come before work ([`limits`]): the token is checked from the headers before the body
//! is read, bodies are bounded per route and in time, headers in time, connections in number;
//! batches are bounded too (`BATCH_MAX`), lists are paged. Every
//! error is JSON with a machine-readable code ([`error::ApiError`]); nothing is a 500 unless
//! ringfence has a bug, and then the message says nothing internal.

mod approvals;
pub mod engine;
pub mod error;
mod insolvency;
pub mod limits;
pub mod metrics;
mod oversight;
mod prices;
mod routes;
mod safeguarding;
mod statements;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use ringfence_core::{Actor, ApiToken, ClientId, Role};
use ringfence_store::{Location, Store};
use ringfence_wire::clock;

use crate::engine::Engine;
use crate::error::ApiError;
use crate::metrics::Metrics;

pub use routes::{ApiDoc, ROUTES};

pub use limits::{BATCH_BODY_BYTES_MAX, BODY_BYTES_MAX, Limits};
/// The most items a list returns per page.
pub const PAGE_LIMIT_MAX: u32 = 1_000;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    engine: Engine,
    metrics: Arc<Metrics>,
    /// Where the store is: a reconciliation run opens its own handle on it.
    location: Location,
    recon: Arc<Recon>,
    limits: Arc<limits::Enforced>,
    /// The journal signing key, for the handles a reconciliation run opens.
    signer: Option<Arc<ringfence_store::Signer>>,
    /// The store was opened read-only (a replica): writes are refused.
    read_only: bool,
    /// Who issues statements (`GET /v1/statements` needs it).
    casp: Option<Arc<ringfence_reports::statement::Casp>>,
    /// The last register read as of an earlier entry, for statements made as of it.
    earlier: Arc<tokio::sync::Mutex<Option<(Store, ringfence_reports::statement::Context)>>>,
    /// Held while an insolvency pack is made (one at a time).
    packing: Arc<tokio::sync::Mutex<()>>,
}

/// How reconciliation runs asked for through the API read their sources, and the one run at a
/// time this process makes.
#[derive(Debug)]
pub(crate) struct Recon {
    pub(crate) settings: ringfence_watch::Settings,
    pub(crate) running: tokio::sync::Mutex<()>,
}

/// Who is calling: from a live token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub actor: Actor,
    pub roles: Vec<Role>,
    pub client: Option<ClientId>,
}

impl Principal {
    /// Whom the views are for: a client token gets the client's view (its own postings only),
    /// every staff role the whole view.
    pub fn audience(&self) -> ringfence_wire::views::journal::Audience {
        if self.roles.contains(&Role::Client) {
            ringfence_wire::views::journal::Audience::Client
        } else {
            ringfence_wire::views::journal::Audience::Staff
        }
    }
}

impl AppState {
    /// Starts the store thread on `store`. Reconciliation runs asked for through the API read
    /// no node until [`AppState::with_recon`] names them (in-house wallets are then "source
    /// unavailable", never zero).
    pub fn start(store: Store) -> std::io::Result<AppState> {
        let metrics = Arc::new(Metrics::default());
        let location = store.location().clone();
        let signer = store.signer();
        let read_only = store.is_read_only();
        let settings = ringfence_watch::Settings { nodes: Vec::new(), ..ringfence_watch::Settings::default() };
        Ok(AppState {
            engine: Engine::start(store, Arc::clone(&metrics))?,
            metrics,
            location,
            recon: Arc::new(Recon { settings, running: tokio::sync::Mutex::new(()) }),
            limits: Arc::new(limits::Enforced::new(Limits::default())),
            signer,
            read_only,
            casp: None,
            earlier: Arc::new(tokio::sync::Mutex::new(None)),
            packing: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The same state with statements issued in `casp`'s name.
    pub fn with_casp(self, casp: Option<ringfence_reports::statement::Casp>) -> AppState {
        AppState { casp: casp.map(Arc::new), ..self }
    }

    /// Whether this server reads a replica and refuses writes.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The journal head the server holds now.
    pub async fn head(&self) -> Result<ringfence_journal::Head, ApiError> {
        self.engine.read(Store::head).await
    }

    /// The same state with other limits (timeouts, body budget, connections).
    pub fn with_limits(self, limits: Limits) -> AppState {
        AppState { limits: Arc::new(limits::Enforced::new(limits)), ..self }
    }

    /// The same state with runs made through `POST /v1/recon/runs` reading the sources as
    /// `settings` say (nodes, confirmations, timeouts, the evidence directory).
    pub fn with_recon(self, settings: ringfence_watch::Settings) -> AppState {
        AppState { recon: Arc::new(Recon { settings, running: tokio::sync::Mutex::new(()) }), ..self }
    }

    /// The caller, if its token is live and holds one of `allowed`.
    pub fn authorize(&self, headers: &HeaderMap, allowed: &[Role]) -> Result<Principal, ApiError> {
        let header = headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthenticated("send an API token as `Authorization: Bearer rf_…`"))?;
        // The scheme is case-insensitive (RFC 9110 §11.1): `bearer rf_…` is as good.
        let presented = header
            .to_str()
            .ok()
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
            .map(|(_, token)| token)
            .ok_or_else(|| ApiError::unauthenticated("the Authorization header must be `Bearer rf_…`"))?;
        let book = self.engine.tokens.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let token = ApiToken::authenticate(presented.trim(), clock::now(), |id| book.get(id).map(|(token, revoked)| (token, *revoked)))
            .map_err(|refusal| {
                // One answer for every refusal, so a caller cannot probe which tokens exist.
                crate::log(&serde_json::json!({"level": "info", "message": "token refused", "why": format!("{refusal:?}")}));
                ApiError::unauthenticated("the token is not valid (unknown, wrong, revoked or expired)")
            })?;
        if !token.roles.iter().any(|role| allowed.contains(role)) {
            let allowed: Vec<&str> = allowed.iter().map(|r| r.code()).collect();
            return Err(ApiError::forbidden(format!("this needs one of the roles: {}", allowed.join(", "))));
        }
        Ok(Principal { actor: token.actor.clone(), roles: token.roles.clone(), client: token.client.clone() })
    }
}

/// The whole application: routes, limits, request ids, logs and metrics.
pub fn app(state: AppState) -> Router {
    routes::router()
        .route_layer(middleware::from_fn_with_state(state.clone(), limits::gate))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(BATCH_BODY_BYTES_MAX))
        .with_state(state)
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Gives every request an id (the caller's `X-Request-Id` or a new one), echoes it, logs one
/// JSON line per request and counts it.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:x}-{}", std::process::id(), REQUESTS.fetch_add(1, Ordering::Relaxed)));
    let method = request.method().as_str().to_owned();
    let route = request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let mut response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.record_request(&route, &method, status, took);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    if route != "/metrics" && route != "/healthz" {
        crate::log(&serde_json::json!({
            "level": if status >= 500 { "error" } else { "info" },
            "request_id": id,
            "method": method,
            "route": route,
            "status": status,
            "duration_us": took.as_micros() as u64,
        }));
    }
    response
}

/// Writes one JSON log line to stderr in a single `write`: stderr is unbuffered, and a line
/// formatted piece by piece would cost dozens of system calls per request and could
/// interleave with other threads' lines.
pub fn log(line: &serde_json::Value) {
    use std::io::Write as _;
    let body = line.to_string();
    // Every line starts with its time: `{"ts":"2026-…Z",…}`.
    let mut text = match body.strip_prefix('{') {
        Some(rest) if rest != "}" => format!("{{\"ts\":\"{}\",{rest}", clock::format(clock::now())),
        _ => body,
    };
    text.push('\n');
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Serves until `shutdown` resolves, then lets the requests in progress finish (at most as
/// long as the header deadline more). HTTP/1.1, with the header deadline (which also closes
/// idle keep-alive connections) and the connection cap of the state's [`Limits`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    use tokio::io::AsyncWriteExt as _;

    let limits = state.limits.limits;
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.connections.max(1)));
    let (closing, closed) = tokio::sync::watch::channel(false);
    let app = app(state);
    let mut tasks = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while tasks.try_join_next().is_some() {}
        let (stream, _peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors or a connection reset before accept: wait a
                    // little and go on, rather than stop serving.
                    log(&serde_json::json!({"level": "warn", "message": "accepting a connection failed", "error": error.to_string()}));
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            tasks.spawn(async move {
                let mut stream = stream;
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), stream.write_all(&limits::busy_response())).await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let mut closed = closed.clone();
        tasks.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read).keep_alive(true);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = async { drop(closed.wait_for(|closing| *closing).await) } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(permit);
        });
    }
    let _ = closing.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}
