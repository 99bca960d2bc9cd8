//! A stand-in for a running ldirectord (ours or the Perl program): a shell
//! loop whose command line is `/bin/sh <dir>/ldirectord [config] start`,
//! as a daemon's is (`perl -w /usr/sbin/ldirectord … start`), that writes
//! the signals it gets to a file and exits on TERM, removing its pid file.
//! With a pid file naming it, `status`, `stop`, `reload` and `restart` act
//! on it, without IPVS.
//!
//! Include it with `#[path = "support/fake_daemon.rs"] mod fake_daemon;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct FakeDaemon {
    child: Child,
    signals: PathBuf,
}

impl FakeDaemon {
    /// Start one in `dir` with these arguments after the program name,
    /// and write its pid to `pid_file`.
    pub fn start(dir: &Path, args: &[&str], pid_file: &Path) -> FakeDaemon {
        let script = dir.join("ldirectord");
        let name = format!("signals.{}", pid_file.display()).replace('/', "_");
        let signals = dir.join(name);
        let _ = std::fs::remove_file(&signals);
        std::fs::write(
            &script,
            "trap 'echo HUP >> \"$SIGNALS\"' HUP\n\
             trap 'echo TERM >> \"$SIGNALS\"; rm -f \"$PIDFILE\"; exit 0' TERM\n\
             i=0\n\
             while [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done\n",
        )
        .unwrap();
        let child = Command::new("/bin/sh")
            .arg(&script)
            .args(args)
            .env("SIGNALS", &signals)
            .env("PIDFILE", pid_file)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        std::fs::write(pid_file, format!("{}\n", child.id())).unwrap();
        FakeDaemon { child, signals }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The signals it got so far (`HUP`, `TERM`), waiting up to 2 s for
    /// `expect` of them (a trap runs once the running `sleep` ends).
    pub fn signals(&self, expect: usize) -> Vec<String> {
        let end = Instant::now() + Duration::from_secs(2);
        loop {
            let got: Vec<String> = std::fs::read_to_string(&self.signals)
                .unwrap_or_default()
                .lines()
                .map(String::from)
                .collect();
            if got.len() >= expect || Instant::now() > end {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether it has exited (reaped here, so `kill -0` sees it gone).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
