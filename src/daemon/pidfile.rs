//! The pid file `/var/run/ldirectord.<CFGNAME>.pid`: how `stop`, `status`
//! and `reload` find the daemon of a configuration.
//!
//! Created safely: `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0644, so a symlink
//! planted in /var/run cannot make root write elsewhere, and two daemons of
//! one configuration cannot both start. A daemon is "running" when the file
//! names a live process whose command line contains `ldirectord`
//! (upstream's test).

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
                    State::Running(pid) => {
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
