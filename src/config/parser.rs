//! pest pairs → [`RawFile`]: the directives of a file as written, with
//! their positions. No meaning is given to any value here (that is
//! `resolve.rs`), and nothing here fails: the grammar accepts every input.

use pest::iterators::Pair;
use pest::Parser;
use pest_derive::Parser;

#[derive(Parser)]
#[grammar = "../grammar/ldirectord.pest"]
struct CfParser;

/// A position in the file: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A value as written: the text between `=` and the comment, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawValue {
    pub text: String,
    pub pos: Pos,
}

/// `name[ = value]` on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDirective {
    pub name: String,
    pub pos: Pos,
    /// Whether an `=` followed the name (a bare `supervised` has none).
    pub has_eq: bool,
    pub value: Option<RawValue>,
}

impl RawDirective {
    /// The value text, or "" when absent.
    pub fn text(&self) -> &str {
        self.value.as_ref().map_or("", |v| v.text.as_str())
    }

    /// Position of the value, or just after the name when absent.
    pub fn value_pos(&self) -> Pos {
        self.value.as_ref().map_or(
            Pos {
                line: self.pos.line,
                col: self.pos.col + self.name.chars().count(),
            },
            |v| v.pos,
        )
    }
}

/// A line of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockLine {
    Directive(RawDirective),
    /// Text that does not start with a directive name.
    Junk {
        text: String,
        pos: Pos,
    },
}

/// A `virtual=` line and the lines of its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBlock {
    pub v6: bool,
    pub pos: Pos,
    pub value: Option<RawValue>,
    pub lines: Vec<BlockLine>,
}

/// An item of the top level, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawItem {
    Global(RawDirective),
    Virtual(RawBlock),
    /// A column-0 line that does not start with a directive name.
    Junk {
        text: String,
        pos: Pos,
    },
    /// An indented line outside any block (or indented by 1-3 columns).
    Stray {
        text: String,
        pos: Pos,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawFile {
    pub items: Vec<RawItem>,
}

/// Maps byte offsets to line/column without rescanning the input
/// (pest's own `line_col` walks from the start each time: quadratic on
/// large files).
struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    fn pos(&self, offset: usize) -> Pos {
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.starts[line];
        let col = self.text[start..offset].chars().count() + 1;
        Pos {
            line: line + 1,
            col,
        }
    }
}

/// Split `text` into raw items. Never fails.
pub fn parse(text: &str) -> RawFile {
    let index = LineIndex::new(text);
    let file = match CfParser::parse(Rule::file, text) {
        Ok(mut pairs) => pairs.next().expect("file rule"),
        // The grammar has a catch-all for every kind of line, so this is
        // unreachable; degrade to an empty file rather than panic.
        Err(_) => return RawFile::default(),
    };
    let mut items = Vec::new();
    for pair in file.into_inner() {
        match pair.as_rule() {
            Rule::virtual_block => items.push(RawItem::Virtual(block(pair, &index))),
            Rule::global_line => {
                let inner = pair.into_inner().next().expect("line content");
                items.push(match inner.as_rule() {
                    Rule::global_directive => RawItem::Global(directive(inner, &index)),
                    _ => RawItem::Junk {
                        text: inner.as_str().trim_end().to_string(),
                        pos: index.pos(inner.as_span().start()),
                    },
                });
            }
            Rule::stray_line => {
                let pos = index.pos(pair.as_span().start());
                items.push(RawItem::Stray {
                    text: pair.as_str().trim_end().to_string(),
                    pos,
                });
            }
            _ => {} // blank and comment lines, EOI
        }
    }
    RawFile { items }
}

/// The text of a file that means something: (line, first column, column
/// after the end) of each directive (name to the end of its value), each
/// `virtual=` line and each line that is no directive. What is not in a
/// span is blank, a comment or a line end.
pub fn spans(f: &RawFile) -> Vec<(usize, usize, usize)> {
    let text_span = |text: &str, pos: Pos| (pos.line, pos.col, pos.col + text.chars().count());
    let directive = |d: &RawDirective| {
        let end = d
            .value
            .as_ref()
            .map_or(d.pos.col + d.name.chars().count(), |v| {
                v.pos.col + v.text.chars().count()
            });
        (d.pos.line, d.pos.col, end)
    };
    let mut out = Vec::new();
    for item in &f.items {
        match item {
            RawItem::Global(d) => out.push(directive(d)),
            RawItem::Junk { text, pos } | RawItem::Stray { text, pos } => {
                out.push(text_span(text, *pos))
            }
            RawItem::Virtual(b) => {
                let end = b
                    .value
                    .as_ref()
                    .map_or(b.pos.col + 7, |v| v.pos.col + v.text.chars().count());
                out.push((b.pos.line, b.pos.col, end));
                for l in &b.lines {
                    out.push(match l {
                        BlockLine::Directive(d) => directive(d),
                        BlockLine::Junk { text, pos } => text_span(text, *pos),
                    });
                }
            }
        }
    }
    out
}

fn block(pair: Pair<'_, Rule>, index: &LineIndex<'_>) -> RawBlock {
    let mut inner = pair.into_inner();
    let vline = inner.next().expect("virtual line");
    let pos = index.pos(vline.as_span().start());
    let mut v6 = false;
    let mut value = None;
    for p in vline.into_inner() {
        match p.as_rule() {
            Rule::virtual_kw => v6 = p.as_str().ends_with('6'),
            Rule::block_value => value = raw_value(&p, index),
            _ => {}
        }
    }
    let mut lines = Vec::new();
    for p in inner {
        if p.as_rule() != Rule::block_line {
            continue;
        }
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::block_directive => lines.push(BlockLine::Directive(directive(q, index))),
                Rule::junk => lines.push(BlockLine::Junk {
                    text: q.as_str().trim_end().to_string(),
                    pos: index.pos(q.as_span().start()),
                }),
                _ => {}
            }
        }
    }
    RawBlock {
        v6,
        pos,
        value,
        lines,
    }
}

fn directive(pair: Pair<'_, Rule>, index: &LineIndex<'_>) -> RawDirective {
    let pos = index.pos(pair.as_span().start());
    let has_eq = pair.as_str().contains('=');
    let mut name = String::new();
    let mut value = None;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::name => name = p.as_str().to_string(),
            Rule::block_value | Rule::global_value => value = raw_value(&p, index),
            _ => {}
        }
    }
    // `has_eq` must not be fooled by an `=` inside a comment.
    let has_eq = has_eq && (value.is_some() || eq_follows_name(&name, index, pos));
    RawDirective {
        name,
        pos,
        has_eq,
        value,
    }
}

/// Whether the character after the name (and blanks) is `=`.
fn eq_follows_name(name: &str, index: &LineIndex<'_>, pos: Pos) -> bool {
    let start = index.starts[pos.line - 1];
    let line = index.text[start..].split('\n').next().unwrap_or("");
    let after: String = line
        .chars()
        .skip(pos.col - 1 + name.chars().count())
        .collect();
    after.trim_start_matches([' ', '\t', '\r']).starts_with('=')
}

/// The value without its trailing blanks; `None` when nothing is left.
fn raw_value(p: &Pair<'_, Rule>, index: &LineIndex<'_>) -> Option<RawValue> {
    let text = p.as_str().trim_end_matches([' ', '\t', '\r', '\x0c']);
    (!text.is_empty()).then(|| RawValue {
        text: text.to_string(),
        pos: index.pos(p.as_span().start()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<RawItem> {
        parse(text).items
    }

    #[test]
    fn globals_and_blocks() {
        let f = items("checktimeout = 3\nvirtual=1.2.3.4:80\n\treal=5.6.7.8:80 gate\n    service=http\nquiescent=yes\n");
        assert_eq!(f.len(), 3);
        let RawItem::Global(d) = &f[0] else { panic!() };
        assert_eq!((d.name.as_str(), d.text()), ("checktimeout", "3"));
        assert_eq!(d.value.as_ref().unwrap().pos, Pos { line: 1, col: 16 });
        let RawItem::Virtual(b) = &f[1] else { panic!() };
        assert_eq!(b.value.as_ref().unwrap().text, "1.2.3.4:80");
        assert_eq!(b.lines.len(), 2);
        let BlockLine::Directive(r) = &b.lines[0] else {
            panic!()
        };
        assert_eq!((r.name.as_str(), r.text()), ("real", "5.6.7.8:80 gate"));
        assert_eq!(r.pos, Pos { line: 3, col: 2 });
        assert!(matches!(&f[2], RawItem::Global(d) if d.name == "quiescent"));
    }

    #[test]
    fn comments_in_blocks_and_quotes() {
        let f =
            items("virtual=1.2.3.4:80 # web\n\trequest=\"/a#b\" # c\n# col0\n\treal=x gate #c\n");
        let RawItem::Virtual(b) = &f[0] else { panic!() };
        assert_eq!(b.value.as_ref().unwrap().text, "1.2.3.4:80");
        assert_eq!(b.lines.len(), 2);
        let BlockLine::Directive(r) = &b.lines[0] else {
            panic!()
        };
        assert_eq!(r.text(), "\"/a#b\"");
        let BlockLine::Directive(r) = &b.lines[1] else {
            panic!()
        };
        assert_eq!(r.text(), "x gate");
    }

    #[test]
    fn global_comment_needs_a_blank_before_it() {
        let f = items("emailalertfrom=a#b\nquiescent = yes # c\r\n");
        let RawItem::Global(d) = &f[0] else { panic!() };
        assert_eq!(d.text(), "a#b");
        let RawItem::Global(d) = &f[1] else { panic!() };
        assert_eq!(d.text(), "yes");
    }

    #[test]
    fn indentation_rules() {
        // 3 spaces: stray; blank lines stay in the block; 5 spaces alone is
        // a blank line.
        let f = items("virtual=1.2.3.4:80\n\treal=a gate\n\n     \n  \t x=1\n   y=2\n");
        let RawItem::Virtual(b) = &f[0] else { panic!() };
        assert_eq!(b.lines.len(), 2, "{b:?}");
        assert!(matches!(&f[1], RawItem::Stray { pos, .. } if pos.line == 6));
    }

    /// A CRLF file reads like its LF twin, blank-only lines inside a block
    /// included (a line of blanks then ends in a CR, which was read as a
    /// directive with no name: `Unknown command ""`).
    #[test]
    fn a_crlf_file_reads_like_its_lf_twin() {
        let lf = "virtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n    \n\t\n  \n\n\
                  \tservice=http\n# c\n\t# c\nquiescent=yes\n";
        let crlf = lf.replace('\n', "\r\n");
        let strip =
            |f: RawFile| -> Vec<String> { f.items.iter().map(|i| format!("{i:?}")).collect() };
        assert_eq!(strip(parse(&crlf)), strip(parse(lf)));
        let RawItem::Virtual(b) = &parse(&crlf).items[0] else {
            panic!()
        };
        assert_eq!(b.lines.len(), 2, "{b:?}");
    }

    #[test]
    fn junk_and_bare_words() {
        let f = items("[vip]\nsupervised\nsupervised # x\n\tfoo\n");
        assert!(matches!(&f[0], RawItem::Junk { text, .. } if text == "[vip]"));
        assert!(matches!(&f[1], RawItem::Global(d) if d.name == "supervised" && !d.has_eq));
        assert!(matches!(&f[2], RawItem::Global(d) if d.name == "supervised" && !d.has_eq));
        assert!(matches!(&f[3], RawItem::Stray { .. }));
    }

    #[test]
    fn never_fails() {
        for s in [
            "",
            "\n",
            "=",
            "virtual",
            "virtual=",
            "\"",
            "\t\t",
            "\u{feff}x",
            "virtual=\n\t\"\n",
        ] {
            let _ = parse(s);
        }
    }
}
