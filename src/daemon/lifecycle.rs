//! The lifecycle commands with upstream's semantics and exit codes
//! (reference §e): start, stop, restart, try-restart, reload,
//! force-reload, status. Owns daemonizing and the pid-file protocol; the
//! daemon itself is [`super::run`]. Parses nothing: the caller hands in
//! the configuration file as it found it ([`File`]).
//!
//! Differences from upstream (ldirectord(8) COMPATIBILITY): `stop` waits
//! for the daemon to exit (at most `LDIRECTORD_STOP_TIMEOUT` seconds,
//! default 30) and `restart` is bounded the same way (C23); `ldirectord
//! start` and `ldirectord ldirectord.cf start` are the same instance, a
//! Perl daemon of the same file is found under its own pid file name, and
//! `-d` writes the pid file (C24); `status` and `stop` need only the
//! file's name, `reload` and `restart` refuse a file with errors without
//! touching the daemon (C31).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{self, Config, ConfigError, Global};

use super::log::{Logger, Sink};
use super::pidfile::{self, Daemon, Found, Identity};

/// Upstream's version string, used in start-up log lines.
pub const VERSION_STR: &str = "Linux Director v1.186-ha";

/// How a command was invoked, for log lines and the pid file.
#[derive(Debug, Clone)]
pub struct Context {
    /// The resolved configuration path (upstream's `$CONFIG`), or the
    /// argument as given when no such file exists.
    pub config_path: PathBuf,
    /// The configuration argument as written (default `ldirectord.cf`).
    pub config_arg: String,
    /// upstream's `$CFGNAME`: `ldirectord` for the default configuration,
    /// else the basename of the configuration argument.
    pub cfgname: String,
    pub debug: bool,
    /// `$0 args…` for the `Invoking ldirectord invoked as:` line.
    pub invoked_as: String,
}

impl Context {
    /// COMPAT (C24): upstream names the pid file after the argument as
    /// written, so `ldirectord start` and `ldirectord ldirectord.cf start`
    /// do not see each other. Here the default file name maps to
    /// `ldirectord`, and [`pidfile::find`] looks under upstream's names too.
    pub fn cfgname_for(config_arg: &str) -> String {
        pidfile::cfgname_for(config_arg)
    }

    pub fn pid_path(&self) -> PathBuf {
        pidfile::path_for(&self.cfgname)
    }

    pub fn status_path(&self) -> PathBuf {
        pidfile::run_dir().join(format!("ldirectord.{}.status", self.cfgname))
    }

    /// The control socket (`ldirectord drain|disable|enable|weight|plan`).
    pub fn control_path(&self) -> PathBuf {
        crate::control::socket_path(&pidfile::run_dir(), &self.cfgname)
    }

    /// The state file of the operator's overrides.
    pub fn state_path(&self) -> PathBuf {
        crate::control::state::path_for(&self.cfgname)
    }
}

/// The configuration file as a lifecycle command finds it. Only `start`
/// needs it to be good: `status` and `stop` need only its name, and
/// `reload` and `restart` refuse a file they could not put in force.
pub enum File {
    Good(Arc<Config>),
    /// It has errors (every one of them), and its global directives as
    /// far as they could be read ([`config::salvage_global`]): where to log.
    Broken(ConfigError, Box<Global>),
    /// No such file (deleted since the daemon started), with the message
    /// that says so.
    Missing(String),
}

impl File {
    /// The global directives where commands log; none for a missing file.
    fn global(&self) -> Option<&Global> {
        match self {
            File::Good(c) => Some(&c.global),
            File::Broken(_, g) => Some(g),
            File::Missing(_) => None,
        }
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
pub fn command_logger(ctx: &Context, global: &Global) -> Arc<Logger> {
    Arc::new(Logger::new(
        Sink::choose(&global.logfile, ctx.debug, global.supervised),
        &ctx.cfgname,
    ))
}

/// The logger of a command on `file`; `None` when the file is missing
/// (there is no configured log to write to).
fn logger_of(ctx: &Context, file: &File) -> Option<Arc<Logger>> {
    file.global().map(|g| command_logger(ctx, g))
}

fn config_text(ctx: &Context) -> String {
    ctx.config_path.display().to_string()
}

/// Every daemon of this configuration, ours and the Perl program's.
fn find(ctx: &Context, file: &File) -> Found {
    pidfile::find(Identity {
        arg: &ctx.config_arg,
        path: (!matches!(file, File::Missing(_))).then_some(ctx.config_path.as_path()),
    })
}

/// Log upstream's `Invoking ldirectord invoked as: …` line (with its
/// trailing space), which every lifecycle command writes first.
pub fn log_invocation(ctx: &Context, file: &File) {
    if let Some(log) = logger_of(ctx, file) {
        log.log(&format!(
            "Invoking ldirectord invoked as: {} ",
            ctx.invoked_as
        ));
    }
}

/// upstream's `config_error` line for one diagnostic.
pub fn diagnostic_line(kind: &str, path: &std::path::Path, d: &config::Diagnostic) -> String {
    if d.line == 0 {
        return format!("{kind} [{}]: {}", std::process::id(), d.message);
    }
    format!(
        "{kind} [{}] reading file {} at line {}: {}",
        std::process::id(),
        path.display(),
        d.line,
        d.message
    )
}

/// Refuse a command because the file has errors: every error on stderr
/// and in the configured log, then upstream's exit line; status 2.
fn refuse(ctx: &Context, file: &File, e: &ConfigError, why: &str) -> i32 {
    eprintln!("{e}");
    if !why.is_empty() {
        eprintln!("ldirectord: {why}");
    }
    if let Some(log) = logger_of(ctx, file) {
        // -d logs to stderr, where every error was just printed.
        if !log.is_debug() {
            for d in e.errors() {
                log.log(&diagnostic_line("Error", &e.path, d));
            }
            if !why.is_empty() {
                log.log(why);
            }
        }
        log.log("Exiting with exit_status 2: config_error: Configuration Error");
    }
    2
}

/// A start that cannot go on: logged (upstream's `Exiting with
/// exit_status 1: …`) and, unless the log is stderr already (-d), said on
/// stderr too, once.
fn start_failed(log: &Logger, msg: &str) {
    log.log(&format!("Exiting with exit_status 1: {msg}"));
    if !log.is_debug() {
        eprintln!("ldirectord: {msg}");
    }
}

/// `start`: nothing when running; else run the daemon (in the foreground
/// with `-d` or supervised=yes, else as a daemon).
pub fn start(ctx: &Context, file: &File) -> i32 {
    let config = match file {
        File::Good(c) => c.clone(),
        File::Broken(e, _) => return refuse(ctx, file, e, ""),
        File::Missing(m) => return not_found(m),
    };
    let log = command_logger(ctx, &config.global);
    if let Some(d) = find(ctx, file).running.first() {
        if !d.own {
            // Upstream's start is silent here; a daemon under the Perl
            // program's pid file name is worth a word (an upgrade).
            eprintln!(
                "ldirectord for {} is already running with pid: {} ({}); not starting another",
                config_text(ctx),
                d.pid,
                d.pid_file.display()
            );
        }
        return 0;
    }
    if config.global.supervised && !ctx.debug {
        log.log(&format!(
            "Starting {VERSION_STR} with pid: {}",
            std::process::id()
        ));
        // Upstream writes no pid file in supervised mode.
        return match super::run::open_ipvs() {
            Ok(backend) => super::run::run(ctx, config, backend, None),
            Err(e) => {
                start_failed(&log, &e.to_string());
                1
            }
        };
    }
    if ctx.debug {
        log.log(&format!(
            "Starting {VERSION_STR} with pid: {}",
            std::process::id()
        ));
        // COMPAT (C24): -d writes the pid file too, so that `status`,
        // `stop` and `reload` find a daemon run in the foreground.
        let pid = match pidfile::PidFile::create(&ctx.pid_path()) {
            Ok(p) => p,
            Err(e) => {
                start_failed(&log, &format!("cannot create pid file: {e}"));
                return 1;
            }
        };
        return match super::run::open_ipvs() {
            Ok(backend) => super::run::run(ctx, config, backend, Some(pid)),
            Err(e) => {
                drop(pid);
                start_failed(&log, &e.to_string());
                1
            }
        };
    }
    log.log(&format!("Starting {VERSION_STR} as daemon"));
    match daemonize() {
        Ok(Role::Parent(code)) => code,
        Ok(Role::Daemon(ready)) => {
            super::timeline::mark("daemonized", String::new);
            let pid = match pidfile::PidFile::create(&ctx.pid_path()) {
                Ok(p) => p,
                Err(e) => {
                    let msg = format!("cannot create pid file: {e}");
                    log.log(&format!("Exiting with exit_status 1: {msg}"));
                    ready.fail(&msg);
                    std::process::exit(1);
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
            super::timeline::mark("ipvs opened", String::new);
            ready.ok();
            let code = super::run::run(ctx, config, backend, Some(pid));
            std::process::exit(code);
        }
        Err(e) => {
            start_failed(&log, &format!("cannot daemonize: {e}"));
            1
        }
    }
}

/// A configuration that is not there (status 1, as upstream).
fn not_found(message: &str) -> i32 {
    eprintln!("{message}");
    1
}

/// TERM every daemon found and wait (bounded) for each to exit.
fn stop_daemons(ctx: &Context, running: &[Daemon]) -> i32 {
    for d in running {
        signal(d.pid, libc::SIGTERM);
    }
    let mut code = 0;
    for d in running {
        if !wait_gone(d.pid, stop_timeout()) {
            eprintln!(
                "ldirectord for {} (pid {}) did not stop within {} s",
                config_text(ctx),
                d.pid,
                stop_timeout().as_secs()
            );
            code = 1;
        }
    }
    code
}

/// `stop`: TERM, then wait (bounded) for the daemon to exit. Needs only
/// the file's name: a file with errors, or one deleted since, does not
/// keep its daemon running.
pub fn stop(ctx: &Context, file: &File) -> i32 {
    let found = find(ctx, file);
    if let File::Missing(m) = file {
        if found.running.is_empty() {
            return not_found(m);
        }
    }
    if let File::Broken(e, _) = file {
        eprintln!(
            "ldirectord: warning: {} has {} (stopping by the pid file)",
            config_text(ctx),
            error_count(e)
        );
    }
    stop_daemons(ctx, &found.running)
}

fn error_count(e: &ConfigError) -> String {
    match e.errors().count() {
        1 => "an error".to_string(),
        n => format!("{n} errors"),
    }
}

/// `restart`: stop (bounded wait), then start. A file that has errors is
/// refused before anything is stopped: the running daemon keeps going.
pub fn restart(ctx: &Context, file: &File) -> i32 {
    match file {
        File::Good(_) => {}
        File::Broken(e, _) => {
            let why = match find(ctx, file).running.first() {
                Some(d) => format!(
                    "not restarting: the daemon (pid {}) keeps running with the \
                     configuration it read before",
                    d.pid
                ),
                None => String::new(),
            };
            return refuse(ctx, file, e, &why);
        }
        File::Missing(m) => return not_found(m),
    }
    let code = stop_daemons(ctx, &find(ctx, file).running);
    if code != 0 {
        return code;
    }
    start(ctx, file)
}

/// `try-restart`: restart when running, else nothing (status 0).
pub fn try_restart(ctx: &Context, file: &File) -> i32 {
    if find(ctx, file).running.is_empty() {
        return match file {
            File::Good(_) => 0,
            File::Broken(e, _) => refuse(ctx, file, e, ""),
            File::Missing(m) => not_found(m),
        };
    }
    restart(ctx, file)
}

/// `reload` / `force-reload`: HUP the daemon; status 1 when none runs.
/// A file with errors is not sent to the daemon: every error is reported
/// and the daemon keeps its configuration (status 2).
pub fn reload(ctx: &Context, file: &File) -> i32 {
    let found = find(ctx, file);
    match file {
        File::Good(_) => {}
        File::Broken(e, _) => {
            let why = match found.running.first() {
                Some(d) => format!(
                    "not reloading: the daemon (pid {}) keeps the configuration it runs with",
                    d.pid
                ),
                None => String::new(),
            };
            return refuse(ctx, file, e, &why);
        }
        File::Missing(m) => return not_found(m),
    }
    if found.running.is_empty() {
        if let Some(log) = logger_of(ctx, file) {
            log.log(&format!("ldirectord is stopped for {}", config_text(ctx)));
        }
        return 1;
    }
    for d in &found.running {
        signal(d.pid, libc::SIGHUP);
    }
    0
}

/// `status`: 0 running, 3 stopped, 1 stale pid file; then, when running,
/// each virtual and real as the daemon last saw them (its status file),
/// as text or, with `json`, as the JSON document of ldirectord(8) (then
/// nothing else goes to stdout: the lines about the state go to stderr,
/// and the `execute=` instances are not asked). Needs only the file's
/// name; a file with errors is reported after the daemon's state.
pub fn status(ctx: &Context, file: &File, json: bool) -> i32 {
    let found = find(ctx, file);
    if let File::Missing(m) = file {
        if found.running.is_empty() {
            return not_found(m);
        }
    }
    let code = match (found.running.first(), &found.stale) {
        (Some(d), _) => {
            eprintln!(
                "ldirectord for {} is running with pid: {}",
                config_text(ctx),
                d.pid
            );
            // A Perl daemon of the same file writes no status file.
            if d.own {
                print_status(&ctx.status_path(), json);
            }
            use std::io::Write;
            let _ = std::io::stdout().flush();
            if !json {
                if let (File::Good(c), Some(log)) = (file, logger_of(ctx, file)) {
                    super::instances::Instances::new(&ctx.cfgname, stop_timeout()).command(
                        "status",
                        &c.global.execute,
                        &log,
                    );
                }
            }
            0
        }
        (None, Some(stale)) => {
            eprintln!(
                "ldirectord stale pid file {} for {}",
                stale.display(),
                config_text(ctx)
            );
            stopped_line(ctx, json);
            1
        }
        (None, None) => {
            stopped_line(ctx, json);
            3
        }
    };
    match file {
        File::Broken(e, _) => {
            eprintln!(
                "ldirectord: warning: the file on disk has {}{}:",
                error_count(e),
                if code == 0 {
                    "; the daemon keeps the configuration it read before"
                } else {
                    ""
                }
            );
            eprintln!("{e}");
        }
        File::Missing(_) => eprintln!("ldirectord: warning: {} no longer exists", config_text(ctx)),
        File::Good(_) => {}
    }
    code
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
fn print_status(path: &std::path::Path, json: bool) {
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
    // Signal 0 probes for existence. A process that has exited but not
    // been reaped by its parent yet (a zombie) has stopped: it counts as
    // gone.
    // SAFETY: as in `signal`.
    let exists = unsafe { libc::kill(pid as libc::pid_t, 0) == 0 };
    exists && !zombie(pid)
}

/// Whether `pid` is a zombie (state `Z` in /proc/<pid>/stat, after the
/// parenthesised command name, which may itself hold blanks and parens).
fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| Some(s[s.rfind(')')? + 1..].trim_start().starts_with('Z')))
        .unwrap_or(false)
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
