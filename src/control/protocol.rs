//! The control socket's protocol: one request, one reply, each a JSON
//! object on one line (JSON Lines), then the daemon closes the connection.
//!
//! ```text
//! → {"op":"drain","real":"192.0.2.21:80"}
//! ← {"ok":true,"at":1767225600.5,"changes":[{"virtual":"tcp:192.0.2.10:80","real":"192.0.2.21:80","before":null,"after":{"action":"drain"},"weight_before":3,"weight_after":0}]}
//! → {"op":"weight","real":"[2001:db8::21]:80","virtual":"tcp:[2001:db8::10]:80","weight":5}
//! → {"op":"connections","real":"192.0.2.21:80"}
//! ← {"ok":true,"ipvs_read":1767225601.0,"connections":[{"virtual":"tcp:192.0.2.10:80","real":"192.0.2.21:80","active":2,"inactive":0}]}
//! → {"op":"plan"}
//! ← {"ok":true,"plan":["edit real 192.0.2.21:80 of tcp:192.0.2.10:80: weight 3 -> 1"]}
//! ← {"ok":false,"error":"no real server 192.0.2.99:80 in the running configuration","matches":["192.0.2.9:80"]}
//! ```
//!
//! Ops: `drain`, `disable`, `enable`, `weight` (with `weight`, 0..65535),
//! `connections` (the kernel's connection counts of the real, from the
//! director's last read; asking makes it read them every second for a
//! while) and `plan` (the kernel operations a reload would make now).
//! `real` is `ADDRESS:PORT` as `status` writes it (IPv6 in brackets);
//! `virtual`, optional, narrows the request to one virtual service:
//! upstream's id (`tcp:192.0.2.10:80`, `fwm:7`) or its address
//! (`192.0.2.10:80`, `7`). Bounds: a request is at most [`MAX_REQUEST`]
//! bytes and must arrive within [`REQUEST_TIMEOUT`]; a reply is at most
//! [`MAX_REPLY`] bytes. Unknown fields are ignored; an unknown op gets an
//! error reply.
//!
//! Also here: how the command line turns what a person types (host names,
//! service names, a virtual in any of its forms) into those strings, and
//! the close matches of an unknown real.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{bracketed, names, Family, VirtualKey};

use super::Override;

/// The longest request line (with its newline).
pub const MAX_REQUEST: usize = 4096;
/// The longest reply line: a plan of every real of a large table.
pub const MAX_REPLY: usize = 16 << 20;
/// How long the daemon waits for a request line.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client waits for a reply (a plan of 10,000 reals included).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// The real server (and optionally the virtual service) a request is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub real: String,
    #[serde(rename = "virtual", default, skip_serializing_if = "Option::is_none")]
    pub virtual_service: Option<String>,
}

/// `weight`'s request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightTarget {
    pub real: String,
    #[serde(rename = "virtual", default, skip_serializing_if = "Option::is_none")]
    pub virtual_service: Option<String>,
    pub weight: u32,
}

/// A request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    Drain(Target),
    Disable(Target),
    Enable(Target),
    Weight(WeightTarget),
    Connections(Target),
    Plan,
}

impl Request {
    /// The override a request sets (`Some(None)`: `enable` clears it);
    /// `None` for the requests that change nothing.
    pub fn setting(&self) -> Option<(Target, Option<Override>)> {
        match self {
            Request::Drain(t) => Some((t.clone(), Some(Override::Drain))),
            Request::Disable(t) => Some((t.clone(), Some(Override::Disable))),
            Request::Enable(t) => Some((t.clone(), None)),
            Request::Weight(w) => Some((
                Target {
                    real: w.real.clone(),
                    virtual_service: w.virtual_service.clone(),
                },
                Some(Override::Weight { weight: w.weight }),
            )),
            Request::Connections(_) | Request::Plan => None,
        }
    }
}

/// One (virtual, real) pair a change request touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairChange {
    #[serde(rename = "virtual")]
    pub virtual_id: String,
    pub real: String,
    pub before: Option<Override>,
    pub after: Option<Override>,
    /// The effective weight before and after (`None`: out of service).
    pub weight_before: Option<u32>,
    pub weight_after: Option<u32>,
}

/// The kernel's connection counts of one pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairConnections {
    #[serde(rename = "virtual")]
    pub virtual_id: String,
    pub real: String,
    /// `None`: not in the kernel table when it was read.
    pub active: Option<u32>,
    pub inactive: Option<u32>,
}

/// A reply. `ok` false: `error` says why (and `matches` lists the close
/// matches of an unknown real).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<String>,
    /// When the daemon made the change (seconds since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<PairChange>,
    /// When the connection counts were read from the kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipvs_read: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<PairConnections>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<String>>,
}

impl Reply {
    pub fn error(message: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            error: Some(message.into()),
            ..Reply::default()
        }
    }
}

/// `value` as one JSON line.
pub fn to_line<T: Serialize>(value: &T) -> Vec<u8> {
    let mut v = serde_json::to_vec(value).expect("plain data serialises");
    v.push(b'\n');
    v
}

/// Parse one JSON line (its newline optional).
pub fn from_line<'a, T: Deserialize<'a>>(line: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(line.strip_suffix(b"\n").unwrap_or(line)).map_err(|e| e.to_string())
}

/// `ADDRESS:PORT` (IPv6 in brackets; a host name and a service name are
/// looked up as the configuration's are) as `status` writes a real.
pub fn parse_real(spec: &str, lookup: names::Lookup) -> Result<String, String> {
    let bad = |why: &str| Err(format!("\"{spec}\" is not a real server: {why}"));
    let (host, port) = if let Some(rest) = spec.strip_prefix('[') {
        match rest.split_once("]:") {
            Some((h, p)) => (h, p),
            None => return bad("write it [IPv6]:PORT"),
        }
    } else {
        match spec.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return bad("an IPv6 address goes in brackets: [2001:db8::1]:80")
            }
            Some((h, p)) => (h, p),
            None => return bad("write it ADDRESS:PORT"),
        }
    };
    let Some(port) = names::port(port, Some("tcp")).or_else(|| names::port(port, None)) else {
        return bad(&format!("unknown port \"{port}\""));
    };
    let addr: IpAddr = match (
        names::host(host, Family::V4, lookup),
        names::host(host, Family::V6, lookup),
    ) {
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => return bad(&format!("unknown host \"{host}\"")),
    };
    Ok(format!("{}:{port}", bracketed(&addr)))
}

/// A virtual service as typed (`tcp:192.0.2.10:80`, `192.0.2.10:80`,
/// `fwm:7`, `7`, names allowed) in the form [`matches_virtual`] compares.
pub fn parse_virtual(spec: &str, lookup: names::Lookup) -> Result<String, String> {
    if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(spec.trim_start_matches('0').to_string());
    }
    for prefix in ["fwm:", "fwm6:"] {
        if let Some(mark) = spec.strip_prefix(prefix) {
            return match mark.parse::<u32>() {
                Ok(m) if m > 0 => Ok(format!("{prefix}{m}")),
                _ => Err(format!("\"{spec}\" is not a virtual service: bad mark")),
            };
        }
    }
    for prefix in ["tcp:", "udp:"] {
        if let Some(rest) = spec.strip_prefix(prefix) {
            return parse_real(rest, lookup)
                .map(|s| format!("{prefix}{s}"))
                .map_err(|e| e.replace("is not a real server", "is not a virtual service"));
        }
    }
    parse_real(spec, lookup)
        .map_err(|e| e.replace("is not a real server", "is not a virtual service"))
}

/// Whether the virtual service `key` is the one `spec` (from
/// [`parse_virtual`]) names.
pub fn matches_virtual(key: &VirtualKey, spec: &str) -> bool {
    key.id() == spec || key.service() == spec
}

/// The candidates closest to `wanted`, closest first (at most five): the
/// same address with another port, then those a few typos away.
pub fn close_matches<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let host = |s: &str| {
        s.rsplit_once(':')
            .map_or(s.to_string(), |(h, _)| h.to_string())
    };
    let wanted_host = host(wanted);
    let limit = (wanted.len() / 4).max(2);
    let mut scored: Vec<(usize, String)> = candidates
        .into_iter()
        .filter(|c| *c != wanted)
        .filter_map(|c| {
            let d = if host(c) == wanted_host {
                0
            } else {
                distance(wanted, c)
            };
            (d <= limit).then(|| (d, c.to_string()))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(5).map(|(_, c)| c).collect()
}

/// Levenshtein's distance, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use names::Lookup::HostsFile;

    #[test]
    fn requests_and_replies_are_json_lines() {
        let r = Request::Weight(WeightTarget {
            real: "192.0.2.21:80".into(),
            virtual_service: None,
            weight: 5,
        });
        let line = to_line(&r);
        assert_eq!(
            line,
            b"{\"op\":\"weight\",\"real\":\"192.0.2.21:80\",\"weight\":5}\n"
        );
        assert_eq!(from_line::<Request>(&line).unwrap(), r);
        assert_eq!(
            from_line::<Request>(b"{\"op\":\"plan\"}").unwrap(),
            Request::Plan
        );
        let d: Request =
            from_line(br#"{"op":"drain","real":"192.0.2.21:80","virtual":"7","extra":1}"#).unwrap();
        assert_eq!(
            d.setting(),
            Some((
                Target {
                    real: "192.0.2.21:80".into(),
                    virtual_service: Some("7".into())
                },
                Some(Override::Drain)
            ))
        );
        assert!(from_line::<Request>(br#"{"op":"reboot"}"#).is_err());
        assert!(from_line::<Request>(br#"{"op":"weight","real":"x","weight":-1}"#).is_err());
        let e = Reply::error("no");
        assert_eq!(to_line(&e), b"{\"ok\":false,\"error\":\"no\"}\n");
    }

    #[test]
    fn reals_and_virtuals_as_typed() {
        assert_eq!(
            parse_real("192.0.2.21:80", HostsFile).unwrap(),
            "192.0.2.21:80"
        );
        assert_eq!(
            parse_real("192.0.2.21:http", HostsFile).unwrap(),
            "192.0.2.21:80"
        );
        assert_eq!(
            parse_real("[2001:db8::21]:443", HostsFile).unwrap(),
            "[2001:db8::21]:443"
        );
        assert_eq!(
            parse_real("localhost:80", HostsFile).unwrap(),
            "127.0.0.1:80"
        );
        for bad in [
            "2001:db8::21:443",
            "192.0.2.21",
            "192.0.2.21:99999",
            "[::1]80",
            "nosuchhost.invalid:80",
        ] {
            assert!(parse_real(bad, HostsFile).is_err(), "{bad}");
        }
        assert!(parse_real("2001:db8::21:443", HostsFile)
            .unwrap_err()
            .contains("brackets"));
        assert_eq!(parse_virtual("7", HostsFile).unwrap(), "7");
        assert_eq!(parse_virtual("fwm6:7", HostsFile).unwrap(), "fwm6:7");
        assert_eq!(
            parse_virtual("tcp:192.0.2.10:http", HostsFile).unwrap(),
            "tcp:192.0.2.10:80"
        );
        assert_eq!(
            parse_virtual("192.0.2.10:80", HostsFile).unwrap(),
            "192.0.2.10:80"
        );
        assert!(parse_virtual("fwm:x", HostsFile).is_err());
        let key = VirtualKey::Addr {
            protocol: crate::config::Protocol::Tcp,
            addr: "192.0.2.10".parse().unwrap(),
            port: 80,
        };
        assert!(matches_virtual(&key, "tcp:192.0.2.10:80"));
        assert!(matches_virtual(&key, "192.0.2.10:80"));
        assert!(!matches_virtual(&key, "udp:192.0.2.10:80"));
    }

    #[test]
    fn close_matches_come_closest_first() {
        let reals = [
            "192.0.2.21:80",
            "192.0.2.22:80",
            "192.0.2.21:8080",
            "198.51.100.7:443",
        ];
        assert_eq!(
            close_matches("192.0.2.21:81", reals),
            ["192.0.2.21:80", "192.0.2.21:8080", "192.0.2.22:80"]
        );
        assert_eq!(
            close_matches("192.0.2.12:80", reals),
            ["192.0.2.22:80", "192.0.2.21:80"]
        );
        assert!(close_matches("203.0.113.99:25", reals).is_empty());
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
