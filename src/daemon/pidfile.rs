//! The pid file `/var/run/ldirectord.<CFGNAME>.pid`: how `stop`, `status`
//! and `reload` find the daemon of a configuration.
//!
//! Created safely: `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0644, so a symlink
//! planted in /var/run cannot make root write elsewhere, and two daemons of
//! one configuration cannot both start. A daemon is "running" when the file
//! names a live process whose command line contains `ldirectord`
//! (upstream's test).
//!
//! Upstream names the file after the configuration argument as written
//! (`ldirectord start`: `ldirectord.ldirectord.pid`; `ldirectord
//! /etc/ha.d/ldirectord.cf start`: `ldirectord.ldirectord.cf.pid`), so a
//! Perl daemon of the same file may sit under another name than ours:
//! [`find`] looks under every name upstream could have used for the
//! configuration, so that an upgrade never runs two directors on one table.
//! Nothing here parses a configuration.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Directory of pid files: `/var/run`, or `$LDIRECTORD_RUN_DIR` (tests).
pub fn run_dir() -> PathBuf {
    std::env::var_os("LDIRECTORD_RUN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/run"))
}

/// `<run_dir>/ldirectord.<cfgname>.pid`.
pub fn path_for(cfgname: &str) -> PathBuf {
    run_dir().join(format!("ldirectord.{cfgname}.pid"))
}

/// What a pid file says about its daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Running(u32),
    /// The file exists but names no live ldirectord.
    Stale,
    Absent,
}

pub fn state(path: &Path) -> State {
    let Ok(text) = std::fs::read_to_string(path) else {
        return State::Absent;
    };
    match text.trim().parse::<u32>() {
        Ok(pid) if pid > 0 && is_ldirectord(pid) => State::Running(pid),
        _ => State::Stale,
    }
}

fn is_ldirectord(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("ldirectord"))
        .unwrap_or(false)
}

/// Upstream's `$CFGNAME` of a configuration argument, except that the
/// default file name maps to `ldirectord` whatever its directory: one name
/// for `ldirectord start` and `ldirectord ldirectord.cf start` (C24).
pub fn cfgname_for(config_arg: &str) -> String {
    let base = base_name(config_arg);
    if base == "ldirectord.cf" {
        "ldirectord".into()
    } else {
        base
    }
}

/// Upstream's `$CFGNAME` for `ldirectord <arg> <verb>`: what follows the
/// last `/` (`([^/]+)$`).
fn base_name(config_arg: &str) -> String {
    Path::new(config_arg)
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_else(|| config_arg.to_string())
}

/// A live ldirectord found through a pid file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    pub pid: u32,
    pub pid_file: PathBuf,
    /// Found through our own pid file (else through a name only the Perl
    /// program uses: it has no status file of ours).
    pub own: bool,
}

/// What the pid files of one configuration say.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Every live ldirectord of the configuration (normally one).
    pub running: Vec<Daemon>,
    /// Our own pid file exists but names no live ldirectord.
    pub stale: Option<PathBuf>,
}

/// The configuration a lookup is for: the argument as written and the
/// file it resolved to (`None`: no such file, e.g. deleted).
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    pub arg: &'a str,
    pub path: Option<&'a Path>,
}

/// Every daemon of the configuration `me`, looked for under our pid file
/// name and under each name upstream would have used for the same file:
/// `ldirectord.<basename of the argument>.pid`, and, for the default
/// configuration, `ldirectord.ldirectord.pid`. A daemon under a name that
/// is not ours counts only when its command line names the same file
/// (two files may share a base name).
pub fn find(me: Identity<'_>) -> Found {
    let own = path_for(&cfgname_for(me.arg));
    let mut names = vec![own.clone(), path_for(&base_name(me.arg))];
    let default = match me.path {
        Some(p) => crate::config::locate("ldirectord.cf").is_some_and(|d| same_file(&d, p)),
        None => base_name(me.arg) == "ldirectord.cf",
    };
    if default {
        names.push(path_for("ldirectord"));
    }
    let mut found = Found::default();
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            continue;
        }
        let is_own = *name == own;
        match state(name) {
            State::Running(pid)
                if (is_own || same_config(pid, me))
                    && found.running.iter().all(|d| d.pid != pid) =>
            {
                found.running.push(Daemon {
                    pid,
                    pid_file: name.clone(),
                    own: is_own,
                });
            }
            State::Stale if is_own => found.stale = Some(name.clone()),
            _ => {}
        }
    }
    found
}

/// Whether process `pid` runs ldirectord for the configuration `me`: the
/// configuration argument of its command line resolves to the same file
/// (or, when neither file exists, has the same name). A command line that
/// cannot be read that way is trusted, as upstream trusts its pid file.
fn same_config(pid: u32, me: Identity<'_>) -> bool {
    let Some(arg) = config_arg_of(pid) else {
        return true;
    };
    match (resolve_for(pid, &arg), me.path) {
        (Some(theirs), Some(ours)) => same_file(&theirs, ours),
        (None, None) => cfgname_for(&arg) == cfgname_for(me.arg),
        _ => false,
    }
}

/// The configuration argument of ldirectord process `pid`: its command
/// line is `[interpreter [options]] …ldirectord [options] [config] verb`
/// (the Perl program runs as `perl -w /usr/sbin/ldirectord …`).
fn config_arg_of(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    config_arg_in(&args)
}

/// [`config_arg_of`] on a command line.
fn config_arg_in(args: &[String]) -> Option<String> {
    let program = args
        .iter()
        .position(|a| base_name(a).contains("ldirectord"))?;
    let rest: Vec<&String> = args[program + 1..]
        .iter()
        .skip_while(|a| a.starts_with('-'))
        .collect();
    match rest.as_slice() {
        [_verb] => Some("ldirectord.cf".into()),
        [config, _verb] => Some(config.to_string()),
        _ => None,
    }
}

/// The file `arg` names for process `pid`: upstream's lookup, a relative
/// name taken from the process's working directory.
fn resolve_for(pid: u32, arg: &str) -> Option<PathBuf> {
    if Path::new(arg).is_absolute() {
        return Path::new(arg).is_file().then(|| PathBuf::from(arg));
    }
    crate::config::locate_in_config_dirs(arg).or_else(|| {
        let p = std::fs::read_link(format!("/proc/{pid}/cwd"))
            .ok()?
            .join(arg);
        p.is_file().then_some(p)
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
        _ => false,
    }
}

/// A pid file this process owns; removed on drop.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Create `path` with this process's pid. A stale file is replaced; a
    /// running daemon's file is an error (`AlreadyExists`).
    pub fn create(path: &Path) -> std::io::Result<PidFile> {
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
            {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id())?;
                    f.sync_all()?;
                    return Ok(PidFile {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match state(path) {
                    // A file naming this very process is stale: it was
                    // left by an earlier process that had our pid (a
                    // container's pid 1 restarted on a kept /run).
                    State::Running(pid) if pid != std::process::id() => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::AlreadyExists,
                            format!(
                                "ldirectord already running with pid {pid} ({})",
                                path.display()
                            ),
                        ))
                    }
                    // Stale (or unreadable): remove it, never follow it.
                    _ => std::fs::remove_file(path)?,
                },
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other(format!(
            "cannot create {}",
            path.display()
        )))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Only remove the file if it still names us (a later instance may
        // have replaced a file it found stale).
        if std::fs::read_to_string(&self.path)
            .map(|t| t.trim() == std::process::id().to_string())
            .unwrap_or(false)
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ldrs-pid-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn create_states_and_removal() {
        let d = tmp("a");
        let p = d.join("x.pid");
        assert_eq!(state(&p), State::Absent);
        let f = PidFile::create(&p).unwrap();
        // The test binary's command line does not contain "ldirectord"
        // unless the crate name does: it does (ldirectord-…).
        assert!(matches!(state(&p), State::Running(_) | State::Stale));
        drop(f);
        assert!(!p.exists());
        std::fs::write(&p, "999999999\n").unwrap();
        assert_eq!(state(&p), State::Stale);
        let _f = PidFile::create(&p).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_configuration_of_a_daemons_command_line() {
        let arg =
            |line: &str| config_arg_in(&line.split(' ').map(String::from).collect::<Vec<_>>());
        let perl = "/usr/bin/perl -w /usr/sbin/ldirectord";
        assert_eq!(
            arg(&format!("{perl} /etc/ha.d/ldirectord.cf start")).as_deref(),
            Some("/etc/ha.d/ldirectord.cf")
        );
        assert_eq!(
            arg(&format!("{perl} start")).as_deref(),
            Some("ldirectord.cf")
        );
        assert_eq!(
            arg("/usr/sbin/ldirectord -d -- web.cf restart").as_deref(),
            Some("web.cf")
        );
        assert_eq!(arg("/usr/bin/perl -w /usr/sbin/other x start"), None);
        assert_eq!(arg("ldirectord a b c"), None);
        assert_eq!(cfgname_for("/etc/ha.d/ldirectord.cf"), "ldirectord");
        assert_eq!(base_name("/etc/ha.d/ldirectord.cf"), "ldirectord.cf");
    }

    #[test]
    fn a_symlink_is_never_followed() {
        let d = tmp("b");
        let target = d.join("victim");
        std::fs::write(&target, "precious").unwrap();
        let p = d.join("x.pid");
        std::os::unix::fs::symlink(&target, &p).unwrap();
        // The link is treated as stale and removed, the target untouched.
        let _f = PidFile::create(&p).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        assert!(!std::fs::symlink_metadata(&p)
            .unwrap()
            .file_type()
            .is_symlink());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
