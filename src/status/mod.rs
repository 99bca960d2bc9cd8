//! Seeing the director: its state as one immutable [`Snapshot`] and the
//! ways it is shown — the status file and `ldirectord status [--json]`,
//! and with `statusaddress=` an HTTP server with a page for people (`/`),
//! Prometheus metrics (`/metrics`) and the JSON (`/status.json`).
//!
//! Owns: the snapshot's shape and its renderers (text, JSON, metrics,
//! HTML) and the HTTP server. The director (the only writer of IPVS)
//! builds each snapshot from what it keeps and publishes it; the checker
//! pool owns its counters ([`crate::check::stats`]). This module must not
//! keep any state of its own, change anything (no request changes state:
//! `GET`/`HEAD` only), ask the director or the kernel anything, or hold
//! the director back: readers take the latest published snapshot.
//!
//! - [`snapshot`]: the data, its JSON form, the publish/subscribe channel.
//! - [`text`]: the lines of `ldirectord status`.
//! - [`metrics`]: the Prometheus text.
//! - [`page`]: the HTML page.
//! - [`http`]: the server, with its bounds.

pub mod http;
pub mod metrics;
pub mod page;
pub mod snapshot;
pub mod text;

pub use snapshot::{Publisher, Snapshot, Subscriber};

use std::io::Write;
use std::path::Path;

/// Write `snapshot` as JSON to `path`, replacing it atomically (a
/// temporary file in the same directory, created afresh with mode 0644
/// and without following links, then renamed).
pub fn write_file(path: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("status.tmp");
    let _ = std::fs::remove_file(&tmp);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, file);
    serde_json::to_writer(&mut w, snapshot)?;
    w.write_all(b"\n")?;
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, path)
}

/// Read a status file written by [`write_file`].
pub fn read_file(path: &Path) -> std::io::Result<Snapshot> {
    let text = std::fs::read(path)?;
    serde_json::from_slice(&text).map_err(std::io::Error::other)
}
