//! `ldirectord convert`: Red Hat Piranha's `lvs.cf` → an ldirectord.cf
//! that behaves the same, plus what ldirectord does not do (director
//! failover) as a keepalived or Pacemaker companion.
//!
//! The pipeline, one way: text → [`lex`] (lines and tokens by Piranha
//! 0.8.6's own rules, reference §2) → [`read`] (a typed [`read::LvsCf`]
//! and every error of the file) → [`emit`] (ldirectord.cf *text*, with the
//! health check chosen by [`check`], and warnings placed next to what they
//! concern) and [`ha`] (the failover companion). The text is what our own
//! parser, `config::load_str`, then reads: this module never builds a
//! [`crate::config::Config`] or any other model of a director.
//!
//! Pure apart from host-name lookups (Piranha resolved names when it read
//! the file): no file is read or written here; [`files`] writes the output
//! for the command line. Must not import `cli`.

pub mod check;
pub mod emit;
pub mod files;
pub mod ha;
pub mod lex;
pub mod read;

use std::path::{Path, PathBuf};

use crate::config::diag::{Diagnostic, Severity};
use crate::config::names::Lookup;

/// The director-failover companion to write (`--ha`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ha {
    /// keepalived.conf VRRP instances (one file per director).
    Keepalived,
    /// A shell script of `pcs` commands.
    Pacemaker,
}

impl Ha {
    pub fn from_name(name: &str) -> Option<Ha> {
        match name {
            "keepalived" => Some(Ha::Keepalived),
            "pacemaker" => Some(Ha::Pacemaker),
            _ => None,
        }
    }
}

/// Where the output goes; companion files are named after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The directory of the ldirectord.cf (absolute): companions are
    /// written there, and generated check scripts are referred to there.
    pub dir: PathBuf,
    /// The file name of the ldirectord.cf.
    pub cf_name: String,
}

impl Placement {
    /// Printing to stdout: the paths the files would have as
    /// /etc/ha.d/ldirectord.cf, ldirectord's default.
    pub fn stdout() -> Placement {
        Placement {
            dir: PathBuf::from("/etc/ha.d"),
            cf_name: "ldirectord.cf".into(),
        }
    }

    /// `ldirectord.cf` → `ldirectord`: the prefix of companion names.
    pub fn stem(&self) -> &str {
        self.cf_name
            .strip_suffix(".cf")
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.cf_name)
    }

    pub fn cf_path(&self) -> PathBuf {
        self.dir.join(&self.cf_name)
    }

    /// The path of a companion called `{stem}-{suffix}`.
    pub fn companion(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}-{suffix}", self.stem()))
    }
}

/// How to convert.
#[derive(Debug, Clone)]
pub struct Options {
    /// Read past what Piranha refused but we understand, with a warning.
    pub lenient: bool,
    pub ha: Option<Ha>,
    /// Host names in lvs.cf are looked up this way.
    pub lookup: Lookup,
    pub placement: Placement,
    /// The lvs.cf's name as given on the command line (for the header).
    pub source: String,
}

/// A file written beside the ldirectord.cf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Companion {
    pub path: PathBuf,
    pub text: String,
    /// 0o755 for scripts, 0o644 otherwise.
    pub mode: u32,
    /// What it is, for messages ("check script", "keepalived.conf").
    pub what: String,
}

/// A successful conversion.
#[derive(Debug, Clone)]
pub struct Conversion {
    /// The ldirectord.cf.
    pub cf: String,
    /// Files that belong with it (check scripts, the failover companion).
    pub companions: Vec<Companion>,
    /// Every warning, in line order (each is also a `# WARNING:` comment).
    pub warnings: Vec<Diagnostic>,
}

impl Conversion {
    /// The ldirectord.cf with every companion appended as a comment block:
    /// what `convert` prints when there is no `-o` (still one valid
    /// ldirectord.cf).
    pub fn printable(&self) -> String {
        let mut out = self.cf.clone();
        for c in &self.companions {
            out.push_str(&format!(
                "\n# ----------------------------------------------------------------------\n\
                 # {} {} (convert -o FILE writes it beside FILE):\n#\n",
                c.what,
                c.path.display()
            ));
            for line in c.text.lines() {
                if line.is_empty() {
                    out.push_str("#\n");
                } else {
                    out.push_str(&format!("# {line}\n"));
                }
            }
        }
        out
    }
}

/// Errors and warnings of one conversion, with whether each warning has
/// been written into the output yet.
#[derive(Debug, Default)]
pub struct Notes {
    list: Vec<(Diagnostic, bool)>,
}

impl Notes {
    pub fn error(&mut self, line: usize, col: usize, msg: impl Into<String>) {
        self.list.push((Diagnostic::error(line, col, msg), true));
    }

    /// A warning that the emitter still has to place in the output.
    pub fn warn(&mut self, line: usize, col: usize, msg: impl Into<String>) {
        self.list.push((Diagnostic::warning(line, col, msg), false));
    }

    /// A warning already written into the output by the caller.
    pub fn warn_placed(&mut self, line: usize, msg: impl Into<String>) {
        self.list.push((Diagnostic::warning(line, 0, msg), true));
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|(d, _)| d.is_error())
    }

    /// Every warning not placed yet, by line; they count as placed from
    /// now on (the caller writes them).
    pub fn take_unplaced(&mut self) -> std::collections::BTreeMap<usize, Vec<String>> {
        let mut out = std::collections::BTreeMap::<usize, Vec<String>>::new();
        for (d, placed) in &mut self.list {
            if !*placed {
                *placed = true;
                out.entry(d.line).or_default().push(d.message.clone());
            }
        }
        out
    }

    fn sorted(self) -> Vec<Diagnostic> {
        let mut v: Vec<Diagnostic> = self.list.into_iter().map(|(d, _)| d).collect();
        v.sort_by_key(|d| (d.line, d.col));
        v
    }
}

/// Convert an lvs.cf. `Err` holds every error (and the warnings), in line
/// order.
pub fn convert(text: &str, opts: &Options) -> Result<Conversion, Vec<Diagnostic>> {
    let lexed = lex::lex(text);
    let mut notes = Notes::default();
    let cf = read::read(
        &lexed,
        read::ReadOptions {
            lenient: opts.lenient,
            lookup: opts.lookup,
        },
        &mut notes,
    );
    if notes.has_errors() {
        return Err(notes.sorted());
    }
    let emitted = emit::emit(&cf, opts, &mut notes);
    if notes.has_errors() {
        return Err(notes.sorted());
    }
    Ok(Conversion {
        cf: emitted.cf,
        companions: emitted.companions,
        warnings: notes.sorted(),
    })
}

/// Convert an lvs.cf as the file holds it. Piranha passed bytes through;
/// here the output is UTF-8 text, so a byte that is not UTF-8 is an error
/// wherever it would reach the output as a value (a send string, a device,
/// an address), never silently replaced, as in ldirectord.cf (C30). In a
/// comment line, or in the name of a block (a label, written into
/// comments only), it is replaced.
pub fn convert_bytes(bytes: &[u8], opts: &Options) -> Result<Conversion, Vec<Diagnostic>> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return convert(text, opts);
    }
    let text = String::from_utf8_lossy(bytes);
    let lexed = lex::lex(&text);
    let mut errors = Vec::new();
    for (line, col, byte) in crate::config::invalid_utf8(bytes) {
        let Some(l) = lexed.lines.iter().find(|l| l.no == line) else {
            continue; // a comment or blank line
        };
        let in_name = matches!(
            l.tokens.first().map(|t| t.text.as_str()),
            Some("virtual" | "server" | "failover")
        ) && l
            .tokens
            .get(1)
            .is_some_and(|t| (t.col..t.col + t.text.chars().count()).contains(&col));
        if !in_name {
            errors.push(Diagnostic::error(
                line,
                col,
                format!(
                    "byte 0x{byte:02X} is not UTF-8: the converted file is UTF-8 and this value \
                     would change (convert the lvs.cf first, e.g. with iconv -f LATIN1 -t UTF-8)"
                ),
            ));
        }
    }
    match convert(&text, opts) {
        Ok(c) if errors.is_empty() => Ok(c),
        Ok(_) => Err(errors),
        Err(mut d) => {
            d.extend(errors);
            d.sort_by_key(|d| (d.line, d.col));
            Err(d)
        }
    }
}

/// `path:line: warning: message` (a warning of the file as a whole, line
/// 0: `path: warning: message`).
pub fn render_warning(d: &Diagnostic, path: &Path) -> String {
    debug_assert_eq!(d.severity, Severity::Warning);
    if d.line == 0 {
        format!("{}: warning: {}\n", path.display(), d.message)
    } else {
        format!("{}:{}: warning: {}\n", path.display(), d.line, d.message)
    }
}
