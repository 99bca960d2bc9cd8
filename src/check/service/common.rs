//! Plumbing shared by the protocol checks of this directory (ftp, smtp,
//! pop, imap, ldap, sql, radius, sip, simpletcp, nntp): the hard deadline,
//! the TCP connect, a read cap for clients that take any stream, a capped
//! loopback relay for clients that only open their own sockets, and a TLS
//! client that does not verify certificates (as upstream's IO::Socket::SSL
//! defaults in those checks); and every service's `receive` pattern,
//! compiled once (http and dns use it too).
//!
//! Must not: know any protocol, keep state between probes (the compiled
//! patterns are a memo of the configuration, not of any probe), or read
//! from the network without a byte cap.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{ready, Context, Poll};

use regex::bytes::Regex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::rustls;

use crate::check::{CheckError, CheckResult, Target};

/// Run `f` under `t.negotiatetimeout`: the probe's hard deadline. Dropping
/// the future on expiry closes every socket it opened.
pub(crate) async fn within<F>(t: &Target, f: F) -> CheckResult
where
    F: Future<Output = CheckResult>,
{
    within_for(t.negotiatetimeout, f).await
}

/// Run `f` under the deadline `d`; errors are clipped to a log-friendly
/// length (some crates put whole unparsed replies in their messages).
pub(crate) async fn within_for<F>(d: std::time::Duration, f: F) -> CheckResult
where
    F: Future<Output = CheckResult>,
{
    match tokio::time::timeout(d, f).await {
        Ok(r) => r.map_err(clip),
        Err(_) => Err(CheckError::Timeout),
    }
}

/// Longest error text a probe reports.
const MAX_ERROR: usize = 200;

fn clip(e: CheckError) -> CheckError {
    fn c(s: String) -> String {
        if s.chars().count() <= MAX_ERROR {
            s
        } else {
            let mut t: String = s.chars().take(MAX_ERROR).collect();
            t.push('…');
            t
        }
    }
    match e {
        CheckError::Io(s) => CheckError::Io(c(s)),
        CheckError::Mismatch(s) => CheckError::Mismatch(c(s)),
        CheckError::Status(s) => CheckError::Status(c(s)),
        CheckError::Protocol(s) => CheckError::Protocol(c(s)),
        CheckError::Auth(s) => CheckError::Auth(c(s)),
        CheckError::Config(s) => CheckError::Config(c(s)),
        other => other,
    }
}

/// The address the probe talks to.
pub(crate) fn socket_addr(t: &Target) -> Result<SocketAddr, CheckError> {
    t.socket_addr()
        .ok_or_else(|| CheckError::Config(format!("{}: no port to check", t.service)))
}

/// A plain TCP connection to `addr` (no timeout of its own: callers run
/// under [`within`]).
pub(crate) async fn connect(addr: SocketAddr) -> Result<TcpStream, CheckError> {
    let s = TcpStream::connect(addr).await?;
    // Requests are small and answered one at a time: don't let Nagle add
    // delay to each exchange.
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// `receive` as a regex over bytes (Perl matches bytes, not UTF-8 text);
/// an empty one is `None` (callers decide what that means, per service).
pub(crate) fn receive_regex(t: &Target) -> Result<Option<Arc<Regex>>, CheckError> {
    if t.receive.is_empty() {
        return Ok(None);
    }
    compiled(&t.receive).map(Some)
}

/// `pattern` compiled once, not once per check, and shared: compiling
/// costs far more than a match, and a clone of a `Regex` starts with an
/// empty match cache, which its first search builds (about 3,000
/// instructions of every http check with a `receive`, measured with
/// callgrind in `benches/check_cost.rs`).
pub(crate) fn compiled(pattern: &str) -> Result<Arc<Regex>, CheckError> {
    type Cache = HashMap<String, Arc<Regex>>;
    /// A cache larger than this is dropped whole (reloads can leave stale
    /// patterns; no configuration has this many).
    const LIMIT: usize = 10_000;
    static PATTERNS: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = PATTERNS.get_or_init(Default::default);
    if let Some(re) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(pattern) {
        return Ok(re.clone());
    }
    let re = regex::bytes::RegexBuilder::new(pattern)
        // A config value, but keep a hostile or silly pattern from eating
        // memory.
        .size_limit(1 << 20)
        .build()
        .map(Arc::new)
        .map_err(|e| CheckError::Config(format!("invalid receive regex {pattern:?}: {e}")))?;
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= LIMIT {
        map.clear();
    }
    map.insert(pattern.to_string(), re.clone());
    Ok(re)
}

/// The first line of `bytes`, lossily decoded and trimmed, at most 200
/// characters: what a probe reports as its [`crate::check::Detail`].
pub(crate) fn first_line(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let s = String::from_utf8_lossy(&bytes[..end]);
    s.trim().chars().take(200).collect()
}

/// Aborts a spawned helper task (a client's connection driver, a relay)
/// when the probe ends, whichever way it ends.
pub(crate) struct AbortOnDrop<T>(pub JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The error a [`Capped`] stream returns once its budget is spent.
fn cap_error(cap: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the server sent more than {cap} bytes"),
    )
}

/// A stream whose reads fail once `cap` bytes have been read in total.
/// Wrapped around the socket of every client crate that takes a stream, so
/// an endless or oversized answer costs at most `cap` bytes of memory
/// whatever the crate buffers.
#[derive(Debug)]
pub(crate) struct Capped<S> {
    inner: S,
    cap: usize,
    left: usize,
}

impl<S> Capped<S> {
    pub(crate) fn new(inner: S, cap: usize) -> Self {
        Capped {
            inner,
            cap,
            left: cap,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if self.left == 0 {
            return Poll::Ready(Err(cap_error(self.cap)));
        }
        let max = self.left.min(buf.remaining());
        let dst = buf.initialize_unfilled_to(max);
        let mut sub = ReadBuf::new(dst);
        ready!(Pin::new(&mut self.inner).poll_read(cx, &mut sub))?;
        let n = sub.filled().len();
        buf.advance(n);
        self.left -= n;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A loopback relay to a real server for client crates that open their own
/// sockets (mysql_async, ldap3): the crate talks to `local`, the relay
/// forwards to the real and passes back at most `cap` bytes, then closes.
/// That bounds what the crate can buffer, whatever the server sends. The
/// relay task ends when this value is dropped.
pub(crate) struct Relay {
    /// Where the client crate must connect.
    pub local: SocketAddr,
    /// The client end, when the relay made the connection itself
    /// ([`Relay::paired`]).
    pub stream: Option<std::net::TcpStream>,
    cap: usize,
    cap_hit: Arc<AtomicBool>,
    _task: AbortOnDrop<()>,
}

impl Relay {
    /// Connect to `remote` (so a refused or unreachable real is reported
    /// as such), then listen on an ephemeral loopback port for the client
    /// crate's connection. Any local process could race the crate to that
    /// port; the worst it can do is make this probe fail. Prefer
    /// [`Relay::paired`] where the crate accepts a ready stream.
    pub(crate) async fn open(remote: SocketAddr, cap: usize) -> Result<Relay, CheckError> {
        let upstream = connect(remote).await?;
        let listener = TcpListener::bind(loopback_for(remote)).await?;
        let local = listener.local_addr()?;
        let cap_hit = Arc::new(AtomicBool::new(false));
        let hit = cap_hit.clone();
        let task = tokio::spawn(async move {
            if let Ok((down, _)) = listener.accept().await {
                drop(listener);
                pump(down, upstream, cap, &hit).await;
            }
        });
        Ok(Relay {
            local,
            stream: None,
            cap,
            cap_hit,
            _task: AbortOnDrop(task),
        })
    }

    /// Like [`Relay::open`], but the relay also makes the client
    /// connection and checks that the peer it accepted is that connection,
    /// so no other process can take its place. The client end is in
    /// `stream` (a blocking-mode std stream, for crates that want one).
    pub(crate) async fn paired(remote: SocketAddr, cap: usize) -> Result<Relay, CheckError> {
        let upstream = connect(remote).await?;
        let listener = TcpListener::bind(loopback_for(remote)).await?;
        let local = listener.local_addr()?;
        let client = TcpStream::connect(local).await?;
        let client_addr = client.local_addr()?;
        let down = loop {
            let (s, peer) = listener.accept().await?;
            if peer == client_addr {
                break s;
            }
            // Someone else: drop it and keep waiting (bounded by the
            // probe's deadline).
        };
        drop(listener);
        let cap_hit = Arc::new(AtomicBool::new(false));
        let hit = cap_hit.clone();
        let task = tokio::spawn(async move { pump(down, upstream, cap, &hit).await });
        let std = client.into_std()?;
        std.set_nonblocking(false)?;
        Ok(Relay {
            local,
            stream: Some(std),
            cap,
            cap_hit,
            _task: AbortOnDrop(task),
        })
    }

    /// `e` as a probe error, or "too much data" when the relay cut the
    /// server off (the crate then only saw an EOF).
    pub(crate) fn explain(&self, e: CheckError) -> CheckError {
        if self.cap_hit.load(Ordering::Relaxed) {
            CheckError::Protocol(format!("the server sent more than {} bytes", self.cap))
        } else {
            e
        }
    }
}

fn loopback_for(remote: SocketAddr) -> SocketAddr {
    // Same family as the real, so a crate that copies the address family
    // into its protocol (none does today) sees the right one; ::1 may be
    // missing on IPv4-only hosts, then use 127.0.0.1.
    let ip = match remote.ip() {
        IpAddr::V6(_) if std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok() => {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        }
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    SocketAddr::new(ip, 0)
}

/// Copy both ways between the client crate (`down`) and the real (`up`);
/// at most `cap` bytes from the real. Returns when the server side is
/// done (EOF, error or cap).
async fn pump(down: TcpStream, up: TcpStream, cap: usize, cap_hit: &AtomicBool) {
    let (mut dr, mut dw) = down.into_split();
    let (ur, mut uw) = up.into_split();
    let to_up = async {
        let _ = tokio::io::copy(&mut dr, &mut uw).await;
        let _ = uw.shutdown().await;
        // The client half-closing is not the end: the answer may follow.
        std::future::pending::<()>().await
    };
    let to_down = async {
        let mut limited = ur.take(cap as u64 + 1);
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0usize;
        loop {
            let n = match limited.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            total += n;
            if total > cap {
                cap_hit.store(true, Ordering::Relaxed);
                break;
            }
            if dw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = dw.shutdown().await;
    };
    // The server side decides: once it is done, the client has all it
    // will get.
    tokio::select! {
        _ = to_up => {}
        _ = to_down => {}
    }
}

/// A rustls client config that accepts any certificate (upstream's
/// IO::Socket::SSL in the pops/imaps/ldaps checks does not verify either)
/// but still checks the handshake signatures. ring is named explicitly, so
/// this works whatever other crates enable in rustls.
pub(crate) fn tls_config() -> Arc<rustls::ClientConfig> {
    static CFG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CFG.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth();
        Arc::new(cfg)
    })
    .clone()
}

/// TLS client handshake over `stream` to the real at `ip` (no SNI: the
/// name is an address, as upstream connects by address).
pub(crate) async fn tls_connect<S>(
    stream: S,
    ip: IpAddr,
) -> Result<tokio_rustls::client::TlsStream<S>, CheckError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let connector = tokio_rustls::TlsConnector::from(tls_config());
    connector
        .connect(rustls::pki_types::ServerName::from(ip), stream)
        .await
        .map_err(|e| CheckError::Protocol(format!("TLS handshake failed: {e}")))
}

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Read one line (up to and including `\n`) into `line`, at most `max`
/// bytes; `Ok(false)` on EOF before any byte. A longer line is an error.
pub(crate) async fn read_line_capped<R>(
    r: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> Result<bool, CheckError>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    use tokio::io::AsyncBufReadExt;
    line.clear();
    let n = r.take(max as u64).read_until(b'\n', line).await?;
    if n == 0 {
        return Ok(false);
    }
    if line.last() != Some(&b'\n') && n >= max {
        return Err(CheckError::Protocol(format!(
            "line longer than {max} bytes"
        )));
    }
    Ok(true)
}

/// `$HOSTNAME` or the node name, as upstream uses it in default logins.
pub(crate) fn hostname() -> String {
    crate::config::resolve::system_hostname()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receive_pattern_is_compiled_once_and_shared() {
        let a = compiled("^OK [0-9]+$").unwrap();
        let b = compiled("^OK [0-9]+$").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(a.is_match(b"OK 42"));
        assert!(!Arc::ptr_eq(&a, &compiled("^OK").unwrap()));
    }

    #[test]
    fn a_bad_or_huge_receive_pattern_is_a_config_error() {
        assert!(matches!(compiled("(unclosed"), Err(CheckError::Config(_))));
        // Compiles to far more than the 1 MiB limit.
        assert!(matches!(
            compiled(r"\w{1000}{1000}"),
            Err(CheckError::Config(_))
        ));
    }
}
