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
use super::Op;

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

/// Every request this module sends, as data. [`Request::encode`] is the
/// single place that picks command, flags and attributes, so each message
/// can be checked byte for byte without a socket.
#[derive(Clone, Copy, Debug)]
pub enum Request<'a> {
    /// NEW/SET/DEL_SERVICE, NEW/SET/DEL_DEST (with ACK)
    Op(&'a Op),
    /// `GET_INFO` (doit)
    GetInfo,
    /// `GET_SERVICE` (dump)
    DumpServices,
    /// `GET_SERVICE` (doit) for one service
    GetService(&'a ServiceKey),
    /// `GET_DEST` (dump; it has no doit)
    DumpDests(&'a ServiceKey),
    /// `ZERO`, of one service or all
    Zero(Option<&'a ServiceKey>),
    /// `FLUSH`
    Flush,
    /// `GET_CONFIG` (doit)
    GetConfig,
    /// `SET_CONFIG`
    SetConfig(&'a Timeouts),
    /// `NEW_DAEMON`
    NewDaemon(&'a SyncDaemon),
    /// `DEL_DAEMON`
    DelDaemon(SyncState),
    /// `GET_DAEMON` (dump; it has no doit)
    DumpDaemons,
}

impl Request<'_> {
    /// True for dumps: sent with `NLM_F_DUMP` and without `NLM_F_ACK`
    /// (GET_DEST and GET_DAEMON have only a dumpit: EOPNOTSUPP otherwise).
    pub fn is_dump(&self) -> bool {
        matches!(
            self,
            Request::DumpServices | Request::DumpDests(_) | Request::DumpDaemons
        )
    }

    /// Appends the complete message. Every non-dump request carries
    /// `NLM_F_ACK`: without it a success produces no reply at all.
    pub fn encode(&self, w: &mut MsgWriter, family: u16, seq: u32) {
        let flags = if self.is_dump() {
            NLM_F_REQUEST | NLM_F_DUMP
        } else {
            NLM_F_REQUEST | NLM_F_ACK
        };
        let cmd = match self {
            Request::Op(Op::AddService(_)) => IPVS_CMD_NEW_SERVICE,
            Request::Op(Op::EditService(_)) => IPVS_CMD_SET_SERVICE,
            Request::Op(Op::DelService(_)) => IPVS_CMD_DEL_SERVICE,
            Request::Op(Op::AddDest(..)) => IPVS_CMD_NEW_DEST,
            Request::Op(Op::EditDest(..)) => IPVS_CMD_SET_DEST,
            Request::Op(Op::DelDest(..)) => IPVS_CMD_DEL_DEST,
            Request::GetInfo => IPVS_CMD_GET_INFO,
            Request::DumpServices | Request::GetService(_) => IPVS_CMD_GET_SERVICE,
            Request::DumpDests(_) => IPVS_CMD_GET_DEST,
            Request::Zero(_) => IPVS_CMD_ZERO,
            Request::Flush => IPVS_CMD_FLUSH,
            Request::GetConfig => IPVS_CMD_GET_CONFIG,
            Request::SetConfig(_) => IPVS_CMD_SET_CONFIG,
            Request::NewDaemon(_) => IPVS_CMD_NEW_DAEMON,
            Request::DelDaemon(_) => IPVS_CMD_DEL_DAEMON,
            Request::DumpDaemons => IPVS_CMD_GET_DAEMON,
        };
        w.begin(family, flags, seq, cmd, IPVS_GENL_VERSION);
        match *self {
            Request::Op(Op::AddService(s) | Op::EditService(s)) => put_service_full(w, s),
            Request::Op(Op::DelService(k)) | Request::GetService(k) | Request::DumpDests(k) => {
                put_service_id(w, k)
            }
            Request::Op(Op::AddDest(k, d) | Op::EditDest(k, d)) => {
                put_service_id(w, k);
                // ipvsadm's rule: DR/TUN on a non-fwmark service use vport.
                put_dest_full(w, &d.normalized_for(k));
            }
            Request::Op(Op::DelDest(k, d)) => {
                put_service_id(w, k);
                put_dest_id(w, d);
            }
            Request::Zero(Some(k)) => put_service_id(w, k),
            Request::SetConfig(t) => put_timeouts(w, t),
            Request::NewDaemon(d) => put_daemon_full(w, d),
            Request::DelDaemon(st) => put_daemon_state(w, st),
            Request::GetInfo
            | Request::DumpServices
            | Request::Zero(None)
            | Request::Flush
            | Request::GetConfig
            | Request::DumpDaemons => {}
        }
        w.finish();
    }
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

// Byte-level tests. The expected arrays are written by hand from
// `ipvs-netlink.md` §2–§4 (and match the NEW_SERVICE capture there, apart
// from the 4-byte IPv4 ADDR we send); multi-byte host-order fields are
// little-endian, so these run on little-endian hosts only.
#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const FAM: u16 = 0x20; // the IPVS family id seen in the 6.1 guest

    fn encode(req: Request<'_>, seq: u32) -> Vec<u8> {
        let mut w = MsgWriter::new();
        req.encode(&mut w, FAM, seq);
        w.bytes().to_vec()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn new_service_v4_bytes() {
        // ipvsadm -A -t 192.0.2.1:80 -s wlc -p 360
        let s = Service::new(ServiceKey::tcp(ip("192.0.2.1"), 80), "wlc").persistent(360);
        let got = encode(Request::Op(&Op::AddService(s)), 1);
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x5c, 0x00, 0x00, 0x00, // nlmsg_len 92
            0x20, 0x00,             // nlmsg_type: IPVS family id
            0x05, 0x00,             // flags: REQUEST | ACK
            0x01, 0x00, 0x00, 0x00, // seq 1
            0x00, 0x00, 0x00, 0x00, // pid 0 (the kernel fills it in)
            0x01, 0x01, 0x00, 0x00, // genl: cmd NEW_SERVICE, version 1, reserved
            0x48, 0x00, 0x01, 0x00, // IPVS_CMD_ATTR_SERVICE, len 72 (no NLA_F_NESTED)
            0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, // AF = AF_INET (u16 + pad)
            0x06, 0x00, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, // PROTOCOL = 6 (u16!)
            0x08, 0x00, 0x03, 0x00, 0xc0, 0x00, 0x02, 0x01, // ADDR 192.0.2.1 (4 bytes)
            0x06, 0x00, 0x04, 0x00, 0x00, 0x50, 0x00, 0x00, // PORT 80, big-endian
            0x08, 0x00, 0x06, 0x00, b'w', b'l', b'c', 0x00, // SCHED_NAME "wlc\0"
            0x0c, 0x00, 0x07, 0x00,                         // FLAGS {flags, mask}
            0x01, 0x00, 0x00, 0x00,                         //   PERSISTENT
            0xff, 0xff, 0xff, 0xff,                         //   mask ~0: replace all
            0x08, 0x00, 0x08, 0x00, 0x68, 0x01, 0x00, 0x00, // TIMEOUT 360 s
            0x08, 0x00, 0x09, 0x00, 0xff, 0xff, 0xff, 0xff, // NETMASK 255.255.255.255 (be32)
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn set_service_v6_bytes() {
        // ipvsadm -E -t [2001:db8::1]:443 -s sh -b sh-fallback,sh-port -p 30 -M 64 --pe sip
        let s = Service::new(ServiceKey::tcp(ip("2001:db8::1"), 443), "sh")
            .persistent(30)
            .netmask(Netmask::V6(64))
            .flags(ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT)
            .pe("sip");
        let got = encode(Request::Op(&Op::EditService(s)), 7);
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x70, 0x00, 0x00, 0x00, 0x20, 0x00, 0x05, 0x00, // len 112, family, REQUEST|ACK
            0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // seq 7, pid 0
            0x02, 0x01, 0x00, 0x00,                         // SET_SERVICE v1
            0x5c, 0x00, 0x01, 0x00,                         // SERVICE, len 92
            0x06, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x00, // AF = AF_INET6
            0x06, 0x00, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, // PROTOCOL = TCP
            0x14, 0x00, 0x03, 0x00,                         // ADDR, 16 bytes
            0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
            0x06, 0x00, 0x04, 0x00, 0x01, 0xbb, 0x00, 0x00, // PORT 443 big-endian
            0x07, 0x00, 0x06, 0x00, b's', b'h', 0x00, 0x00, // SCHED_NAME "sh\0" + pad
            0x08, 0x00, 0x0b, 0x00, b's', b'i', b'p', 0x00, // PE_NAME "sip\0"
            0x0c, 0x00, 0x07, 0x00,                         // FLAGS
            0x19, 0x00, 0x00, 0x00,                         //   PERSISTENT|SCHED1|SCHED2
            0xff, 0xff, 0xff, 0xff,                         //   mask
            0x08, 0x00, 0x08, 0x00, 0x1e, 0x00, 0x00, 0x00, // TIMEOUT 30
            0x08, 0x00, 0x09, 0x00, 0x40, 0x00, 0x00, 0x00, // NETMASK: prefix 64, host u32
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn new_dest_bytes() {
        // ipvsadm -a -t 192.0.2.1:80 -r 192.0.2.11:8080 -m -w 5 -x 100 -y 50
        // (+ tunnel fields, which the kernel stores whatever the method)
        let k = ServiceKey::tcp(ip("192.0.2.1"), 80);
        let d = Dest::new(DestKey::new(ip("192.0.2.11"), 8080), Forward::Masq)
            .weight(5)
            .thresholds(100, 50)
            .tunnel(TunnelType::Gue, 6080, TunnelFlags::CSUM);
        let got = encode(Request::Op(&Op::AddDest(k, d)), 2);
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x8c, 0x00, 0x00, 0x00, 0x20, 0x00, 0x05, 0x00, // len 140, family, REQUEST|ACK
            0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // seq 2, pid 0
            0x05, 0x01, 0x00, 0x00,                         // NEW_DEST v1
            0x24, 0x00, 0x01, 0x00,                         // SERVICE (id only), len 36
            0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, //   AF_INET
            0x06, 0x00, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, //   TCP
            0x08, 0x00, 0x03, 0x00, 0xc0, 0x00, 0x02, 0x01, //   192.0.2.1
            0x06, 0x00, 0x04, 0x00, 0x00, 0x50, 0x00, 0x00, //   port 80
            0x54, 0x00, 0x02, 0x00,                         // DEST, len 84
            0x06, 0x00, 0x0b, 0x00, 0x02, 0x00, 0x00, 0x00, //   ADDR_FAMILY AF_INET
            0x08, 0x00, 0x01, 0x00, 0xc0, 0x00, 0x02, 0x0b, //   ADDR 192.0.2.11
            0x06, 0x00, 0x02, 0x00, 0x1f, 0x90, 0x00, 0x00, //   PORT 8080 big-endian
            0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, //   FWD_METHOD MASQ
            0x08, 0x00, 0x04, 0x00, 0x05, 0x00, 0x00, 0x00, //   WEIGHT 5
            0x05, 0x00, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x00, //   TUN_TYPE GUE (u8 + pad)
            0x06, 0x00, 0x0e, 0x00, 0x17, 0xc0, 0x00, 0x00, //   TUN_PORT 6080 big-endian
            0x06, 0x00, 0x0f, 0x00, 0x01, 0x00, 0x00, 0x00, //   TUN_FLAGS CSUM (host u16)
            0x08, 0x00, 0x05, 0x00, 0x64, 0x00, 0x00, 0x00, //   U_THRESH 100
            0x08, 0x00, 0x06, 0x00, 0x32, 0x00, 0x00, 0x00, //   L_THRESH 50
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn dr_dest_port_is_vport_on_the_wire() {
        let k = ServiceKey::tcp(ip("192.0.2.1"), 80);
        let d = Dest::new(DestKey::new(ip("192.0.2.11"), 8080), Forward::Route);
        for op in [Op::AddDest(k, d.clone()), Op::EditDest(k, d.clone())] {
            let got = encode(Request::Op(&op), 1);
            // DEST starts at 16 + 4 + 36; PORT is its third attribute.
            assert_eq!(
                &got[56 + 4 + 16..56 + 4 + 24],
                &[0x06, 0, 0x02, 0, 0x00, 0x50, 0, 0]
            );
        }
    }

    #[test]
    fn edit_and_del_dest_bytes() {
        let k = ServiceKey::fwmark(Family::Inet6, 7);
        let got = encode(
            Request::Op(&Op::DelDest(k, DestKey::new(ip("2001:db8::11"), 443))),
            3,
        );
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x50, 0x00, 0x00, 0x00, 0x20, 0x00, 0x05, 0x00, // len 80, family, REQUEST|ACK
            0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // seq 3
            0x07, 0x01, 0x00, 0x00,                         // DEL_DEST v1
            0x14, 0x00, 0x01, 0x00,                         // SERVICE, len 20
            0x06, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x00, //   AF_INET6
            0x08, 0x00, 0x05, 0x00, 0x07, 0x00, 0x00, 0x00, //   FWMARK 7 (host u32)
            0x28, 0x00, 0x02, 0x00,                         // DEST, len 40
            0x06, 0x00, 0x0b, 0x00, 0x0a, 0x00, 0x00, 0x00, //   ADDR_FAMILY AF_INET6
            0x14, 0x00, 0x01, 0x00,                         //   ADDR, 16 bytes
            0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
            0x06, 0x00, 0x02, 0x00, 0x01, 0xbb, 0x00, 0x00, //   PORT 443
        ];
        assert_eq!(got, want);
        // SET_DEST carries the same service nest and the full dest.
        let d = Dest::new(DestKey::new(ip("2001:db8::11"), 443), Forward::Tunnel);
        let got = encode(Request::Op(&Op::EditDest(k, d)), 3);
        assert_eq!(got[16], IPVS_CMD_SET_DEST);
        assert_eq!(got.len(), 16 + 4 + 20 + 4 + 8 + 20 + 8 * 8);
        // fwmark: the port is kept even for tunnelling.
        assert_eq!(
            &got[44 + 8 + 20..44 + 8 + 28],
            &[0x06, 0, 0x02, 0, 0x01, 0xbb, 0, 0]
        );
        // DEL_SERVICE: the id nest only.
        let got = encode(Request::Op(&Op::DelService(k)), 4);
        assert_eq!(got.len(), 16 + 4 + 20);
        assert_eq!(got[16], IPVS_CMD_DEL_SERVICE);
        assert_eq!(&got[20..24], &[0x14, 0x00, 0x01, 0x00]);
    }

    #[test]
    fn header_only_requests() {
        // (request, cmd, flags)
        let cases = [
            (Request::GetInfo, IPVS_CMD_GET_INFO, 0x0005u16),
            (Request::GetConfig, IPVS_CMD_GET_CONFIG, 0x0005),
            (Request::Flush, IPVS_CMD_FLUSH, 0x0005),
            (Request::Zero(None), IPVS_CMD_ZERO, 0x0005),
            // dumps: REQUEST | ROOT | MATCH, no ACK
            (Request::DumpServices, IPVS_CMD_GET_SERVICE, 0x0301),
            (Request::DumpDaemons, IPVS_CMD_GET_DAEMON, 0x0301),
        ];
        for (req, cmd, flags) in cases {
            let got = encode(req, 9);
            #[rustfmt::skip]
            let want: Vec<u8> = [
                &[0x14, 0x00, 0x00, 0x00, 0x20, 0x00][..], // len 20, family
                &flags.to_le_bytes(),
                &[0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // seq 9, pid 0
                &[cmd, 0x01, 0x00, 0x00],
            ]
            .concat();
            assert_eq!(got, want, "{req:?}");
        }
    }

    #[test]
    fn dump_dests_get_service_and_zero_one() {
        let k = ServiceKey::udp(ip("192.0.2.1"), 53);
        let id: &[u8] = &[
            0x24, 0x00, 0x01, 0x00, // SERVICE, len 36
            0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, // AF_INET
            0x06, 0x00, 0x02, 0x00, 0x11, 0x00, 0x00, 0x00, // UDP (17)
            0x08, 0x00, 0x03, 0x00, 0xc0, 0x00, 0x02, 0x01, // 192.0.2.1
            0x06, 0x00, 0x04, 0x00, 0x00, 0x35, 0x00, 0x00, // port 53
        ];
        for (req, cmd, flags) in [
            (Request::DumpDests(&k), IPVS_CMD_GET_DEST, [0x01, 0x03]),
            (Request::GetService(&k), IPVS_CMD_GET_SERVICE, [0x05, 0x00]),
            (Request::Zero(Some(&k)), IPVS_CMD_ZERO, [0x05, 0x00]),
        ] {
            let got = encode(req, 1);
            assert_eq!(&got[..4], &[56, 0, 0, 0]);
            assert_eq!(&got[6..8], &flags);
            assert_eq!(got[16], cmd);
            assert_eq!(&got[20..], id);
        }
    }

    #[test]
    fn set_config_bytes() {
        let got = encode(
            Request::SetConfig(&Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            }),
            5,
        );
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x2c, 0x00, 0x00, 0x00, 0x20, 0x00, 0x05, 0x00, // len 44, REQUEST|ACK
            0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // seq 5
            0x0c, 0x01, 0x00, 0x00,                         // SET_CONFIG v1
            0x08, 0x00, 0x04, 0x00, 0x84, 0x03, 0x00, 0x00, // TIMEOUT_TCP 900 (top level)
            0x08, 0x00, 0x05, 0x00, 0x78, 0x00, 0x00, 0x00, // TIMEOUT_TCP_FIN 120
            0x08, 0x00, 0x06, 0x00, 0x2c, 0x01, 0x00, 0x00, // TIMEOUT_UDP 300
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn daemon_bytes() {
        let mut d = SyncDaemon::new(SyncState::Backup, "eth1", 9);
        d.sync_maxlen = Some(1400);
        d.mcast_group = Some(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 81)));
        d.mcast_port = Some(8848);
        d.mcast_ttl = Some(2);
        let got = encode(Request::NewDaemon(&d), 6);
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x54, 0x00, 0x00, 0x00, 0x20, 0x00, 0x05, 0x00, // len 84, REQUEST|ACK
            0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // seq 6
            0x09, 0x01, 0x00, 0x00,                         // NEW_DAEMON v1
            0x40, 0x00, 0x03, 0x00,                         // DAEMON, len 64
            0x08, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, //   STATE BACKUP
            0x09, 0x00, 0x02, 0x00, b'e', b't', b'h', b'1', //   MCAST_IFN "eth1\0"
            0x00, 0x00, 0x00, 0x00,
            0x08, 0x00, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, //   SYNC_ID 9
            0x06, 0x00, 0x04, 0x00, 0x78, 0x05, 0x00, 0x00, //   SYNC_MAXLEN 1400
            0x08, 0x00, 0x05, 0x00, 0xe0, 0x00, 0x00, 0x51, //   MCAST_GROUP 224.0.0.81
            0x06, 0x00, 0x07, 0x00, 0x90, 0x22, 0x00, 0x00, //   MCAST_PORT 8848 (host u16)
            0x05, 0x00, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00, //   MCAST_TTL 2 (u8)
        ];
        assert_eq!(got, want);
        // A round trip through the decoder.
        let nest = find_attr(&got[20..], IPVS_CMD_ATTR_DAEMON)
            .unwrap()
            .unwrap();
        assert_eq!(decode_daemon(nest).unwrap(), d);

        let got = encode(Request::DelDaemon(SyncState::Master), 7);
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x20, 0x00, 0x00, 0x00, 0x20, 0x00, 0x05, 0x00, // len 32
            0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x0a, 0x01, 0x00, 0x00,                         // DEL_DAEMON v1
            0x0c, 0x00, 0x03, 0x00,                         // DAEMON, len 12
            0x08, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, //   STATE MASTER
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn getfamily_bytes() {
        let mut w = MsgWriter::new();
        put_getfamily(&mut w, 1, "IPVS");
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x20, 0x00, 0x00, 0x00, // len 32
            0x10, 0x00,             // GENL_ID_CTRL
            0x05, 0x00,             // REQUEST | ACK
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x03, 0x02, 0x00, 0x00, // CTRL_CMD_GETFAMILY, version 2
            0x09, 0x00, 0x02, 0x00, b'I', b'P', b'V', b'S', // FAMILY_NAME "IPVS\0"
            0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(w.bytes(), want);
    }

    /// A GET_SERVICE dump datagram as the kernel sends it: two NEW_SERVICE
    /// messages (NLM_F_MULTI) and NLMSG_DONE.
    #[rustfmt::skip]
    fn service_dump_datagram() -> Vec<u8> {
        let svc1: &[u8] = &[
            // NEW_SERVICE for TCP 192.0.2.1:80 wlc persistent 300 /24
            0xd8, 0x00, 0x00, 0x00, 0x20, 0x00, 0x02, 0x00, // len 216, MULTI
            0x2a, 0x00, 0x00, 0x00, 0x99, 0x00, 0x00, 0x00, // seq 42, pid 153
            0x01, 0x01, 0x00, 0x00,                         // NEW_SERVICE
            0xc4, 0x00, 0x01, 0x00,                         // SERVICE, len 196
            0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, //   AF_INET
            0x06, 0x00, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, //   TCP
            0x14, 0x00, 0x03, 0x00,                         //   ADDR: always 16 bytes
            0xc0, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x06, 0x00, 0x04, 0x00, 0x00, 0x50, 0x00, 0x00, //   PORT 80
            0x08, 0x00, 0x06, 0x00, b'w', b'l', b'c', 0x00, //   SCHED_NAME
            0x0c, 0x00, 0x07, 0x00,                         //   FLAGS
            0x03, 0x00, 0x00, 0x00,                         //     PERSISTENT | HASHED
            0xff, 0xff, 0xff, 0xff,
            0x08, 0x00, 0x08, 0x00, 0x2c, 0x01, 0x00, 0x00, //   TIMEOUT 300
            0x08, 0x00, 0x09, 0x00, 0xff, 0xff, 0xff, 0x00, //   NETMASK 255.255.255.0
            0x28, 0x00, 0x0a, 0x00,                         //   STATS (old), len 40
            0x08, 0x00, 0x01, 0x00, 0x07, 0x00, 0x00, 0x00, //     CONNS 7 (u32)
            0x08, 0x00, 0x02, 0x00, 0x09, 0x00, 0x00, 0x00, //     INPKTS 9
            0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, //     OUTPKTS 0
            0x0c, 0x00, 0x04, 0x00, 0x00, 0x02, 0x00, 0x00, //     INBYTES 512 (u64)
            0x00, 0x00, 0x00, 0x00,
            0x48, 0x00, 0x0c, 0x80,                         //   STATS64, len 72, NLA_F_NESTED
            0x04, 0x00, 0x0b, 0x00,                         //     PAD (skipped)
            0x0c, 0x00, 0x01, 0x00,                         //     CONNS: above 2^32
            0x07, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
            0x04, 0x00, 0x0b, 0x00,                         //     PAD
            0x0c, 0x00, 0x02, 0x00,                         //     INPKTS 9
            0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x0c, 0x00, 0x04, 0x00,                         //     INBYTES 2^40
            0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
            0x0c, 0x00, 0x05, 0x00,                         //     OUTBYTES 0
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x0c, 0x00, 0x06, 0x00,                         //     CPS 1
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        let svc2: &[u8] = &[
            // NEW_SERVICE for FWM 7 IPv6 rr: no PROTOCOL/ADDR/PORT
            0x50, 0x00, 0x00, 0x00, 0x20, 0x00, 0x02, 0x00, // len 80, MULTI
            0x2a, 0x00, 0x00, 0x00, 0x99, 0x00, 0x00, 0x00,
            0x01, 0x01, 0x00, 0x00,
            0x3c, 0x00, 0x01, 0x00,                         // SERVICE, len 60
            0x06, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x00, //   AF_INET6
            0x08, 0x00, 0x05, 0x00, 0x07, 0x00, 0x00, 0x00, //   FWMARK 7
            0x07, 0x00, 0x06, 0x00, b'r', b'r', 0x00, 0x00, //   SCHED_NAME "rr"
            0x0c, 0x00, 0x07, 0x00,                         //   FLAGS: HASHED only
            0x02, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
            0x08, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, //   TIMEOUT 0
            0x08, 0x00, 0x09, 0x00, 0x80, 0x00, 0x00, 0x00, //   NETMASK 128 (host u32)
            0x04, 0x00, 0x63, 0x00,                         //   unknown type 99: ignored
        ];
        let done: &[u8] = &[
            0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, // NLMSG_DONE, MULTI
            0x2a, 0x00, 0x00, 0x00, 0x99, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00,                         // error 0
        ];
        [svc1, svc2, done].concat()
    }

    #[test]
    fn decode_service_dump_normalises() {
        let buf = service_dump_datagram();
        let msgs: Vec<NlMsg<'_>> = messages(&buf).map(|m| m.unwrap()).collect();
        assert_eq!(msgs.len(), 3);
        assert_eq!(
            (msgs[0].seq, msgs[0].flags, msgs[2].ty),
            (42, NLM_F_MULTI, NLMSG_DONE)
        );

        let (cmd, attrs) = genl_split(msgs[0].payload).unwrap();
        assert_eq!(cmd, IPVS_CMD_NEW_SERVICE);
        let nest = find_attr(attrs, IPVS_CMD_ATTR_SERVICE).unwrap().unwrap();
        let (s, st) = decode_service(nest).unwrap();
        // Equal to what ipvsadm -A … -p 300 -M 255.255.255.0 sent: HASHED
        // gone, the 16-byte address read as IPv4.
        let want = Service::new(ServiceKey::tcp(ip("192.0.2.1"), 80), "wlc")
            .persistent(300)
            .netmask(Netmask::V4(Ipv4Addr::new(255, 255, 255, 0)));
        assert_eq!(s, want);
        // STATS64 wins over STATS, PAD skipped, 64-bit values intact.
        assert_eq!(st.conns, (1 << 32) + 7);
        assert_eq!(st.inpkts, 9);
        assert_eq!(st.inbytes, 1 << 40);
        assert_eq!(st.cps, 1);

        let (_, attrs) = genl_split(msgs[1].payload).unwrap();
        let nest = find_attr(attrs, IPVS_CMD_ATTR_SERVICE).unwrap().unwrap();
        let (s, st) = decode_service(nest).unwrap();
        assert_eq!(s, Service::new(ServiceKey::fwmark(Family::Inet6, 7), "rr"));
        assert_eq!(st, Stats::default());
    }

    #[test]
    fn decode_old_stats_only() {
        // STATS (u32 counters, u64 bytes) when STATS64 is absent.
        #[rustfmt::skip]
        let p: &[u8] = &[
            0x08, 0x00, 0x01, 0x00, 0x07, 0x00, 0x00, 0x00, // CONNS 7
            0x0c, 0x00, 0x05, 0x00,                         // OUTBYTES 2^33
            0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
            0x08, 0x00, 0x0a, 0x00, 0x05, 0x00, 0x00, 0x00, // OUTBPS 5
        ];
        let s = decode_stats(p, false).unwrap();
        assert_eq!((s.conns, s.outbytes, s.outbps), (7, 1 << 33, 5));
    }

    #[test]
    fn decode_dest_dump_reply() {
        // The dest part of a NEW_DEST dump message: all attributes, in the
        // kernel's order [1,2,3,4,13,14,15,5,6,7,8,9,11,10,12].
        #[rustfmt::skip]
        let p: &[u8] = &[
            0x14, 0x00, 0x01, 0x00,                         // ADDR, 16 bytes (v4 in front)
            0xc6, 0x33, 0x64, 0x07, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x06, 0x00, 0x02, 0x00, 0x00, 0x50, 0x00, 0x00, // PORT 80
            0x08, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, // FWD TUNNEL
            0x08, 0x00, 0x04, 0x00, 0x03, 0x00, 0x00, 0x00, // WEIGHT 3
            0x05, 0x00, 0x0d, 0x00, 0x02, 0x00, 0x00, 0x00, // TUN_TYPE GRE
            0x06, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, // TUN_PORT 0
            0x06, 0x00, 0x0f, 0x00, 0x01, 0x00, 0x00, 0x00, // TUN_FLAGS CSUM
            0x08, 0x00, 0x05, 0x00, 0x64, 0x00, 0x00, 0x00, // U_THRESH 100
            0x08, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, // L_THRESH 0
            0x08, 0x00, 0x07, 0x00, 0x0c, 0x00, 0x00, 0x00, // ACTIVE_CONNS 12
            0x08, 0x00, 0x08, 0x00, 0x59, 0x01, 0x00, 0x00, // INACT_CONNS 345
            0x08, 0x00, 0x09, 0x00, 0x02, 0x00, 0x00, 0x00, // PERSIST_CONNS 2
            0x06, 0x00, 0x0b, 0x00, 0x02, 0x00, 0x00, 0x00, // ADDR_FAMILY AF_INET
            0x0c, 0x00, 0x0a, 0x00,                         // STATS: CONNS 1 (ignored)
            0x08, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00,
            0x10, 0x00, 0x0c, 0x00,                         // STATS64
            0x0c, 0x00, 0x01, 0x00,                         //   CONNS 5
            0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        // The service is IPv6: ADDR_FAMILY (a v4 tunnel dest) wins.
        let e = decode_dest(p, Family::Inet6).unwrap();
        let want = Dest::new(DestKey::new(ip("198.51.100.7"), 80), Forward::Tunnel)
            .weight(3)
            .thresholds(100, 0)
            .tunnel(TunnelType::Gre, 0, TunnelFlags::CSUM);
        assert_eq!(e.dest, want);
        assert_eq!(
            e.conns,
            ConnCounts {
                active: 12,
                inactive: 345,
                persistent: 2
            }
        );
        assert_eq!(e.stats.conns, 5);
    }

    #[test]
    fn decode_dest_without_addr_family_uses_service_family() {
        #[rustfmt::skip]
        let p: &[u8] = &[
            0x14, 0x00, 0x01, 0x00,                         // ADDR 2001:db8::11
            0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,
            0x06, 0x00, 0x02, 0x00, 0x00, 0x35, 0x00, 0x00, // PORT 53
            0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, // MASQ
            0x08, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, // WEIGHT 1
        ];
        let e = decode_dest(p, Family::Inet6).unwrap();
        assert_eq!(
            e.dest,
            Dest::new(DestKey::new(ip("2001:db8::11"), 53), Forward::Masq)
        );
    }

    #[test]
    fn decode_replies_info_config_error_family() {
        #[rustfmt::skip]
        let info: &[u8] = &[
            0x08, 0x00, 0x01, 0x00, 0x01, 0x02, 0x01, 0x00, // VERSION 0x010201
            0x08, 0x00, 0x02, 0x00, 0x00, 0x10, 0x00, 0x00, // CONN_TAB_SIZE 4096
        ];
        let i = decode_info(info).unwrap();
        assert_eq!((i.version_triple(), i.conn_tab_size), ((1, 2, 1), 4096));

        #[rustfmt::skip]
        let cfg: &[u8] = &[
            0x08, 0x00, 0x04, 0x00, 0x84, 0x03, 0x00, 0x00,
            0x08, 0x00, 0x05, 0x00, 0x78, 0x00, 0x00, 0x00,
            0x08, 0x00, 0x06, 0x00, 0x2c, 0x01, 0x00, 0x00,
        ];
        assert_eq!(
            decode_timeouts(cfg).unwrap(),
            Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            }
        );

        // NLMSG_ERROR: int error = -ESRCH, then the echoed header (capped).
        #[rustfmt::skip]
        let err: &[u8] = &[
            0x24, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, // len 36, ERROR, CAPPED
            0x05, 0x00, 0x00, 0x00, 0x99, 0x00, 0x00, 0x00, // seq 5
            0xfd, 0xff, 0xff, 0xff,                         // error -3
            0x14, 0x00, 0x00, 0x00, 0x20, 0x00, 0x05, 0x00, // the request's header
            0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        let m = messages(err).next().unwrap().unwrap();
        assert_eq!((m.ty, m.seq), (NLMSG_ERROR, 5));
        assert_eq!(nlmsgerr_errno(m.payload).unwrap(), libc::ESRCH);

        // nlctrl NEWFAMILY: FAMILY_ID among other attributes.
        #[rustfmt::skip]
        let fam: &[u8] = &[
            0x09, 0x00, 0x02, 0x00, b'I', b'P', b'V', b'S', 0x00, 0x00, 0x00, 0x00,
            0x06, 0x00, 0x01, 0x00, 0x20, 0x00, 0x00, 0x00, // FAMILY_ID 0x20
        ];
        assert_eq!(decode_family_id(fam).unwrap(), 0x20);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        // nla_len beyond the buffer
        assert!(attrs(&[0x40, 0x00, 0x01, 0x00, 0x00])
            .next()
            .unwrap()
            .is_err());
        // nlmsg_len beyond the buffer
        let bad = [0xff, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(messages(&bad).next().unwrap().is_err());
        // a service without AF, a port of one byte, a short address
        assert!(decode_service(&[0x05, 0x00, 0x04, 0x00, 0x50, 0, 0, 0]).is_err());
        let short_addr = [
            0x06, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x00, // AF_INET6
            0x06, 0x00, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, // TCP
            0x08, 0x00, 0x03, 0x00, 0xc0, 0x00, 0x02, 0x01, // 4-byte address for v6
            0x06, 0x00, 0x04, 0x00, 0x00, 0x50, 0x00, 0x00,
        ];
        let e = decode_service(&short_addr).unwrap_err();
        assert!(e.0.contains("IPVS_SVC_ATTR_ADDR"), "{e}");
        assert!(decode_dest(&[], Family::Inet).is_err());
        assert!(genl_split(&[1, 2]).is_err());
    }

    /// Every service and dest shape survives encode → decode unchanged
    /// (cloudflare/ipvs `TestService_PackUnpack`).
    #[test]
    fn pack_unpack_identity() {
        let keys = [
            ServiceKey::tcp(ip("192.0.2.1"), 80),
            ServiceKey::udp(ip("198.51.100.1"), 0),
            ServiceKey::sctp(ip("203.0.113.9"), 65535),
            ServiceKey::tcp(ip("2001:db8::1"), 443),
            ServiceKey::fwmark(Family::Inet, 1),
            ServiceKey::fwmark(Family::Inet6, u32::MAX),
        ];
        for key in keys {
            let mask = match key.family() {
                Family::Inet => Netmask::V4(Ipv4Addr::new(255, 255, 0, 0)),
                Family::Inet6 => Netmask::V6(48),
            };
            let variants = [
                Service::new(key, "rr"),
                Service::new(key, "lblcr")
                    .persistent(u32::MAX)
                    .netmask(mask),
                Service::new(key, "mh")
                    .flags(ServiceFlags::ONEPACKET | ServiceFlags::MH_PORT | ServiceFlags::SCHED3)
                    .persistent(1)
                    .pe("sip"),
                Service::new(key, "none"),
            ];
            for s in variants {
                let bytes = encode(Request::Op(&Op::AddService(s.clone())), 1);
                let nest = find_attr(&bytes[20..], IPVS_CMD_ATTR_SERVICE)
                    .unwrap()
                    .unwrap();
                assert_eq!(decode_service(nest).unwrap().0, s);
            }
            let rips = [ip("192.0.2.11"), ip("2001:db8::11")];
            for rip in rips {
                for fwd in [
                    Forward::Masq,
                    Forward::Local,
                    Forward::Tunnel,
                    Forward::Route,
                ] {
                    let d = Dest::new(DestKey::new(rip, 8080), fwd)
                        .weight(i32::MAX as u32)
                        .thresholds(1000, 999)
                        .tunnel(TunnelType::Gue, 6080, TunnelFlags::REMCSUM);
                    let bytes = encode(Request::Op(&Op::AddDest(key, d.clone())), 1);
                    let nest = find_attr(&bytes[20..], IPVS_CMD_ATTR_DEST)
                        .unwrap()
                        .unwrap();
                    let got = decode_dest(nest, key.family()).unwrap().dest;
                    assert_eq!(got, d.normalized_for(&key));
                }
            }
        }
    }
}
