//! The http, https and http_proxy negotiate checks (upstream §c: LWP with
//! `Host: <virtualhost or RIP>`, up iff 2xx and the body matches
//! `receive`). Owns building one pinned, unpooled, unverified HTTP client
//! per check and reading a bounded body. Must not connect anywhere but the
//! real server (no proxy from the environment, no DNS for the URL host, no
//! redirect to another host) and must not keep more than [`BODY_LIMIT`]
//! bytes of any answer.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, Once, OnceLock};

use reqwest::header::{HeaderValue, CONNECTION, HOST};
use reqwest::redirect;

use super::super::{CheckError, CheckResult, Target};
use crate::config::{bracketed, HttpMethod, Service};

/// Bytes of a body kept for the `receive` match; the rest is read (so a
/// huge body still ends the check the normal way) and dropped.
pub const BODY_LIMIT: usize = 1 << 20;

/// Redirects followed, as LWP's default `max_redirect`.
pub const MAX_REDIRECTS: usize = 7;

/// rustls needs a process-wide crypto provider (reqwest is built without
/// one). Installing fails harmlessly when another part of the program
/// installed one first; that one is used then.
pub fn ensure_tls_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Run the http/https/http_proxy check of `t`. Its deadline
/// (`negotiatetimeout`) is the prober's, which runs every negotiate check
/// under it ([`crate::check::probe::Prober`]): a second timer here was one
/// more registration per check for the same instant.
pub async fn check(t: &Target) -> CheckResult {
    fetch(t).await
}

/// What a plain http check of one target sends, worked out from the
/// target alone on its first run and kept in it ([`Target::prepared`]):
/// where to connect, the Host header and the request target. Only that:
/// the whole request (URL, client settings) kept for every target was
/// about 500 bytes per real, 5 MB at 10,000 reals; what the other checks
/// (https, http_proxy, a redirect) need is worked out per check as
/// before. `Ok(None)`: not a plain http check. An error is the target's
/// configuration's (an invalid URL or virtualhost) and stays the same.
#[derive(Clone)]
pub struct Prepared(Result<Option<std::sync::Arc<Plain>>, CheckError>);

/// A plain http request for [`plain`].
pub struct Plain {
    addr: SocketAddr,
    host: HeaderValue,
    target: Box<str>,
}

impl Prepared {
    fn of(t: &Target) -> Prepared {
        Prepared(prepare(t).and_then(|r| match r.plain {
            Some(Ok((addr, host, target))) => Ok(Some(std::sync::Arc::new(Plain {
                addr,
                host,
                target: target.into_boxed_str(),
            }))),
            Some(Err(e)) => Err(e),
            None => Ok(None),
        }))
    }
}

/// An http check's request, worked out from its target.
struct Request {
    url: reqwest::Url,
    host_header: Option<HeaderValue>,
    proxy: Option<String>,
    resolve: Option<(String, SocketAddr)>,
    same_host: bool,
    /// Plain http on hyper ([`plain`]): where to connect, the Host header,
    /// the request target (path and query).
    plain: Option<Result<(SocketAddr, HeaderValue, String), CheckError>>,
}

fn prepare(t: &Target) -> Result<Request, CheckError> {
    let port = t
        .port
        .ok_or_else(|| CheckError::Config("no port to check".into()))?;
    let real = SocketAddr::new(t.addr, port);
    let mut url = reqwest::Url::parse(&t.url)
        .map_err(|e| CheckError::Config(format!("invalid URL {:?}: {e}", t.url)))?;

    let mut host_header = None;
    // How the client must be built: through the real as a proxy, or with
    // the URL's name pinned to the real; and whether redirects must stay
    // on the host of the first request (the real, through its name when
    // we pinned one) — all but http_proxy, where every request goes
    // through the real anyway.
    let mut proxy = None;
    let mut resolve = None;
    let mut same_host = false;
    if t.service == Service::HttpProxy {
        // The real is the proxy; the absolute URL in `request` is fetched
        // through it, with the Host of that URL. Every scheme goes through
        // it (upstream proxies only http:// and would connect directly to
        // an https:// URL: that would check something else than the real).
        proxy = Some(format!("http://{}:{port}", bracketed(&t.addr)));
    } else {
        if let Some(vhost) = t.virtualhost.as_deref() {
            // A name (not an IP literal) becomes the URL's host, resolved to
            // the real: TLS then sends it as SNI. The Host header is the
            // virtualhost exactly as written (upstream), port included if
            // the user wrote one.
            let name = host_part(vhost);
            if name.parse::<IpAddr>().is_err() && url.set_host(Some(name)).is_ok() {
                resolve = Some((name.to_string(), real));
            }
            host_header = Some(
                HeaderValue::from_str(vhost)
                    .map_err(|e| CheckError::Config(format!("virtualhost {vhost:?}: {e}")))?,
            );
        } else if let Some(name) = url.domain() {
            // An absolute per-real URL with a name: still the real.
            resolve = Some((name.to_string(), real));
        }
        same_host = true;
    }
    let plain = if t.service == Service::Http && url.scheme() == "http" {
        plain_addr(&url, resolve.as_ref()).map(|addr| {
            let host = match &host_header {
                Some(h) => h.clone(),
                None => {
                    let name = url.host_str().unwrap_or_default();
                    let text = match url.port() {
                        Some(p) => format!("{name}:{p}"),
                        None => name.to_string(),
                    };
                    HeaderValue::from_str(&text)
                        .map_err(|e| CheckError::Config(format!("host {text:?}: {e}")))?
                }
            };
            let mut target = url.path().to_string();
            if let Some(q) = url.query() {
                target.push('?');
                target.push_str(q);
            }
            Ok((addr, host, target))
        })
    } else {
        None
    };
    Ok(Request {
        url,
        host_header,
        proxy,
        resolve,
        same_host,
        plain,
    })
}

async fn fetch(t: &Target) -> CheckResult {
    ensure_tls_provider();
    let prepared = t.prepared.get_or_init(|| Prepared::of(t));
    if let Some(p) = prepared.0.as_ref().map_err(Clone::clone)? {
        if let Some(result) = plain(t, p.addr, p.host.clone(), &p.target).await {
            return result;
        }
    }
    let r = prepare(t)?;
    let client = client_for(ClientKey {
        proxy: r.proxy,
        resolve: r.resolve,
        same_host: r.same_host,
        timeout: t.negotiatetimeout,
    })?;

    let method = match t.httpmethod {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Head => reqwest::Method::HEAD,
    };
    // As upstream (LWP, no keep-alive) asks: the server closes first, so
    // its side keeps the TIME_WAIT, not the director's.
    let mut req = client.request(method, r.url).header(CONNECTION, "close");
    if let Some(h) = r.host_header {
        req = req.header(HOST, h);
    }
    let mut resp = req.send().await.map_err(map_error)?;
    let status_line = format!("{:?} {}", resp.version(), resp.status());
    let status = resp.status();

    // Read the whole body (LWP does), keeping at most BODY_LIMIT bytes: an
    // endless body ends at the deadline with bounded memory.
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(map_error)? {
        let room = BODY_LIMIT - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    verdict(t, status, status_line, &body)
}

/// Where reqwest would connect for `url`: a name pinned by `resolve` is
/// its address (reqwest ignores the pinned port and takes the URL's), an
/// address is itself; the URL's port, or 80.
fn plain_addr(url: &reqwest::Url, resolve: Option<&(String, SocketAddr)>) -> Option<SocketAddr> {
    let port = url.port_or_known_default()?;
    let ip = match resolve {
        Some((_, pinned)) => pinned.ip(),
        None => url
            .host_str()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?,
    };
    Some(SocketAddr::new(ip, port))
}

/// A plain-http check on one connection of hyper's HTTP/1 client, in this
/// task: the same request as reqwest's (method, path, `Host`, `Accept`,
/// `User-Agent`, `Connection: close`) and the same verdict, without
/// reqwest's client layers around it (a pooled client, a task and a
/// dispatch channel per connection, connection-info system calls): they
/// were most of a check's own CPU time. `None` when the answer is a
/// redirect: the check then starts again on reqwest, which follows
/// redirects as LWP does.
async fn plain(
    t: &Target,
    addr: SocketAddr,
    host: HeaderValue,
    target: &str,
) -> Option<CheckResult> {
    use http_body_util::BodyExt;
    use hyper::header::{ACCEPT, USER_AGENT};

    let stream = match tokio::net::TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Some(Err(CheckError::Refused))
        }
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            return Some(Err(CheckError::Timeout))
        }
        Err(e) => return Some(Err(CheckError::Io(format!("tcp connect error: {e}")))),
    };
    let method = match t.httpmethod {
        HttpMethod::Get => hyper::Method::GET,
        HttpMethod::Head => hyper::Method::HEAD,
    };
    let request = hyper::Request::builder()
        .method(method)
        .uri(target)
        .header(ACCEPT, "*/*")
        .header(
            USER_AGENT,
            concat!("ldirectord-rs/", env!("CARGO_PKG_VERSION")),
        )
        .header(HOST, host)
        .header(CONNECTION, "close")
        .body(http_body_util::Empty::<hyper::body::Bytes>::new());
    let request = match request {
        Ok(r) => r,
        Err(e) => return Some(Err(CheckError::Config(format!("request: {e}")))),
    };
    let io = hyper_util::rt::TokioIo::new(NoHalfClose(stream));
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(io).await {
        Ok(x) => x,
        Err(e) => return Some(Err(hyper_error(&e))),
    };
    let exchange = async {
        let resp = sender
            .send_request(request)
            .await
            .map_err(|e| hyper_error(&e))?;
        let status = resp.status();
        if status.is_redirection() {
            return Ok(None);
        }
        let status_line = format!("{:?} {}", resp.version(), status);
        let mut body = Vec::new();
        let mut incoming = resp.into_body();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| hyper_error(&e))?;
            if let Ok(chunk) = frame.into_data() {
                let room = BODY_LIMIT - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
        }
        Ok(Some((status, status_line, body)))
    };
    // The connection is driven here, beside the exchange: no task. It may
    // end first (the server closed after a complete answer): the answer
    // is still there for the exchange to take.
    tokio::pin!(exchange);
    let outcome: Result<Option<_>, CheckError> = tokio::select! {
        r = &mut exchange => r,
        r = conn => match r {
            Ok(()) => exchange.await,
            Err(e) => exchange.await.map_err(|_| hyper_error(&e)),
        },
    };
    let (status, status_line, body) = match outcome {
        Ok(Some(x)) => x,
        Ok(None) => return None,
        Err(e) => return Some(Err(e)),
    };
    Some(verdict(t, status, status_line, &body))
}

/// The check's socket as hyper sees it, without hyper's half-close: when
/// an exchange is over hyper shuts the write side down before the socket
/// is dropped, a system call (and a FIN of its own) that the close right
/// after does anyway. In the guest's profile the `shutdown` was 14 % of a
/// check's CPU time (README, Benchmarks).
struct NoHalfClose(tokio::net::TcpStream);

impl tokio::io::AsyncRead for NoHalfClose {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for NoHalfClose {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    /// Nothing: the socket is closed (FIN) when the check drops it.
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Up iff 2xx and the body matches `receive` (when there is one).
fn verdict(
    t: &Target,
    status: reqwest::StatusCode,
    status_line: String,
    body: &[u8],
) -> CheckResult {
    if !status.is_success() {
        return Err(CheckError::Status(status_line));
    }
    if t.receive.is_empty() {
        return Ok(status_line);
    }
    if super::common::compiled(&t.receive)?.is_match(body) {
        Ok(status_line)
    } else {
        Err(CheckError::Mismatch(format!(
            "{status_line}: the body does not match {:?}",
            t.receive
        )))
    }
}

/// Our reason for a hyper error (the plain path).
fn hyper_error(e: &hyper::Error) -> CheckError {
    io_reason(e).unwrap_or_else(|| CheckError::Protocol(chain(e)))
}

/// Everything a client is built from: checks that share it share one
/// client (building one per check — TLS configuration and all — cost more
/// than the check itself and most of the memory of a large pass).
///
/// Nothing in it may name the real when it need not: a key per real meant
/// a client per real (1,000 client builds at the start of a 1,000-real
/// configuration, enough to hold every worker of the runtime for seconds
/// under emulation, and most of the memory of a large pass).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    proxy: Option<String>,
    resolve: Option<(String, SocketAddr)>,
    /// Redirects may only go to the host of the first request.
    same_host: bool,
    timeout: std::time::Duration,
}

/// Caches larger than this are dropped whole (a reload can leave stale
/// entries; a configuration never has this many distinct clients).
const CACHE_LIMIT: usize = 100_000;

fn client_for(key: ClientKey) -> Result<reqwest::Client, CheckError> {
    static CLIENTS: OnceLock<Mutex<HashMap<ClientKey, reqwest::Client>>> = OnceLock::new();
    let cache = CLIENTS.get_or_init(Default::default);
    if let Some(c) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(c.clone());
    }
    let mut builder = reqwest::Client::builder()
        // Never HTTP(S)_PROXY from the environment: the check is of the
        // real, not of some proxy.
        .no_proxy()
        // A fresh connection per check: a pooled one would hide a server
        // that stopped accepting.
        .pool_max_idle_per_host(0)
        // Upstream: verify_hostname => 0, and no CA check either.
        .tls_danger_accept_invalid_certs(true)
        .timeout(key.timeout)
        .connect_timeout(key.timeout)
        .user_agent(concat!("ldirectord-rs/", env!("CARGO_PKG_VERSION")))
        // A check's connection lives for one request: no keepalive probes
        // to set up (four setsockopt calls per check).
        .tcp_keepalive(None)
        .tcp_keepalive_interval(None)
        .tcp_keepalive_retries(None);
    if let Some(p) = &key.proxy {
        let proxy =
            reqwest::Proxy::all(p).map_err(|e| CheckError::Config(format!("proxy: {e}")))?;
        builder = builder.proxy(proxy);
    }
    if let Some((name, addr)) = &key.resolve {
        builder = builder.resolve(name, *addr);
    }
    let same_host = key.same_host;
    builder = builder.redirect(redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        let first = attempt.previous().first().and_then(|u| u.host_str());
        if same_host && attempt.url().host_str() != first {
            attempt.stop()
        } else {
            attempt.follow()
        }
    }));
    let client = builder
        .build()
        .map_err(|e| CheckError::Config(format!("http client: {}", chain(&e))))?;
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= CACHE_LIMIT {
        map.clear();
    }
    map.insert(key, client.clone());
    Ok(client)
}

/// `www.example.test` from `www.example.test:8080`; IPv6 literals (with
/// brackets) are returned as they are.
fn host_part(vhost: &str) -> &str {
    if vhost.starts_with('[') {
        return vhost;
    }
    match vhost.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.parse::<u16>().is_ok() => h,
        _ => vhost,
    }
}

/// Our reason for a reqwest error.
fn map_error(e: reqwest::Error) -> CheckError {
    let e = e.without_url();
    if e.is_timeout() {
        return CheckError::Timeout;
    }
    if let Some(reason) = io_reason(&e) {
        return reason;
    }
    if e.is_redirect() {
        return CheckError::Protocol(chain(&e));
    }
    if e.is_connect() {
        return CheckError::Io(chain(&e));
    }
    CheckError::Protocol(chain(&e))
}

/// Refused or timed out, when an io::Error saying so is somewhere in the
/// chain of `e` (a refused connection or a reset carries one).
fn io_reason(e: &(dyn std::error::Error + 'static)) -> Option<CheckError> {
    let mut src = Some(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return Some(CheckError::Refused),
                std::io::ErrorKind::TimedOut => return Some(CheckError::Timeout),
                _ => {}
            }
        }
        src = s.source();
    }
    None
}

/// `outer: inner: innermost` (call a reqwest error without its URL).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_path_connects_where_reqwest_would() {
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        let real: SocketAddr = "192.0.2.7:8080".parse().unwrap();
        // The URL built from the real: its address and check port.
        assert_eq!(
            plain_addr(&url("http://192.0.2.7:8080/h"), None),
            Some(real)
        );
        assert_eq!(
            plain_addr(&url("http://[2001:db8::7]/h"), None),
            Some("[2001:db8::7]:80".parse().unwrap())
        );
        // A name pinned to the real: the real's address, the URL's port.
        let pin = ("www.example.test".to_string(), real);
        assert_eq!(
            plain_addr(&url("http://www.example.test:8080/h"), Some(&pin)),
            Some(real)
        );
        assert_eq!(
            plain_addr(&url("http://www.example.test/h"), Some(&pin)),
            Some("192.0.2.7:80".parse().unwrap())
        );
        // A name nobody pinned: reqwest's business.
        assert_eq!(plain_addr(&url("http://www.example.test/h"), None), None);
    }

    #[test]
    fn host_part_strips_a_port() {
        assert_eq!(host_part("www.example.test"), "www.example.test");
        assert_eq!(host_part("www.example.test:8080"), "www.example.test");
        assert_eq!(host_part("[2001:db8::1]:80"), "[2001:db8::1]:80");
        assert_eq!(host_part("2001:db8::1"), "2001:db8::1");
    }
}
