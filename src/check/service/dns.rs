//! The dns negotiate check (upstream §c: Net::DNS with the real as the
//! nameserver; up iff some A address or PTR name of the answer matches
//! `receive`). Owns sending the queries to the real over udp (udp
//! services) or tcp (tcp services) and matching the answers. Must not use
//! the system resolver, its configuration or cache: the question is what
//! *this* server answers.
//!
//! Divergences from upstream, on purpose:
//! - AAAA: upstream only looks at A and PTR records, so a `receive` of
//!   `2001:db8::` never matched (a bug). We ask A and AAAA for a name and
//!   match the addresses of both.
//! - Search domains: upstream's `search()` also tries the resolv.conf search
//!   list for a name without dots; we query the name as written (as an
//!   absolute name).
//!
//! Kept from upstream: an empty `receive` is always DOWN (nothing is
//! matched against an empty pattern there; we say so in the reason).

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use hickory_net::NetError;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use super::super::{CheckError, CheckResult, Target};
use crate::config::Protocol;

/// Run the dns check of `t` under `t.negotiatetimeout`.
pub async fn check(t: &Target) -> CheckResult {
    match tokio::time::timeout(t.negotiatetimeout, query(t)).await {
        Ok(r) => r,
        Err(_) => Err(CheckError::Timeout),
    }
}

/// What to ask for `request`: a PTR query for an IP address or a reverse
/// name, else A and AAAA.
pub fn questions(request: &str) -> Result<(Name, Vec<RecordType>), CheckError> {
    let request = request.strip_prefix('/').unwrap_or(request);
    if request.is_empty() {
        return Err(CheckError::Config("dns check without a request".into()));
    }
    if let Ok(ip) = request.parse::<IpAddr>() {
        return Ok((Name::from(ip), vec![RecordType::PTR]));
    }
    let mut name = Name::from_str(request)
        .map_err(|e| CheckError::Config(format!("invalid name {request:?}: {e}")))?;
    name.set_fqdn(true);
    let lower = request.trim_end_matches('.').to_ascii_lowercase();
    if lower.ends_with(".in-addr.arpa") || lower.ends_with(".ip6.arpa") {
        Ok((name, vec![RecordType::PTR]))
    } else {
        Ok((name, vec![RecordType::A, RecordType::AAAA]))
    }
}

async fn query(t: &Target) -> CheckResult {
    if t.receive.is_empty() {
        return Err(CheckError::Config(
            "dns check with an empty receive is always down (as upstream)".into(),
        ));
    }
    let re = super::common::compiled(&t.receive)?;
    let (name, types) = questions(&t.request)?;
    let server = t
        .socket_addr()
        .ok_or_else(|| CheckError::Config("no port to check".into()))?;
    let mut client = connect(server, t.protocol, t.negotiatetimeout).await?;

    let mut seen = Vec::new();
    let mut last_err = None;
    for rtype in types {
        let resp = match client.query(name.clone(), DNSClass::IN, rtype).await {
            Ok(r) => r,
            Err(e) => {
                last_err = Some(map_error(e));
                continue;
            }
        };
        if resp.metadata.response_code != ResponseCode::NoError {
            last_err = Some(CheckError::Status(format!(
                "{rtype} {name}: {}",
                resp.metadata.response_code
            )));
            continue;
        }
        for rec in &resp.answers {
            let value = match &rec.data {
                RData::A(a) => a.0.to_string(),
                RData::AAAA(a) => a.0.to_string(),
                RData::PTR(p) => p.0.to_string(),
                _ => continue,
            };
            if re.is_match(value.as_bytes()) {
                return Ok(format!("{name} {} {value}", rec.record_type()));
            }
            seen.push(value);
        }
    }
    if seen.is_empty() {
        if let Some(e) = last_err {
            return Err(e);
        }
        return Err(CheckError::Mismatch(format!("no answer for {name}")));
    }
    Err(CheckError::Mismatch(format!(
        "{name}: {} does not match {:?}",
        seen.join(", "),
        t.receive
    )))
}

/// A client talking to `server` only, over udp or tcp.
async fn connect(
    server: SocketAddr,
    protocol: Protocol,
    timeout: Duration,
) -> Result<Client<TokioRuntimeProvider>, CheckError> {
    let provider = TokioRuntimeProvider::default();
    // The background tasks end when the client is dropped.
    let client = match protocol {
        Protocol::Udp => {
            let stream = UdpClientStream::builder(server, provider)
                .with_timeout(Some(timeout))
                .build();
            let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(stream);
            tokio::spawn(bg);
            client
        }
        Protocol::Tcp => {
            let (fut, handle) = TcpClientStream::new(server, None, Some(timeout), provider);
            let stream = fut.await.map_err(map_error)?;
            let (client, bg) =
                Client::<TokioRuntimeProvider>::with_timeout(stream, handle, timeout);
            tokio::spawn(bg);
            client
        }
    };
    Ok(client)
}

fn map_error(e: NetError) -> CheckError {
    match e {
        NetError::Timeout => CheckError::Timeout,
        NetError::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => CheckError::Refused,
            std::io::ErrorKind::TimedOut => CheckError::Timeout,
            _ => CheckError::Io(io.to_string()),
        },
        NetError::Dns(d) => CheckError::Status(d.to_string()),
        other => CheckError::Protocol(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_by_request_form() {
        let (n, t) = questions("/www.example.test").unwrap();
        assert_eq!(n.to_string(), "www.example.test.");
        assert_eq!(t, [RecordType::A, RecordType::AAAA]);
        let (n, t) = questions("10.2.0.192.in-addr.arpa").unwrap();
        assert_eq!(n.to_string(), "10.2.0.192.in-addr.arpa.");
        assert_eq!(t, [RecordType::PTR]);
        let (n, t) = questions("192.0.2.10").unwrap();
        assert_eq!(n.to_string(), "10.2.0.192.in-addr.arpa.");
        assert_eq!(t, [RecordType::PTR]);
        let (n, _) = questions("2001:db8::10").unwrap();
        assert!(n.to_string().ends_with(".ip6.arpa."), "{n}");
        assert!(questions("/").is_err());
    }
}
