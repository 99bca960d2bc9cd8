//! Host and port names → numbers, the way upstream resolves them at parse
//! time: `getaddrinfo` restricted to the virtual's address family (first
//! answer wins, so `010.1.1.1` is 8.1.1.1 as inet_aton reads it) and
//! `getservbyname` from /etc/services.
//!
//! Owns the only libc name-service calls of the parser. Numeric literals
//! take a fast path that never touches the resolver.

use std::ffi::{CStr, CString};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

use super::model::Family;

/// How host names are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The system's resolver (nsswitch: /etc/hosts, DNS, …), as upstream.
    System,
    /// Address literals and /etc/hosts only: never sends a DNS query. Used
    /// by the test suite, whose traffic must stay on this machine.
    HostsFile,
}

/// Resolve `name` (an address literal or a host name, IPv6 optionally in
/// brackets) to its first address of `family`.
pub fn host(name: &str, family: Family, lookup: Lookup) -> Option<IpAddr> {
    if let Some(a) = literal(name, family) {
        return Some(a);
    }
    let name = unbracket(name);
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    match lookup {
        Lookup::System => getaddrinfo(name, family, 0),
        Lookup::HostsFile => {
            getaddrinfo(name, family, libc::AI_NUMERICHOST).or_else(|| hosts_file(name, family))
        }
    }
}

/// `name` as an address literal of `family` (IPv6 optionally in
/// brackets): what [`host`] returns without any lookup.
pub fn literal(name: &str, family: Family) -> Option<IpAddr> {
    let name = unbracket(name);
    match family {
        Family::V4 => name.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        Family::V6 => name.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
    }
}

fn unbracket(name: &str) -> &str {
    name.strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name)
}

/// First address of `family` for `name` in /etc/hosts.
fn hosts_file(name: &str, family: Family) -> Option<IpAddr> {
    let text = std::fs::read_to_string("/etc/hosts").ok()?;
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let addr: IpAddr = f.next()?.parse().ok()?;
            f.any(|n| n.eq_ignore_ascii_case(name)).then_some(addr)
        })
        .find(|a| super::model::family_of(a) == family)
}

fn getaddrinfo(name: &str, family: Family, flags: i32) -> Option<IpAddr> {
    let cname = CString::new(name).ok()?;
    // SAFETY: hints is zeroed as getaddrinfo requires; the result list is
    // freed before returning and only read while valid.
    unsafe {
        let mut hints: libc::addrinfo = std::mem::zeroed();
        hints.ai_family = match family {
            Family::V4 => libc::AF_INET,
            Family::V6 => libc::AF_INET6,
        };
        hints.ai_socktype = libc::SOCK_STREAM;
        hints.ai_flags = flags;
        let mut res: *mut libc::addrinfo = std::ptr::null_mut();
        if libc::getaddrinfo(cname.as_ptr(), std::ptr::null(), &hints, &mut res) != 0
            || res.is_null()
        {
            return None;
        }
        let ai = &*res;
        let addr = match ai.ai_family {
            libc::AF_INET if !ai.ai_addr.is_null() => {
                let sa = &*(ai.ai_addr as *const libc::sockaddr_in);
                Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr))))
            }
            libc::AF_INET6 if !ai.ai_addr.is_null() => {
                let sa = &*(ai.ai_addr as *const libc::sockaddr_in6);
                Some(IpAddr::V6(Ipv6Addr::from(sa.sin6_addr.s6_addr)))
            }
            _ => None,
        };
        libc::freeaddrinfo(res);
        addr
    }
}

/// Upstream `ld_getservbyname`: a decimal number below 65536 is itself;
/// anything else is looked up in /etc/services for `protocol` ("tcp",
/// "udp"), or for any protocol when `protocol` is `None`.
pub fn port(name: &str, protocol: Option<&str>) -> Option<u16> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        return name.parse::<u32>().ok().and_then(|n| u16::try_from(n).ok());
    }
    getservbyname(name, protocol)
}

/// getservbyname(3) returns a pointer into static storage.
static SERV_LOCK: Mutex<()> = Mutex::new(());

fn getservbyname(name: &str, protocol: Option<&str>) -> Option<u16> {
    let cname = CString::new(name).ok()?;
    let cproto = match protocol {
        Some(p) => Some(CString::new(p).ok()?),
        None => None,
    };
    let _guard = SERV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: arguments are valid C strings; the returned static entry is
    // read under the lock before any other call can overwrite it.
    unsafe {
        let ent = libc::getservbyname(
            cname.as_ptr(),
            cproto.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
        );
        if ent.is_null() {
            return None;
        }
        let port = u16::from_be((*ent).s_port as u16);
        let _ = CStr::from_ptr((*ent).s_name);
        Some(port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_sys(name: &str, family: Family) -> Option<IpAddr> {
        host(name, family, Lookup::HostsFile)
    }

    #[test]
    fn literals_and_inet_aton_forms() {
        assert_eq!(
            host_sys("192.0.2.1", Family::V4),
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            host_sys("[2001:db8::1]", Family::V6),
            Some("2001:db8::1".parse().unwrap())
        );
        // getaddrinfo reads these as inet_aton does (upstream behaviour).
        assert_eq!(
            host_sys("010.1.1.1", Family::V4),
            Some("8.1.1.1".parse().unwrap())
        );
        assert_eq!(
            host_sys("1.2.3", Family::V4),
            Some("1.2.0.3".parse().unwrap())
        );
        assert_eq!(
            host_sys("5060", Family::V4),
            Some("0.0.19.196".parse().unwrap())
        );
        assert_eq!(host_sys("1.2.3.4", Family::V6), None);
        assert_eq!(
            host_sys("localhost", Family::V4),
            Some("127.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn ports() {
        assert_eq!(port("80", Some("tcp")), Some(80));
        assert_eq!(port("65536", None), None);
        assert_eq!(port("http", Some("tcp")), Some(80));
        assert_eq!(port("www", None), Some(80));
        assert_eq!(port("domain", Some("udp")), Some(53));
        assert_eq!(port("no-such-service-xyz", None), None);
    }
}
