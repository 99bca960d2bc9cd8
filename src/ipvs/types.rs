//! The IPVS data model: what identifies a service or destination, what is
//! configured on it, and what the kernel reports about it.
//!
//! Owns: three separate layers of types, so a reconciler can diff on
//! configured fields without ever tripping over counters:
//!
//! | layer | service | destination |
//! |---|---|---|
//! | identity | [`ServiceKey`] | [`DestKey`] |
//! | configured (`Service` ⊇ key) | [`Service`] | [`Dest`] |
//! | observed (read-back only) | [`ServiceEntry`] (+ [`Stats`]) | [`DestEntry`] (+ [`ConnCounts`], [`Stats`]) |
//!
//! Values here are *normalised*: what a dump returns compares equal to what
//! was added (the kernel's `IP_VS_SVC_F_HASHED` bit is never stored, addresses
//! are `IpAddr`s of the right family, the persistence timeout is in seconds).
//! Must not: know about netlink encoding or sockets.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use super::consts::*;

/// Address family of a service or destination (`AF_INET` / `AF_INET6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// `AF_INET` (2)
    Inet,
    /// `AF_INET6` (10)
    Inet6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }

    /// The `AF_*` value sent on the wire.
    pub fn to_af(self) -> u16 {
        match self {
            Family::Inet => AF_INET,
            Family::Inet6 => AF_INET6,
        }
    }

    /// Parses an `AF_*` value; `None` for anything but 2 and 10.
    pub fn from_af(af: u16) -> Option<Family> {
        match af {
            AF_INET => Some(Family::Inet),
            AF_INET6 => Some(Family::Inet6),
            _ => None,
        }
    }
}

/// Transport protocol of an address-based virtual service.
///
/// The genl path of the kernel accepts any protocol number (see
/// `ipvs-netlink.md` §4.2), so this closed enum is the userspace validation
/// that ipvsadm also does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// `IPPROTO_TCP` (6), ipvsadm `-t`
    Tcp,
    /// `IPPROTO_UDP` (17), ipvsadm `-u`
    Udp,
    /// `IPPROTO_SCTP` (132), ipvsadm `--sctp-service`
    Sctp,
}

impl Protocol {
    /// The IP protocol number (sent as a host-order u16).
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => IPPROTO_TCP,
            Protocol::Udp => IPPROTO_UDP,
            Protocol::Sctp => IPPROTO_SCTP,
        }
    }

    /// Parses an IP protocol number.
    pub fn from_number(n: u16) -> Option<Protocol> {
        match n {
            IPPROTO_TCP => Some(Protocol::Tcp),
            IPPROTO_UDP => Some(Protocol::Udp),
            IPPROTO_SCTP => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The name ipvsadm prints in the `Prot` column.
    pub fn ipvsadm_name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// What identifies a virtual service in the kernel.
///
/// The kernel looks services up by `(af, fwmark)` or by
/// `(af, protocol, addr, port)`; nothing else is part of the identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKey {
    /// `-t/-u/--sctp-service addr:port`
    Addr {
        /// transport protocol
        protocol: Protocol,
        /// virtual address; its family is the service's family
        addr: IpAddr,
        /// virtual port (0 = all ports; ipvsadm then insists on persistence)
        port: u16,
    },
    /// `-f mark [-6]`
    Fwmark {
        /// `AF_INET` or `AF_INET6`
        family: Family,
        /// firewall mark
        mark: u32,
    },
}

impl ServiceKey {
    /// A TCP service.
    pub fn tcp(addr: IpAddr, port: u16) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr,
            port,
        }
    }

    /// A UDP service.
    pub fn udp(addr: IpAddr, port: u16) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr,
            port,
        }
    }

    /// An SCTP service.
    pub fn sctp(addr: IpAddr, port: u16) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Sctp,
            addr,
            port,
        }
    }

    /// A firewall-mark service.
    pub fn fwmark(family: Family, mark: u32) -> Self {
        ServiceKey::Fwmark { family, mark }
    }

    /// The service's address family.
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }

    /// True for firewall-mark services.
    pub fn is_fwmark(&self) -> bool {
        matches!(self, ServiceKey::Fwmark { .. })
    }

    /// The virtual port, 0 for fwmark services.
    pub fn port(&self) -> u16 {
        match self {
            ServiceKey::Addr { port, .. } => *port,
            ServiceKey::Fwmark { .. } => 0,
        }
    }

    /// Sort key with ipvsadm's order (`libipvs.c ipvs_cmp_services`): fwmark
    /// (0 for address services, so those come first), AF, protocol, address
    /// (as big-endian words), port.
    ///
    /// ipvsadm compares by subtracting unsigned values into an `int`, which
    /// is not a total order for values more than 2^31 apart; within that
    /// range the orders agree, and this one is total.
    pub fn ipvsadm_order(&self) -> (u32, u16, u16, [u8; 16], u16) {
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => (
                0,
                Family::of(addr).to_af(),
                protocol.number(),
                addr16(addr),
                *port,
            ),
            ServiceKey::Fwmark { family, mark } => (*mark, family.to_af(), 0, [0; 16], 0),
        }
    }
}

impl fmt::Display for ServiceKey {
    /// ipvsadm-like: `TCP 192.0.2.1:80`, `UDP [2001:db8::1]:53`, `FWM 7 IPv6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                write!(f, "{} {}", protocol.ipvsadm_name(), HostPort(addr, *port))
            }
            ServiceKey::Fwmark {
                family: Family::Inet,
                mark,
            } => write!(f, "FWM {mark}"),
            ServiceKey::Fwmark {
                family: Family::Inet6,
                mark,
            } => write!(f, "FWM {mark} IPv6"),
        }
    }
}

/// `addr:port`, with brackets around IPv6 addresses, as ipvsadm prints it.
pub(crate) struct HostPort<'a>(pub &'a IpAddr, pub u16);

impl fmt::Display for HostPort<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

/// The address as the kernel's 16-byte `union nf_inet_addr` (v4 in the
/// first four bytes), big-endian.
pub(crate) fn addr16(addr: &IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => {
            let mut b = [0; 16];
            b[..4].copy_from_slice(&a.octets());
            b
        }
        IpAddr::V6(a) => a.octets(),
    }
}

/// Service flags (`IP_VS_SVC_F_*`) that userspace sets.
///
/// `IP_VS_SVC_F_HASHED` is kernel-internal and is never kept here: the
/// constructor masks it off, so a dump compares equal to what was added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ServiceFlags(u32);

impl ServiceFlags {
    /// `IP_VS_SVC_F_PERSISTENT` (ipvsadm `-p`)
    pub const PERSISTENT: ServiceFlags = ServiceFlags(IP_VS_SVC_F_PERSISTENT);
    /// `IP_VS_SVC_F_ONEPACKET` (ipvsadm `-o`, "ops")
    pub const ONEPACKET: ServiceFlags = ServiceFlags(IP_VS_SVC_F_ONEPACKET);
    /// `IP_VS_SVC_F_SCHED1`: `sh-fallback` for sh, `mh-fallback` for mh, else `flag-1`
    pub const SCHED1: ServiceFlags = ServiceFlags(IP_VS_SVC_F_SCHED1);
    /// `IP_VS_SVC_F_SCHED2`: `sh-port` for sh, `mh-port` for mh, else `flag-2`
    pub const SCHED2: ServiceFlags = ServiceFlags(IP_VS_SVC_F_SCHED2);
    /// `IP_VS_SVC_F_SCHED3`: `flag-3`
    pub const SCHED3: ServiceFlags = ServiceFlags(IP_VS_SVC_F_SCHED3);

    /// `IP_VS_SVC_F_SCHED_SH_FALLBACK` (= SCHED1)
    pub const SH_FALLBACK: ServiceFlags = Self::SCHED1;
    /// `IP_VS_SVC_F_SCHED_SH_PORT` (= SCHED2)
    pub const SH_PORT: ServiceFlags = Self::SCHED2;
    /// `IP_VS_SVC_F_SCHED_MH_FALLBACK` (= SCHED1)
    pub const MH_FALLBACK: ServiceFlags = Self::SCHED1;
    /// `IP_VS_SVC_F_SCHED_MH_PORT` (= SCHED2)
    pub const MH_PORT: ServiceFlags = Self::SCHED2;

    /// No flags.
    pub const fn empty() -> Self {
        ServiceFlags(0)
    }

    /// From raw `IP_VS_SVC_F_*` bits; the HASHED bit is dropped.
    pub const fn from_bits(bits: u32) -> Self {
        ServiceFlags(bits & !IP_VS_SVC_F_HASHED)
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// True if every bit of `other` is set.
    pub const fn contains(self, other: ServiceFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for ServiceFlags {
    type Output = ServiceFlags;
    fn bitor(self, rhs: ServiceFlags) -> ServiceFlags {
        ServiceFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for ServiceFlags {
    fn bitor_assign(&mut self, rhs: ServiceFlags) {
        self.0 |= rhs.0;
    }
}

/// Persistence granularity (`IPVS_SVC_ATTR_NETMASK`, ipvsadm `-M`).
///
/// The two families put different things in the same u32 attribute: IPv4 a
/// mask (sent big-endian), IPv6 a prefix length (sent host-order, valid
/// 1..=128; the kernel answers EINVAL otherwise). The v6 variant keeps the
/// raw u32 so that an invalid value can be expressed and sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Netmask {
    /// IPv4 mask, e.g. 255.255.255.0
    V4(Ipv4Addr),
    /// IPv6 prefix length
    V6(u32),
}

impl Netmask {
    /// ipvsadm's default for a family: 255.255.255.255 or /128.
    pub fn host(family: Family) -> Netmask {
        match family {
            Family::Inet => Netmask::V4(Ipv4Addr::BROADCAST),
            Family::Inet6 => Netmask::V6(128),
        }
    }

    /// The four bytes of `IPVS_SVC_ATTR_NETMASK` as sent on the wire.
    pub fn wire_bytes(self) -> [u8; 4] {
        match self {
            Netmask::V4(m) => m.octets(),
            Netmask::V6(p) => p.to_ne_bytes(),
        }
    }

    /// Interprets the four wire bytes according to the service family.
    pub fn from_wire(family: Family, b: [u8; 4]) -> Netmask {
        match family {
            Family::Inet => Netmask::V4(Ipv4Addr::from(b)),
            Family::Inet6 => Netmask::V6(u32::from_ne_bytes(b)),
        }
    }
}

/// A virtual service as configured: its key plus every field that
/// `IPVS_CMD_NEW_SERVICE`/`SET_SERVICE` carry (SET replaces all of them).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Service {
    /// identity
    pub key: ServiceKey,
    /// scheduler name (`-s`), at most 15 bytes; "none" = no scheduler
    pub scheduler: String,
    /// `IP_VS_SVC_F_*` without HASHED
    pub flags: ServiceFlags,
    /// persistence timeout in seconds (`-p`); 0 when not persistent
    pub timeout: u32,
    /// persistence granularity (`-M`)
    pub netmask: Netmask,
    /// persistence engine (`--pe`), e.g. "sip"
    pub pe_name: Option<String>,
}

impl Service {
    /// A service with ipvsadm's defaults: the given scheduler, no flags, no
    /// persistence, host netmask, no PE.
    pub fn new(key: ServiceKey, scheduler: &str) -> Self {
        Service {
            key,
            scheduler: scheduler.to_owned(),
            flags: ServiceFlags::empty(),
            timeout: 0,
            netmask: Netmask::host(key.family()),
            pe_name: None,
        }
    }

    /// Makes the service persistent with `timeout` seconds (ipvsadm `-p`).
    pub fn persistent(mut self, timeout: u32) -> Self {
        self.flags |= ServiceFlags::PERSISTENT;
        self.timeout = timeout;
        self
    }

    /// Sets the persistence netmask (ipvsadm `-M`).
    pub fn netmask(mut self, netmask: Netmask) -> Self {
        self.netmask = netmask;
        self
    }

    /// Adds flags.
    pub fn flags(mut self, flags: ServiceFlags) -> Self {
        self.flags |= flags;
        self
    }

    /// Sets the persistence engine (ipvsadm `--pe`).
    pub fn pe(mut self, name: &str) -> Self {
        self.pe_name = Some(name.to_owned());
        self
    }
}

/// Forwarding method of a destination (`IP_VS_CONN_F_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Forward {
    /// `IP_VS_CONN_F_MASQ` (0), ipvsadm `-m`, "Masq"
    Masq,
    /// `IP_VS_CONN_F_LOCALNODE` (1), "Local"
    Local,
    /// `IP_VS_CONN_F_TUNNEL` (2), ipvsadm `-i`, "Tunnel"
    Tunnel,
    /// `IP_VS_CONN_F_DROUTE` (3), ipvsadm `-g` (its default), "Route"
    Route,
}

impl Forward {
    /// The `IPVS_DEST_ATTR_FWD_METHOD` value.
    pub fn to_wire(self) -> u32 {
        match self {
            Forward::Masq => IP_VS_CONN_F_MASQ,
            Forward::Local => IP_VS_CONN_F_LOCALNODE,
            Forward::Tunnel => IP_VS_CONN_F_TUNNEL,
            Forward::Route => IP_VS_CONN_F_DROUTE,
        }
    }

    /// Parses `IPVS_DEST_ATTR_FWD_METHOD` (masked with `IP_VS_CONN_F_FWD_MASK`).
    pub fn from_wire(v: u32) -> Option<Forward> {
        match v & IP_VS_CONN_F_FWD_MASK {
            IP_VS_CONN_F_MASQ => Some(Forward::Masq),
            IP_VS_CONN_F_LOCALNODE => Some(Forward::Local),
            IP_VS_CONN_F_TUNNEL => Some(Forward::Tunnel),
            IP_VS_CONN_F_DROUTE => Some(Forward::Route),
            _ => None,
        }
    }

    /// The name in ipvsadm's `Forward` column.
    pub fn ipvsadm_name(self) -> &'static str {
        match self {
            Forward::Masq => "Masq",
            Forward::Local => "Local",
            Forward::Tunnel => "Tunnel",
            Forward::Route => "Route",
        }
    }

    /// DR and tunnelling cannot change the port (the packet is forwarded
    /// unmodified), so for them dport = vport on non-fwmark services.
    pub fn keeps_vport(self) -> bool {
        matches!(self, Forward::Tunnel | Forward::Route)
    }
}

/// Tunnel encapsulation (`IP_VS_CONN_F_TUNNEL_TYPE_*`), for `Forward::Tunnel`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TunnelType {
    /// IP-in-IP (0), the default
    #[default]
    Ipip,
    /// GUE (1); needs a nonzero tunnel port
    Gue,
    /// GRE (2)
    Gre,
}

impl TunnelType {
    /// The `IPVS_DEST_ATTR_TUN_TYPE` value.
    pub fn to_wire(self) -> u8 {
        match self {
            TunnelType::Ipip => IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
            TunnelType::Gue => IP_VS_CONN_F_TUNNEL_TYPE_GUE,
            TunnelType::Gre => IP_VS_CONN_F_TUNNEL_TYPE_GRE,
        }
    }

    /// Parses `IPVS_DEST_ATTR_TUN_TYPE`.
    pub fn from_wire(v: u8) -> Option<TunnelType> {
        match v {
            IP_VS_CONN_F_TUNNEL_TYPE_IPIP => Some(TunnelType::Ipip),
            IP_VS_CONN_F_TUNNEL_TYPE_GUE => Some(TunnelType::Gue),
            IP_VS_CONN_F_TUNNEL_TYPE_GRE => Some(TunnelType::Gre),
            _ => None,
        }
    }
}

/// Tunnel checksum flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`); the raw u16 is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TunnelFlags(pub u16);

impl TunnelFlags {
    /// `IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM` (ipvsadm `--tun-nocsum`)
    pub const NOCSUM: TunnelFlags = TunnelFlags(IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM);
    /// `IP_VS_TUNNEL_ENCAP_FLAG_CSUM` (`--tun-csum`)
    pub const CSUM: TunnelFlags = TunnelFlags(IP_VS_TUNNEL_ENCAP_FLAG_CSUM);
    /// `IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM` (`--tun-remcsum`)
    pub const REMCSUM: TunnelFlags = TunnelFlags(IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM);
}

/// What identifies a destination within its service.
///
/// The kernel looks dests up by `(af, addr, port)`; the family is the
/// address's. Note the port: for DR and tunnel destinations of non-fwmark
/// services the table holds the *virtual* port whatever port was asked for
/// (both backends send it that way, as ipvsadm does), so use
/// [`Dest::kernel_key`] to know the key a dump will report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DestKey {
    /// real server address (its family may differ from the service's only
    /// with tunnel forwarding)
    pub addr: IpAddr,
    /// real server port
    pub port: u16,
}

impl DestKey {
    /// A destination key.
    pub fn new(addr: IpAddr, port: u16) -> Self {
        DestKey { addr, port }
    }

    /// The family of the address.
    pub fn family(&self) -> Family {
        Family::of(&self.addr)
    }

    /// Sort key with ipvsadm's order (`libipvs.c ipvs_cmp_dests`): address
    /// as big-endian words, then port.
    pub fn ipvsadm_order(&self) -> ([u8; 16], u16) {
        (addr16(&self.addr), self.port)
    }
}

impl fmt::Display for DestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        HostPort(&self.addr, self.port).fmt(f)
    }
}

/// A destination as configured: key plus every field `IPVS_CMD_NEW_DEST` /
/// `SET_DEST` carry. SET_DEST is a full replace (omitted tunnel fields
/// become 0), so always send a complete `Dest`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dest {
    /// identity within the service
    pub key: DestKey,
    /// forwarding method
    pub forward: Forward,
    /// weight 0..=i32::MAX (0 = quiescent); the kernel answers ERANGE above
    pub weight: u32,
    /// upper connection threshold, 0 = none (`-x`)
    pub upper_threshold: u32,
    /// lower connection threshold, 0 = 3/4 of upper (`-y`)
    pub lower_threshold: u32,
    /// tunnel encapsulation (meaningful with `Forward::Tunnel`)
    pub tunnel_type: TunnelType,
    /// tunnel destination port (GUE)
    pub tunnel_port: u16,
    /// tunnel checksum flags
    pub tunnel_flags: TunnelFlags,
}

impl Dest {
    /// A destination with ipvsadm's defaults apart from `forward`: weight
    /// 1, no thresholds, IPIP without flags.
    pub fn new(key: DestKey, forward: Forward) -> Self {
        Dest {
            key,
            forward,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
            tunnel_type: TunnelType::Ipip,
            tunnel_port: 0,
            tunnel_flags: TunnelFlags::NOCSUM,
        }
    }

    /// Sets the weight.
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Sets upper and lower thresholds.
    pub fn thresholds(mut self, upper: u32, lower: u32) -> Self {
        self.upper_threshold = upper;
        self.lower_threshold = lower;
        self
    }

    /// Sets the tunnel encapsulation.
    pub fn tunnel(mut self, kind: TunnelType, port: u16, flags: TunnelFlags) -> Self {
        self.tunnel_type = kind;
        self.tunnel_port = port;
        self.tunnel_flags = flags;
        self
    }

    /// The key the table will hold for this dest in `service`: for DR and
    /// tunnel forwarding on non-fwmark services the port becomes the
    /// virtual port. ipvsadm forces this before sending (`ipvsadm.c`,
    /// "The destination port must be equal to the service port"), and both
    /// backends here do the same, so the result does not depend on what a
    /// given kernel would do with another port.
    pub fn kernel_key(&self, service: &ServiceKey) -> DestKey {
        match service {
            ServiceKey::Addr { port, .. } if self.forward.keeps_vport() => DestKey {
                addr: self.key.addr,
                port: *port,
            },
            _ => self.key,
        }
    }

    /// This dest with its key replaced by [`Dest::kernel_key`].
    pub fn normalized_for(&self, service: &ServiceKey) -> Dest {
        Dest {
            key: self.kernel_key(service),
            ..self.clone()
        }
    }
}

/// Traffic counters and rates (`IPVS_STATS_ATTR_*`, read from `STATS64`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// connections scheduled
    pub conns: u64,
    /// incoming packets
    pub inpkts: u64,
    /// outgoing packets
    pub outpkts: u64,
    /// incoming bytes
    pub inbytes: u64,
    /// outgoing bytes
    pub outbytes: u64,
    /// connections per second (estimator)
    pub cps: u64,
    /// incoming packets per second
    pub inpps: u64,
    /// outgoing packets per second
    pub outpps: u64,
    /// incoming bytes per second
    pub inbps: u64,
    /// outgoing bytes per second
    pub outbps: u64,
}

/// Connection counts of a destination (dump only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnCounts {
    /// `IPVS_DEST_ATTR_ACTIVE_CONNS`
    pub active: u32,
    /// `IPVS_DEST_ATTR_INACT_CONNS`
    pub inactive: u32,
    /// `IPVS_DEST_ATTR_PERSIST_CONNS`
    pub persistent: u32,
}

/// A destination as read back: configuration plus observations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestEntry {
    /// configured fields (key as the kernel stores it)
    pub dest: Dest,
    /// connection counts
    pub conns: ConnCounts,
    /// traffic counters
    pub stats: Stats,
}

/// A service as read back, with its destinations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    /// configured fields
    pub service: Service,
    /// traffic counters
    pub stats: Stats,
    /// destinations, in the kernel's order (newest first)
    pub dests: Vec<DestEntry>,
}

/// `IPVS_CMD_GET_INFO` reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    /// `IPVS_INFO_ATTR_VERSION`, e.g. 0x010201 for 1.2.1
    pub version: u32,
    /// `IPVS_INFO_ATTR_CONN_TAB_SIZE`
    pub conn_tab_size: u32,
}

impl Info {
    /// `(major, minor, patch)` of the version.
    pub fn version_triple(&self) -> (u32, u32, u32) {
        (
            (self.version >> 16) & 0xff,
            (self.version >> 8) & 0xff,
            self.version & 0xff,
        )
    }
}

/// Connection timeouts in seconds (`ipvsadm --set tcp tcpfin udp`). On set,
/// 0 means "leave unchanged".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP`
    pub tcp: u32,
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP_FIN`
    pub tcp_fin: u32,
    /// `IPVS_CMD_ATTR_TIMEOUT_UDP`
    pub udp: u32,
}

/// Role of a connection-sync daemon (`IP_VS_STATE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyncState {
    /// `IP_VS_STATE_MASTER`
    Master,
    /// `IP_VS_STATE_BACKUP`
    Backup,
}

impl SyncState {
    /// The `IPVS_DAEMON_ATTR_STATE` value.
    pub fn to_wire(self) -> u32 {
        match self {
            SyncState::Master => IP_VS_STATE_MASTER,
            SyncState::Backup => IP_VS_STATE_BACKUP,
        }
    }

    /// Parses `IPVS_DAEMON_ATTR_STATE`.
    pub fn from_wire(v: u32) -> Option<SyncState> {
        match v {
            IP_VS_STATE_MASTER => Some(SyncState::Master),
            IP_VS_STATE_BACKUP => Some(SyncState::Backup),
            _ => None,
        }
    }

    /// "master" or "backup", as ipvsadm names the role.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Master => "master",
            SyncState::Backup => "backup",
        }
    }
}

/// A connection-sync daemon (`ipvsadm --start-daemon`).
///
/// The optional fields are sent only when set; the kernel fills defaults
/// (maxlen from the MTU, group 224.0.0.81, port 8848, ttl 1), and a dump
/// reports the effective values, so compare a listing field by field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncDaemon {
    /// master or backup
    pub state: SyncState,
    /// multicast interface (at most 15 bytes)
    pub mcast_ifn: String,
    /// sync id
    pub sync_id: u32,
    /// `IPVS_DAEMON_ATTR_SYNC_MAXLEN`
    pub sync_maxlen: Option<u16>,
    /// `IPVS_DAEMON_ATTR_MCAST_GROUP` / `MCAST_GROUP6`
    pub mcast_group: Option<IpAddr>,
    /// `IPVS_DAEMON_ATTR_MCAST_PORT`
    pub mcast_port: Option<u16>,
    /// `IPVS_DAEMON_ATTR_MCAST_TTL`
    pub mcast_ttl: Option<u8>,
}

impl SyncDaemon {
    /// A daemon with kernel defaults for the optional fields.
    pub fn new(state: SyncState, mcast_ifn: &str, sync_id: u32) -> Self {
        SyncDaemon {
            state,
            mcast_ifn: mcast_ifn.to_owned(),
            sync_id,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        }
    }

    /// Whether `running` (as a dump reports it, every option filled in) is
    /// the daemon this request starts: same role, interface and sync id;
    /// each option this request sets has its value, and each it leaves out
    /// has the kernel's default. The default maximum length depends on the
    /// interface's MTU (backup) and is not checked.
    pub fn is_met_by(&self, running: &SyncDaemon) -> bool {
        let default_group = IpAddr::V4(Ipv4Addr::from(IP_VS_SYNC_GROUP));
        self.state == running.state
            && self.mcast_ifn == running.mcast_ifn
            && self.sync_id == running.sync_id
            && self
                .sync_maxlen
                .is_none_or(|m| running.sync_maxlen == Some(m))
            && running.mcast_group.unwrap_or(default_group)
                == self.mcast_group.unwrap_or(default_group)
            && running.mcast_port.unwrap_or(IP_VS_SYNC_PORT)
                == self.mcast_port.unwrap_or(IP_VS_SYNC_PORT)
            && running.mcast_ttl.unwrap_or(IP_VS_SYNC_TTL)
                == self.mcast_ttl.unwrap_or(IP_VS_SYNC_TTL)
    }
}

impl fmt::Display for SyncDaemon {
    /// As `ipvsadm -L --daemon` prints it (ipvsadm 1.31):
    /// `master sync daemon (mcast=eth0, syncid=0, maxlen=1472,
    /// group=224.0.0.81, port=8848, ttl=1)`; options that are not set are
    /// left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sync daemon (mcast={}, syncid={}",
            self.state.as_str(),
            self.mcast_ifn,
            self.sync_id
        )?;
        if let Some(v) = self.sync_maxlen {
            write!(f, ", maxlen={v}")?;
        }
        if let Some(v) = self.mcast_group {
            write!(f, ", group={v}")?;
        }
        if let Some(v) = self.mcast_port {
            write!(f, ", port={v}")?;
        }
        if let Some(v) = self.mcast_ttl {
            write!(f, ", ttl={v}")?;
        }
        f.write_str(")")
    }
}

/// Schedulers that Linux ships (`net/netfilter/ipvs/ip_vs_*.c`), loaded on
/// demand as `ip_vs_<name>`. "twos" needs `CONFIG_IP_VS_TWOS` (Debian's
/// kernel lacks it).
pub const KNOWN_SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

/// Persistence engines that Linux ships (`ip_vs_pe_sip.c`).
pub const KNOWN_PERSISTENCE_ENGINES: &[&str] = &["sip"];
