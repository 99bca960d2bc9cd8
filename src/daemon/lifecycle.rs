//! The lifecycle commands with upstream's semantics and exit codes
//! (reference §e): start, stop, restart, try-restart, reload,
//! force-reload, status. Owns daemonizing and the pid-file protocol; the
//! daemon itself is [`super::run`].
//!
//! Differences from upstream (ldirectord(8) COMPATIBILITY): `stop` waits
//! for the daemon to exit (at most `LDIRECTORD_STOP_TIMEOUT` seconds,
//! default 30) and `restart` is bounded the same way; `ldirectord start`
//! and `ldirectord ldirectord.cf start` are the same instance.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;

use super::log::{Logger, Sink};
use super::pidfile::{self, State};

/// Upstream's version string, used in start-up log lines.
pub const VERSION_STR: &str = "Linux Director v1.186-ha";

/// How a command was invoked, for log lines and the pid file.
#[derive(Debug, Clone)]
pub struct Context {
    /// The resolved configuration path (upstream's `$CONFIG`).
    pub config_path: std::path::PathBuf,
    /// upstream's `$CFGNAME`: `ldirectord` for the default configuration,
    /// else the basename of the configuration argument.
    pub cfgname: String,
    pub debug: bool,
    /// `$0 args…` for the `Invoking ldirectord invoked as:` line.
    pub invoked_as: String,
}

impl Context {
    /// COMPAT: upstream names the pid file after the argument as written,
    /// so `ldirectord start` and `ldirectord ldirectord.cf start` do not
    /// see each other. Here the default file name maps to `ldirectord`.
    pub fn cfgname_for(config_arg: &str) -> String {
        let base = Path::new(config_arg)
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_else(|| config_arg.to_string());
        if base == "ldirectord.cf" {
            "ldirectord".into()
        } else {
            base
        }
    }

    pub fn pid_path(&self) -> std::path::PathBuf {
        pidfile::path_for(&self.cfgname)
    }

    pub fn status_path(&self) -> std::path::PathBuf {
        pidfile::run_dir().join(format!("ldirectord.{}.status", self.cfgname))
    }
}

pub(crate) fn stop_timeout() -> Duration {
    Duration::from_secs(
        std::env::var("LDIRECTORD_STOP_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30),
    )
}

/// The logger of a command (not of the daemon, which is built in `run`).
pub fn command_logger(ctx: &Context, config: &Config) -> Arc<Logger> {
    Arc::new(Logger::new(
        Sink::choose(&config.global.logfile, ctx.debug, config.global.supervised),
        &ctx.cfgname,
    ))
}

fn config_text(ctx: &Context) -> String {
    ctx.config_path.display().to_string()
}

/// `start`: nothing when running; else run the daemon (in the foreground
/// with `-d` or supervised=yes, else as a daemon).
pub fn start(ctx: &Context, config: Arc<Config>) -> i32 {
    let log = command_logger(ctx, &config);
    if let State::Running(_) = pidfile::state(&ctx.pid_path()) {
        return 0;
    }
    let foreground = ctx.debug || config.global.supervised;
    if foreground {
        log.log(&format!(
            "Starting {VERSION_STR} with pid: {}",
            std::process::id()
        ));
        // Upstream writes no pid file in -d or supervised mode.
        return match super::run::open_ipvs() {
            Ok(backend) => super::run::run(ctx, config, backend, None),
            Err(e) => {
                log.log(&format!("Exiting with exit_status 1: {e}"));
                eprintln!("ldirectord: {e}");
                1
            }
        };
    }
    log.log(&format!("Starting {VERSION_STR} as daemon"));
    match daemonize() {
        Ok(Role::Parent(code)) => code,
        Ok(Role::Daemon(ready)) => {
            let pid = match pidfile::PidFile::create(&ctx.pid_path()) {
                Ok(p) => p,
                Err(e) => {
                    ready.fail(&format!("cannot create pid file: {e}"));
                    return 1;
                }
            };
            let backend = match super::run::open_ipvs() {
                Ok(b) => b,
                Err(e) => {
                    log.log(&format!("Exiting with exit_status 1: {e}"));
                    // Remove the pid file before the waiting parent
                    // returns, so no stale file outlives a failed start.
                    drop(pid);
                    ready.fail(&e.to_string());
                    std::process::exit(1);
                }
            };
            ready.ok();
            let code = super::run::run(ctx, config, backend, Some(pid));
            std::process::exit(code);
        }
        Err(e) => {
            eprintln!("ldirectord: cannot daemonize: {e}");
            1
        }
    }
}

/// `stop`: TERM, then wait (bounded) for the daemon to exit.
pub fn stop(ctx: &Context) -> i32 {
    match pidfile::state(&ctx.pid_path()) {
        State::Running(pid) => {
            signal(pid, libc::SIGTERM);
            if wait_gone(pid, stop_timeout()) {
                0
            } else {
                eprintln!(
                    "ldirectord for {} (pid {pid}) did not stop within {} s",
                    config_text(ctx),
                    stop_timeout().as_secs()
                );
                1
            }
        }
        _ => 0,
    }
}

/// `restart`: stop (bounded wait), then start.
pub fn restart(ctx: &Context, config: Arc<Config>) -> i32 {
    let code = stop(ctx);
    if code != 0 {
        return code;
    }
    start(ctx, config)
}

/// `try-restart`: restart when running, else nothing (status 0).
pub fn try_restart(ctx: &Context, config: Arc<Config>) -> i32 {
    match pidfile::state(&ctx.pid_path()) {
        State::Running(_) => restart(ctx, config),
        _ => 0,
    }
}

/// `reload` / `force-reload`: HUP the daemon; status 1 when none runs.
pub fn reload(ctx: &Context, config: &Config) -> i32 {
    match pidfile::state(&ctx.pid_path()) {
        State::Running(pid) => {
            signal(pid, libc::SIGHUP);
            0
        }
        _ => {
            command_logger(ctx, config)
                .log(&format!("ldirectord is stopped for {}", config_text(ctx)));
            1
        }
    }
}

/// `status`: 0 running, 3 stopped, 1 stale pid file; then, when running,
/// each virtual and real as the daemon last saw them (its status file),
/// as text or, with `json`, as the JSON document of ldirectord(8) (then
/// nothing else goes to stdout: the lines about the state go to stderr,
/// and the `execute=` instances are not asked).
pub fn status(ctx: &Context, config: &Config, json: bool) -> i32 {
    let path = ctx.pid_path();
    match pidfile::state(&path) {
        State::Running(pid) => {
            eprintln!(
                "ldirectord for {} is running with pid: {pid}",
                config_text(ctx)
            );
            print_status(&ctx.status_path(), json);
            if json {
                return 0;
            }
            use std::io::Write;
            let _ = std::io::stdout().flush();
            super::instances::Instances::new(&ctx.cfgname, stop_timeout()).command(
                "status",
                &config.global.execute,
                &command_logger(ctx, config),
            );
            0
        }
        State::Stale => {
            eprintln!(
                "ldirectord stale pid file {} for {}",
                path.display(),
                config_text(ctx)
            );
            stopped_line(ctx, json);
            1
        }
        State::Absent => {
            stopped_line(ctx, json);
            3
        }
    }
}

/// Upstream's "stopped" line: on stdout, or stderr when stdout is JSON.
fn stopped_line(ctx: &Context, json: bool) {
    let line = format!("ldirectord is stopped for {}", config_text(ctx));
    if json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

/// The daemon's status file as text lines or JSON. Nothing while the
/// daemon has not written one yet; a file that is not our JSON (an older
/// daemon's text) is printed as it is.
fn print_status(path: &Path, json: bool) {
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    match serde_json::from_slice::<crate::status::Snapshot>(&bytes) {
        Ok(_) if json => print!("{}", String::from_utf8_lossy(&bytes)),
        Ok(s) => {
            let now = crate::status::snapshot::unix(std::time::SystemTime::now());
            for line in crate::status::text::lines(&s, now) {
                println!("{line}");
            }
        }
        Err(_) if json => eprintln!(
            "ldirectord: {} is not a JSON status (written by an older daemon?)",
            path.display()
        ),
        Err(_) => print!("{}", String::from_utf8_lossy(&bytes)),
    }
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) with a pid read from our pid file and a constant
    // signal number.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

fn alive(pid: u32) -> bool {
    // Signal 0 probes for existence; a zombie child of ours would also be
    // "alive", which cannot happen here (the daemon is not our child).
    // SAFETY: as in `signal`.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive(pid)
}

enum Role {
    /// The command's own process: exit with this code.
    Parent(i32),
    /// The daemon (after setsid and a second fork); report readiness.
    Daemon(Ready),
}

/// The daemon's end of a pipe to the waiting parent, so that `start`
/// fails visibly when the daemon cannot even begin (pid file, …).
struct Ready(std::fs::File);

impl Ready {
    fn ok(mut self) {
        use std::io::Write;
        let _ = self.0.write_all(b"ok\n");
    }

    fn fail(mut self, msg: &str) {
        use std::io::Write;
        let _ = writeln!(self.0, "{msg}");
    }
}

/// fork, setsid, fork; chdir /; stdio → /dev/null. Must run before any
/// thread (the tokio runtime) is started.
fn daemonize() -> std::io::Result<Role> {
    use std::io::Read;
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the descriptors come from pipe2 above.
    let (mut rd, wr) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    // SAFETY: single-threaded at this point (no runtime started yet).
    match unsafe { libc::fork() } {
        -1 => return Err(std::io::Error::last_os_error()),
        0 => {}
        child => {
            drop(wr);
            let mut answer = String::new();
            let _ = rd.read_to_string(&mut answer);
            let mut status = 0;
            // SAFETY: reap the intermediate child.
            unsafe { libc::waitpid(child, &mut status, 0) };
            return Ok(Role::Parent(if answer.trim() == "ok" {
                0
            } else {
                if !answer.trim().is_empty() {
                    eprintln!("ldirectord: {}", answer.trim());
                } else {
                    eprintln!("ldirectord: the daemon exited before it was ready");
                }
                1
            }));
        }
    }
    drop(rd);
    // SAFETY: in the child: new session, second fork so that the daemon
    // can never reacquire a controlling terminal.
    unsafe {
        if libc::setsid() < 0 {
            libc::_exit(1);
        }
        match libc::fork() {
            -1 => libc::_exit(1),
            0 => {}
            _ => libc::_exit(0),
        }
        let _ = libc::chdir(c"/".as_ptr());
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            if null > 2 {
                libc::close(null);
            }
        }
        libc::umask(0o022);
    }
    Ok(Role::Daemon(Ready(wr)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_names_share_one_instance() {
        assert_eq!(Context::cfgname_for("ldirectord.cf"), "ldirectord");
        assert_eq!(
            Context::cfgname_for("/etc/ha.d/ldirectord.cf"),
            "ldirectord"
        );
        assert_eq!(Context::cfgname_for("web.cf"), "web.cf");
        assert_eq!(Context::cfgname_for("/etc/ha.d/conf/web.cf"), "web.cf");
    }
}
