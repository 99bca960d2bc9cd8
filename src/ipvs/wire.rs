//! The byte-level codec: netlink/genl framing and the IPVS attribute sets.
//!
//! Owns: turning [`Service`]/[`Dest`]/… into request bytes and kernel reply
//! bytes back into normalised values, with the per-attribute byte orders of
//! `ipvs-netlink.md` §4 (PORT, TUN_PORT and the v4 NETMASK big-endian;
//! PROTOCOL a host u16; FLAGS a host `{flags, mask}` pair; the v6 NETMASK a
//! host prefix length). Pure functions over byte slices, so every message
//! is testable without a kernel.
//!
//! Must not: touch sockets, sequence numbers policy, or retries (see
//! `netlink.rs`).
//!
//! Why hand-written rather than neli's `Nlattr` builders: a request here is
//! a handful of fixed attributes, and batching 10,000 of them wants one
//! reusable buffer with no per-attribute allocation; decoding wants a
//! zero-copy walk that skips unknown and PAD attributes. neli still provides
//! the socket (see `netlink.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::consts::*;
use super::types::*;

/// Appends netlink messages (and their attributes) to one buffer, so many
/// requests can go out in a single `send`.
#[derive(Default, Debug)]
pub struct MsgWriter {
    buf: Vec<u8>,
    /// start of the message being written
    msg_start: usize,
    /// starts of the open nests
    nests: Vec<usize>,
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

impl MsgWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes written so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Length of the buffer.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Forgets everything (keeps the allocation).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.nests.clear();
    }

    /// Starts a generic-netlink message: `nlmsghdr` + `genlmsghdr`.
    /// The pid is 0: the kernel fills in the sender.
    pub fn begin(&mut self, family: u16, flags: u16, seq: u32, cmd: u8, version: u8) {
        self.msg_start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, patched in finish()
        self.buf.extend_from_slice(&family.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid
        self.buf.extend_from_slice(&[cmd, version, 0, 0]); // genlmsghdr, reserved 0
    }

    /// Ends the message started by [`MsgWriter::begin`].
    pub fn finish(&mut self) {
        debug_assert!(self.nests.is_empty(), "unclosed nest");
        let len = (self.buf.len() - self.msg_start) as u32;
        self.buf[self.msg_start..self.msg_start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    /// Appends one attribute, padded to 4 bytes.
    pub fn put(&mut self, ty: u16, payload: &[u8]) {
        let len = (NLA_HDRLEN + payload.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(align4(self.buf.len()), 0);
    }

    /// A u8 attribute.
    pub fn put_u8(&mut self, ty: u16, v: u8) {
        self.put(ty, &[v]);
    }

    /// A host-order u16 attribute.
    pub fn put_u16(&mut self, ty: u16, v: u16) {
        self.put(ty, &v.to_ne_bytes());
    }

    /// A big-endian u16 attribute (ports).
    pub fn put_be16(&mut self, ty: u16, v: u16) {
        self.put(ty, &v.to_be_bytes());
    }

    /// A host-order u32 attribute.
    pub fn put_u32(&mut self, ty: u16, v: u32) {
        self.put(ty, &v.to_ne_bytes());
    }

    /// A NUL-terminated string attribute (`NLA_NUL_STRING`: the NUL is
    /// mandatory, `lib/nlattr.c` answers EINVAL without it).
    pub fn put_str(&mut self, ty: u16, s: &str) {
        let len = (NLA_HDRLEN + s.len() + 1) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        self.buf.resize(align4(self.buf.len()), 0);
    }

    /// Opens a nest. The kernel's IPVS parser does not need `NLA_F_NESTED`
    /// and does not set it; we leave it off, as libipvs does.
    pub fn nest_begin(&mut self, ty: u16) {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
    }

    /// Closes the innermost nest.
    pub fn nest_end(&mut self) {
        let start = self.nests.pop().expect("nest_end without nest_begin");
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }
}

/// The address payload: 4 bytes for IPv4 (as moby/ipvs sends), 16 for v6.
/// The kernel accepts both (`nla_memcpy` into a zeroed `nf_inet_addr`).
fn addr_bytes(addr: &IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Identifying service attributes: AF + (FWMARK | PROTOCOL, ADDR, PORT).
fn put_service_id_attrs(w: &mut MsgWriter, key: &ServiceKey) {
    w.put_u16(IPVS_SVC_ATTR_AF, key.family().to_af());
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            w.put_u16(IPVS_SVC_ATTR_PROTOCOL, protocol.number());
            w.put(IPVS_SVC_ATTR_ADDR, &addr_bytes(addr));
            w.put_be16(IPVS_SVC_ATTR_PORT, *port);
        }
        ServiceKey::Fwmark { mark, .. } => w.put_u32(IPVS_SVC_ATTR_FWMARK, *mark),
    }
}

/// `SERVICE{svc id}`: for DEL/ZERO/GET and as the parent of dest commands.
pub fn put_service_id(w: &mut MsgWriter, key: &ServiceKey) {
    w.nest_begin(IPVS_CMD_ATTR_SERVICE);
    put_service_id_attrs(w, key);
    w.nest_end();
}

/// `SERVICE{svc full}`: for NEW/SET_SERVICE. SCHED_NAME, FLAGS, TIMEOUT and
/// NETMASK are mandatory (else EINVAL); FLAGS goes with mask ~0 so SET
/// replaces every flag, as ipvsadm does.
pub fn put_service_full(w: &mut MsgWriter, svc: &Service) {
    w.nest_begin(IPVS_CMD_ATTR_SERVICE);
    put_service_id_attrs(w, &svc.key);
    w.put_str(IPVS_SVC_ATTR_SCHED_NAME, &svc.scheduler);
    if let Some(pe) = &svc.pe_name {
        w.put_str(IPVS_SVC_ATTR_PE_NAME, pe);
    }
    let mut flags = [0u8; 8];
    flags[..4].copy_from_slice(&svc.flags.bits().to_ne_bytes());
    flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    w.put(IPVS_SVC_ATTR_FLAGS, &flags);
    w.put_u32(IPVS_SVC_ATTR_TIMEOUT, svc.timeout);
    w.put(IPVS_SVC_ATTR_NETMASK, &svc.netmask.wire_bytes());
    w.nest_end();
}

/// `DEST{ADDR_FAMILY, ADDR, PORT}`: for DEL_DEST.
pub fn put_dest_id(w: &mut MsgWriter, key: &DestKey) {
    w.nest_begin(IPVS_CMD_ATTR_DEST);
    w.put_u16(IPVS_DEST_ATTR_ADDR_FAMILY, key.family().to_af());
    w.put(IPVS_DEST_ATTR_ADDR, &addr_bytes(&key.addr));
    w.put_be16(IPVS_DEST_ATTR_PORT, key.port);
    w.nest_end();
}

/// `DEST{dest full}`: for NEW/SET_DEST, all ten attributes libipvs sends
/// (SET_DEST is a full replace: omitted tunnel fields would become 0).
pub fn put_dest_full(w: &mut MsgWriter, d: &Dest) {
    w.nest_begin(IPVS_CMD_ATTR_DEST);
    w.put_u16(IPVS_DEST_ATTR_ADDR_FAMILY, d.key.family().to_af());
    w.put(IPVS_DEST_ATTR_ADDR, &addr_bytes(&d.key.addr));
    w.put_be16(IPVS_DEST_ATTR_PORT, d.key.port);
    w.put_u32(IPVS_DEST_ATTR_FWD_METHOD, d.forward.to_wire());
    w.put_u32(IPVS_DEST_ATTR_WEIGHT, d.weight);
    w.put_u8(IPVS_DEST_ATTR_TUN_TYPE, d.tunnel_type.to_wire());
    w.put_be16(IPVS_DEST_ATTR_TUN_PORT, d.tunnel_port);
    w.put_u16(IPVS_DEST_ATTR_TUN_FLAGS, d.tunnel_flags.0);
    w.put_u32(IPVS_DEST_ATTR_U_THRESH, d.upper_threshold);
    w.put_u32(IPVS_DEST_ATTR_L_THRESH, d.lower_threshold);
    w.nest_end();
}

/// `DAEMON{…}` for NEW_DAEMON; optional fields only when set.
pub fn put_daemon_full(w: &mut MsgWriter, d: &SyncDaemon) {
    w.nest_begin(IPVS_CMD_ATTR_DAEMON);
    w.put_u32(IPVS_DAEMON_ATTR_STATE, d.state.to_wire());
    w.put_str(IPVS_DAEMON_ATTR_MCAST_IFN, &d.mcast_ifn);
    w.put_u32(IPVS_DAEMON_ATTR_SYNC_ID, d.sync_id);
    if let Some(v) = d.sync_maxlen {
        w.put_u16(IPVS_DAEMON_ATTR_SYNC_MAXLEN, v);
    }
    match d.mcast_group {
        Some(IpAddr::V4(a)) => w.put(IPVS_DAEMON_ATTR_MCAST_GROUP, &a.octets()),
        Some(IpAddr::V6(a)) => w.put(IPVS_DAEMON_ATTR_MCAST_GROUP6, &a.octets()),
        None => {}
    }
    if let Some(v) = d.mcast_port {
        w.put_u16(IPVS_DAEMON_ATTR_MCAST_PORT, v);
    }
    if let Some(v) = d.mcast_ttl {
        w.put_u8(IPVS_DAEMON_ATTR_MCAST_TTL, v);
    }
    w.nest_end();
}

/// `DAEMON{STATE}` for DEL_DAEMON.
pub fn put_daemon_state(w: &mut MsgWriter, state: SyncState) {
    w.nest_begin(IPVS_CMD_ATTR_DAEMON);
    w.put_u32(IPVS_DAEMON_ATTR_STATE, state.to_wire());
    w.nest_end();
}

/// Top-level TIMEOUT_* for SET_CONFIG (0 = unchanged).
pub fn put_timeouts(w: &mut MsgWriter, t: &Timeouts) {
    w.put_u32(IPVS_CMD_ATTR_TIMEOUT_TCP, t.tcp);
    w.put_u32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, t.tcp_fin);
    w.put_u32(IPVS_CMD_ATTR_TIMEOUT_UDP, t.udp);
}

/// nlctrl `CTRL_CMD_GETFAMILY` for `name`, with ACK.
pub fn put_getfamily(w: &mut MsgWriter, seq: u32, name: &str) {
    w.begin(
        GENL_ID_CTRL,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        CTRL_CMD_GETFAMILY,
        CTRL_VERSION,
    );
    w.put_str(CTRL_ATTR_FAMILY_NAME, name);
    w.finish();
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/// A decode failure, with the attribute or field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn derr<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

/// One netlink message inside a received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsg<'a> {
    /// `nlmsg_type`
    pub ty: u16,
    /// `nlmsg_flags`
    pub flags: u16,
    /// `nlmsg_seq`
    pub seq: u32,
    /// `nlmsg_pid`
    pub pid: u32,
    /// everything after the 16-byte header
    pub payload: &'a [u8],
}

/// Iterates over the messages of a datagram.
pub struct NlMsgIter<'a> {
    buf: &'a [u8],
}

/// Splits a datagram into messages.
pub fn messages(buf: &[u8]) -> NlMsgIter<'_> {
    NlMsgIter { buf }
}

impl<'a> Iterator for NlMsgIter<'a> {
    type Item = Result<NlMsg<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.len() < NLMSG_HDRLEN {
            return None;
        }
        let len = u32::from_ne_bytes(self.buf[0..4].try_into().unwrap()) as usize;
        if len < NLMSG_HDRLEN || len > self.buf.len() {
            self.buf = &[];
            return Some(derr(format!("nlmsg_len {len} out of range")));
        }
        let m = NlMsg {
            ty: u16::from_ne_bytes([self.buf[4], self.buf[5]]),
            flags: u16::from_ne_bytes([self.buf[6], self.buf[7]]),
            seq: u32::from_ne_bytes(self.buf[8..12].try_into().unwrap()),
            pid: u32::from_ne_bytes(self.buf[12..16].try_into().unwrap()),
            payload: &self.buf[NLMSG_HDRLEN..len],
        };
        self.buf = &self.buf[align4(len).min(self.buf.len())..];
        Some(Ok(m))
    }
}

/// The errno of an `NLMSG_ERROR` payload: 0 for an ACK, else positive.
pub fn nlmsgerr_errno(payload: &[u8]) -> Result<i32, DecodeError> {
    match payload.get(0..4) {
        Some(b) => Ok(-i32::from_ne_bytes(b.try_into().unwrap())),
        None => derr("short NLMSG_ERROR"),
    }
}

/// The genl command and the attribute bytes of a genl message payload.
pub fn genl_split(payload: &[u8]) -> Result<(u8, &[u8]), DecodeError> {
    if payload.len() < GENL_HDRLEN {
        return derr("short genlmsghdr");
    }
    Ok((payload[0], &payload[GENL_HDRLEN..]))
}

/// Iterates over `(type, payload)` of an attribute stream. The type has the
/// NESTED/BYTEORDER flags masked off.
pub struct AttrIter<'a> {
    buf: &'a [u8],
}

/// Walks attributes.
pub fn attrs(buf: &[u8]) -> AttrIter<'_> {
    AttrIter { buf }
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = Result<(u16, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.len() < NLA_HDRLEN {
            return None;
        }
        let len = u16::from_ne_bytes([self.buf[0], self.buf[1]]) as usize;
        let ty = u16::from_ne_bytes([self.buf[2], self.buf[3]]) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > self.buf.len() {
            self.buf = &[];
            return Some(derr(format!(
                "attribute type {ty}: nla_len {len} out of range"
            )));
        }
        let payload = &self.buf[NLA_HDRLEN..len];
        self.buf = &self.buf[align4(len).min(self.buf.len())..];
        Some(Ok((ty, payload)))
    }
}

fn get_u8(name: &str, p: &[u8]) -> Result<u8, DecodeError> {
    match p {
        [v, ..] => Ok(*v),
        _ => derr(format!("{name}: empty")),
    }
}

fn get_u16(name: &str, p: &[u8]) -> Result<u16, DecodeError> {
    match p.get(0..2) {
        Some(b) => Ok(u16::from_ne_bytes(b.try_into().unwrap())),
        None => derr(format!("{name}: need 2 bytes, got {}", p.len())),
    }
}

fn get_be16(name: &str, p: &[u8]) -> Result<u16, DecodeError> {
    get_u16(name, p).map(u16::from_be)
}

fn get_u32(name: &str, p: &[u8]) -> Result<u32, DecodeError> {
    match p.get(0..4) {
        Some(b) => Ok(u32::from_ne_bytes(b.try_into().unwrap())),
        None => derr(format!("{name}: need 4 bytes, got {}", p.len())),
    }
}

fn get_u64(name: &str, p: &[u8]) -> Result<u64, DecodeError> {
    match p.get(0..8) {
        Some(b) => Ok(u64::from_ne_bytes(b.try_into().unwrap())),
        None => derr(format!("{name}: need 8 bytes, got {}", p.len())),
    }
}

/// A NUL-terminated (or unterminated) string.
fn get_str(name: &str, p: &[u8]) -> Result<String, DecodeError> {
    let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
    match std::str::from_utf8(&p[..end]) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => derr(format!("{name}: not UTF-8")),
    }
}

/// An address of `family` from 4 or 16 bytes (dumps always send 16, with
/// an IPv4 address in the first four).
fn get_addr(name: &str, family: Family, p: &[u8]) -> Result<IpAddr, DecodeError> {
    match family {
        Family::Inet => match p.get(0..4) {
            Some(b) => Ok(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(b).unwrap()))),
            None => derr(format!("{name}: need 4 bytes for IPv4, got {}", p.len())),
        },
        Family::Inet6 => match p.get(0..16) {
            Some(b) => Ok(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap()))),
            None => derr(format!("{name}: need 16 bytes for IPv6, got {}", p.len())),
        },
    }
}

/// `IPVS_SVC_ATTR_STATS64`/`DEST_ATTR_STATS64` (all u64), or the older
/// `STATS` (u32 counters, u64 bytes) when `wide` is false. PAD is skipped.
pub fn decode_stats(p: &[u8], wide: bool) -> Result<Stats, DecodeError> {
    let mut s = Stats::default();
    for a in attrs(p) {
        let (ty, v) = a?;
        let get = |name: &str, v: &[u8], always64: bool| -> Result<u64, DecodeError> {
            if wide || always64 {
                get_u64(name, v)
            } else {
                get_u32(name, v).map(u64::from)
            }
        };
        match ty {
            IPVS_STATS_ATTR_CONNS => s.conns = get("CONNS", v, false)?,
            IPVS_STATS_ATTR_INPKTS => s.inpkts = get("INPKTS", v, false)?,
            IPVS_STATS_ATTR_OUTPKTS => s.outpkts = get("OUTPKTS", v, false)?,
            IPVS_STATS_ATTR_INBYTES => s.inbytes = get("INBYTES", v, true)?,
            IPVS_STATS_ATTR_OUTBYTES => s.outbytes = get("OUTBYTES", v, true)?,
            IPVS_STATS_ATTR_CPS => s.cps = get("CPS", v, false)?,
            IPVS_STATS_ATTR_INPPS => s.inpps = get("INPPS", v, false)?,
            IPVS_STATS_ATTR_OUTPPS => s.outpps = get("OUTPPS", v, false)?,
            IPVS_STATS_ATTR_INBPS => s.inbps = get("INBPS", v, false)?,
            IPVS_STATS_ATTR_OUTBPS => s.outbps = get("OUTBPS", v, false)?,
            _ => {} // IPVS_STATS_ATTR_PAD and anything newer
        }
    }
    Ok(s)
}

/// Decodes the contents of an `IPVS_CMD_ATTR_SERVICE` nest of a
/// `NEW_SERVICE` reply, normalised: HASHED masked off, the address read by
/// AF, the netmask interpreted by AF.
pub fn decode_service(p: &[u8]) -> Result<(Service, Stats), DecodeError> {
    let (mut af, mut proto, mut addr, mut port, mut fwmark) = (None, None, None, None, None);
    let (mut sched, mut flags, mut timeout, mut netmask, mut pe) = (None, None, None, None, None);
    let (mut stats32, mut stats64) = (None, None);
    for a in attrs(p) {
        let (ty, v) = a?;
        match ty {
            IPVS_SVC_ATTR_AF => af = Some(get_u16("IPVS_SVC_ATTR_AF", v)?),
            IPVS_SVC_ATTR_PROTOCOL => proto = Some(get_u16("IPVS_SVC_ATTR_PROTOCOL", v)?),
            IPVS_SVC_ATTR_ADDR => addr = Some(v),
            IPVS_SVC_ATTR_PORT => port = Some(get_be16("IPVS_SVC_ATTR_PORT", v)?),
            IPVS_SVC_ATTR_FWMARK => fwmark = Some(get_u32("IPVS_SVC_ATTR_FWMARK", v)?),
            IPVS_SVC_ATTR_SCHED_NAME => sched = Some(get_str("IPVS_SVC_ATTR_SCHED_NAME", v)?),
            IPVS_SVC_ATTR_FLAGS => flags = Some(get_u32("IPVS_SVC_ATTR_FLAGS", v)?),
            IPVS_SVC_ATTR_TIMEOUT => timeout = Some(get_u32("IPVS_SVC_ATTR_TIMEOUT", v)?),
            IPVS_SVC_ATTR_NETMASK => match v.get(0..4) {
                Some(b) => netmask = Some(<[u8; 4]>::try_from(b).unwrap()),
                None => return derr("IPVS_SVC_ATTR_NETMASK: need 4 bytes"),
            },
            IPVS_SVC_ATTR_PE_NAME => pe = Some(get_str("IPVS_SVC_ATTR_PE_NAME", v)?),
            IPVS_SVC_ATTR_STATS => stats32 = Some(v),
            IPVS_SVC_ATTR_STATS64 => stats64 = Some(v),
            _ => {}
        }
    }
    let af = af.ok_or_else(|| DecodeError("service without IPVS_SVC_ATTR_AF".into()))?;
    let family =
        Family::from_af(af).ok_or_else(|| DecodeError(format!("IPVS_SVC_ATTR_AF {af}")))?;
    let key = match fwmark {
        // The kernel omits PROTOCOL/ADDR/PORT for fwmark services (and
        // sends FWMARK 0 for the others on some versions).
        Some(mark) if mark != 0 => ServiceKey::Fwmark { family, mark },
        _ => {
            let p = proto.ok_or_else(|| DecodeError("service without PROTOCOL".into()))?;
            let protocol = Protocol::from_number(p)
                .ok_or_else(|| DecodeError(format!("IPVS_SVC_ATTR_PROTOCOL {p} unsupported")))?;
            let a = addr.ok_or_else(|| DecodeError("service without ADDR".into()))?;
            let addr = get_addr("IPVS_SVC_ATTR_ADDR", family, a)?;
            let port = port.ok_or_else(|| DecodeError("service without PORT".into()))?;
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            }
        }
    };
    let netmask = match netmask {
        Some(b) => Netmask::from_wire(family, b),
        None => Netmask::host(family),
    };
    let service = Service {
        key,
        scheduler: sched.unwrap_or_default(),
        flags: ServiceFlags::from_bits(flags.unwrap_or(0)),
        timeout: timeout.unwrap_or(0),
        netmask,
        pe_name: pe.filter(|s| !s.is_empty()),
    };
    let stats = match (stats64, stats32) {
        (Some(s), _) => decode_stats(s, true)?,
        (None, Some(s)) => decode_stats(s, false)?,
        (None, None) => Stats::default(),
    };
    Ok((service, stats))
}

/// Decodes the contents of an `IPVS_CMD_ATTR_DEST` nest of a `NEW_DEST`
/// reply. Without `ADDR_FAMILY` (old kernels) the service's family is used.
pub fn decode_dest(p: &[u8], svc_family: Family) -> Result<DestEntry, DecodeError> {
    let (mut addr, mut port, mut fwd, mut weight, mut uth, mut lth) =
        (None, None, None, None, 0, 0);
    let (mut af, mut tun_type, mut tun_port, mut tun_flags) = (None, 0u8, 0u16, 0u16);
    let mut conns = ConnCounts::default();
    let (mut stats32, mut stats64) = (None, None);
    for a in attrs(p) {
        let (ty, v) = a?;
        match ty {
            IPVS_DEST_ATTR_ADDR => addr = Some(v),
            IPVS_DEST_ATTR_PORT => port = Some(get_be16("IPVS_DEST_ATTR_PORT", v)?),
            IPVS_DEST_ATTR_FWD_METHOD => fwd = Some(get_u32("IPVS_DEST_ATTR_FWD_METHOD", v)?),
            IPVS_DEST_ATTR_WEIGHT => weight = Some(get_u32("IPVS_DEST_ATTR_WEIGHT", v)?),
            IPVS_DEST_ATTR_U_THRESH => uth = get_u32("IPVS_DEST_ATTR_U_THRESH", v)?,
            IPVS_DEST_ATTR_L_THRESH => lth = get_u32("IPVS_DEST_ATTR_L_THRESH", v)?,
            IPVS_DEST_ATTR_ACTIVE_CONNS => conns.active = get_u32("ACTIVE_CONNS", v)?,
            IPVS_DEST_ATTR_INACT_CONNS => conns.inactive = get_u32("INACT_CONNS", v)?,
            IPVS_DEST_ATTR_PERSIST_CONNS => conns.persistent = get_u32("PERSIST_CONNS", v)?,
            IPVS_DEST_ATTR_STATS => stats32 = Some(v),
            IPVS_DEST_ATTR_STATS64 => stats64 = Some(v),
            IPVS_DEST_ATTR_ADDR_FAMILY => af = Some(get_u16("IPVS_DEST_ATTR_ADDR_FAMILY", v)?),
            IPVS_DEST_ATTR_TUN_TYPE => tun_type = get_u8("IPVS_DEST_ATTR_TUN_TYPE", v)?,
            IPVS_DEST_ATTR_TUN_PORT => tun_port = get_be16("IPVS_DEST_ATTR_TUN_PORT", v)?,
            IPVS_DEST_ATTR_TUN_FLAGS => tun_flags = get_u16("IPVS_DEST_ATTR_TUN_FLAGS", v)?,
            _ => {}
        }
    }
    let family = match af {
        Some(af) => {
            Family::from_af(af).ok_or_else(|| DecodeError(format!("DEST_ATTR_ADDR_FAMILY {af}")))?
        }
        None => svc_family,
    };
    let a = addr.ok_or_else(|| DecodeError("dest without IPVS_DEST_ATTR_ADDR".into()))?;
    let addr = get_addr("IPVS_DEST_ATTR_ADDR", family, a)?;
    let port = port.ok_or_else(|| DecodeError("dest without IPVS_DEST_ATTR_PORT".into()))?;
    let fwd = fwd.ok_or_else(|| DecodeError("dest without FWD_METHOD".into()))?;
    let forward = Forward::from_wire(fwd)
        .ok_or_else(|| DecodeError(format!("IPVS_DEST_ATTR_FWD_METHOD {fwd}")))?;
    let tunnel_type = TunnelType::from_wire(tun_type)
        .ok_or_else(|| DecodeError(format!("IPVS_DEST_ATTR_TUN_TYPE {tun_type}")))?;
    let dest = Dest {
        key: DestKey { addr, port },
        forward,
        weight: weight.ok_or_else(|| DecodeError("dest without WEIGHT".into()))?,
        upper_threshold: uth,
        lower_threshold: lth,
        tunnel_type,
        tunnel_port: tun_port,
        tunnel_flags: TunnelFlags(tun_flags),
    };
    let stats = match (stats64, stats32) {
        (Some(s), _) => decode_stats(s, true)?,
        (None, Some(s)) => decode_stats(s, false)?,
        (None, None) => Stats::default(),
    };
    Ok(DestEntry { dest, conns, stats })
}

/// Decodes the contents of an `IPVS_CMD_ATTR_DAEMON` nest.
pub fn decode_daemon(p: &[u8]) -> Result<SyncDaemon, DecodeError> {
    let mut state = None;
    let mut d = SyncDaemon::new(SyncState::Master, "", 0);
    for a in attrs(p) {
        let (ty, v) = a?;
        match ty {
            IPVS_DAEMON_ATTR_STATE => {
                let s = get_u32("IPVS_DAEMON_ATTR_STATE", v)?;
                state = Some(
                    SyncState::from_wire(s)
                        .ok_or_else(|| DecodeError(format!("IPVS_DAEMON_ATTR_STATE {s}")))?,
                );
            }
            IPVS_DAEMON_ATTR_MCAST_IFN => d.mcast_ifn = get_str("MCAST_IFN", v)?,
            IPVS_DAEMON_ATTR_SYNC_ID => d.sync_id = get_u32("SYNC_ID", v)?,
            IPVS_DAEMON_ATTR_SYNC_MAXLEN => d.sync_maxlen = Some(get_u16("SYNC_MAXLEN", v)?),
            IPVS_DAEMON_ATTR_MCAST_GROUP => {
                d.mcast_group = Some(get_addr("MCAST_GROUP", Family::Inet, v)?)
            }
            IPVS_DAEMON_ATTR_MCAST_GROUP6 => {
                d.mcast_group = Some(get_addr("MCAST_GROUP6", Family::Inet6, v)?)
            }
            IPVS_DAEMON_ATTR_MCAST_PORT => d.mcast_port = Some(get_u16("MCAST_PORT", v)?),
            IPVS_DAEMON_ATTR_MCAST_TTL => d.mcast_ttl = Some(get_u8("MCAST_TTL", v)?),
            _ => {}
        }
    }
    d.state = state.ok_or_else(|| DecodeError("daemon without STATE".into()))?;
    Ok(d)
}

/// Decodes the top-level attributes of a `SET_INFO` (GET_INFO reply).
pub fn decode_info(p: &[u8]) -> Result<Info, DecodeError> {
    let (mut version, mut size) = (None, None);
    for a in attrs(p) {
        let (ty, v) = a?;
        match ty {
            IPVS_INFO_ATTR_VERSION => version = Some(get_u32("IPVS_INFO_ATTR_VERSION", v)?),
            IPVS_INFO_ATTR_CONN_TAB_SIZE => size = Some(get_u32("CONN_TAB_SIZE", v)?),
            _ => {}
        }
    }
    Ok(Info {
        version: version.ok_or_else(|| DecodeError("info without VERSION".into()))?,
        conn_tab_size: size.ok_or_else(|| DecodeError("info without CONN_TAB_SIZE".into()))?,
    })
}

/// Decodes the top-level attributes of a `SET_CONFIG` (GET_CONFIG reply).
pub fn decode_timeouts(p: &[u8]) -> Result<Timeouts, DecodeError> {
    let mut t = Timeouts::default();
    for a in attrs(p) {
        let (ty, v) = a?;
        match ty {
            IPVS_CMD_ATTR_TIMEOUT_TCP => t.tcp = get_u32("TIMEOUT_TCP", v)?,
            IPVS_CMD_ATTR_TIMEOUT_TCP_FIN => t.tcp_fin = get_u32("TIMEOUT_TCP_FIN", v)?,
            IPVS_CMD_ATTR_TIMEOUT_UDP => t.udp = get_u32("TIMEOUT_UDP", v)?,
            _ => {}
        }
    }
    Ok(t)
}

/// Finds the payload of the first top-level attribute `ty`.
pub fn find_attr(p: &[u8], ty: u16) -> Result<Option<&[u8]>, DecodeError> {
    for a in attrs(p) {
        let (t, v) = a?;
        if t == ty {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// The family id in an nlctrl `NEWFAMILY` reply's attributes.
pub fn decode_family_id(p: &[u8]) -> Result<u16, DecodeError> {
    match find_attr(p, CTRL_ATTR_FAMILY_ID)? {
        Some(v) => get_u16("CTRL_ATTR_FAMILY_ID", v),
        None => derr("nlctrl reply without CTRL_ATTR_FAMILY_ID"),
    }
}
