//! An opt-in timeline of start-up and of the director's passes, for
//! benchmarks and for finding where the time of a start goes. With
//! `LDIRECTORD_TIMELINE=FILE` in the environment each event is one line
//! appended to FILE:
//!
//! ```text
//! # ldirectord timeline: t0 = 1732240000.123456 (unix s), pid 812
//! #        ms   cpu ms    pid  event: details
//!     12.345      9.8     812  parsed: 1000 virtuals, 10000 reals
//! ```
//!
//! `ms`: since t0, the first event of the command (in `main`, before the
//! file is read); `cpu ms`: the process's CPU time (user + system, all its
//! threads) when the line was written, `-` for an event timed earlier
//! (netlink batches, written after the apply that sent them). A daemon
//! forked by `start` keeps t0, and its CPU count starts again at 0.
//!
//! Off (the default) an event costs one load of a `OnceLock`, and nothing
//! reads the file back. The director also says where its start-up went at
//! debug level (`-d`), with [`since_start`]: that needs no file. Owns
//! nothing else.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Timeline {
    path: PathBuf,
    t0: Instant,
}

/// When the command started (the first [`init`], [`mark`] or
/// [`since_start`]).
static T0: OnceLock<Instant> = OnceLock::new();

static TIMELINE: OnceLock<Option<Timeline>> = OnceLock::new();

fn t0() -> Instant {
    *T0.get_or_init(Instant::now)
}

/// Time since the command started (see [`init`]).
pub fn since_start() -> Duration {
    t0().elapsed()
}

fn timeline() -> Option<&'static Timeline> {
    TIMELINE
        .get_or_init(|| {
            let t0 = t0();
            let path = PathBuf::from(std::env::var_os("LDIRECTORD_TIMELINE")?);
            let unix = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let t = Timeline { path, t0 };
            t.write(&format!(
                "# ldirectord timeline: t0 = {}.{:06} (unix s), pid {}\n\
                 #        ms   cpu ms    pid  event: details\n",
                unix.as_secs(),
                unix.subsec_micros(),
                std::process::id()
            ));
            Some(t)
        })
        .as_ref()
}

impl Timeline {
    fn write(&self, text: &str) {
        // Appended and closed per event, as the log is: a few hundred
        // events in a start-up at most.
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
    }

    fn line(&self, at: Instant, cpu: Option<Duration>, event: &str, details: &str) {
        let ms = at.saturating_duration_since(self.t0).as_secs_f64() * 1e3;
        let cpu = cpu.map_or("-".to_string(), |c| format!("{:.1}", c.as_secs_f64() * 1e3));
        let sep = if details.is_empty() { "" } else { ": " };
        self.write(&format!(
            "{ms:>10.3} {cpu:>8} {:>6}  {event}{sep}{details}\n",
            std::process::id()
        ));
    }
}

/// Whether a timeline is being written (to skip work that only feeds it).
pub fn enabled() -> bool {
    timeline().is_some()
}

/// Start the clock (t0), and the timeline if one is asked for. Call it
/// first thing; the first event or [`since_start`] does it otherwise.
pub fn init() {
    t0();
    mark("start", String::new);
}

/// An event now; `details` is formatted only when a timeline is written.
pub fn mark(event: &str, details: impl FnOnce() -> String) {
    if let Some(t) = timeline() {
        t.line(Instant::now(), Some(process_cpu()), event, &details());
    }
}

/// An event that happened at `at` (timed earlier, written now).
pub fn mark_at(at: Instant, event: &str, details: impl FnOnce() -> String) {
    if let Some(t) = timeline() {
        t.line(at, None, event, &details());
    }
}

/// User + system time of this process, all threads.
fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the value given.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
