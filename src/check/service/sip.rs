//! The `sip` negotiate check (upstream `check_sip`): send `OPTIONS
//! sip:<login> SIP/2.0` over the virtual's protocol (udp or tcp) with the
//! headers upstream sends (Via, Max-Forwards, To, From, Call-ID, CSeq,
//! Contact, Accept, Content-Length 0); up iff the first line of the reply
//! is `SIP/2.0 200 OK`. The request is built and replies parsed with
//! `rsip`; the transport is here.
//!
//! Must not: read more than [`MAX_MSG`] bytes per reply or look at more
//! than [`MAX_DATAGRAMS`] datagrams, outlive `negotiatetimeout`.

use std::net::{IpAddr, SocketAddr};

use rsip::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;

use super::common;
use crate::check::{CheckError, CheckResult, Target};
use crate::config::Protocol;

/// Largest reply looked at (a SIP message over UDP is at most 65,507
/// bytes; an OPTIONS answer is a few hundred).
const MAX_MSG: usize = 64 * 1024;

/// Datagrams looked at per probe (strays, answers to other Call-IDs).
const MAX_DATAGRAMS: u32 = 64;

/// Run the sip check of `t`.
pub async fn check(t: &Target) -> CheckResult {
    common::within(t, run(t)).await
}

async fn run(t: &Target) -> CheckResult {
    let addr = common::socket_addr(t)?;
    // COMPAT: with service=sip derived from port 5060 upstream sends
    // `OPTIONS sip: SIP/2.0` (empty login; the ldirectord@<hostname> default
    // comes only with an explicit service=sip). We use the default then.
    let login = if t.login.is_empty() {
        format!("ldirectord@{}", common::hostname())
    } else {
        t.login.clone()
    };
    let call_id = format!("{:016x}", rand::random::<u64>());
    match t.protocol {
        Protocol::Udp => udp(addr, &login, &call_id).await,
        Protocol::Tcp => tcp(addr, &login, &call_id).await,
    }
}

/// The OPTIONS request upstream sends. COMPAT: upstream writes
/// `SIP/2.0/UDP` in Via even over TCP and uses a fixed branch and tag; we
/// name the real transport and use random ones (RFC 3261 wants them
/// unique), so TCP replies are routed right by strict servers.
fn options(
    login: &str,
    call_id: &str,
    local: SocketAddr,
    transport: &str,
) -> Result<Vec<u8>, CheckError> {
    let uri = rsip::Uri::try_from(format!("sip:{login}").as_str())
        .map_err(|e| CheckError::Config(format!("invalid sip login {login:?}: {e}")))?;
    let host = match local.ip() {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let mut headers = rsip::Headers::default();
    headers.push(
        rsip::headers::Via::new(format!(
            "SIP/2.0/{transport} {host}:{};branch=z9hG4bK{:x}",
            local.port(),
            rand::random::<u64>()
        ))
        .into(),
    );
    headers.push(rsip::headers::MaxForwards::new("70").into());
    headers.push(rsip::headers::To::new(format!("<sip:{login}>")).into());
    headers.push(
        rsip::headers::From::new(format!("<sip:{login}>;tag={:x}", rand::random::<u32>())).into(),
    );
    headers.push(rsip::headers::CallId::new(call_id).into());
    headers.push(rsip::headers::CSeq::new("63104 OPTIONS").into());
    headers.push(rsip::headers::Contact::new(format!("<sip:{login}>")).into());
    headers.push(rsip::headers::Accept::new("application/sdp").into());
    headers.push(rsip::headers::ContentLength::new("0").into());
    let req = rsip::Request {
        method: rsip::Method::Options,
        uri,
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    };
    Ok(req.to_string().into_bytes())
}

/// Upstream's verdict on a reply: its first line must match
/// `^SIP/2.0 200 OK`.
fn verdict(reply: &[u8]) -> CheckResult {
    let line = common::first_line(reply);
    if line.starts_with("SIP/2.0 200 OK") {
        Ok(line)
    } else if line.is_empty() {
        Err(CheckError::Protocol("empty reply".into()))
    } else {
        Err(CheckError::Status(line))
    }
}

async fn udp(addr: SocketAddr, login: &str, call_id: &str) -> CheckResult {
    let bind: SocketAddr = if addr.is_ipv4() {
        (IpAddr::from([0u8; 4]), 0).into()
    } else {
        (IpAddr::from([0u16; 8]), 0).into()
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(addr).await?;
    let req = options(login, call_id, sock.local_addr()?, "UDP")?;
    sock.send(&req).await?;
    let mut buf = vec![0u8; MAX_MSG];
    for _ in 0..MAX_DATAGRAMS {
        let n = sock.recv(&mut buf).await?;
        let reply = &buf[..n];
        // Skip answers to someone else's request (an earlier probe's late
        // reply); anything we cannot parse is judged by its first line, as
        // upstream does.
        if let Ok(rsip::SipMessage::Response(resp)) = rsip::SipMessage::try_from(reply) {
            if let Ok(id) = resp.call_id_header() {
                if id.value().trim() != call_id {
                    continue;
                }
            }
        }
        return verdict(reply);
    }
    Err(CheckError::Protocol("too many stray datagrams".into()))
}

async fn tcp(addr: SocketAddr, login: &str, call_id: &str) -> CheckResult {
    let mut s = common::connect(addr).await?;
    let req = options(login, call_id, s.local_addr()?, "TCP")?;
    s.write_all(&req).await?;
    // Upstream reads the header lines up to the empty line; so do we (then
    // the first line decides).
    let mut reply = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if reply.windows(4).any(|w| w == b"\r\n\r\n") || reply.windows(2).any(|w| w == b"\n\n") {
            break;
        }
        if reply.len() >= MAX_MSG {
            return Err(CheckError::Protocol(format!(
                "reply headers longer than {MAX_MSG} bytes"
            )));
        }
        let room = (MAX_MSG - reply.len()).min(chunk.len());
        let n = s.read(&mut chunk[..room]).await?;
        if n == 0 {
            // Upstream: EOF ends the loop; without a status line, "No OK".
            if reply.is_empty() {
                return Err(CheckError::Protocol(
                    "connection closed without a reply".into(),
                ));
            }
            break;
        }
        reply.extend_from_slice(&chunk[..n]);
        // A wrong status line fails at once, as upstream dies on it.
        if reply.contains(&b'\n') {
            verdict(&reply)?;
        }
    }
    verdict(&reply)
}
