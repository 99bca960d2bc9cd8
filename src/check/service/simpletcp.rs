//! The `simpletcp` negotiate check (upstream `check_simpletcp`): send
//! `request` minus its first character (the `/` the parser added), with the
//! two characters `\n` turned into a line feed, over the virtual's protocol;
//! over tcp half-close the connection; then read lines until one matches
//! `receive`. No crate: there is no protocol beyond that.
//!
//! Must not: read more than [`CAP`] bytes in total or lines longer than
//! [`MAX_LINE`], look at more than [`MAX_DATAGRAMS`] datagrams, outlive
//! `negotiatetimeout`.

use std::net::{IpAddr, SocketAddr};

use regex::bytes::Regex;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UdpSocket;

use super::common::{self, Capped};
use crate::check::{CheckError, CheckResult, Target};
use crate::config::Protocol;

/// Total bytes read from the server per probe.
const CAP: usize = 1 << 20;
/// Longest line looked at.
const MAX_LINE: usize = 64 * 1024;
/// Datagrams looked at per probe over udp.
const MAX_DATAGRAMS: u32 = 64;

/// Run the simpletcp check of `t`.
pub async fn check(t: &Target) -> CheckResult {
    common::within(t, run(t)).await
}

/// What upstream sends: `substr($request, 1)` with `\n` (backslash, n)
/// turned into LF; no `\r` handling.
fn payload(t: &Target) -> Vec<u8> {
    let mut chars = t.request.chars();
    chars.next();
    chars.as_str().replace("\\n", "\n").into_bytes()
}

/// Whether `line` (without its `\n`, as Perl's `$` ignores it) is the
/// answer. COMPAT: an empty receive makes upstream re-use the last
/// successful regex of the process (unpredictable); we take any line.
fn matches(re: Option<&Regex>, line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    re.is_none_or(|re| re.is_match(line))
}

async fn run(t: &Target) -> CheckResult {
    let re = common::receive_regex(t)?;
    let addr = common::socket_addr(t)?;
    match t.protocol {
        Protocol::Tcp => tcp(t, addr, re.as_deref()).await,
        Protocol::Udp => udp(t, addr, re.as_deref()).await,
    }
}

async fn tcp(t: &Target, addr: SocketAddr, re: Option<&Regex>) -> CheckResult {
    let mut s = common::connect(addr).await?;
    s.write_all(&payload(t)).await?;
    // SHUT_WR, as upstream: many simple services answer at end of input.
    s.shutdown().await?;
    let mut r = BufReader::new(Capped::new(s, CAP));
    let mut line = Vec::new();
    let mut lines = 0usize;
    while common::read_line_capped(&mut r, &mut line, MAX_LINE).await? {
        lines += 1;
        if matches(re, &line) {
            return Ok(common::first_line(&line));
        }
    }
    Err(CheckError::Mismatch(format!(
        "no line of {lines} matched {:?}",
        t.receive
    )))
}

async fn udp(t: &Target, addr: SocketAddr, re: Option<&Regex>) -> CheckResult {
    let bind: SocketAddr = if addr.is_ipv4() {
        (IpAddr::from([0u8; 4]), 0).into()
    } else {
        (IpAddr::from([0u16; 8]), 0).into()
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(addr).await?;
    sock.send(&payload(t)).await?;
    let mut buf = vec![0u8; MAX_LINE];
    for _ in 0..MAX_DATAGRAMS {
        let n = sock.recv(&mut buf).await?;
        for line in buf[..n].split_inclusive(|&b| b == b'\n') {
            if matches(re, line) {
                return Ok(common::first_line(line));
            }
        }
    }
    Err(CheckError::Mismatch(format!(
        "no line of {MAX_DATAGRAMS} datagrams matched {:?}",
        t.receive
    )))
}
