//! ldirectord.cf → [`Config`].
//!
//! The pipeline, one way: text → `grammar/ldirectord.pest` ([`parser`]:
//! lines, blocks, name/value/comment, with positions; [`scan`] reads the
//! common shape of file the same way without pest) → [`resolve`]
//! (meaning, defaults, inheritance, names, every error) → [`model`] types.
//! [`canonical`] prints a [`Config`] back as ldirectord.cf (`ldirectord -t`).
//!
//! This module knows nothing of checks, IPVS or the daemon, and does no I/O
//! beyond reading the file and resolving host/port names.

pub mod canonical;
pub mod diag;
pub mod model;
pub mod names;
pub mod parser;
pub mod resolve;
pub mod scan;

use std::path::Path;

pub use diag::{ConfigError, Diagnostic, Severity};
pub use model::*;
pub use resolve::Options;

/// A configuration that loaded, with the warnings it gave.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
    /// The text that was parsed (to render warnings).
    pub source: String,
}

/// Parse `text` as if read from `path`.
pub fn load_str(text: &str, path: &Path, opts: &Options) -> Result<Loaded, ConfigError> {
    load_string(text.to_string(), path, opts)
}

/// [`load_str`], keeping `text` as the source without a copy.
fn load_string(text: String, path: &Path, opts: &Options) -> Result<Loaded, ConfigError> {
    let (config, diagnostics) = resolve::resolve(&parser::parse(&text), path, opts);
    match config {
        Some(config) => Ok(Loaded {
            config,
            warnings: diagnostics,
            source: text,
        }),
        None => Err(ConfigError {
            path: path.to_path_buf(),
            source_text: text,
            diagnostics,
        }),
    }
}

/// Upstream's lookup of a configuration argument: `/etc/ha.d/<arg>`,
/// `/etc/ha.d/conf/<arg>`, then `<arg>` as given (the first that is a
/// file). `LDIRECTORD_CONFIG_DIR` replaces `/etc/ha.d` (tests).
pub fn locate(arg: &str) -> Option<std::path::PathBuf> {
    locate_in_config_dirs(arg).or_else(|| {
        let p = std::path::PathBuf::from(arg);
        p.is_file().then_some(p)
    })
}

/// The first two places of [`locate`]: `/etc/ha.d/<arg>`,
/// `/etc/ha.d/conf/<arg>`.
pub fn locate_in_config_dirs(arg: &str) -> Option<std::path::PathBuf> {
    let base = std::env::var_os("LDIRECTORD_CONFIG_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("/etc/ha.d"));
    [base.join(arg), base.join("conf").join(arg)]
        .into_iter()
        .find(|p| p.is_file())
}

/// Read and parse the file at `path`.
pub fn load_file(path: &Path, opts: &Options) -> Result<Loaded, ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| {
        ConfigError::unreadable(path, format!("can not open file {}: {e}", path.display()))
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => load_string(text, path, opts),
        Err(e) => load_bytes(e.as_bytes(), path, opts),
    }
}

/// Parse the bytes of a file read from `path`.
///
/// COMPAT (C30): the file is read as UTF-8. Bytes that are not UTF-8 (a
/// Latin-1 file) are accepted in comments, where upstream ignores them
/// too; anywhere else they are an error, never silently replaced:
/// upstream would send them as they are (in a `receive` regex, a
/// `virtualhost`, a `passwd`), and a replacement character there would
/// make a check fail for no visible reason.
pub fn load_bytes(bytes: &[u8], path: &Path, opts: &Options) -> Result<Loaded, ConfigError> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return load_str(text, path, opts);
    }
    let text = String::from_utf8_lossy(bytes);
    let raw = parser::parse(&text);
    let (config, mut diagnostics) = resolve::resolve(&raw, path, opts);
    let spans = parser::spans(&raw);
    let mut bad = false;
    for (line, col, byte) in invalid_utf8(bytes) {
        let covered = spans
            .iter()
            .any(|&(l, from, to)| l == line && (from..to).contains(&col));
        if covered {
            bad = true;
            diagnostics.push(Diagnostic::error(
                line,
                col,
                format!(
                    "byte 0x{byte:02X} is not UTF-8: ldirectord-rs reads the file as UTF-8 \
                     (convert it, e.g. with iconv -f LATIN1 -t UTF-8; comments may hold any bytes)"
                ),
            ));
        }
    }
    diagnostics.sort_by_key(|d| (d.line, d.col));
    match config {
        Some(config) if !bad => Ok(Loaded {
            config,
            warnings: diagnostics,
            source: text.into_owned(),
        }),
        _ => Err(ConfigError {
            path: path.to_path_buf(),
            source_text: text.into_owned(),
            diagnostics,
        }),
    }
}

/// Where `bytes` are not UTF-8: (line, column, first byte) of each run
/// that the lossy conversion turns into one U+FFFD, in its coordinates.
pub(crate) fn invalid_utf8(bytes: &[u8]) -> Vec<(usize, usize, u8)> {
    let (mut line, mut col) = (1, 1);
    let mut out = Vec::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\n' {
                (line, col) = (line + 1, 1);
            } else {
                col += 1;
            }
        }
        if let Some(&b) = chunk.invalid().first() {
            out.push((line, col, b));
            col += 1;
        }
    }
    out
}

/// The global directives of a file as far as they can be read, whatever
/// errors it has: where a command that refuses the file logs that it did
/// (`logfile`, `supervised`).
pub fn salvage_global(text: &str, opts: &Options) -> Global {
    resolve::globals_of(&parser::parse(text), opts)
}

/// Test helper: parse `text` (no DNS, hostname `t`), panicking on errors.
#[cfg(test)]
pub(crate) fn test_config(text: &str) -> Config {
    let opts = Options {
        lookup: names::Lookup::HostsFile,
        hostname: "t".into(),
    };
    match load_str(text, Path::new("t.cf"), &opts) {
        Ok(l) => l.config,
        Err(e) => panic!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that are not UTF-8, anywhere in a file (names, values, junk,
    /// comments, line ends, the last byte): a verdict, never a panic, and
    /// every error points inside the file.
    #[test]
    fn load_bytes_takes_any_bytes() {
        let opts = Options {
            lookup: names::Lookup::HostsFile,
            hostname: "t".into(),
        };
        let base = b"checktimeout=3 # c\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n\
                     \treceive=\"OK\"\n  stray\n[junk]\n";
        for at in 0..=base.len() {
            for bad in [&b"\xff"[..], b"\xe9", b"\xc3", b"\xe2\x80", b"\xf0\x9f\x98"] {
                let mut f = base[..at].to_vec();
                f.extend_from_slice(bad);
                f.extend_from_slice(&base[at..]);
                if let Err(e) = load_bytes(&f, Path::new("t.cf"), &opts) {
                    let lines = e.source_text.split('\n').count();
                    assert!(e.errors().all(|d| d.line <= lines), "{e}");
                    let _ = e.to_string();
                }
            }
        }
    }
}
