//! The running daemon: wires the checker pool (async, tokio), the director
//! (one thread that owns IPVS), signals, reload and autoreload.
//!
//! Shutdown is a value (`watch::Receiver<bool>`) passed to the pool; the
//! director is told with [`Message::Stop`] after the pool has drained.
//! Nothing here changes IPVS itself.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};

use crate::check::load::{LoadProber, LoadQuery};
use crate::check::pool::{Pool, PoolOptions};
use crate::check::probe::Prober;
use crate::config::{self, Config};
use crate::ipvs::{IpvsBackend, NetlinkIpvs};

use super::director::{Director, Hooks, Message, Plans};
use super::instances::{changes, Instances, Runner};
use super::lifecycle::Context;
use super::log::{Logger, Sink};
use super::pidfile::PidFile;

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
    // The director thread: the only writer of IPVS.
    let director = {
        let (config, log, status_path) = (config.clone(), log.clone(), ctx.status_path());
        let plans = plans.clone();
        std::thread::Builder::new()
            .name("director".into())
            .spawn(move || director_loop(config, plans, backend, log, director_rx, status_path))
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
                if let Some(new) = reload(&ctx, &log) {
                    put_in_force(new, &mut running, &mut pools, &instances, &director_tx);
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
                    if let Some(new) = reload(&ctx, &log) {
                        put_in_force(new, &mut running, &mut pools, &instances, &director_tx);
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
    let _ = shutdown_tx.send(true);
    pools.checks.join().await;
    pools.loads.join().await;
    let _ = director_tx.send(Message::Stop);
    let _ = tokio::task::spawn_blocking(move || {
        let _ = director.join();
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
    let opts = config::Options {
        lookup: crate::cli::lookup_from_env(),
        ..Default::default()
    };
    match config::load_file(&ctx.config_path, &opts) {
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

/// upstream's `config_error`/`config_warn` text in the log.
fn log_diagnostic(log: &Logger, kind: &str, path: &Path, d: &config::Diagnostic) {
    log.log(&super::lifecycle::diagnostic_line(kind, path, d));
}

fn director_loop<B: IpvsBackend>(
    config: Arc<Config>,
    plans: Plans,
    backend: B,
    log: Arc<Logger>,
    rx: std_mpsc::Receiver<Message>,
    status_path: PathBuf,
) {
    let mut d = Director::new(config, backend, log.clone())
        .with_plan(plans.checks)
        .with_load_plan(plans.loads);
    let mut hooks = ShellHooks {
        log,
        hostname: config::resolve::system_hostname(),
    };
    d.start(&mut hooks);
    let mut next_status = Instant::now();
    let mut next_tick = Instant::now() + tick_of(d.config());
    loop {
        // The tick, or the next slow-start step if one comes first.
        let wake = d.next_wake().map_or(next_tick, |w| w.min(next_tick));
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
        if Instant::now() >= next_status {
            let started = Instant::now();
            write_status(&status_path, &d.status_lines());
            next_status = not_before(Duration::from_secs(1), started);
        }
    }
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

fn write_status(path: &Path, lines: &[String]) {
    let tmp = path.with_extension("status.tmp");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
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
