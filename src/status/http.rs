//! The status HTTP server of `statusaddress=`: hyper's HTTP/1 server on
//! the daemon's runtime, read-only. It answers `GET`/`HEAD` of `/` (the
//! page), `/metrics` and `/status.json` from the latest published
//! [`super::Snapshot`] and the pool's counters; any other method is 405,
//! any other path 404. It keeps nothing between requests and never asks
//! the director anything: it cannot change state, and it cannot slow the
//! director down.
//!
//! Bounded so that no client can cost the checks their time or memory
//! ([`Limits`]): connections at once (more are closed as they come),
//! the request head (size, header count, time to send it), each read and
//! each write (a client that stops reading is cut off), the requests and
//! the lifetime of one connection; one body is rendered at a time, off the
//! runtime's thread (a blocking-pool thread), and `/metrics` is streamed
//! in 64 KiB chunks with back-pressure, so a slow reader holds at most a
//! few of them. What it must not do: keep state of its own, write
//! anything, bind anywhere but where it is told.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use tokio_io_timeout::TimeoutStream;

use super::metrics::{self, Sources};
use super::snapshot::{unix, Subscriber};
use crate::check::stats::CheckStats;

/// The bounds of the server (see the module doc).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; further ones are closed at accept.
    pub max_connections: usize,
    /// Time to send a whole request head.
    pub header_timeout: Duration,
    /// Longest wait for one read or one write to make progress.
    pub io_timeout: Duration,
    /// Longest life of one connection (keep-alive included).
    pub connection_lifetime: Duration,
    /// Requests on one connection; the last is answered with
    /// `Connection: close`.
    pub max_requests: u32,
    /// Size of a request head (request line and headers), bytes.
    pub max_head_bytes: usize,
    /// Headers in a request.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 16,
            header_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(10),
            connection_lifetime: Duration::from_secs(60),
            max_requests: 100,
            max_head_bytes: 8 * 1024,
            max_headers: 32,
        }
    }
}

/// What the server reads: the director's snapshots and the pool's
/// counters.
#[derive(Clone)]
pub struct Source {
    pub snapshots: Subscriber,
    pub checks: Option<Arc<CheckStats>>,
}

/// Listen on exactly `addr` (no other address, no fallback).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serve on `listener` until `shutdown` turns true (or its sender goes);
/// open connections are then closed.
pub async fn serve(
    listener: TcpListener,
    source: Source,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let render = Arc::new(Semaphore::new(1));
    let mut connections = JoinSet::new();
    let for_connections = shutdown.clone();
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            // Reap finished connections as we go.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Full: close it now rather than let it wait in a queue.
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        drop(stream);
                        continue;
                    };
                    let conn = Connection {
                        source: source.clone(),
                        limits: limits.clone(),
                        render: render.clone(),
                        requests: Arc::new(AtomicU32::new(0)),
                    };
                    let shutdown = for_connections.clone();
                    connections.spawn(async move {
                        conn.run(stream, shutdown).await;
                        drop(slot);
                    });
                }
                // Out of file descriptors or similar: back off instead of
                // spinning on the error.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            },
        }
    }
    connections.shutdown().await;
}

/// One client connection.
#[derive(Clone)]
struct Connection {
    source: Source,
    limits: Limits,
    /// One body rendered at a time (CPU and memory of a scrape bounded).
    render: Arc<Semaphore>,
    requests: Arc<AtomicU32>,
}

type Body = BoxBody<Bytes, Infallible>;

impl Connection {
    async fn run(self, stream: TcpStream, mut shutdown: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let mut io = TimeoutStream::new(stream);
        io.set_read_timeout(Some(self.limits.io_timeout));
        io.set_write_timeout(Some(self.limits.io_timeout));
        let io = TokioIo::new(Box::pin(io));
        let limits = self.limits.clone();
        let this = self.clone();
        let service = hyper::service::service_fn(move |req| {
            let this = this.clone();
            async move { Ok::<_, Infallible>(this.handle(req).await) }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_header_size(limits.max_head_bytes)
            .max_headers(limits.max_headers)
            .max_buf_size(limits.max_head_bytes.max(8192) * 2)
            .keep_alive(true);
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        let lifetime = tokio::time::sleep(limits.connection_lifetime);
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = lifetime => {}
            _ = stopped(&mut shutdown) => {}
        }
        // Let a response in progress finish (each write still bounded by
        // the write timeout), then close.
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(limits.io_timeout, conn).await;
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let mut resp = self.route(&req).await;
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        // A request with a body we do not read, or the last one allowed:
        // close after this answer.
        let has_body = req.headers().contains_key(header::CONTENT_LENGTH)
            || req.headers().contains_key(header::TRANSFER_ENCODING);
        if n >= self.limits.max_requests || has_body {
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }

    async fn route(&self, req: &Request<Incoming>) -> Response<Body> {
        let head = match *req.method() {
            Method::GET => false,
            Method::HEAD => true,
            _ => {
                let mut r = plain(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "read-only: GET and HEAD only\n",
                );
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                return r;
            }
        };
        let kind = match req.uri().path() {
            "/" => Kind::Page,
            "/metrics" => Kind::Metrics,
            "/status.json" => Kind::Json,
            _ => {
                return plain(
                    StatusCode::NOT_FOUND,
                    "not found: try /, /metrics or /status.json\n",
                )
            }
        };
        let body = if head {
            Empty::new().boxed()
        } else {
            self.body(kind).await
        };
        let mut r = Response::new(body);
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(kind.content_type()),
        );
        if kind == Kind::Page {
            // Nothing but the inline style may load or run.
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            );
        }
        r
    }

    /// Render `kind` from the latest snapshot, off the runtime's thread,
    /// one render at a time.
    async fn body(&self, kind: Kind) -> Body {
        let snapshot = self.source.snapshots.borrow().clone();
        let Ok(permit) = self.render.clone().acquire_owned().await else {
            return Empty::new().boxed();
        };
        let now = unix(SystemTime::now());
        match kind {
            Kind::Metrics => {
                let sources = Arc::new(Sources {
                    snapshot,
                    checks: self.source.checks.clone(),
                    now,
                });
                // Two chunks in the pipe at most: a client that reads
                // slowly holds the renderer (and its memory) back.
                let (tx, rx) = mpsc::channel::<Bytes>(2);
                tokio::task::spawn_blocking(move || {
                    metrics::render(&sources, |part| tx.blocking_send(Bytes::from(part)).is_ok());
                    drop(permit);
                });
                Channel(rx).boxed()
            }
            Kind::Json | Kind::Page => {
                let rendered = tokio::task::spawn_blocking(move || {
                    let bytes = match kind {
                        Kind::Json => {
                            let mut v = serde_json::to_vec(&*snapshot).unwrap_or_default();
                            v.push(b'\n');
                            v
                        }
                        _ => super::page::render(&snapshot, now).into_bytes(),
                    };
                    drop(permit);
                    bytes
                })
                .await
                .unwrap_or_default();
                Full::new(Bytes::from(rendered)).boxed()
            }
        }
    }
}

/// Resolves when the server is told to stop (or nobody can tell it any
/// more).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|&stop| stop).await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Page,
    Metrics,
    Json,
}

impl Kind {
    fn content_type(self) -> &'static str {
        match self {
            Kind::Page => "text/html; charset=utf-8",
            Kind::Metrics => metrics::CONTENT_TYPE,
            Kind::Json => "application/json",
        }
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A body fed part by part by the renderer.
struct Channel(mpsc::Receiver<Bytes>);

impl hyper::body::Body for Channel {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|part| part.map(|b| Ok(Frame::data(b))))
    }
}
