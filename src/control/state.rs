//! The state file: the operator's overrides of one configuration, kept
//! across reloads and restarts, at `/var/lib/ldirectord/<cfgname>.state`
//! (`$LDIRECTORD_STATE_DIR` instead of `/var/lib/ldirectord`, for tests).
//!
//! JSON: `{"version":1,"config":PATH,"overrides":[{"virtual":"tcp:192.0.2.10:80",
//! "real":"192.0.2.21:80","action":"drain","by":{"uid":0,"pid":1234},"at":1767225600.5}]}`
//! (`"action":"weight","weight":5` for a weight). Pairs are named as
//! `status` names them, so a file outlives a reload that renumbers the
//! configuration; the daemon drops (and logs) the pairs its configuration
//! no longer has.
//!
//! Written atomically: a temporary file in the same directory, created
//! afresh (`O_EXCL|O_NOFOLLOW`, mode 0600), synced, renamed over the old
//! one, and the directory synced; the directory is created with mode 0700
//! when missing. Read without following a link and at most [`MAX_SIZE`]
//! bytes. A file that cannot be read as ours ([`Read::Corrupt`]) is never
//! fatal: the daemon logs why and sets it aside ([`set_aside`]), then runs
//! without overrides. Nothing here knows the daemon.

use std::io::{Read as _, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Override, Peer};

/// The version of the file's format.
pub const VERSION: u32 = 1;

/// The largest state file read (10,000 overrides take about 1.5 MB).
pub const MAX_SIZE: u64 = 16 << 20;

/// The directory of state files.
pub fn dir() -> PathBuf {
    std::env::var_os("LDIRECTORD_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/ldirectord"))
}

/// `<dir>/<cfgname>.state`.
pub fn path_for(cfgname: &str) -> PathBuf {
    dir().join(format!("{cfgname}.state"))
}

/// The file's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    pub version: u32,
    /// The configuration file the overrides were made for (information).
    #[serde(default)]
    pub config: String,
    pub overrides: Vec<Stored>,
}

/// One override as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    /// Upstream's id of the virtual service (`tcp:192.0.2.10:80`, `fwm:7`).
    #[serde(rename = "virtual")]
    pub virtual_id: String,
    /// `192.0.2.21:80`, `[2001:db8::21]:80`.
    pub real: String,
    #[serde(flatten)]
    pub what: Override,
    pub by: Peer,
    /// When it was made, seconds since the Unix epoch.
    pub at: f64,
}

/// What [`read`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    /// No state file: no overrides.
    Missing,
    Found(StateFile),
    /// Not a state file of ours, and why.
    Corrupt(String),
}

/// Read the state file at `path`.
pub fn read(path: &Path) -> Read {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Read::Missing,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Read::Corrupt("it is a symbolic link".into())
        }
        Err(e) => return Read::Corrupt(format!("cannot read it: {e}")),
    };
    match file.metadata() {
        Ok(m) if !m.is_file() => return Read::Corrupt("it is not a regular file".into()),
        Err(e) => return Read::Corrupt(format!("cannot read it: {e}")),
        Ok(_) => {}
    }
    let mut bytes = Vec::new();
    if let Err(e) = file.take(MAX_SIZE + 1).read_to_end(&mut bytes) {
        return Read::Corrupt(format!("cannot read it: {e}"));
    }
    if bytes.len() as u64 > MAX_SIZE {
        return Read::Corrupt(format!("it is larger than {} MiB", MAX_SIZE >> 20));
    }
    parse(&bytes)
}

/// A state file's bytes.
pub fn parse(bytes: &[u8]) -> Read {
    let state: StateFile = match serde_json::from_slice(bytes) {
        Ok(s) => s,
        Err(e) => return Read::Corrupt(format!("not a state file: {e}")),
    };
    if state.version != VERSION {
        return Read::Corrupt(format!(
            "format version {} (this ldirectord reads version {VERSION})",
            state.version
        ));
    }
    if let Some(s) = state
        .overrides
        .iter()
        .find(|s| matches!(s.what, Override::Weight { weight } if weight > Override::MAX_WEIGHT))
    {
        return Read::Corrupt(format!(
            "the weight of {} ({}) is out of range",
            s.real, s.virtual_id
        ));
    }
    Read::Found(state)
}

/// Move a state file that cannot be read out of the way, to
/// `<name>.corrupt-<seconds since the epoch>` beside it (a link is moved,
/// never followed). Returns where it went.
pub fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = path
        .file_name()
        .map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
    let to = path.with_file_name(format!("{name}.corrupt-{secs}"));
    std::fs::rename(path, &to)?;
    Ok(to)
}

/// Replace the state file at `path` with `state`, atomically.
pub fn write(path: &Path, state: &StateFile) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
    }
    let name = path
        .file_name()
        .map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    // A leftover of an earlier process with our pid (never followed).
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    let written = serde_json::to_writer(&mut file, state)
        .map_err(std::io::Error::other)
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename is durable once the directory is.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ldrs-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn sample() -> StateFile {
        StateFile {
            version: VERSION,
            config: "/etc/ha.d/ldirectord.cf".into(),
            overrides: vec![
                Stored {
                    virtual_id: "tcp:192.0.2.10:80".into(),
                    real: "192.0.2.21:80".into(),
                    what: Override::Drain,
                    by: Peer {
                        uid: 0,
                        pid: Some(42),
                    },
                    at: 1_767_225_600.5,
                },
                Stored {
                    virtual_id: "fwm:7".into(),
                    real: "[2001:db8::21]:80".into(),
                    what: Override::Weight { weight: 5 },
                    by: Peer { uid: 0, pid: None },
                    at: 1.0,
                },
            ],
        }
    }

    #[test]
    fn written_atomically_read_back_the_same() {
        let d = tmp("rw").join("sub");
        let p = d.join("web.cf.state");
        assert_eq!(read(&p), Read::Missing);
        write(&p, &sample()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&d), 0o700, "the directory is created 0700");
        assert_eq!(mode(&p), 0o600);
        assert_eq!(read(&p), Read::Found(sample()));
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(r#""action":"weight","weight":5"#), "{text}");
        // Replaced, not appended; no temporary file is left.
        let mut one = sample();
        one.overrides.truncate(1);
        write(&p, &one).unwrap();
        assert_eq!(read(&p), Read::Found(one));
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_dir_all(d.parent().unwrap()).unwrap();
    }

    #[test]
    fn corrupt_files_are_reported_and_set_aside() {
        let d = tmp("bad");
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("x.state");
        for (bytes, why) in [
            (&b"{not json"[..], "not a state file"),
            (b"", "not a state file"),
            (br#"{"version":9,"overrides":[]}"#, "format version 9"),
            (
                br#"{"version":1,"overrides":[{"virtual":"7","real":"192.0.2.1:80","action":"weight","weight":70000,"by":{"uid":0},"at":0}]}"#,
                "out of range",
            ),
            (br#"{"version":1,"overrides":[{"virtual":"7"}]}"#, "not a state file"),
        ] {
            std::fs::write(&p, bytes).unwrap();
            match read(&p) {
                Read::Corrupt(e) => assert!(e.contains(why), "{e}"),
                other => panic!("{other:?}"),
            }
        }
        let aside = set_aside(&p).unwrap();
        assert!(!p.exists() && aside.exists());
        assert!(aside
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("x.state.corrupt-"));
        // A link is not followed: reported, and writing replaces the link
        // itself, leaving its target alone.
        let victim = d.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        assert_eq!(read(&p), Read::Corrupt("it is a symbolic link".into()));
        write(&p, &sample()).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(read(&p), Read::Found(sample()));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
