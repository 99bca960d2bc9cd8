//! The `radius` negotiate check (upstream `check_radius`, Authen::Radius
//! `check_pwd`): an Access-Request for `login`/`passwd` (User-Password
//! hidden with the shared `secret`, RFC 2865 §5.2) over UDP to the real; up
//! only on an authentic Access-Accept. The `radius` crate builds and checks
//! the packets; the UDP exchange is here.
//!
//! Must not: accept a reply that is not authentic (wrong identifier or
//! Response Authenticator), send more than [`SENDS`] requests, read more
//! than one RADIUS-sized datagram at a time, outlive its deadline.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::rfc2865;
use tokio::net::UdpSocket;

use super::common;
use crate::check::{CheckError, CheckResult, Target};

/// Requests sent per probe, spread over the deadline (a lost datagram
/// should not take a real down).
const SENDS: u32 = 3;

/// Datagrams looked at per probe, whatever arrives (strays, forgeries).
const MAX_DATAGRAMS: u32 = 64;

/// RFC 2865: a RADIUS packet is at most 4096 bytes.
const MAX_PACKET: usize = 4096;

/// The deadline: upstream runs the check under `alarm(checktimeout)` and
/// gives Authen::Radius `TimeOut => negotiatetimeout`; the shorter wins.
fn deadline(t: &Target) -> Duration {
    t.checktimeout.min(t.negotiatetimeout)
}

/// Run the radius check of `t`.
pub async fn check(t: &Target) -> CheckResult {
    common::within_for(deadline(t), run(t)).await
}

async fn run(t: &Target) -> CheckResult {
    if t.secret.is_empty() {
        // Without a secret no reply can be authenticated.
        return Err(CheckError::Config("radius check without a secret".into()));
    }
    let addr = common::socket_addr(t)?;
    let bind: SocketAddr = if addr.is_ipv4() {
        (IpAddr::from([0u8; 4]), 0).into()
    } else {
        (IpAddr::from([0u16; 8]), 0).into()
    };
    let sock = UdpSocket::bind(bind).await?;
    // connect(): only the real's datagrams are delivered, and an ICMP port
    // unreachable shows as "connection refused".
    sock.connect(addr).await?;
    let secret = t.secret.as_bytes();
    let mut req = Packet::new(Code::AccessRequest, secret);
    rfc2865::add_user_name(&mut req, &t.login);
    rfc2865::add_user_password(&mut req, t.passwd.as_bytes())
        .map_err(|e| CheckError::Config(format!("radius password: {e}")))?;
    // Authen::Radius adds the NAS address: the local address of its socket.
    match sock.local_addr()?.ip() {
        IpAddr::V4(ip) if !ip.is_unspecified() => rfc2865::add_nas_ip_address(&mut req, &ip),
        _ => rfc2865::add_nas_identifier(&mut req, "ldirectord"),
    }
    let wire = req
        .encode()
        .map_err(|e| CheckError::Protocol(format!("cannot encode the request: {e}")))?;
    let per_try = deadline(t) / SENDS;
    let mut buf = vec![0u8; MAX_PACKET];
    let mut seen = 0;
    for _ in 0..SENDS {
        sock.send(&wire).await?;
        let until = tokio::time::Instant::now() + per_try;
        loop {
            let n = match tokio::time::timeout_at(until, sock.recv(&mut buf)).await {
                Err(_) => break, // no answer in this slot: send again
                Ok(r) => r?,
            };
            seen += 1;
            if seen > MAX_DATAGRAMS {
                return Err(CheckError::Protocol("too many stray datagrams".into()));
            }
            let resp = &buf[..n];
            // A reply to another request (or garbage): not ours, wait on.
            if n < 20 || resp[1] != req.get_identifier() {
                continue;
            }
            if !Packet::is_authentic_response(resp, &wire, secret) {
                // Authen::Radius gives up here too (EBADAUTH).
                return Err(CheckError::Auth(
                    "bad Response Authenticator (wrong secret?)".into(),
                ));
            }
            let packet = Packet::decode(resp, secret)
                .map_err(|e| CheckError::Protocol(format!("bad reply: {e}")))?;
            let msg = rfc2865::lookup_reply_message(&packet)
                .and_then(|r| r.ok())
                .map(|m| format!(" ({m})"))
                .unwrap_or_default();
            return match packet.get_code() {
                Code::AccessAccept => Ok(format!("Access-Accept{msg}")),
                Code::AccessReject => Err(CheckError::Auth(format!("Access-Reject{msg}"))),
                other => Err(CheckError::Status(format!(
                    "unexpected reply {other:?}{msg}"
                ))),
            };
        }
    }
    Err(CheckError::Timeout)
}
