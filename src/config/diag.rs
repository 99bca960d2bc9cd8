//! Diagnostics of a configuration file: position, severity, message, and
//! the rustc-like rendering `path:line:col: error: message` + the line + a
//! caret. Owns no parsing logic.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// 1-based line; 0 for problems of the file as a whole.
    pub line: usize,
    /// 1-based column (in characters).
    pub col: usize,
    pub message: String,
}

impl Diagnostic {
    pub fn error(line: usize, col: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            line,
            col,
            message: message.into(),
        }
    }

    pub fn warning(line: usize, col: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            line,
            col,
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Render as `path:line:col: error: message`, then the offending line
    /// and a caret under the column.
    pub fn render(&self, path: &Path, source: &str) -> String {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.line == 0 {
            return format!("{}: {kind}: {}\n", path.display(), self.message);
        }
        let mut out = format!(
            "{}:{}:{}: {kind}: {}\n",
            path.display(),
            self.line,
            self.col,
            self.message
        );
        if let Some(text) = source.split('\n').nth(self.line - 1) {
            let text = text.trim_end_matches('\r');
            // Tabs are shown as one space so that the caret lines up
            // whatever the terminal's tab width.
            let shown: String = text
                .chars()
                .map(|c| if c == '\t' { ' ' } else { c })
                .collect();
            let width = self.col.saturating_sub(1).min(shown.chars().count());
            out.push_str(&format!("    {shown}\n    {}^\n", " ".repeat(width)));
        }
        out
    }
}

/// Every problem of a file that failed to load (errors and warnings, in
/// line order).
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub path: PathBuf,
    pub source_text: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    /// A file that could not be read at all.
    pub fn unreadable(path: &Path, message: String) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            source_text: String::new(),
            diagnostics: vec![Diagnostic::error(0, 0, message)],
        }
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The first error (the one upstream would have stopped at).
    pub fn first_error(&self) -> Option<&Diagnostic> {
        self.errors().next()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            f.write_str(&d.render(&self.path, &self.source_text))?;
        }
        let n = self.errors().count();
        write!(
            f,
            "{}: {n} error{} in configuration",
            self.path.display(),
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for ConfigError {}
