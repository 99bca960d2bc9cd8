//! pest pairs → [`RawFile`]: the directives of a file as written, with
//! their positions (or, for the common shape of file, the same from
//! [`super::scan`]). No meaning is given to any value here (that is
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
/// Every text of a [`RawFile`] borrows from the file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawValue<'a> {
    pub text: &'a str,
    pub pos: Pos,
}

/// `name[ = value]` on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDirective<'a> {
    pub name: &'a str,
    pub pos: Pos,
    /// Whether an `=` followed the name (a bare `supervised` has none).
    pub has_eq: bool,
    pub value: Option<RawValue<'a>>,
}

impl<'a> RawDirective<'a> {
    /// The value text, or "" when absent.
    pub fn text(&self) -> &'a str {
        self.value.as_ref().map_or("", |v| v.text)
    }

    /// Position of the value, or just after the name when absent.
    pub fn value_pos(&self) -> Pos {
        match &self.value {
            Some(v) => v.pos,
            None => Pos {
                line: self.pos.line,
                col: self.pos.col + self.name.chars().count(),
            },
        }
    }
}

/// A line of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockLine<'a> {
    Directive(RawDirective<'a>),
    /// Text that does not start with a directive name.
    Junk {
        text: &'a str,
        pos: Pos,
    },
}

/// A `virtual=` line and the lines of its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBlock<'a> {
    pub v6: bool,
    pub pos: Pos,
    pub value: Option<RawValue<'a>>,
    pub lines: Vec<BlockLine<'a>>,
}

/// An item of the top level, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawItem<'a> {
    Global(RawDirective<'a>),
    Virtual(RawBlock<'a>),
    /// A column-0 line that does not start with a directive name.
    Junk {
        text: &'a str,
        pos: Pos,
    },
    /// An indented line outside any block (or indented by 1-3 columns).
    Stray {
        text: &'a str,
        pos: Pos,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawFile<'a> {
    pub items: Vec<RawItem<'a>>,
}

/// Byte offsets → line/column, for offsets asked in increasing order (the
/// order of the pairs): each call scans only the text since the last one,
/// so positions cost nothing like a search per directive. (pest's own
/// `line_col` walks from the start each time: quadratic on large files.)
struct Cursor<'a> {
    text: &'a str,
    /// Where the last call stopped, the line it is on and where that
    /// line starts.
    at: usize,
    line: usize,
    line_start: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor {
            text,
            at: 0,
            line: 1,
            line_start: 0,
        }
    }

    fn pos(&mut self, offset: usize) -> Pos {
        debug_assert!(offset >= self.at, "positions are asked in file order");
        let gap = &self.text.as_bytes()[self.at..offset];
        if let Some(last) = gap.iter().rposition(|&b| b == b'\n') {
            self.line += 1 + gap[..last].iter().filter(|&&b| b == b'\n').count();
            self.line_start = self.at + last + 1;
        }
        self.at = offset;
        Pos {
            line: self.line,
            col: self.text[self.line_start..offset].chars().count() + 1,
        }
    }
}

/// Split `text` into raw items. Never fails.
///
/// The common shape of file is read by [`super::scan`], which gives what
/// the grammar gives at a fraction of pest's cost; pest reads the rest.
pub fn parse(text: &str) -> RawFile<'_> {
    super::scan::parse(text).unwrap_or_else(|| parse_pest(text))
}

/// [`parse`] by the grammar alone: the definition [`super::scan`] is
/// tested against.
pub fn parse_pest(text: &str) -> RawFile<'_> {
    let file = match CfParser::parse(Rule::file, text) {
        Ok(mut pairs) => pairs.next().expect("file rule"),
        // The grammar has a catch-all for every kind of line, so this is
        // unreachable; degrade to an empty file rather than panic.
        Err(_) => return RawFile::default(),
    };
    let mut at = Cursor::new(text);
    let mut items = Vec::new();
    for pair in file.into_inner() {
        match pair.as_rule() {
            Rule::virtual_block => items.push(RawItem::Virtual(block(pair, &mut at))),
            Rule::global_directive => items.push(RawItem::Global(directive(pair, &mut at))),
            Rule::junk => items.push(RawItem::Junk {
                pos: at.pos(pair.as_span().start()),
                text: pair.as_str().trim_end(),
            }),
            Rule::stray_line => items.push(RawItem::Stray {
                pos: at.pos(pair.as_span().start()),
                text: pair.as_str().trim_end(),
            }),
            _ => {} // comment text, EOI
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

fn block<'a>(pair: Pair<'a, Rule>, at: &mut Cursor<'a>) -> RawBlock<'a> {
    let mut inner = pair.into_inner();
    let vline = inner.next().expect("virtual line");
    let pos = at.pos(vline.as_span().start());
    let mut v6 = false;
    let mut value = None;
    for p in vline.into_inner() {
        match p.as_rule() {
            Rule::virtual_kw => v6 = p.as_str().ends_with('6'),
            Rule::block_value => value = raw_value(&p, at),
            _ => {}
        }
    }
    let mut lines = Vec::new();
    for p in inner {
        match p.as_rule() {
            Rule::block_directive => lines.push(BlockLine::Directive(directive(p, at))),
            Rule::junk => lines.push(BlockLine::Junk {
                pos: at.pos(p.as_span().start()),
                text: p.as_str().trim_end(),
            }),
            _ => {} // comment text
        }
    }
    RawBlock {
        v6,
        pos,
        value,
        lines,
    }
}

fn directive<'a>(pair: Pair<'a, Rule>, at: &mut Cursor<'a>) -> RawDirective<'a> {
    let pos = at.pos(pair.as_span().start());
    // The directive runs from its name to the end of its line.
    let line = pair.as_str();
    let mut name = "";
    let mut value = None;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::name => name = p.as_str(),
            Rule::block_value | Rule::global_value => value = raw_value(&p, at),
            _ => {}
        }
    }
    // `has_eq` must not be fooled by an `=` inside a comment: with no
    // value, it is the `=` right after the name (and blanks).
    let has_eq = line.contains('=')
        && (value.is_some()
            || line[name.len()..]
                .trim_start_matches([' ', '\t', '\r'])
                .starts_with('='));
    RawDirective {
        name,
        pos,
        has_eq,
        value,
    }
}

/// The value without its trailing blanks; `None` when nothing is left.
fn raw_value<'a>(p: &Pair<'a, Rule>, at: &mut Cursor<'a>) -> Option<RawValue<'a>> {
    let text = p.as_str().trim_end_matches([' ', '\t', '\r', '\x0c']);
    (!text.is_empty()).then(|| RawValue {
        text,
        pos: at.pos(p.as_span().start()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<RawItem<'_>> {
        parse(text).items
    }

    #[test]
    fn globals_and_blocks() {
        let f = items("checktimeout = 3\nvirtual=1.2.3.4:80\n\treal=5.6.7.8:80 gate\n    service=http\nquiescent=yes\n");
        assert_eq!(f.len(), 3);
        let RawItem::Global(d) = &f[0] else { panic!() };
        assert_eq!((d.name, d.text()), ("checktimeout", "3"));
        assert_eq!(d.value.as_ref().unwrap().pos, Pos { line: 1, col: 16 });
        let RawItem::Virtual(b) = &f[1] else { panic!() };
        assert_eq!(b.value.as_ref().unwrap().text, "1.2.3.4:80");
        assert_eq!(b.lines.len(), 2);
        let BlockLine::Directive(r) = &b.lines[0] else {
            panic!()
        };
        assert_eq!((r.name, r.text()), ("real", "5.6.7.8:80 gate"));
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
        assert!(matches!(&f[0], RawItem::Junk { text, .. } if *text == "[vip]"));
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
