//! [`Target`]: everything one probe of one real server needs, derived from
//! the configuration. Two virtual services that check the same real with
//! the same settings yield equal targets, so the pool runs one probe for
//! both and a failure counts once (upstream counts it once per virtual).

use std::net::IpAddr;
use std::time::Duration;

use crate::config::{CheckType, HttpMethod, Protocol, Real, Service, Virtual, VirtualKey};

/// One probe's inputs. `Eq + Hash`: this is the probe's identity, stable
/// across reloads as long as nothing that matters to the probe changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub checktype: CheckType,
    pub service: Service,
    /// The real server's address.
    pub addr: IpAddr,
    /// The real's own port (0 for fwmark reals).
    pub real_port: u16,
    /// Port the probe connects to: checkport, else the real's port, else the
    /// service's well-known port (None: the service has none, e.g. none).
    pub port: Option<u16>,
    /// tcp or udp: the virtual's protocol (fwmark services probe over tcp).
    pub protocol: Protocol,
    /// The virtual service, only for external checks, whose arguments name
    /// it (`VIP VPORT RIP RPORT`). `None` for every other checktype, so that
    /// virtuals sharing a real share its probe (upstream's real id has no
    /// virtual in it either).
    pub virtual_key: Option<VirtualKey>,
    pub request: String,
    pub receive: String,
    /// http/https/http_proxy: the URL to fetch (upstream's `url`).
    pub url: String,
    pub httpmethod: HttpMethod,
    pub virtualhost: Option<String>,
    pub login: String,
    pub passwd: String,
    pub database: String,
    pub secret: String,
    pub checkcommand: String,
    /// ping: number of attempts.
    pub checkcount: u32,
    /// Deadline of connect, ping and external probes.
    pub checktimeout: Duration,
    /// Deadline of negotiate probes.
    pub negotiatetimeout: Duration,
    /// A plain http check's request (address, Host, path), worked out from
    /// the fields above on its first run and kept for the next ones
    /// (parsing the URL and building the headers was a tenth of a check's
    /// instructions). Not part of the identity: equal targets are equal
    /// whether it is filled or not.
    pub prepared: Memo<super::service::http::Prepared>,
}

/// A value worked out once from the rest of a struct, which does not
/// count in its equality (always equal) and is not printed.
/// A copy starts empty: a copied target may be changed before its first
/// run (tests build targets that way), and must not keep the original's.
pub struct Memo<T>(std::sync::OnceLock<T>);

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Memo(std::sync::OnceLock::new())
    }
}

impl<T> Clone for Memo<T> {
    fn clone(&self) -> Self {
        Memo::default()
    }
}

impl<T> Memo<T> {
    /// The value, worked out by `f` the first time.
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(f)
    }
}

impl<T> PartialEq for Memo<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> Eq for Memo<T> {}

impl<T> std::fmt::Debug for Memo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

/// Hashes where the probe goes, not all of it: equal targets hash
/// equally all the same, and the schedule, the health table and the
/// director hash a target on every result (hashing its strings too was a
/// visible part of a check's cost).
impl std::hash::Hash for Target {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.addr.hash(state);
        self.port.hash(state);
        self.real_port.hash(state);
        self.service.hash(state);
        self.checktype.hash(state);
    }
}

impl Target {
    /// The probe of `real` in virtual service `v`.
    pub fn new(v: &Virtual, real: &Real) -> Target {
        let protocol = match v.key {
            VirtualKey::Addr { protocol, .. } => protocol,
            VirtualKey::Fwmark { .. } => Protocol::Tcp,
        };
        Target {
            checktype: v.checktype,
            service: v.service,
            addr: real.addr,
            real_port: real.port,
            port: v.check_port(real),
            protocol,
            virtual_key: match v.checktype {
                CheckType::External | CheckType::ExternalPerl => Some(v.key),
                _ => None,
            },
            request: v.request_for(real).to_string(),
            receive: v.receive_for(real).to_string(),
            // Only a negotiate check fetches it; formatting it for every
            // other real was a tenth of a `checktype=on` start-up's own
            // instructions (benches/startup_on.rs).
            url: match v.checktype {
                CheckType::Negotiate | CheckType::Combined(_) => v.check_url(real),
                _ => String::new(),
            },
            httpmethod: v.httpmethod,
            virtualhost: v.virtualhost.clone(),
            login: v.login.clone(),
            passwd: v.passwd.clone(),
            database: v.database.clone(),
            secret: v.secret.clone(),
            checkcommand: v.checkcommand.clone(),
            checkcount: v.checkcount,
            checktimeout: Duration::from_secs(u64::from(v.checktimeout)),
            negotiatetimeout: Duration::from_secs(u64::from(v.negotiatetimeout)),
            prepared: Memo::default(),
        }
    }

    /// `RIP:PORT` of the probe (IPv6 in brackets), for messages.
    pub fn endpoint(&self) -> String {
        let host = crate::config::bracketed(&self.addr);
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }

    /// The socket address a probe connects to; `None` when there is no
    /// port to check.
    pub fn socket_addr(&self) -> Option<std::net::SocketAddr> {
        self.port.map(|p| std::net::SocketAddr::new(self.addr, p))
    }
}
