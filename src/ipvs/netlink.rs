//! [`NetlinkIpvs`]: the IPVS backend that talks to the kernel.
//!
//! Owns: one generic-netlink socket (neli's [`NlSocket`]) bound in the
//! network namespace of the thread that created it, the resolved `IPVS`
//! family id, sequence numbers, and the request/ACK/dump discipline:
//!
//! - every state-changing request carries `NLM_F_REQUEST | NLM_F_ACK`
//!   (without ACK a success produces no reply at all, and a reader would
//!   wait forever);
//! - dumps carry `NLM_F_DUMP` and no ACK, and end at `NLMSG_DONE`;
//! - every receive is bounded by a deadline (`poll(2)` before `recv`);
//! - replies are matched by sequence number; replies to an earlier request
//!   that timed out are recognised by their seq and dropped.
//!
//! Batching: the kernel processes every message of one datagram in turn
//! (`netlink_rcv_skb`) and ACKs each, failures included, and carries on after
//! a failure. So [`NetlinkIpvs::apply`] packs up to `batch` requests into one
//! `send`, then collects the ACKs and maps each to its op by seq. The receive
//! buffer is raised (SO_RCVBUFFORCE, as root) so a batch's ACKs cannot
//! overflow it, and NETLINK_CAP_ACK keeps error ACKs from echoing the
//! request. neli's router (`NlRouter`) waits for one ACK per request and
//! spawns a thread per socket, which makes batching awkward; its plain
//! socket does exactly what is needed here.
//!
//! Must not: decide what to change (the reconciler does), or retry on its
//! own: an `Exists`/`NotFound` answer is reported, not papered over.

use std::os::unix::io::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;

use super::consts::*;
use super::error::{Errno, Error, Result};
use super::types::*;
use super::wire::{self, MsgWriter, Request};
use super::{validate_daemon, validate_op, IpvsBackend, Op};

/// Default per-request deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Least deadline for starting/stopping a sync daemon.
pub const DAEMON_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of requests per datagram.
pub const DEFAULT_BATCH: usize = 256;
/// Receive buffer we ask for: room for the ACKs of a whole batch.
const RCVBUF: usize = 4 << 20;
/// Receive chunk. The kernel sizes dump skbs up to 32 KiB
/// (`netlink_dump`), so 64 KiB never truncates.
const RECV_CHUNK: usize = 64 << 10;

/// The IPVS table of one network namespace, over generic netlink.
///
/// The namespace is the one of the thread that calls [`NetlinkIpvs::new`];
/// after that the handle can move to any thread (it is `Send`). Every
/// method takes `&mut self`: one request (or batch) at a time per socket.
pub struct NetlinkIpvs {
    sock: NlSocket,
    family: u16,
    seq: u32,
    timeout: Duration,
    batch: usize,
    wbuf: MsgWriter,
    rbuf: Vec<u8>,
}

impl std::fmt::Debug for NetlinkIpvs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetlinkIpvs")
            .field("family", &self.family)
            .field("seq", &self.seq)
            .field("timeout", &self.timeout)
            .field("batch", &self.batch)
            .finish()
    }
}

/// What a request expects back.
enum Expect {
    /// only the ACK
    Ack,
    /// a reply message, then the ACK (doit GETs)
    Reply,
    /// a dump: messages until NLMSG_DONE
    Dump,
}

impl NetlinkIpvs {
    /// Opens a socket in the current thread's netns and resolves the `IPVS`
    /// family. If the family is missing (ENOENT), runs `modprobe ip_vs` once
    /// (no shell) and retries; kernels since ~5.16 autoload it on lookup.
    ///
    /// Fails with [`Error::NoIpvs`] when the kernel has no IPVS.
    pub fn new() -> Result<Self> {
        let sock = NlSocket::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(|e| io_err("socket/bind", e))?;
        let fd = sock.as_raw_fd();
        // Errors ACKs without the echoed request: ACK skbs stay small.
        let one: libc::c_int = 1;
        // SAFETY: valid fd, pointer to a c_int of the size passed.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_NETLINK,
                NETLINK_CAP_ACK,
                &one as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        set_buf(fd, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, RCVBUF);
        set_buf(fd, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, 1 << 20);
        let mut h = NetlinkIpvs {
            sock,
            family: 0,
            seq: initial_seq(),
            timeout: DEFAULT_TIMEOUT,
            batch: DEFAULT_BATCH,
            wbuf: MsgWriter::new(),
            rbuf: vec![0; RECV_CHUNK],
        };
        h.family = match h.resolve_family() {
            Ok(id) => id,
            Err(e) if e.errno() == Some(libc::ENOENT) => {
                modprobe_ip_vs();
                match h.resolve_family() {
                    Ok(id) => id,
                    Err(e) if e.errno() == Some(libc::ENOENT) => {
                        return Err(Error::NoIpvs {
                            errno: Errno(libc::ENOENT),
                        })
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        Ok(h)
    }

    /// Sets the deadline of each request (each batch, for [`apply`](Self::apply)).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Sets how many requests go in one datagram (at least 1).
    pub fn set_batch(&mut self, batch: usize) {
        self.batch = batch.max(1);
    }

    /// The resolved generic-netlink family id of `IPVS`.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    fn resolve_family(&mut self) -> Result<u16> {
        let seq = self.next_seq(1);
        self.wbuf.clear();
        wire::put_getfamily(&mut self.wbuf, seq, IPVS_GENL_NAME);
        let replies = self.exchange(seq, Expect::Reply, "resolve genl family IPVS")?;
        let first = replies
            .first()
            .ok_or_else(|| Error::Decode("nlctrl sent no NEWFAMILY".into()))?;
        let (_cmd, attrs) = wire::genl_split(first).map_err(decode_err)?;
        wire::decode_family_id(attrs).map_err(decode_err)
    }

    fn next_seq(&mut self, n: usize) -> u32 {
        let s = self.seq;
        self.seq = self.seq.wrapping_add(n as u32);
        if self.seq < s {
            // Wrapped: restart above 0 so a block never straddles the wrap.
            self.seq = 1;
            return self.next_seq(n);
        }
        s
    }

    /// Sends one request and collects what `expect` says.
    fn request(&mut self, req: Request<'_>, expect: Expect, what: &str) -> Result<Vec<Vec<u8>>> {
        let seq = self.next_seq(1);
        self.wbuf.clear();
        req.encode(&mut self.wbuf, self.family, seq);
        self.exchange(seq, expect, what)
    }

    /// Sends `self.wbuf` (one request with `seq`) and collects the genl
    /// payloads of the replies.
    fn exchange(&mut self, seq: u32, expect: Expect, what: &str) -> Result<Vec<Vec<u8>>> {
        self.send_wbuf()?;
        let deadline = Instant::now() + self.timeout;
        let mut out = Vec::new();
        loop {
            let n = self.recv_until(deadline, what)?;
            let buf = &self.rbuf[..n];
            for m in wire::messages(buf) {
                let m = m.map_err(decode_err)?;
                if m.seq != seq {
                    continue; // a late answer to an earlier, timed-out request
                }
                match m.ty {
                    NLMSG_ERROR => {
                        let errno = wire::nlmsgerr_errno(m.payload).map_err(decode_err)?;
                        if errno != 0 {
                            return Err(Error::from_errno(errno, what));
                        }
                        match expect {
                            Expect::Ack | Expect::Reply => return Ok(out),
                            // A dump is not ACKed; a 0 here would be odd
                            // but means "finished".
                            Expect::Dump => return Ok(out),
                        }
                    }
                    NLMSG_DONE => {
                        // The DONE payload is an int: a dump error if < 0.
                        if let Ok(errno) = wire::nlmsgerr_errno(m.payload) {
                            if errno > 0 {
                                return Err(Error::from_errno(errno, what));
                            }
                        }
                        return Ok(out);
                    }
                    NLMSG_NOOP | NLMSG_OVERRUN => {}
                    _ => out.push(m.payload.to_vec()),
                }
            }
        }
    }

    fn send_wbuf(&mut self) -> Result<()> {
        let bytes = self.wbuf.bytes();
        let sent = self
            .sock
            .send(bytes, Msg::empty())
            .map_err(|e| io_err("send", e))?;
        if sent != bytes.len() {
            return Err(Error::Io {
                context: "send".into(),
                source: std::io::Error::other(format!("short send: {sent} of {}", bytes.len())),
            });
        }
        Ok(())
    }

    /// Waits for a datagram until `deadline`, then reads it into `rbuf`.
    fn recv_until(&mut self, deadline: Instant, what: &str) -> Result<usize> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    request: what.to_owned(),
                    millis: self.timeout.as_millis(),
                });
            }
            let ms = (deadline - now).as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
            let mut pfd = libc::pollfd {
                fd: self.sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(io_err("poll", e));
            }
            if r == 0 {
                continue; // the deadline check above reports the timeout
            }
            match self.sock.recv(&mut self.rbuf[..], Msg::DONTWAIT) {
                Ok((n, _)) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("recv", e)),
            }
        }
    }

    /// `ipvsadm` startup: version and connection table size (`GET_INFO`).
    pub fn info(&mut self) -> Result<Info> {
        let r = self.request(Request::GetInfo, Expect::Reply, "get info")?;
        let p = r
            .first()
            .ok_or_else(|| Error::Decode("GET_INFO: no reply".into()))?;
        let (_, attrs) = wire::genl_split(p).map_err(decode_err)?;
        wire::decode_info(attrs).map_err(decode_err)
    }

    /// All services with their stats (`GET_SERVICE` dump), kernel order.
    pub fn dump_services(&mut self) -> Result<Vec<(Service, Stats)>> {
        let r = self.request(Request::DumpServices, Expect::Dump, "dump services")?;
        let mut out: Vec<(Service, Stats)> = Vec::with_capacity(r.len());
        for p in &r {
            let (_, attrs) = wire::genl_split(p).map_err(decode_err)?;
            let nest = wire::find_attr(attrs, IPVS_CMD_ATTR_SERVICE)
                .map_err(decode_err)?
                .ok_or_else(|| Error::Decode("NEW_SERVICE without SERVICE nest".into()))?;
            let s = wire::decode_service(nest).map_err(decode_err)?;
            // A dump spread over datagrams resumes by index and can repeat
            // an entry if the table changed meanwhile: keep the first.
            if !out.iter().any(|(o, _)| o.key == s.0.key) {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// One service (`GET_SERVICE` doit); [`Error::NoSuchService`] if absent.
    pub fn get_service(&mut self, key: &ServiceKey) -> Result<(Service, Stats)> {
        let r = self.request(
            Request::GetService(key),
            Expect::Reply,
            &format!("get service {key}"),
        )?;
        let p = r
            .first()
            .ok_or_else(|| Error::Decode("GET_SERVICE: no reply".into()))?;
        let (_, attrs) = wire::genl_split(p).map_err(decode_err)?;
        let nest = wire::find_attr(attrs, IPVS_CMD_ATTR_SERVICE)
            .map_err(decode_err)?
            .ok_or_else(|| Error::Decode("NEW_SERVICE without SERVICE nest".into()))?;
        wire::decode_service(nest).map_err(decode_err)
    }

    /// The destinations of a service (`GET_DEST` dump), kernel order (newest
    /// first). An unknown service gives an empty list, not an error: the
    /// kernel answers so.
    pub fn dump_dests(&mut self, key: &ServiceKey) -> Result<Vec<DestEntry>> {
        let r = self.request(
            Request::DumpDests(key),
            Expect::Dump,
            &format!("dump dests of {key}"),
        )?;
        let mut out: Vec<DestEntry> = Vec::with_capacity(r.len());
        for p in &r {
            let (_, attrs) = wire::genl_split(p).map_err(decode_err)?;
            let nest = wire::find_attr(attrs, IPVS_CMD_ATTR_DEST)
                .map_err(decode_err)?
                .ok_or_else(|| Error::Decode("NEW_DEST without DEST nest".into()))?;
            let d = wire::decode_dest(nest, key.family()).map_err(decode_err)?;
            if !out.iter().any(|o| o.dest.key == d.dest.key) {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// `ipvsadm -A`
    pub fn add_service(&mut self, svc: &Service) -> Result<()> {
        self.apply_one(Op::AddService(svc.clone()))
    }

    /// `ipvsadm -E`: replaces scheduler, flags, timeout, netmask and PE.
    pub fn edit_service(&mut self, svc: &Service) -> Result<()> {
        self.apply_one(Op::EditService(svc.clone()))
    }

    /// `ipvsadm -D`: deletes the service and its dests.
    pub fn del_service(&mut self, key: &ServiceKey) -> Result<()> {
        self.apply_one(Op::DelService(*key))
    }

    /// `ipvsadm -a`. For DR/tunnel on a non-fwmark service the port sent
    /// is the virtual port ([`Dest::kernel_key`]), as ipvsadm does.
    pub fn add_dest(&mut self, svc: &ServiceKey, dest: &Dest) -> Result<()> {
        self.apply_one(Op::AddDest(*svc, dest.clone()))
    }

    /// `ipvsadm -e`: a full replace of the dest's fields.
    pub fn edit_dest(&mut self, svc: &ServiceKey, dest: &Dest) -> Result<()> {
        self.apply_one(Op::EditDest(*svc, dest.clone()))
    }

    /// `ipvsadm -d`. `dest` is the key as the kernel stores it.
    pub fn del_dest(&mut self, svc: &ServiceKey, dest: &DestKey) -> Result<()> {
        self.apply_one(Op::DelDest(*svc, *dest))
    }

    fn apply_one(&mut self, op: Op) -> Result<()> {
        self.apply_ops(std::slice::from_ref(&op))
            .pop()
            .expect("one result per op")
    }

    /// `ipvsadm -Z [service]`: zeroes the counters of one or all services.
    pub fn zero(&mut self, svc: Option<&ServiceKey>) -> Result<()> {
        let what = || match svc {
            Some(k) => format!("zero counters of {k}"),
            None => "zero all counters".to_owned(),
        };
        self.request(Request::Zero(svc), Expect::Ack, &what())
            .map(drop)
    }

    /// `ipvsadm -L --timeout` (`GET_CONFIG`).
    pub fn timeouts(&mut self) -> Result<Timeouts> {
        let r = self.request(Request::GetConfig, Expect::Reply, "get timeouts")?;
        let p = r
            .first()
            .ok_or_else(|| Error::Decode("GET_CONFIG: no reply".into()))?;
        let (_, attrs) = wire::genl_split(p).map_err(decode_err)?;
        wire::decode_timeouts(attrs).map_err(decode_err)
    }

    /// `ipvsadm --set tcp tcpfin udp` (`SET_CONFIG`); a 0 leaves that one
    /// unchanged.
    pub fn set_timeouts(&mut self, t: &Timeouts) -> Result<()> {
        let what = || {
            format!(
                "set timeouts tcp={} tcpfin={} udp={}",
                t.tcp, t.tcp_fin, t.udp
            )
        };
        self.request(Request::SetConfig(t), Expect::Ack, &what())
            .map(drop)
    }

    /// Starting and stopping sync threads waits for kernel threads
    /// (`kthread_stop`), which can take seconds on a loaded or emulated
    /// machine: allow at least [`DAEMON_TIMEOUT`].
    fn with_slow_deadline<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = self.timeout;
        self.timeout = saved.max(DAEMON_TIMEOUT);
        let r = f(self);
        self.timeout = saved;
        r
    }

    /// Applies ops in order, `batch` per datagram; one result per op.
    fn apply_ops(&mut self, ops: &[Op]) -> Vec<Result<()>> {
        let mut results: Vec<Option<Result<()>>> = (0..ops.len()).map(|_| None).collect();
        let mut start = 0;
        while start < ops.len() {
            let end = (start + self.batch).min(ops.len());
            let base = self.next_seq(end - start);
            self.wbuf.clear();
            let mut pending = 0usize;
            for (i, op) in ops[start..end].iter().enumerate() {
                if let Err(e) = validate_op(op) {
                    results[start + i] = Some(Err(e));
                    continue;
                }
                Request::Op(op).encode(&mut self.wbuf, self.family, base.wrapping_add(i as u32));
                pending += 1;
            }
            if pending > 0 {
                if let Err(e) = self.send_wbuf() {
                    let msg = e.to_string();
                    fill_missing(&mut results[start..end], &|| Error::Io {
                        context: "send".into(),
                        source: std::io::Error::other(msg.clone()),
                    });
                    start = end;
                    continue;
                }
                self.collect_acks(ops, start, end, base, pending, &mut results);
            }
            start = end;
        }
        results
            .into_iter()
            .map(|r| r.expect("every op answered"))
            .collect()
    }

    /// Reads ACKs for ops `start..end` (seqs `base..`) into `results`.
    fn collect_acks(
        &mut self,
        ops: &[Op],
        start: usize,
        end: usize,
        base: u32,
        mut pending: usize,
        results: &mut [Option<Result<()>>],
    ) {
        let deadline = Instant::now() + self.timeout;
        while pending > 0 {
            let n = match self.recv_until(deadline, "batch") {
                Ok(n) => n,
                Err(e) => {
                    // Timeout or socket error (ENOBUFS: ACKs were dropped):
                    // whatever has no answer gets this error.
                    let msg = e.to_string();
                    let timeout = matches!(e, Error::Timeout { .. });
                    let errno = e.errno();
                    for (i, r) in results[start..end].iter_mut().enumerate() {
                        if r.is_none() {
                            let request = ops[start + i].describe();
                            *r = Some(if timeout {
                                Err(Error::Timeout {
                                    request,
                                    millis: self.timeout.as_millis(),
                                })
                            } else if let Some(errno) = errno {
                                Err(Error::from_errno(errno, request))
                            } else {
                                Err(Error::Io {
                                    context: "recv".into(),
                                    source: std::io::Error::other(msg.clone()),
                                })
                            });
                        }
                    }
                    return;
                }
            };
            for m in wire::messages(&self.rbuf[..n]) {
                let Ok(m) = m else { break };
                if m.ty != NLMSG_ERROR {
                    continue;
                }
                let idx = m.seq.wrapping_sub(base) as usize;
                if idx >= end - start || results[start + idx].is_some() {
                    continue; // not ours (late answer to an older request)
                }
                let r = match wire::nlmsgerr_errno(m.payload) {
                    Ok(0) => Ok(()),
                    Ok(errno) => Err(Error::from_errno(errno, ops[start + idx].describe())),
                    Err(e) => Err(decode_err(e)),
                };
                results[start + idx] = Some(r);
                pending -= 1;
            }
        }
    }
}

fn fill_missing(results: &mut [Option<Result<()>>], err: &dyn Fn() -> Error) {
    for r in results.iter_mut().filter(|r| r.is_none()) {
        *r = Some(Err(err()));
    }
}

impl IpvsBackend for NetlinkIpvs {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>> {
        let services = self.dump_services()?;
        let mut out = Vec::with_capacity(services.len());
        for (service, stats) in services {
            let dests = self.dump_dests(&service.key)?;
            out.push(ServiceEntry {
                service,
                stats,
                dests,
            });
        }
        Ok(out)
    }

    fn apply(&mut self, ops: &[Op]) -> Vec<Result<()>> {
        self.apply_ops(ops)
    }

    fn flush(&mut self) -> Result<()> {
        self.request(Request::Flush, Expect::Ack, "flush").map(drop)
    }

    /// `GET_DAEMON` dump: 0–2 daemons.
    fn daemons(&mut self) -> Result<Vec<SyncDaemon>> {
        let r = self.request(Request::DumpDaemons, Expect::Dump, "dump sync daemons")?;
        let mut out = Vec::new();
        for p in &r {
            let (_, attrs) = wire::genl_split(p).map_err(decode_err)?;
            if let Some(nest) = wire::find_attr(attrs, IPVS_CMD_ATTR_DAEMON).map_err(decode_err)? {
                out.push(wire::decode_daemon(nest).map_err(decode_err)?);
            }
        }
        Ok(out)
    }

    /// `NEW_DAEMON`.
    fn start_daemon(&mut self, d: &SyncDaemon) -> Result<()> {
        validate_daemon(d)?;
        self.with_slow_deadline(|h| {
            h.request(Request::NewDaemon(d), Expect::Ack, &format!("start {d}"))
                .map(drop)
        })
        .map_err(Error::of_daemon_request)
    }

    /// `DEL_DAEMON`.
    fn stop_daemon(&mut self, state: SyncState) -> Result<()> {
        let what = format!("stop {} sync daemon", state.as_str());
        self.with_slow_deadline(|h| {
            h.request(Request::DelDaemon(state), Expect::Ack, &what)
                .map(drop)
        })
        .map_err(Error::of_daemon_request)
    }
}

fn io_err(context: &str, source: std::io::Error) -> Error {
    Error::Io {
        context: context.to_owned(),
        source,
    }
}

fn decode_err(e: wire::DecodeError) -> Error {
    Error::Decode(e.0)
}

/// Asks for a bigger socket buffer: the FORCE option (root) ignores
/// `rmem_max`/`wmem_max`; otherwise the plain one, capped by the sysctl.
fn set_buf(fd: libc::c_int, force: libc::c_int, plain: libc::c_int, size: usize) {
    let v = size as libc::c_int;
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let p = &v as *const _ as *const libc::c_void;
    // SAFETY: valid fd and a c_int option value.
    unsafe {
        if libc::setsockopt(fd, libc::SOL_SOCKET, force, p, len) != 0 {
            libc::setsockopt(fd, libc::SOL_SOCKET, plain, p, len);
        }
    }
}

/// A sequence start that differs between handles, so a stale reply to
/// another handle in the same process cannot be mistaken for ours.
fn initial_seq() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(1);
    (t & 0x3fff_ffff) | 1
}

/// `modprobe ip_vs`, once, without a shell. Failures are ignored: the retry
/// of the family lookup reports the outcome.
fn modprobe_ip_vs() {
    for prog in ["modprobe", "/sbin/modprobe", "/usr/sbin/modprobe"] {
        match Command::new(prog)
            .arg("ip_vs")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
        {
            Ok(_) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a kernel without IPVS the handle fails with the typed error. It
    /// runs `modprobe ip_vs`, so it is opt-in:
    /// `cargo test --lib -- --ignored no_ipvs_kernel` on such a host.
    #[test]
    #[ignore = "runs modprobe ip_vs; for hosts without IPVS"]
    fn no_ipvs_kernel() {
        match NetlinkIpvs::new() {
            Err(e @ Error::NoIpvs { .. }) => {
                assert_eq!(
                    e.to_string(),
                    "kernel has no IPVS support (ip_vs module not available)"
                );
                assert_eq!(e.errno(), Some(libc::ENOENT));
            }
            Err(e) => panic!("unexpected error: {e}"),
            Ok(_) => eprintln!("this kernel has IPVS; nothing to check"),
        }
    }

    #[test]
    fn seq_blocks_never_wrap() {
        // A block handed out never straddles u32::MAX, so `seq - base`
        // indexes a batch.
        let sock = NlSocket::new(NlFamily::Generic).unwrap();
        let mut h = NetlinkIpvs {
            sock,
            family: 0,
            seq: u32::MAX - 10,
            timeout: DEFAULT_TIMEOUT,
            batch: DEFAULT_BATCH,
            wbuf: MsgWriter::new(),
            rbuf: Vec::new(),
        };
        let a = h.next_seq(5);
        assert_eq!(a, u32::MAX - 10);
        let b = h.next_seq(256);
        assert_eq!(b, 1);
        assert_eq!(h.next_seq(1), 257);
    }
}
