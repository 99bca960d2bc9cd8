//! Log lines, exactly where and how upstream ldirectord writes them
//! (reference §f.10):
//!
//! - `logfile="/path"`: `[<localtime>|<CFGNAME>|<pid>] <msg>` appended, the
//!   file opened and closed for every line (so logrotate needs no signal);
//!   if the file cannot be written the line goes to stderr;
//! - `logfile="<facility>"`: syslog, ident `ldirectord`, option pid,
//!   priority info; without a syslog daemon the line is lost (never
//!   printed on the terminal of a command);
//! - supervised: `[<localtime>] <msg>` on stdout;
//! - `-d`: `<msg>` on stderr.
//!
//! Owns the only syslog use of the program. Creating the log file never
//! follows a symlink and never makes it world-writable.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::config::LogTarget;

/// Where log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    File(PathBuf),
    Syslog(String),
    /// supervised=yes
    Stdout,
    /// -d
    Stderr,
}

impl Sink {
    /// The sink of a configuration: `-d` and supervised win over logfile.
    pub fn choose(target: &LogTarget, debug: bool, supervised: bool) -> Sink {
        if debug {
            Sink::Stderr
        } else if supervised {
            Sink::Stdout
        } else {
            match target {
                LogTarget::File(p) => Sink::File(p.clone()),
                LogTarget::Syslog(f) => Sink::Syslog(f.clone()),
            }
        }
    }
}

type SyslogWriter = syslog::Logger<syslog::LoggerBackend, syslog::Formatter3164>;

/// A logger for one daemon (or one command invocation).
pub struct Logger {
    sink: Sink,
    cfgname: String,
    syslog: Mutex<Option<SyslogWriter>>,
    /// Lines written, for tests.
    #[cfg(test)]
    pub(crate) lines: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger").field("sink", &self.sink).finish()
    }
}

/// Append `text` to the file at `path`: opened and closed per call,
/// created 0640, never through a symbolic link. The log file and the
/// monitor file are both written so.
pub fn append(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
}

impl Logger {
    pub fn new(sink: Sink, cfgname: &str) -> Logger {
        Logger {
            sink,
            cfgname: cfgname.to_string(),
            syslog: Mutex::new(None),
            #[cfg(test)]
            lines: Mutex::new(Vec::new()),
        }
    }

    pub fn sink(&self) -> &Sink {
        &self.sink
    }

    /// Whether this is `-d`'s logger (lines on stderr, debug lines too).
    pub fn is_debug(&self) -> bool {
        self.sink == Sink::Stderr
    }

    /// Upstream's `ld_debug`: with `-d`, `DEBUG<level>: <msg>` on stderr;
    /// nothing otherwise.
    pub fn debug(&self, level: u8, msg: &str) {
        if self.is_debug() {
            #[cfg(test)]
            self.lines
                .lock()
                .unwrap()
                .push(format!("DEBUG{level}: {msg}"));
            eprintln!("DEBUG{level}: {msg}");
        }
    }

    /// Write several lines, as [`Logger::log`] writes each. A log file is
    /// opened and closed once for all of them (a start of 1,000 virtual
    /// services writes 11,000 lines: 33,000 system calls one by one).
    pub fn log_all(&self, msgs: &[String]) {
        let Sink::File(path) = &self.sink else {
            return msgs.iter().for_each(|m| self.log(m));
        };
        if msgs.is_empty() {
            return;
        }
        #[cfg(test)]
        self.lines.lock().unwrap().extend(msgs.iter().cloned());
        let prefix = format!("[{}|{}|{}] ", localtime(), self.cfgname, std::process::id());
        let mut text = String::with_capacity(msgs.iter().map(|m| prefix.len() + m.len() + 1).sum());
        for m in msgs {
            text.push_str(&prefix);
            text.push_str(m);
            text.push('\n');
        }
        if append(path, &text).is_err() {
            eprint!("{text}");
        }
    }

    /// Write one line.
    pub fn log(&self, msg: &str) {
        #[cfg(test)]
        self.lines.lock().unwrap().push(msg.to_string());
        match &self.sink {
            Sink::Stderr => eprintln!("{msg}"),
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "[{}] {msg}", localtime());
                let _ = out.flush();
            }
            Sink::File(path) => {
                let line = format!(
                    "[{}|{}|{}] {msg}\n",
                    localtime(),
                    self.cfgname,
                    std::process::id()
                );
                if append(path, &line).is_err() {
                    eprint!("{line}");
                }
            }
            Sink::Syslog(facility) => {
                let mut guard = self.syslog.lock().unwrap_or_else(|e| e.into_inner());
                if guard.is_none() {
                    *guard = open_syslog(facility);
                }
                let sent = guard.as_mut().map(|w| w.info(msg).is_ok());
                if sent != Some(true) {
                    // Reconnect next time (syslogd may have restarted).
                    // The line is lost, as with upstream's Sys::Syslog: a
                    // command run from a terminal must not print its log
                    // lines there because no syslog daemon runs.
                    *guard = None;
                }
            }
        }
    }
}

fn open_syslog(facility: &str) -> Option<SyslogWriter> {
    let facility: syslog::Facility = facility.parse().ok()?;
    syslog::unix(syslog::Formatter3164 {
        facility,
        hostname: None,
        process: "ldirectord".into(),
        pid: std::process::id(),
    })
    .ok()
}

/// Perl's `scalar localtime`: `Sun Nov 22 02:15:01 2026`.
pub fn localtime() -> String {
    // SAFETY: localtime_r and strftime write into the buffers given; the
    // format is a NUL-terminated literal.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return String::new();
        }
        let mut buf = [0u8; 64];
        let n = libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%a %b %e %H:%M:%S %Y".as_ptr(),
            &tm,
        );
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_lines_have_upstreams_prefix() {
        let dir = std::env::temp_dir().join(format!("ldrs-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("l.log");
        let l = Logger::new(Sink::File(path.clone()), "t.cf");
        l.log("Added virtual server: 192.0.2.1:80");
        let text = std::fs::read_to_string(&path).unwrap();
        let re = regex::Regex::new(
            r"^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\|t\.cf\|\d+\] Added virtual server: 192\.0\.2\.1:80\n$",
        )
        .unwrap();
        assert!(re.is_match(&text), "{text:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lines_written_together_read_as_lines_written_one_by_one() {
        let dir = std::env::temp_dir().join(format!("ldrs-log-all-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (one, all) = (dir.join("one.log"), dir.join("all.log"));
        let msgs = ["Added virtual server: 192.0.2.1:80".to_string(), "b".into()];
        let l = Logger::new(Sink::File(one.clone()), "t.cf");
        msgs.iter().for_each(|m| l.log(m));
        Logger::new(Sink::File(all.clone()), "t.cf").log_all(&msgs);
        // The same lines (the clock may tick between the two writes).
        let strip = |p: &std::path::Path| -> Vec<String> {
            let text = std::fs::read_to_string(p).unwrap();
            text.lines()
                .map(|l| l.split_once("|t.cf|").unwrap().1.to_string())
                .collect()
        };
        assert_eq!(strip(&one), strip(&all));
        assert_eq!(strip(&all).len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlinked_log_file_is_not_followed() {
        let dir = std::env::temp_dir().join(format!("ldrs-log-link-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("target");
        std::fs::write(&target, "").unwrap();
        let link = dir.join("l.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        Logger::new(Sink::File(link), "t").log("x");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
