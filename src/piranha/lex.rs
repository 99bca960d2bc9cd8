//! lvs.cf's lexical layer, by Piranha 0.8.6's own rules (reference §2;
//! `lvsconfig.c` `getNextToks`/`tokenizeString`, `getNum`, glibc
//! `inet_aton`): physical lines, whole-line comments, blank-separated
//! tokens, quoted values; and the two value readers every directive uses
//! (C `strtol` with base 0, `inet_aton`).
//!
//! The lexer always reads the whole file the way a person would (every
//! line, CRLF or not; a quoted value followed by blanks) and records as a
//! [`Quirk`] each place where Piranha itself read something else. The
//! reader turns a quirk into an error, or, with `--lenient`, a warning.
//! Nothing here knows a directive.

use std::net::Ipv4Addr;

/// One token of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The text, without the quotes of a quoted token. No escape
    /// processing: Piranha's parser does none (nanny does, §10.4).
    pub text: String,
    /// 1-based column (in characters) where the token starts.
    pub col: usize,
    /// `'"'` or `'\''` for a quoted token.
    pub quote: Option<char>,
}

/// Where Piranha read a line differently from us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quirk {
    /// A quoted value without inner blanks followed by blanks or more text
    /// (`expect = "HTTP" `): Piranha looked for another closing quote.
    QuotedThenBlank { col: usize },
    /// `key=value` (or `key= value`, `key =value`): Piranha wants `=` as a
    /// token of its own.
    GluedEquals { col: usize },
}

/// A physical line that is not blank and not a whole-line comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based physical line number.
    pub no: usize,
    pub tokens: Vec<Token>,
    pub quirks: Vec<Quirk>,
    /// An opening quote that never closes (Piranha: "quotation
    /// mismatch"); its column. The tokens before it are kept.
    pub bad_quote: Option<usize>,
}

/// A whole file, tokenized.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexed {
    pub lines: Vec<Line>,
    /// Line numbers that ended in CR LF. Piranha splits at the first CR and
    /// then skips every following line (each starts with the LF): it read
    /// line 1 only.
    pub crlf: Vec<usize>,
    /// The file was empty (Piranha: "Empty configuration").
    pub empty: bool,
    /// A NUL byte: Piranha's C string ends there. Its line.
    pub nul_at: Option<usize>,
    /// The number of physical lines.
    pub line_count: usize,
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Tokenize a whole lvs.cf.
pub fn lex(text: &str) -> Lexed {
    let mut out = Lexed {
        empty: text.is_empty(),
        ..Lexed::default()
    };
    // Piranha works on a C string: nothing after a NUL exists for it.
    let text = match text.find('\0') {
        Some(at) => {
            out.nul_at = Some(text[..at].matches('\n').count() + 1);
            &text[..at]
        }
        None => text,
    };
    for (i, raw) in text.split('\n').enumerate() {
        let no = i + 1;
        out.line_count = no;
        let line = match raw.strip_suffix('\r') {
            Some(l) => {
                out.crlf.push(no);
                l
            }
            None => raw,
        };
        if let Some(l) = tokenize_line(line, no) {
            out.lines.push(l);
        }
    }
    // A final newline does not start a line of its own.
    if text.ends_with('\n') {
        out.line_count -= 1;
    }
    out
}

/// Characters before byte `at` of `s`, plus one: a 1-based column.
fn col_of(s: &str, at: usize) -> usize {
    s[..at].chars().count() + 1
}

/// Columns of increasing byte positions of one line, each in time
/// proportional to the distance from the previous one (a line of many
/// tokens stays linear).
struct Columns<'a> {
    line: &'a str,
    at: usize,
    col: usize,
}

impl Columns<'_> {
    fn col(&mut self, at: usize) -> usize {
        if at < self.at {
            self.at = 0;
            self.col = 1;
        }
        self.col += self.line[self.at..at].chars().count();
        self.at = at;
        self.col
    }
}

/// One physical line (without its line end) → tokens, or `None` for a
/// blank or whole-line comment line (first non-blank character `#`).
pub fn tokenize_line(line: &str, no: usize) -> Option<Line> {
    let b = line.as_bytes();
    let start = b.iter().position(|&c| !is_blank(c))?;
    if b[start] == b'#' {
        return None;
    }
    let mut quirks = Vec::new();
    // `key=value`: read it as `key = value` (a quirk), so that the lenient
    // reader gets three tokens and the strict one can say why Piranha
    // would not have understood the line.
    let owned;
    let (line, shift) = match glued_equals(line, start) {
        Some(g) => {
            quirks.push(Quirk::GluedEquals {
                col: col_of(line, g.eq),
            });
            owned = g.fixed;
            (owned.as_str(), Some((g.eq, g.before, g.after)))
        }
        None => (line, None),
    };
    // Columns are reported in the line as written: undo the inserted
    // blanks for what follows them.
    let mut columns = Columns {
        line,
        at: 0,
        col: 1,
    };
    let mut orig_col = |at: usize| -> usize {
        let c = columns.col(at);
        match shift {
            Some((eq, before, after)) if at > eq => {
                if at == eq + before {
                    c - before
                } else {
                    c - before - after
                }
            }
            _ => c,
        }
    };
    let b = line.as_bytes();
    let mut tokens = Vec::new();
    let mut bad_quote = None;
    let mut cur = start;
    while cur < b.len() {
        let mut end = cur;
        while end < b.len() && !is_blank(b[end]) {
            end += 1;
        }
        let col = orig_col(cur);
        let (text, next) = match b[cur] {
            q @ (b'"' | b'\'') => {
                let word = &line[cur..end];
                if word.len() >= 2 && word.as_bytes()[word.len() - 1] == q {
                    // The word closes its own quote. When blanks follow,
                    // Piranha scans on for another quote (`tokenizeString`
                    // starts the search at the blank) and fails.
                    if end < b.len() {
                        quirks.push(Quirk::QuotedThenBlank {
                            col: orig_col(end - 1),
                        });
                    }
                    (&line[cur + 1..end - 1], end)
                } else {
                    // The value has blanks in it: up to the next quote.
                    match line[end..].find(q as char) {
                        Some(off) => (&line[cur + 1..end + off], end + off + 1),
                        None => {
                            bad_quote = Some(col);
                            break;
                        }
                    }
                }
            }
            _ => (&line[cur..end], end),
        };
        tokens.push(Token {
            text: text.to_string(),
            col,
            quote: match b[cur] {
                b'"' => Some('"'),
                b'\'' => Some('\''),
                _ => None,
            },
        });
        cur = next;
        while cur < b.len() && is_blank(b[cur]) {
            cur += 1;
        }
    }
    Some(Line {
        no,
        tokens,
        quirks,
        bad_quote,
    })
}

/// A `key=value` line read as `key = value`.
struct Glued {
    /// Byte index of the `=` in the line as written.
    eq: usize,
    fixed: String,
    /// Blanks inserted before and after the `=` (0 or 1 each).
    before: usize,
    after: usize,
}

/// `key=value`, `key= value`, `key =value` at the start of a line (before
/// any quote), rewritten with blanks around the `=`. `key = value` and
/// lines without such an `=` give `None`.
fn glued_equals(line: &str, start: usize) -> Option<Glued> {
    let b = line.as_bytes();
    let mut k = start;
    while k < b.len() && (b[k].is_ascii_alphanumeric() || b[k] == b'_') {
        k += 1;
    }
    if k == start {
        return None;
    }
    let mut eq = k;
    while eq < b.len() && is_blank(b[eq]) {
        eq += 1;
    }
    if eq >= b.len() || b[eq] != b'=' {
        return None;
    }
    let spaced_before = eq > k;
    let spaced_after = eq + 1 == b.len() || is_blank(b[eq + 1]);
    if spaced_before && spaced_after {
        return None;
    }
    let mut fixed = String::with_capacity(line.len() + 2);
    fixed.push_str(&line[..eq]);
    if !spaced_before {
        fixed.push(' ');
    }
    fixed.push('=');
    if !spaced_after {
        fixed.push(' ');
    }
    fixed.push_str(&line[eq + 1..]);
    Some(Glued {
        eq,
        fixed,
        before: usize::from(!spaced_before),
        after: usize::from(!spaced_after),
    })
}

/// C `strtol(s, &end, 0)` as Piranha's `getNum` uses it: leading white
/// space, a sign, `0x` hex, `0` octal, else decimal; anything left over is
/// "integer expected". An empty string is 0 (strtol reads nothing and
/// stops at the terminating NUL). `None` also for values that do not fit
/// in a C `int` (Piranha silently truncated them).
pub fn strtol(s: &str) -> Option<i32> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.is_empty() {
        // Only "" reads as 0: white space alone leaves `end` at the start.
        return if s.is_empty() { Some(0) } else { None };
    }
    let (neg, t) = match t.as_bytes()[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        if h.bytes().next().is_some_and(|c| c.is_ascii_hexdigit()) {
            (16, h)
        } else {
            // strtol reads the "0" and stops at the x.
            return None;
        }
    } else if t.starts_with('0') {
        (8, t)
    } else {
        (10, t)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i64::from_str_radix(digits, radix).ok()?;
    i32::try_from(if neg { -v } else { v }).ok()
}

/// glibc `inet_aton`: one to four parts separated by dots, each decimal,
/// `0x` hex or `0` octal; the last part fills the remaining bytes
/// (`10.1` is 10.0.0.1, `010.0.0.1` is 8.0.0.1).
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut vals = Vec::with_capacity(4);
    for p in &parts {
        let (radix, digits) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X"))
        {
            (16, h)
        } else if p.len() > 1 && p.starts_with('0') {
            (8, &p[1..])
        } else {
            (10, *p)
        };
        // "0x" alone is 0 in glibc; an empty part is not a number.
        if p.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        let v = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        vals.push(v);
    }
    let (last, head) = vals.split_last()?;
    if head.iter().any(|&v| v > 0xff) {
        return None;
    }
    let rest_bits = 8 * (4 - head.len() as u32);
    if rest_bits < 64 && *last >= 1u64 << rest_bits {
        return None;
    }
    let mut n: u64 = 0;
    for (i, v) in head.iter().enumerate() {
        n |= v << (24 - 8 * i);
    }
    n |= last;
    Some(Ipv4Addr::from(n as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(line: &str) -> Vec<String> {
        tokenize_line(line, 1)
            .unwrap()
            .tokens
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn blanks_split_and_quotes_hold_blanks() {
        assert_eq!(toks("primary = 1.2.3.4"), ["primary", "=", "1.2.3.4"]);
        assert_eq!(
            toks("\tsend = \"GET / HTTP/1.0\\r\\n\\r\\n\""),
            ["send", "=", "GET / HTTP/1.0\\r\\n\\r\\n"]
        );
        assert_eq!(toks("send = \"GET / x\"  "), ["send", "=", "GET / x"]);
        assert_eq!(toks("expect = \"\""), ["expect", "=", ""]);
        let l = tokenize_line("expect = 'HTTP'", 3).unwrap();
        assert_eq!(l.tokens[2].quote, Some('\''));
        assert_eq!((l.no, l.tokens[2].col), (3, 10));
    }

    #[test]
    fn comments_are_whole_lines_only() {
        assert!(tokenize_line("   # x = 1", 1).is_none());
        assert!(tokenize_line(" \t ", 1).is_none());
        assert_eq!(toks("port = 80 # web"), ["port", "=", "80", "#", "web"]);
    }

    #[test]
    fn quoted_value_then_blank_is_a_quirk() {
        let l = tokenize_line("expect = \"HTTP\" ", 1).unwrap();
        assert_eq!(l.tokens[2].text, "HTTP");
        assert_eq!(l.quirks, [Quirk::QuotedThenBlank { col: 15 }]);
        let l = tokenize_line("send = \"a b\" ", 1).unwrap();
        assert!(l.quirks.is_empty());
    }

    #[test]
    fn unterminated_quote() {
        let l = tokenize_line("send = \"GET /", 1).unwrap();
        assert_eq!(l.bad_quote, Some(8));
        assert_eq!(l.tokens.len(), 2);
        assert_eq!(tokenize_line("send = \"", 1).unwrap().bad_quote, Some(8));
    }

    #[test]
    fn glued_equals_is_read_and_marked() {
        let l = tokenize_line("primary=1.2.3.4", 1).unwrap();
        assert_eq!(
            l.tokens.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
            ["primary", "=", "1.2.3.4"]
        );
        assert_eq!(l.quirks, [Quirk::GluedEquals { col: 8 }]);
        assert_eq!(l.tokens[2].col, 9);
        assert_eq!(toks("port= 80"), ["port", "=", "80"]);
        assert_eq!(toks("port =80"), ["port", "=", "80"]);
        let l = tokenize_line("send=\"a b\"", 1).unwrap();
        assert_eq!(l.tokens[2].text, "a b");
        assert!(tokenize_line("port = 80", 1).unwrap().quirks.is_empty());
        assert!(tokenize_line("virtual x {", 1).unwrap().quirks.is_empty());
    }

    #[test]
    fn crlf_nul_and_empty() {
        let l = lex("a = 1\r\nb = 2\r\n");
        assert_eq!(l.crlf, [1, 2]);
        assert_eq!(l.lines[1].tokens[2].text, "2");
        assert_eq!(l.line_count, 2);
        assert!(lex("").empty);
        let l = lex("a = 1\nb\0 = 2\nc = 3\n");
        assert_eq!(l.nul_at, Some(2));
        assert_eq!(l.lines.len(), 2);
    }

    #[test]
    fn strtol_base_zero() {
        assert_eq!(strtol("0x1E"), Some(30));
        assert_eq!(strtol("010"), Some(8));
        assert_eq!(strtol("08"), None);
        assert_eq!(strtol("-5"), Some(-5));
        assert_eq!(strtol("+7"), Some(7));
        assert_eq!(strtol("0"), Some(0));
        assert_eq!(strtol(""), Some(0));
        assert_eq!(strtol(" "), None);
        assert_eq!(strtol("yes"), None);
        assert_eq!(strtol("5s"), None);
        assert_eq!(strtol("0x"), None);
        assert_eq!(strtol("99999999999"), None);
    }

    #[test]
    fn inet_aton_forms() {
        let a = |s: &str| inet_aton(s).map(|a| a.to_string());
        assert_eq!(a("192.0.2.1").as_deref(), Some("192.0.2.1"));
        assert_eq!(a("10.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(a("1.2.3").as_deref(), Some("1.2.0.3"));
        assert_eq!(a("010.0.0.1").as_deref(), Some("8.0.0.1"));
        assert_eq!(a("0x7f.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(a("3232235777").as_deref(), Some("192.168.1.1"));
        assert_eq!(a("256.1.1.1"), None);
        assert_eq!(a("1.2.3.4.5"), None);
        assert_eq!(a("09.1.1.1"), None);
        assert_eq!(a("web1"), None);
        assert_eq!(a(""), None);
        assert_eq!(a("1..2"), None);
    }
}
