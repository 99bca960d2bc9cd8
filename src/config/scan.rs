//! The common shape of ldirectord.cf, read without pest: the same
//! [`RawFile`] that `grammar/ldirectord.pest` gives, at a small fraction of
//! its cost (pest spends thousands of instructions per line in per-rule
//! bookkeeping).
//!
//! The grammar stays the definition. This scanner follows it rule by rule
//! (each function names the rule it stands for) and takes only files
//! without a CR or a form feed, where a blank is a space or a tab; for
//! any other file it answers `None` and pest reads it
//! ([`super::parser::parse`]). That it gives exactly pest's `RawFile` for
//! every input it takes is asserted by a differential test
//! (`tests/config_parse.rs`) and by the fuzz target.
//!
//! Like the grammar it gives no meaning to any value (that is
//! `resolve.rs`), and nothing here fails.

use super::parser::{BlockLine, Pos, RawBlock, RawDirective, RawFile, RawItem, RawValue};

/// `text` split into raw items, or `None` when it has a CR or a form feed
/// (pest reads those files).
pub fn parse(text: &str) -> Option<RawFile<'_>> {
    let bytes = text.as_bytes();
    if memchr::memchr2(b'\r', b'\x0c', bytes).is_some() {
        return None;
    }
    let mut items = Vec::new();
    let mut block: Option<RawBlock<'_>> = None;
    // The lines of the open block, moved into it (one allocation of the
    // right size) when it ends.
    let mut lines = Vec::new();
    let (mut start, mut number) = (0, 0);
    // `file = { SOI ~ (virtual_block | top_line)* ~ EOI }`: every line
    // ends in a newline or at the end of the text; nothing follows the
    // last newline when the text ends with one.
    while start < text.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(text.len(), |i| start + i);
        number += 1;
        let line = Line {
            text: &text[start..end],
            number,
        };
        start = end + 1;
        // `virtual_block = { virtual_line ~ (block_line | blank_line |
        // comment_line)* }`: a line that is none of these ends the block.
        if let Some(b) = &mut block {
            if let Some(l) = block_line(&line) {
                lines.push(l);
                continue;
            }
            if blank_line(&line) || comment_line(&line) {
                continue;
            }
            b.lines.reserve_exact(lines.len());
            b.lines.append(&mut lines);
            items.push(RawItem::Virtual(block.take().expect("open block")));
        }
        if let Some(b) = virtual_line(&line) {
            block = Some(b);
        } else if let Some(item) = top_line(&line) {
            items.push(item);
        }
    }
    if let Some(mut b) = block {
        b.lines = lines;
        items.push(RawItem::Virtual(b));
    }
    Some(RawFile { items })
}

/// One line, without its newline.
struct Line<'a> {
    text: &'a str,
    number: usize,
}

impl Line<'_> {
    /// The position of byte `at` of the line, whose bytes before it are
    /// known to be ASCII (indentation, `virtual=`, an ASCII name and `=`).
    fn ascii_pos(&self, at: usize) -> Pos {
        Pos {
            line: self.number,
            col: at + 1,
        }
    }

    /// The position of byte `at` of the line: columns count characters.
    fn pos(&self, at: usize) -> Pos {
        Pos {
            line: self.number,
            col: self.text[..at].chars().count() + 1,
        }
    }
}

/// `ws` (with neither CR nor form feed in the text).
fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The first byte at or after `at` that is no blank.
fn skip_ws(s: &[u8], mut at: usize) -> usize {
    while at < s.len() && is_ws(s[at]) {
        at += 1;
    }
    at
}

/// `blank_line = _{ ws* ~ nl | ws+ ~ EOI }` (a line here is never empty
/// at the end of the text).
fn blank_line(line: &Line<'_>) -> bool {
    line.text.bytes().all(is_ws)
}

/// `comment_line = _{ ws* ~ "#" ~ rest ~ eol }`
fn comment_line(line: &Line<'_>) -> bool {
    let s = line.text.as_bytes();
    s.get(skip_ws(s, 0)) == Some(&b'#')
}

/// `virtual_line = ${ virtual_kw ~ ws* ~ "=" ~ ws* ~ block_value ~
/// block_comment? ~ eol }`, with
/// `virtual_kw = @{ "virtual" ~ "6"? ~ !(ASCII_ALPHANUMERIC | "_" | "-") }`.
fn virtual_line<'a>(line: &Line<'a>) -> Option<RawBlock<'a>> {
    let s = line.text.as_bytes();
    let mut at = "virtual".len();
    if !s.starts_with(b"virtual") {
        return None;
    }
    let v6 = s.get(at) == Some(&b'6');
    if v6 {
        at += 1;
    }
    if s.get(at)
        .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    {
        return None;
    }
    at = skip_ws(s, at);
    if s.get(at) != Some(&b'=') {
        return None;
    }
    let from = skip_ws(s, at + 1);
    // The comment, if any, runs to the end of the line.
    let to = block_value(s, from);
    Some(RawBlock {
        v6,
        pos: line.ascii_pos(0),
        value: raw_value(line, from, to, true),
        lines: Vec::new(),
    })
}

/// `block_line = _{ block_indent ~ !"#" ~ (block_directive ~ eol |
/// !(ws* ~ eol) ~ junk ~ eol) }`
fn block_line<'a>(line: &Line<'a>) -> Option<BlockLine<'a>> {
    let s = line.text.as_bytes();
    // `block_indent = _{ ("\t" | "    " | " " ~ (" " ~ " "?)? ~ "\t") ~
    // (" " | "\t")* }`: four spaces, or a tab after at most three.
    let spaces = s.iter().take_while(|&&c| c == b' ').count();
    if spaces < 4 && s.get(spaces) != Some(&b'\t') {
        return None;
    }
    let at = skip_ws(s, spaces);
    match s.get(at) {
        None | Some(b'#') => None,
        Some(_) => Some(match directive(line, at, Kind::Block) {
            Some(d) => BlockLine::Directive(d),
            // `junk = @{ !"\n" ~ ANY ~ rest }`
            None => BlockLine::Junk {
                text: line.text[at..].trim_end(),
                pos: line.ascii_pos(at),
            },
        }),
    }
}

/// `top_line = _{ blank_line | comment_line | global_line | stray_line }`
/// (`None` for blank and comment lines).
fn top_line<'a>(line: &Line<'a>) -> Option<RawItem<'a>> {
    if blank_line(line) || comment_line(line) {
        return None;
    }
    let text = line.text;
    Some(if is_ws(text.as_bytes()[0]) {
        // `stray_line = ${ stray_indent ~ rest ~ eol }`
        RawItem::Stray {
            text: text.trim_end(),
            pos: line.ascii_pos(0),
        }
    } else {
        // `global_line = _{ !ws ~ (global_directive ~ eol | junk ~ eol) }`
        match directive(line, 0, Kind::Global) {
            Some(d) => RawItem::Global(d),
            None => RawItem::Junk {
                text: text.trim_end(),
                pos: line.ascii_pos(0),
            },
        }
    })
}

/// Where a directive stands: what ends its value differs.
#[derive(Clone, Copy)]
enum Kind {
    Block,
    Global,
}

/// `block_directive`/`global_directive = ${ name ~ (ws* ~ "=" ~ ws* ~
/// value)? ~ ws* ~ comment? }`, followed by the end of the line; `None`
/// when the line has more (then it is junk).
fn directive<'a>(line: &Line<'a>, at: usize, kind: Kind) -> Option<RawDirective<'a>> {
    let s = line.text.as_bytes();
    // `name = @{ ASCII_ALPHA ~ ASCII_ALPHANUMERIC* ~ (!(" " | "\t" | "\r" |
    // "=" | "#" | "\n") ~ ANY)* }`
    if !s[at].is_ascii_alphabetic() {
        return None;
    }
    let name_end = at
        + s[at..]
            .iter()
            .position(|&c| matches!(c, b' ' | b'\t' | b'=' | b'#'))
            .unwrap_or(s.len() - at);
    let after = skip_ws(s, name_end);
    let (has_eq, value) = if s.get(after) == Some(&b'=') {
        let from = skip_ws(s, after + 1);
        // The value ends at a comment (which runs to the end of the line)
        // or at the end of the line.
        let to = match kind {
            Kind::Block => block_value(s, from),
            Kind::Global => global_value(s, from),
        };
        let ascii = s[at..name_end].is_ascii();
        (true, raw_value(line, from, to, ascii))
    } else {
        // No value: then only a comment may follow.
        match s.get(after) {
            None | Some(b'#') => (false, None),
            Some(_) => return None,
        }
    };
    Some(RawDirective {
        name: &line.text[at..name_end],
        pos: line.ascii_pos(at),
        has_eq,
        value,
    })
}

/// `block_value = @{ block_run ~ ((quoted | "\"") ~ block_run)* }` with
/// `block_run = @{ (!("\n" | "#" | "\"") ~ ANY)* }`: the end of the value
/// that starts at `at`.
fn block_value(s: &[u8], mut at: usize) -> usize {
    loop {
        match memchr::memchr2(b'#', b'"', &s[at..]) {
            None => return s.len(),
            Some(i) if s[at + i] == b'#' => return at + i,
            Some(i) => at = after_quote(s, at + i),
        }
    }
}

/// `global_value = @{ global_run ~ ((quoted | "\"") ~ global_run)* }` with
/// `global_run = @{ (!("\n" | " #" | "\t#" | "\r#" | "\"") ~ ANY)* }`: a
/// `#` ends the value only after a blank.
fn global_value(s: &[u8], mut at: usize) -> usize {
    while at < s.len() {
        match s[at] {
            b'"' => at = after_quote(s, at),
            c if is_ws(c) && s.get(at + 1) == Some(&b'#') => return at,
            _ => at += 1,
        }
    }
    s.len()
}

/// `quoted | "\""` at the quote at `at`: a closed string, or the quote
/// alone (`quoted = @{ "\"" ~ (!("\"" | "\n") ~ ANY)* ~ "\"" }`).
fn after_quote(s: &[u8], at: usize) -> usize {
    match memchr::memchr(b'"', &s[at + 1..]) {
        Some(i) => at + 1 + i + 1,
        None => at + 1,
    }
}

/// `parser::raw_value`: the value without its trailing blanks; `None`
/// when nothing is left. `ascii`: the line is ASCII up to `from`.
fn raw_value<'a>(line: &Line<'a>, from: usize, to: usize, ascii: bool) -> Option<RawValue<'a>> {
    let text = line.text[from..to].trim_end_matches([' ', '\t', '\r', '\x0c']);
    (!text.is_empty()).then(|| RawValue {
        text,
        pos: if ascii {
            line.ascii_pos(from)
        } else {
            line.pos(from)
        },
    })
}
