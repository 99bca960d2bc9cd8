//! Running one probe of one [`Target`] by checktype, under its deadline
//! (upstream §f.6). Owns: TCP connect, ICMP ping, external commands, the
//! `on` check, dispatching negotiate checks to [`super::service`], and the
//! combined-mode (`checktype=N`) counter. Must not keep health state or
//! schedule anything (that is [`super::health`] and [`super::pool`]).
//!
//! Deadlines: each probe honours its own (`checktimeout` for connect, ping
//! per attempt, and external; `negotiatetimeout` for negotiate), and
//! [`run_with_deadline`] adds a hard backstop a little later, so a probe
//! that forgets its deadline still ends.

use std::future::Future;
use std::net::IpAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::pool::{Job, JobResult};
use super::{service, CheckError, CheckResult, Target};
use crate::config::{bracketed, CheckType, Protocol, VirtualKey};

/// What one probe does, once `checktype` (and, for combined checks, the
/// pool's counter) has been looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// TCP connect to the check port; for udp services an ICMP ping
    /// instead (upstream: a UDP "connect" proves nothing).
    Connect,
    /// The service's negotiate check.
    Negotiate,
    /// ICMP echo, `checkcount` attempts of `checktimeout` each.
    Ping,
    /// `checkcommand VIP VPORT RIP RPORT`, exit 0 = up.
    External,
    /// The same with the file run by `perl`.
    ExternalPerl,
    /// Always up, no I/O.
    On,
}

impl ProbeKind {
    /// The fixed kind of a checktype; `None` for `off` (never checked) and
    /// for combined checks (ask [`Combined::next`]).
    pub fn of(checktype: CheckType) -> Option<ProbeKind> {
        Some(match checktype {
            CheckType::Connect => ProbeKind::Connect,
            CheckType::Negotiate => ProbeKind::Negotiate,
            CheckType::Ping => ProbeKind::Ping,
            CheckType::External => ProbeKind::External,
            CheckType::ExternalPerl => ProbeKind::ExternalPerl,
            CheckType::On => ProbeKind::On,
            CheckType::Off | CheckType::Combined(_) => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Connect => "connect",
            ProbeKind::Negotiate => "negotiate",
            ProbeKind::Ping => "ping",
            ProbeKind::External => "external",
            ProbeKind::ExternalPerl => "external-perl",
            ProbeKind::On => "on",
        }
    }
}

/// The combined-mode counter of one target (upstream's `num_connects`,
/// §f.6): a negotiate check first, then N connect checks between two
/// negotiate checks; a failed connect forces a negotiate next time, a
/// failed negotiate is retried next time.
///
/// COMPAT: upstream's connect step of a udp service connects a UDP socket,
/// which always succeeds; ours is [`ProbeKind::Connect`], an ICMP ping for
/// udp, as `checktype=connect` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Combined {
    connects: u32,
}

impl Default for Combined {
    fn default() -> Self {
        // Upstream starts at 999999: the first check is a negotiate.
        Combined { connects: u32::MAX }
    }
}

impl Combined {
    /// The probe to run next for `checktype`; `None` for `off`.
    pub fn next(&self, checktype: CheckType) -> Option<ProbeKind> {
        match checktype {
            CheckType::Combined(n) if self.connects >= n => Some(ProbeKind::Negotiate),
            CheckType::Combined(_) => Some(ProbeKind::Connect),
            other => ProbeKind::of(other),
        }
    }

    /// Record the outcome of a probe chosen by [`Combined::next`].
    pub fn record(&mut self, kind: ProbeKind, ok: bool) {
        match (kind, ok) {
            (ProbeKind::Negotiate, true) => self.connects = 0,
            // A failed negotiate leaves the counter ≥ N: negotiate again.
            (ProbeKind::Negotiate, false) => {}
            (ProbeKind::Connect, true) => self.connects = self.connects.saturating_add(1),
            (ProbeKind::Connect, false) => self.connects = u32::MAX,
            _ => {}
        }
    }
}

/// Runs probes of jobs of type `J` (health checks by default; load
/// queries are [`super::load::LoadProber`]'s). The pool takes any
/// implementation, so tests can inject fakes; [`Prober`] is the real one.
pub trait Probe<J: Job = Target>: Send + Sync + 'static {
    /// Run one probe of `target`. Should honour [`Job::deadline`] itself;
    /// the caller adds a backstop.
    fn probe(&self, target: &J, kind: J::Step) -> impl Future<Output = JobResult<J>> + Send;
}

/// A health check is a pool job: its memory is the combined-check counter.
impl Job for Target {
    type Step = ProbeKind;
    type Memory = Combined;
    type Detail = super::Detail;

    fn next_step(&self, memory: &Combined) -> Option<ProbeKind> {
        memory.next(self.checktype)
    }

    fn record(memory: &mut Combined, step: ProbeKind, ok: bool) {
        memory.record(step, ok);
    }

    fn deadline(&self, step: ProbeKind) -> Duration {
        deadline(self, step)
    }

    fn known_without_running(&self) -> bool {
        self.checktype == CheckType::On
    }
}

/// How long a probe of `kind` may take.
pub fn deadline(target: &Target, kind: ProbeKind) -> Duration {
    let attempts = target.checkcount.max(1);
    match kind {
        ProbeKind::Connect if target.protocol == Protocol::Udp => target.checktimeout * attempts,
        ProbeKind::Ping => target.checktimeout * attempts,
        ProbeKind::Connect | ProbeKind::External | ProbeKind::ExternalPerl => target.checktimeout,
        ProbeKind::Negotiate => target.negotiatetimeout,
        ProbeKind::On => Duration::from_secs(1),
    }
}

/// Extra time the backstop gives a probe past its own [`deadline`]: enough
/// for an external check to be killed and reaped.
pub const BACKSTOP_GRACE: Duration = Duration::from_secs(1);

/// Run `probe` under a hard deadline of [`Job::deadline`] +
/// [`BACKSTOP_GRACE`].
pub async fn run_with_deadline<J: Job, P: Probe<J> + ?Sized>(
    probe: &P,
    target: &J,
    kind: J::Step,
) -> JobResult<J> {
    let limit = target.deadline(kind) + BACKSTOP_GRACE;
    match tokio::time::timeout(limit, probe.probe(target, kind)).await {
        Ok(r) => r,
        Err(_) => Err(CheckError::Timeout),
    }
}

/// The real prober. Holds the ICMP sockets (one per address family, made
/// on first use and shared by every ping), so make one per runtime and
/// share it (`Arc`).
#[derive(Default)]
pub struct Prober {
    ping_v4: Mutex<Option<surge_ping::Client>>,
    ping_v6: Mutex<Option<surge_ping::Client>>,
}

impl Prober {
    pub fn new() -> Prober {
        Prober::default()
    }

    /// The ICMP client of `addr`'s family, made on first use (it spawns
    /// its receive task on the current runtime).
    fn ping_client(&self, addr: IpAddr) -> Result<surge_ping::Client, CheckError> {
        let (slot, kind) = match addr {
            IpAddr::V4(_) => (&self.ping_v4, surge_ping::ICMP::V4),
            IpAddr::V6(_) => (&self.ping_v6, surge_ping::ICMP::V6),
        };
        let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = surge_ping::Config::builder().kind(kind).build();
        let client = surge_ping::Client::new(&config).map_err(|e| {
            CheckError::Config(format!(
                "cannot open an ICMP socket for ping checks (run as root, or allow \
                 unprivileged ICMP with sysctl net.ipv4.ping_group_range): {e}"
            ))
        })?;
        *slot = Some(client.clone());
        Ok(client)
    }

    async fn ping(&self, t: &Target) -> CheckResult {
        static IDENT: AtomicU16 = AtomicU16::new(1);
        let client = self.ping_client(t.addr)?;
        let ident = surge_ping::PingIdentifier(IDENT.fetch_add(1, Ordering::Relaxed));
        let mut pinger = client.pinger(t.addr, ident).await;
        pinger.timeout(t.checktimeout);
        let payload = [0u8; 56];
        let mut last = CheckError::Timeout;
        for seq in 0..t.checkcount.max(1) {
            match pinger
                .ping(surge_ping::PingSequence(seq as u16), &payload)
                .await
            {
                Ok((_, rtt)) => {
                    return Ok(format!(
                        "echo reply from {} in {:.1} ms",
                        t.addr,
                        rtt.as_secs_f64() * 1000.0
                    ))
                }
                Err(surge_ping::SurgeError::Timeout { .. }) => last = CheckError::Timeout,
                Err(surge_ping::SurgeError::IOError(e)) => last = e.into(),
                Err(e) => last = CheckError::Io(e.to_string()),
            }
        }
        Err(last)
    }
}

impl Probe for Prober {
    async fn probe(&self, t: &Target, kind: ProbeKind) -> CheckResult {
        match kind {
            ProbeKind::On => Ok("always up (checktype=on)".into()),
            ProbeKind::Connect if t.protocol == Protocol::Udp => self.ping(t).await,
            ProbeKind::Connect => connect(t).await,
            ProbeKind::Ping => self.ping(t).await,
            ProbeKind::Negotiate => {
                match tokio::time::timeout(t.negotiatetimeout, service::negotiate(t)).await {
                    Ok(r) => r,
                    Err(_) => Err(CheckError::Timeout),
                }
            }
            ProbeKind::External => external(t, false).await,
            ProbeKind::ExternalPerl => external(t, true).await,
        }
    }
}

/// TCP connect to the check port under `checktimeout`; the connection is
/// closed at once.
pub async fn connect(t: &Target) -> CheckResult {
    let addr = t
        .socket_addr()
        .ok_or_else(|| CheckError::Config("no port to connect to (set checkport)".into()))?;
    match tokio::time::timeout(t.checktimeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_stream)) => Ok(format!("connected to {}", t.endpoint())),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(CheckError::Timeout),
    }
}

/// Upstream's arguments of an external check: `VIP VPORT RIP RPORT`, with
/// IPv6 addresses in brackets, and for a fwmark virtual the mark and port 0.
pub fn external_args(t: &Target) -> [String; 4] {
    let (vip, vport) = match t.virtual_key {
        Some(VirtualKey::Addr { addr, port, .. }) => (bracketed(&addr), port),
        Some(VirtualKey::Fwmark { mark, .. }) => (mark.to_string(), 0),
        // Not an external check's target: no virtual to name.
        None => (String::new(), 0),
    };
    [
        vip,
        vport.to_string(),
        bracketed(&t.addr),
        t.real_port.to_string(),
    ]
}

/// How long a timed-out external command has between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_millis(300);

/// Run `checkcommand` (or `perl checkcommand`) without a shell, stdin from
/// /dev/null and output discarded, in its own process group; exit 0 = up.
/// At `checktimeout` the whole group gets SIGTERM, then SIGKILL after
/// [`TERM_GRACE`], and the child is reaped before we return.
pub async fn external(t: &Target, perl: bool) -> CheckResult {
    if t.checkcommand.is_empty() {
        return Err(CheckError::Config("no checkcommand given".into()));
    }
    let mut cmd = if perl {
        let mut c = tokio::process::Command::new("perl");
        c.arg(&t.checkcommand);
        c
    } else {
        tokio::process::Command::new(&t.checkcommand)
    };
    cmd.args(external_args(t))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own group, so a script's children (a `sleep`, a `curl`) die
        // with it; and never outlive a cancelled probe.
        .process_group(0)
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = spawn(&mut cmd).await.map_err(|e| {
        CheckError::Config(format!(
            "cannot run {}{}: {e}",
            if perl { "perl " } else { "" },
            t.checkcommand
        ))
    })?;
    let guard = GroupKill::of(&child);
    let remaining = t.checktimeout.saturating_sub(started.elapsed());
    let status = match tokio::time::timeout(remaining, child.wait()).await {
        Ok(r) => r.map_err(CheckError::from)?,
        Err(_) => {
            guard.end(&mut child).await;
            return Err(CheckError::Timeout);
        }
    };
    guard.disarm();
    if status.success() {
        return Ok("exit status 0".into());
    }
    use std::os::unix::process::ExitStatusExt;
    Err(match (status.code(), status.signal()) {
        (Some(code), _) => CheckError::Status(format!("exit status {code}")),
        (None, Some(sig)) => CheckError::Status(format!("killed by signal {sig}")),
        _ => CheckError::Status(status.to_string()),
    })
}

/// Start `command`. A program just written (an installer replacing a
/// check script or a load monitor, or any file written while another
/// thread forks) may be busy for a moment: ETXTBSY until the writer's
/// descriptor is closed everywhere. A few short retries, not a failed
/// check.
pub(crate) async fn spawn(
    command: &mut tokio::process::Command,
) -> std::io::Result<tokio::process::Child> {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 5 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            r => return r,
        }
    }
}

/// Kills an external check's process group when a probe is dropped (the
/// backstop fired, the pool shut down) before the child was reaped. Also
/// used by the load monitors' commands.
pub(crate) struct GroupKill(Option<libc::pid_t>);

impl GroupKill {
    /// The guard of `child`, spawned with `process_group(0)`.
    pub(crate) fn of(child: &tokio::process::Child) -> GroupKill {
        GroupKill(child.id().map(|p| p as libc::pid_t))
    }

    /// At a deadline: SIGTERM to the group, SIGKILL after [`TERM_GRACE`],
    /// and the child reaped.
    pub(crate) async fn end(&self, child: &mut tokio::process::Child) {
        self.signal(libc::SIGTERM);
        if tokio::time::timeout(TERM_GRACE, child.wait())
            .await
            .is_err()
        {
            self.signal(libc::SIGKILL);
            let _ = child.wait().await;
        }
    }

    fn signal(&self, sig: libc::c_int) {
        if let Some(pid) = self.0 {
            // SAFETY: kill(2) has no memory effects; a negative pid names
            // the process group we created for the child.
            unsafe {
                libc::kill(-pid, sig);
            }
        }
    }

    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_negotiates_first_then_every_n() {
        let ct = CheckType::Combined(2);
        let mut c = Combined::default();
        let mut seen = Vec::new();
        for ok in [true, true, true, true, true, true] {
            let k = c.next(ct).unwrap();
            seen.push(k);
            c.record(k, ok);
        }
        use ProbeKind::*;
        assert_eq!(
            seen,
            [Negotiate, Connect, Connect, Negotiate, Connect, Connect]
        );
    }

    #[test]
    fn combined_failed_connect_forces_negotiate() {
        let ct = CheckType::Combined(5);
        let mut c = Combined::default();
        c.record(c.next(ct).unwrap(), true);
        assert_eq!(c.next(ct), Some(ProbeKind::Connect));
        c.record(ProbeKind::Connect, false);
        assert_eq!(c.next(ct), Some(ProbeKind::Negotiate));
        // A failed negotiate is retried.
        c.record(ProbeKind::Negotiate, false);
        assert_eq!(c.next(ct), Some(ProbeKind::Negotiate));
    }

    #[test]
    fn fixed_kinds() {
        let c = Combined::default();
        assert_eq!(c.next(CheckType::Off), None);
        assert_eq!(c.next(CheckType::On), Some(ProbeKind::On));
        assert_eq!(c.next(CheckType::Connect), Some(ProbeKind::Connect));
    }
}
