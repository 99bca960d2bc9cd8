//! The running daemon: wires the checker pool (async, tokio), the director
//! (one thread that owns IPVS), signals, reload and autoreload.
//!
//! Shutdown is a value (`watch::Receiver<bool>`) passed to the pool; the
//! director is told with [`Message::Stop`] after the pool has drained.
//! Nothing here changes IPVS itself.
//!
//! The director publishes a [`crate::status::Snapshot`] about once a second
//! and soon after a state change; a thread of its own writes it to the
//! status file, and with `statusaddress=` the status HTTP server
//! ([`crate::status::http`]) serves it on this runtime. So does the
//! control socket ([`super::control`]); the operator's overrides are read
//! from the state file here, before the director starts.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::check::load::{LoadProber, LoadQuery};
use crate::check::pool::{Pool, PoolOptions};
use crate::check::probe::Prober;
use crate::config::{self, Config};
use crate::ipvs::{IpvsBackend, NetlinkIpvs};
use crate::status::http::{self, Limits, Source};
use crate::status::{Publisher, Snapshot};

use super::director::{Director, Hooks, Message, Plans};
use super::instances::{changes, Instances, Runner};
use super::lifecycle::Context;
use super::log::{Logger, Sink};
use super::pidfile::PidFile;
use crate::control::state::{self as state_file, Stored};

/// Open the kernel's IPVS (before the daemon reports that it started, so
/// that `start` fails visibly on a kernel without IPVS or without
/// CAP_NET_ADMIN).
pub fn open_ipvs() -> Result<NetlinkIpvs, crate::ipvs::Error> {
    let mut nl = NetlinkIpvs::new()?;
    // Resolving the family needs no privilege; every IPVS request does
    // (GENL_ADMIN_PERM). Ask one now, so that a daemon without
    // CAP_NET_ADMIN fails its start instead of logging failed reads.
    nl.info()?;
    Ok(nl)
}

/// Run the daemon until TERM/INT. `pid` is dropped (the file removed) on
/// return. Returns the exit status.
pub fn run(ctx: &Context, config: Arc<Config>, backend: NetlinkIpvs, pid: Option<PidFile>) -> i32 {
    let log = Arc::new(Logger::new(
        Sink::choose(&config.global.logfile, ctx.debug, config.global.supervised),
        &ctx.cfgname,
    ));
    // One thread runs every check (and the signal and reload handling):
    // the checks wait on the network, not on a CPU, and on one core a
    // multi-thread runtime spent a third of a check's CPU time handing
    // wake-ups between its threads (benches/director, throughput: 1.84 →
    // 1.16 CPU ms per check). The director has its own thread, for its
    // blocking netlink calls.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("ldirectord")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log.log(&format!(
                "Exiting with exit_status 1: cannot start runtime: {e}"
            ));
            return 1;
        }
    };
    let code = runtime.block_on(serve(ctx.clone(), config, backend, log));
    drop(pid);
    code
}

/// The daemon proper, generic over the IPVS backend (tests use memory).
pub async fn serve<B: IpvsBackend + Send + 'static>(
    ctx: Context,
    config: Arc<Config>,
    backend: B,
    log: Arc<Logger>,
) -> i32 {
    let instances = Runner::spawn(
        Instances::new(
            &ctx.cfgname,
            super::lifecycle::stop_timeout() + Duration::from_secs(10),
        ),
        log.clone(),
    );
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (events_tx, mut events_rx) = mpsc::channel(4096);
    let (loads_tx, mut loads_rx) = mpsc::channel(4096);
    let (director_tx, director_rx) = std_mpsc::channel::<Message>();

    // The pools and the director share the plans' targets and queries.
    let plans = Plans::from_config(&config);
    super::timeline::mark("plans", || {
        format!(
            "{} check targets, {} load queries",
            plans.checks.targets.len(),
            plans.loads.targets.len()
        )
    });
    let (publisher, snapshots) = Publisher::new();
    // The status file, written off the director's thread: the latest
    // snapshot only (one waiting at most; a newer one replaces it).
    let (file_tx, file_rx) = std_mpsc::sync_channel::<Arc<Snapshot>>(1);
    let file_cost = Arc::new(AtomicU64::new(0));
    let file_writer = {
        let path = ctx.status_path();
        let cost = file_cost.clone();
        std::thread::Builder::new()
            .name("status-file".into())
            .spawn(move || {
                for snapshot in file_rx {
                    let started = Instant::now();
                    let _ = crate::status::write_file(&path, &snapshot);
                    cost.store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                }
            })
            .expect("spawn status file thread")
    };
    let state = load_state(&ctx.state_path(), &log);
    // The director thread: the only writer of IPVS.
    let director = {
        let (config, log) = (config.clone(), log.clone());
        let plans = plans.clone();
        let out = Published {
            publisher,
            file: file_tx,
            file_cost,
        };
        std::thread::Builder::new()
            .name("director".into())
            .spawn(move || director_loop(config, plans, backend, log, director_rx, out, state))
            .expect("spawn director thread")
    };

    let mut pools = Pools {
        checks: Pool::new(
            Arc::new(Prober::new()),
            PoolOptions::from_env(),
            events_tx,
            shutdown_rx.clone(),
        ),
        // Load queries in a pool of their own: they never take a check's
        // slot, and a slow monitor never delays a health check.
        loads: Pool::new(
            Arc::new(LoadProber),
            PoolOptions::from_env(),
            loads_tx,
            shutdown_rx,
        ),
    };
    pools.update(&plans);
    drop(plans);
    super::timeline::mark("pools scheduled", String::new);
    let source = Source {
        snapshots,
        checks: Some(pools.checks.stats()),
    };
    let mut status_server = start_status(config.global.statusaddress, &source, &log).await;
    let control = super::control::start(
        &ctx.control_path(),
        super::control::Served {
            director: director_tx.clone(),
            snapshots: source.snapshots.clone(),
            config_path: ctx.config_path.clone(),
            options: reload_options(),
            log: log.clone(),
        },
    );
    // upstream starts the other instances after its own table is set up;
    // ours are independent of it, so they start right away.
    instances.send("start", &config.global.execute);

    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        log.log("Exiting with exit_status 1: cannot install signal handlers");
        return 1;
    };
    let (changed_tx, mut changed_rx) = mpsc::channel::<()>(8);
    let _watcher = watch_config(&ctx.config_path, changed_tx, &log);
    let mut running = config;
    let mut digest = file_digest(&ctx.config_path);
    // Debounce: an editor's save is several events; look at the file once
    // they have settled. A deadline, not a sleep, so that check results
    // keep flowing meanwhile.
    let mut look_at: Option<tokio::time::Instant> = None;

    loop {
        tokio::select! {
            Some(ev) = events_rx.recv() => {
                let msg = Message::Result {
                    target: ev.target,
                    result: ev.result,
                    latency: ev.latency,
                };
                if director_tx.send(msg).is_err() {
                    break;
                }
            }
            Some(ev) = loads_rx.recv() => {
                let msg = Message::Load {
                    query: ev.target,
                    result: ev.result,
                };
                if director_tx.send(msg).is_err() {
                    break;
                }
            }
            _ = term.recv() => {
                log.log("Linux Director Daemon terminated on signal: TERM");
                break;
            }
            _ = int.recv() => {
                log.log("Linux Director Daemon terminated on signal: INT");
                break;
            }
            _ = hup.recv() => {
                log.log("Reloading Linux Director Daemon config on signal");
                let before = running.global.statusaddress;
                match reload(&ctx, &log) {
                    Some(new) => put_in_force(new, &mut running, &mut pools, &instances, &director_tx),
                    None => { let _ = director_tx.send(Message::ReloadFailed); }
                }
                if running.global.statusaddress != before {
                    stop_status(status_server.take()).await;
                    status_server = start_status(running.global.statusaddress, &source, &log).await;
                }
                digest = file_digest(&ctx.config_path);
            }
            Some(()) = changed_rx.recv() => {
                look_at = Some(tokio::time::Instant::now() + Duration::from_millis(300));
            }
            _ = async { tokio::time::sleep_until(look_at.unwrap()).await }, if look_at.is_some() => {
                look_at = None;
                let now = file_digest(&ctx.config_path);
                if now == digest || now.is_none() {
                    continue;
                }
                digest = now;
                log.log(&format!(
                    "Configuration file '{}' has changed on disk",
                    ctx.config_path.display()
                ));
                if running.global.autoreload {
                    log.log(" - reread new configuration");
                    let before = running.global.statusaddress;
                    match reload(&ctx, &log) {
                        Some(new) => put_in_force(new, &mut running, &mut pools, &instances, &director_tx),
                        None => { let _ = director_tx.send(Message::ReloadFailed); }
                    }
                    if running.global.statusaddress != before {
                        stop_status(status_server.take()).await;
                        status_server = start_status(running.global.statusaddress, &source, &log).await;
                    }
                } else {
                    log.log(" - ignore new configuration");
                }
                if let Some(cb) = &running.global.callback {
                    run_callback(cb, &ctx.config_path, &log);
                }
            }
        }
    }
    instances.send("stop", &running.global.execute);
    stop_status(status_server.take()).await;
    super::control::stop(control).await;
    let _ = shutdown_tx.send(true);
    pools.checks.join().await;
    pools.loads.join().await;
    let _ = director_tx.send(Message::Stop);
    let _ = tokio::task::spawn_blocking(move || {
        let _ = director.join();
        // The director held the file thread's only sender.
        let _ = file_writer.join();
        instances.finish();
    })
    .await;
    let _ = std::fs::remove_file(ctx.status_path());
    0
}

/// The daemon's two pools: health checks and load queries.
struct Pools<P: crate::check::probe::Probe> {
    checks: Pool<P>,
    loads: Pool<LoadProber, LoadQuery>,
}

impl<P: crate::check::probe::Probe> Pools<P> {
    fn update(&mut self, plans: &Plans) {
        self.checks.update(&plans.checks);
        self.loads.update(&plans.loads);
    }
}

/// The status HTTP server of `statusaddress=`, while one runs.
struct StatusServer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Serve the status on `addr`, if one is configured. A non-loopback
/// address gets a warning; when it cannot be bound the error is logged and
/// the director runs on without it.
async fn start_status(
    addr: Option<SocketAddr>,
    source: &Source,
    log: &Logger,
) -> Option<StatusServer> {
    let addr = addr?;
    if !addr.ip().is_loopback() {
        log.log(&format!(
            "Warning: statusaddress={addr} is not a loopback address: the status \
             (real servers, check results, metrics) can be read from the network"
        ));
    }
    match http::bind(addr).await {
        Ok(listener) => {
            let (stop, stopped) = watch::channel(false);
            let task = tokio::spawn(http::serve(
                listener,
                source.clone(),
                Limits::default(),
                stopped,
            ));
            log.log(&format!("Serving the status on http://{addr}/"));
            Some(StatusServer { stop, task })
        }
        Err(e) => {
            log.log(&format!(
                "Error: cannot serve the status on {addr}: {e}; running without it"
            ));
            None
        }
    }
}

async fn stop_status(server: Option<StatusServer>) {
    if let Some(s) = server {
        let _ = s.stop.send(true);
        let _ = s.task.await;
    }
}

/// Put a newly read configuration in force, whatever asked for the reload:
/// the checks and load queries, upstream's reload of the `execute=`
/// instances (§f.8), then the director.
fn put_in_force<P: crate::check::probe::Probe>(
    new: Arc<Config>,
    running: &mut Arc<Config>,
    pools: &mut Pools<P>,
    instances: &Runner,
    director_tx: &std_mpsc::Sender<Message>,
) {
    let plans = Plans::from_config(&new);
    pools.update(&plans);
    let c = changes(&running.global.execute, &new.global.execute);
    instances.send("stop", &c.stop);
    instances.send("reload_or_start", &c.reload);
    instances.send("start", &c.start);
    *running = new.clone();
    let _ = director_tx.send(Message::Reload(new, Some(plans)));
}

/// Parse the file again. On any error keep the running configuration
/// untouched and log every error (upstream half-rolls back, §f.8).
fn reload(ctx: &Context, log: &Logger) -> Option<Arc<Config>> {
    match config::load_file(&ctx.config_path, &reload_options()) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                log_diagnostic(log, "Warning", &ctx.config_path, w);
            }
            Some(Arc::new(loaded.config))
        }
        Err(e) => {
            for d in e.errors() {
                log_diagnostic(log, "Error", &ctx.config_path, d);
            }
            log.log("Reload failed: keeping the running configuration");
            None
        }
    }
}

/// How a reload (and a plan) reads the file.
fn reload_options() -> config::Options {
    config::Options {
        lookup: crate::cli::lookup_from_env(),
        ..Default::default()
    }
}

/// The overrides of the state file at `path`, and where to keep them. A
/// file that is not usable is logged and set aside, never fatal; when it
/// cannot even be moved, the daemon keeps its overrides in memory only
/// (and says so), so that nothing of it is lost.
fn load_state(path: &Path, log: &Logger) -> (Option<PathBuf>, Vec<Stored>) {
    match state_file::read(path) {
        state_file::Read::Missing => (Some(path.to_path_buf()), Vec::new()),
        state_file::Read::Found(s) => (Some(path.to_path_buf()), s.overrides),
        state_file::Read::Corrupt(why) => match state_file::set_aside(path) {
            Ok(to) => {
                log.log(&format!(
                    "Error: the state file {} is not usable ({why}): set aside as {}; \
                     running without operator overrides",
                    path.display(),
                    to.display()
                ));
                (Some(path.to_path_buf()), Vec::new())
            }
            Err(e) => {
                log.log(&format!(
                    "Error: the state file {} is not usable ({why}) and cannot be set aside ({e}); \
                     running without operator overrides, and keeping new ones in memory only",
                    path.display()
                ));
                (None, Vec::new())
            }
        },
    }
}

/// upstream's `config_error`/`config_warn` text in the log.
fn log_diagnostic(log: &Logger, kind: &str, path: &Path, d: &config::Diagnostic) {
    log.log(&super::lifecycle::diagnostic_line(kind, path, d));
}

/// Where the director's snapshots go: readers of the channel (the status
/// server) and the status file's thread.
struct Published {
    publisher: Publisher,
    file: std_mpsc::SyncSender<Arc<Snapshot>>,
    /// What writing the last status file took, in µs.
    file_cost: Arc<AtomicU64>,
}

impl Published {
    fn publish(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        self.publisher.publish(snapshot.clone());
        // Busy writing the last one: this one is skipped, the next is
        // written (the file is never more than a publication behind).
        let _ = self.file.try_send(snapshot);
    }

    /// What the last status file took to write.
    fn file_cost(&self) -> Duration {
        Duration::from_micros(self.file_cost.load(Ordering::Relaxed))
    }
}

fn director_loop<B: IpvsBackend>(
    config: Arc<Config>,
    plans: Plans,
    backend: B,
    log: Arc<Logger>,
    rx: std_mpsc::Receiver<Message>,
    out: Published,
    (state_path, stored): (Option<PathBuf>, Vec<Stored>),
) {
    let mut d = Director::new(config, backend, log.clone())
        .with_plan(plans.checks)
        .with_load_plan(plans.loads)
        .with_state(state_path, stored);
    let mut hooks = ShellHooks {
        log,
        hostname: config::resolve::system_hostname(),
    };
    d.start(&mut hooks);
    let mut next_status = Instant::now();
    // When the last snapshot was taken and what it cost, and the state
    // changes it showed.
    let (mut last_status, mut last_cost, mut shown) = (Instant::now(), Duration::ZERO, 0);
    let mut next_tick = Instant::now() + tick_of(d.config());
    loop {
        // The tick, the next snapshot, or the next slow-start step if one
        // comes first.
        let wake = d
            .next_wake()
            .map_or(next_tick, |w| w.min(next_tick))
            .min(next_status);
        let wait = wake.saturating_duration_since(Instant::now());
        let mut batch = Vec::new();
        match rx.recv_timeout(wait) {
            Ok(m) => {
                // Let the results that follow this one catch up, so that
                // the thread wakes (and the sender wakes it) at most
                // 1 / GATHER times a second, not once per check.
                if matches!(m, Message::Result { .. } | Message::Load { .. }) {
                    std::thread::sleep(GATHER);
                }
                batch.push(m);
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            Err(std_mpsc::RecvTimeoutError::Disconnected) => batch.push(Message::Stop),
        }
        // Results that queued up meanwhile are handled together (one table
        // read for all of them); a bound keeps ticks and stops timely.
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        // The tick is due by the clock, not by a quiet moment: under a
        // steady stream of results the queue is never empty.
        let tick = Instant::now() >= next_tick;
        if tick {
            batch.push(Message::Tick);
        }
        let started = Instant::now();
        if !d.handle_batch(batch, &mut hooks) {
            break;
        }
        if tick {
            next_tick = not_before(tick_of(d.config()), started);
        }
        // A state change is shown soon, not at the next periodic
        // snapshot; still at most a twentieth of the director's time.
        let changes = d.state_changes();
        if changes != shown {
            shown = changes;
            next_status = next_status.min(last_status + SOON.max(last_cost * 20));
        }
        if Instant::now() >= next_status {
            let started = Instant::now();
            out.publish(d.snapshot());
            (last_status, last_cost) = (started, started.elapsed() + out.file_cost());
            next_status = not_before(status_period(last_cost), started);
        }
    }
    // The last state, for a status server still answering.
    out.publish(d.snapshot());
}

/// How soon after a state change a snapshot shows it (at the earliest).
const SOON: Duration = Duration::from_millis(100);

/// How often the status (last checks, counters) is refreshed when no
/// state changes: every second, unless building and writing it (`cost`)
/// would take more than 2 % of the time, then as often as that allows, at
/// least every 10 s. A snapshot costs per real, not per check: at 1,000
/// reals checked every 10 s it was most of the daemon's instructions
/// (README, Design: "The check path").
fn status_period(cost: Duration) -> Duration {
    (cost * 50).clamp(Duration::from_secs(1), Duration::from_secs(10))
}

/// Most messages the director takes in one go.
const MAX_BATCH: usize = 16_384;

/// How long a check result may wait for the ones after it: a state change
/// reaches the kernel at most this much later.
const GATHER: Duration = Duration::from_millis(20);

/// When a periodic job that started at `started` and just ended runs next:
/// after `period`, or later when it took more than a twentieth of that.
/// Reading and repairing the whole table of 1,000 virtual services every
/// second took about a third of an emulated core (throughput benchmark at
/// 10,000 reals, one run each: 421 checks a second with it, 677 without),
/// so it, and the status file, stay at a twentieth of the director's time
/// whatever the size. The time measured is that of the whole batch the
/// pass ran in: an upper bound.
fn not_before(period: Duration, started: Instant) -> Instant {
    let now = Instant::now();
    now + period.max(now.duration_since(started) * 20)
}

/// Drift is repaired within one check interval (the shortest one), or
/// less often when a full pass takes more than a twentieth of it
/// ([`not_before`]).
fn tick_of(config: &Config) -> Duration {
    let secs = config
        .virtuals
        .iter()
        .map(|v| v.checkinterval)
        .min()
        .unwrap_or(config.global.checkinterval)
        .max(1);
    Duration::from_secs(u64::from(secs))
}

/// Side effects through the shell, as upstream runs them.
struct ShellHooks {
    log: Arc<Logger>,
    hostname: String,
}

impl Hooks for ShellHooks {
    fn fallback_command(&mut self, command: &str, action: &str, service: &str, protocol: &str) {
        let line = format!("{command} {action} {service} {protocol}");
        spawn_shell(&line, &self.log);
    }

    fn alert(
        &mut self,
        v: &crate::config::Virtual,
        g: &crate::config::Global,
        text: &str,
        status: super::alert::DaemonStatus,
    ) {
        if let Some(a) = super::alert::compose(v, g, text, status, &self.hostname) {
            super::alert::send(a, self.log.clone());
        }
    }
}

/// `system(line)` without waiting on the director thread: a thread reaps
/// the child and logs a failure.
fn spawn_shell(line: &str, log: &Arc<Logger>) {
    let child = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(line)
        .stdin(std::process::Stdio::null())
        .spawn();
    let (line, log) = (line.to_string(), log.clone());
    match child {
        Ok(mut c) => {
            std::thread::spawn(move || match c.wait() {
                Ok(s) if s.success() => {}
                Ok(s) => log.log(&format!("system({line}) failed: {s}")),
                Err(e) => log.log(&format!("system({line}) failed: {e}")),
            });
        }
        Err(e) => log.log(&format!("system({line}) failed: {e}")),
    }
}

/// upstream: `callback <CONFIG-path>` when the content changed.
fn run_callback(callback: &str, config_path: &Path, log: &Arc<Logger>) {
    let child = std::process::Command::new(callback)
        .arg(config_path)
        .stdin(std::process::Stdio::null())
        .spawn();
    match child {
        Ok(mut c) => {
            let log = log.clone();
            let cb = callback.to_string();
            std::thread::spawn(move || {
                if let Ok(s) = c.wait() {
                    if !s.success() {
                        log.log(&format!("callback {cb} failed: {s}"));
                    }
                }
            });
        }
        Err(e) => log.log(&format!("callback {callback} failed: {e}")),
    }
}

fn file_digest(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
}

/// Watch the configuration's directory (editors replace files by rename,
/// which a watch on the file itself stops seeing), debounced.
fn watch_config(
    path: &Path,
    tx: mpsc::Sender<()>,
    log: &Logger,
) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())?
        .to_path_buf();
    let name = path.file_name()?.to_os_string();
    let is_link = std::fs::symlink_metadata(path)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false);
    let mut watcher = match notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if let Ok(ev) = ev {
            // Reading the file is no change, and neither is its access
            // time: on some file systems (virtio-fs, strictatime mounts)
            // our own read of the file reports one, which would otherwise
            // make every look at the file cause the next.
            if is_access(&ev.kind) {
                return;
            }
            // A symlinked config (e.g. a ConfigMap) changes without its
            // name appearing: take any event of the directory then.
            if is_link || ev.paths.iter().any(|p| p.file_name() == Some(&name)) {
                let _ = tx.try_send(());
            }
        }
    }) {
        Ok(w) => w,
        Err(e) => {
            log.log(&format!("cannot watch {}: {e}", dir.display()));
            return None;
        }
    };
    if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
        log.log(&format!("cannot watch {}: {e}", dir.display()));
        return None;
    }
    Some(watcher)
}

fn is_access(kind: &notify::EventKind) -> bool {
    use notify::event::{MetadataKind, ModifyKind};
    matches!(
        kind,
        notify::EventKind::Access(_)
            | notify::EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, DataChange, MetadataKind, ModifyKind, RenameMode};
    use notify::EventKind;

    #[tokio::test]
    async fn a_status_address_that_cannot_be_bound_is_logged_and_skipped() {
        let (_publisher, snapshots) = Publisher::new();
        let source = Source {
            snapshots,
            checks: None,
        };
        let log = Logger::new(super::super::log::Sink::Stderr, "t");
        // In use already.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        assert!(start_status(Some(addr), &source, &log).await.is_none());
        // Not an address of this host (a documentation address): also the
        // warning that it is not loopback.
        let elsewhere: SocketAddr = "192.0.2.1:9100".parse().unwrap();
        assert!(start_status(Some(elsewhere), &source, &log).await.is_none());
        let lines = log.lines.lock().unwrap().clone();
        assert!(lines[0].starts_with(&format!("Error: cannot serve the status on {addr}: ")));
        assert!(lines[1].starts_with("Warning: statusaddress=192.0.2.1:9100 is not a loopback"));
        assert!(lines[2].ends_with("; running without it"), "{lines:?}");
        // Free: served, and stopped again.
        drop(taken);
        let server = start_status(Some(addr), &source, &log).await;
        assert!(server.is_some());
        stop_status(server).await;
    }

    #[test]
    fn reads_and_access_times_are_not_changes() {
        assert!(is_access(&EventKind::Access(AccessKind::Any)));
        assert!(is_access(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::AccessTime
        ))));
        assert!(!is_access(&EventKind::Modify(ModifyKind::Data(
            DataChange::Any
        ))));
        assert!(!is_access(&EventKind::Modify(ModifyKind::Name(
            RenameMode::To
        ))));
        assert!(!is_access(&EventKind::Create(CreateKind::File)));
        // A metadata change of unknown kind may come with new content
        // (some backends report writes so): the digest decides.
        assert!(!is_access(&EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::Any
        ))));
    }
}
