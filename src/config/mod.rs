//! ldirectord.cf → [`Config`].
//!
//! The pipeline, one way: text → `grammar/ldirectord.pest` ([`parser`]:
//! lines, blocks, name/value/comment, with positions) → [`resolve`]
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
    let raw = parser::parse(text);
    let (config, diagnostics) = resolve::resolve(&raw, path, opts);
    match config {
        Some(config) => Ok(Loaded {
            config,
            warnings: diagnostics,
            source: text.to_string(),
        }),
        None => Err(ConfigError {
            path: path.to_path_buf(),
            source_text: text.to_string(),
            diagnostics,
        }),
    }
}

/// Read and parse the file at `path`.
pub fn load_file(path: &Path, opts: &Options) -> Result<Loaded, ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| {
        ConfigError::unreadable(path, format!("can not open file {}: {e}", path.display()))
    })?;
    // Upstream reads bytes; comments in legacy encodings must not make a
    // file unreadable, so invalid UTF-8 is replaced (and only matters if it
    // sits in a value).
    let text = String::from_utf8_lossy(&bytes);
    load_str(&text, path, opts)
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
