//! The parser on small files: defaults, inheritance, the real= grammar, and
//! each COMPATIBILITY divergence that the corpus does not already exercise.

use std::path::Path;

use ldirectord::config::{
    self, names::Lookup, CheckType, Config, ConfigError, Family, Forward, Netmask, Options,
    Protocol, Service, VirtualKey,
};

fn opts() -> Options {
    Options {
        lookup: Lookup::HostsFile,
        hostname: "testhost".into(),
    }
}

fn ok(text: &str) -> Config {
    match config::load_str(text, Path::new("t.cf"), &opts()) {
        Ok(l) => l.config,
        Err(e) => panic!("{e}"),
    }
}

fn err(text: &str) -> ConfigError {
    config::load_str(text, Path::new("t.cf"), &opts()).expect_err("should be rejected")
}

/// (line, message) of every error.
fn errors(text: &str) -> Vec<(usize, String)> {
    err(text)
        .errors()
        .map(|d| (d.line, d.message.clone()))
        .collect()
}

#[test]
fn defaults_match_upstream() {
    let c = ok("virtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n");
    let v = &c.virtuals[0];
    assert_eq!(v.service, Service::Http);
    assert_eq!(v.checktype, CheckType::Negotiate);
    assert_eq!((v.checktimeout, v.negotiatetimeout), (5, 30));
    assert_eq!((v.checkinterval, v.failurecount, v.checkcount), (10, 1, 1));
    assert_eq!(v.scheduler, "wrr");
    assert!(!v.quiescent, "quiescent defaults to no in upstream's code");
    assert!(v.cleanstop);
    assert_eq!(v.request, "/");
    assert_eq!(v.reals[0].weight, 1);
    assert_eq!(v.reals[0].forward, Forward::Gate);
}

#[test]
fn timeouts_fall_back_to_each_other() {
    let c = ok("checktimeout=4\nvirtual=192.0.2.10:80\n\tnegotiatetimeout=7\n\treal=192.0.2.21:80 gate\nvirtual=192.0.2.11:80\n\treal=192.0.2.21:80 gate\n");
    assert_eq!(
        (c.virtuals[0].checktimeout, c.virtuals[0].negotiatetimeout),
        (7, 7)
    );
    assert_eq!(
        (c.virtuals[1].checktimeout, c.virtuals[1].negotiatetimeout),
        (4, 4)
    );
}

#[test]
fn dns_port_means_udp_and_fwmark_means_none() {
    let c = ok(
        "virtual=192.0.2.10:domain\n\treal=192.0.2.21:53 gate\nvirtual=5\n\treal=192.0.2.21 gate\n",
    );
    assert!(matches!(
        c.virtuals[0].key,
        VirtualKey::Addr {
            protocol: Protocol::Udp,
            port: 53,
            ..
        }
    ));
    assert_eq!(c.virtuals[0].service, Service::Dns);
    assert_eq!(
        c.virtuals[1].key,
        VirtualKey::Fwmark {
            family: Family::V4,
            mark: 5
        }
    );
    assert_eq!(c.virtuals[1].service, Service::None);
    assert_eq!(c.virtuals[1].reals[0].port, 0);
}

#[test]
fn real_items_in_any_order() {
    let c = ok("virtual=192.0.2.10:80\n\
        \treal=192.0.2.21:80 masq u:20 \"/x\", \"ok 5\" 7 l:10\n\
        \treal=192.0.2.22:80 ipip \"/a\" \"b\"\n");
    let r = &c.virtuals[0].reals[0];
    assert_eq!(
        (r.forward, r.weight, r.lower, r.upper),
        (Forward::Masq, 7, 10, 20)
    );
    assert_eq!(
        (r.request.as_deref(), r.receive.as_deref()),
        (Some("/x"), Some("ok 5"))
    );
    let r = &c.virtuals[0].reals[1];
    assert_eq!(
        (r.forward, r.request.as_deref(), r.receive.as_deref()),
        (Forward::Ipip, Some("/a"), Some("b"))
    );
}

#[test]
fn real_line_errors() {
    for (line, msg) in [
        (
            "\treal=192.0.2.21:80 gate weight 2",
            "Invalid real server line, around \" weight 2\"",
        ),
        (
            "\treal=192.0.2.21:80 gate 2 3",
            "Invalid real server line, around \" 3\"",
        ),
        ("\treal=192.0.2.21:80 gate 70000", "invalid weight 70000"),
        (
            "\treal=192.0.2.21:80 gate l:10",
            "lower threshold l:10 is above the upper threshold u:0",
        ),
        ("\treal=192.0.2.21:80", "a forwarding method"),
        (
            "\treal=192.0.2.21:99999 gate",
            "invalid port (99999) for real server",
        ),
        (
            "\treal=no-such-host.invalid:80 gate",
            "invalid address (no-such-host.invalid) for real server",
        ),
        ("\treal=192.0.2.9->192.0.2.1:80 gate", "Invalid Range"),
        ("\treal=10.0.0.0->10.2.0.0:80 gate", "at most 65536"),
    ] {
        let text = format!("virtual=192.0.2.10:80\n{line}\n");
        let e = errors(&text);
        assert!(
            e.iter().any(|(l, m)| *l == 2 && m.contains(msg)),
            "{line}: {e:?}"
        );
    }
}

#[test]
fn c8_ranges_are_compared_as_numbers() {
    let c = ok("virtual=192.0.2.10:80\n\treal=192.0.2.98->192.0.2.101:80 gate\n");
    let addrs: Vec<String> = c.virtuals[0]
        .reals
        .iter()
        .map(|r| r.addr.to_string())
        .collect();
    assert_eq!(
        addrs,
        ["192.0.2.98", "192.0.2.99", "192.0.2.100", "192.0.2.101"]
    );
}

#[test]
fn c6_virtual_without_port_is_an_error_not_a_fwmark() {
    let e = errors("virtual=192.0.2.1\n\treal=192.0.2.21 gate\n");
    assert!(e[0].1.contains("has no port"), "{e:?}");
    let e = errors("virtual=100abc\n\treal=192.0.2.21 gate\n");
    assert!(
        e[0].1.contains("invalid address for virtual server"),
        "{e:?}"
    );
    let e = errors("virtual=0\n\treal=192.0.2.21 gate\n");
    assert!(e[0].1.contains("firewall mark"), "{e:?}");
}

#[test]
fn c14_global_fallback_applies_per_family_and_to_fwmarks() {
    let c = ok("fallback=127.0.0.1 masq\nfallback6=[::1]:8080\n\
        virtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n\
        virtual=9\n\treal=192.0.2.21 gate\n\
        virtual6=[2001:db8::1]:80\n\treal6=[2001:db8::2]:80 gate\n");
    let f = c.virtuals[0].fallback.as_ref().unwrap();
    assert_eq!(
        (f.addr.to_string().as_str(), f.port, f.forward),
        ("127.0.0.1", None, Forward::Masq)
    );
    assert!(c.virtuals[1].fallback.is_some());
    assert_eq!(c.virtuals[2].fallback.as_ref().unwrap().port, Some(8080));
}

#[test]
fn c16_smtp_keeps_its_port() {
    let c = ok("smtp=mail.example.test:2525\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n");
    assert_eq!(
        c.virtuals[0].smtp.as_deref(),
        Some("mail.example.test:2525")
    );
}

#[test]
fn c17_values_checked_when_read() {
    for (line, msg) in [
        ("\tpersistent=0", "invalid persistent timeout"),
        (
            "\tschedflags=sh-port,bogus",
            "invalid sched-flags \"bogus\"",
        ),
        ("\tnetmask=255.255.255.999", "dotted quad"),
    ] {
        let e = errors(&format!(
            "virtual=192.0.2.10:80\n{line}\n\treal=192.0.2.21:80 gate\n"
        ));
        assert!(
            e.iter().any(|(l, m)| *l == 2 && m.contains(msg)),
            "{line}: {e:?}"
        );
    }
    let e = errors("logfile=\"notafacility\"\n");
    assert!(e[0]
        .1
        .contains("neither an absolute path nor a syslog facility"));
}

#[test]
fn c18_oracle_negotiate_is_rejected_but_connect_is_fine() {
    let e = errors("virtual=192.0.2.10:1521\n\treal=192.0.2.21:1521 gate\n");
    assert!(e[0].1.contains("oracle is not supported"), "{e:?}");
    let c = ok("virtual=192.0.2.10:1521\n\treal=192.0.2.21:1521 gate\n\tchecktype=connect\n");
    assert_eq!(c.virtuals[0].service, Service::Oracle);
}

#[test]
fn all_errors_of_a_file_are_reported_in_line_order() {
    let e = errors(
        "checktimeout=x\nvirtual=192.0.2.10:80\n\tservice=gopher\n\treal=192.0.2.21:80 gate\n\
         virtual=192.0.2.11:80\n\tops=maybe\n\treal=192.0.2.22:80 tunnel\nfork=sometimes\n",
    );
    let lines: Vec<usize> = e.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [1, 3, 6, 7, 8], "{e:?}");
}

#[test]
fn netmask_and_persistence() {
    let c = ok("virtual6=[2001:db8::1]:443\n\treal6=[2001:db8::2]:443 gate\n\tpersistent=600\n\tnetmask=64\n");
    assert_eq!(c.virtuals[0].netmask, Some(Netmask::V6Prefix(64)));
    assert_eq!(c.virtuals[0].persistent, Some(600));
    assert_eq!(c.virtuals[0].service, Service::Https);
}

#[test]
fn service_ftp_and_sip_set_logins_as_upstream() {
    let c = ok(
        "virtual=192.0.2.10:2121\n\tlogin=\"me\"\n\tservice=ftp\n\treal=192.0.2.21:21 gate\n\
                virtual=192.0.2.10:5060\n\treal=192.0.2.21:5060 gate\n",
    );
    assert_eq!(
        (c.virtuals[0].login.as_str(), c.virtuals[0].passwd.as_str()),
        ("me", "ldirectord@testhost")
    );
    // A sip service derived from the port gets no login default (upstream).
    assert_eq!(c.virtuals[1].service, Service::Sip);
    assert_eq!(c.virtuals[1].login, "");
}

#[test]
fn global_only_directive_in_a_block_explains_itself() {
    let e = errors("virtual=192.0.2.10:80\n\tautoreload=yes\n\treal=192.0.2.21:80 gate\n");
    assert!(e[0].1.contains("autoreload is a global directive"), "{e:?}");
    let e = errors("real=192.0.2.21:80 gate\n");
    assert!(e[0].1.contains("belongs inside a virtual block"), "{e:?}");
}

#[test]
fn check_url_follows_upstream() {
    let c = ok("virtual=192.0.2.10:80\n\trequest=\"x\"\n\treal=192.0.2.21:8080 gate\n\treal=192.0.2.22:80 gate \"http://h.example.test/y\", \"ok\"\n\
                virtual=192.0.2.10:3128\n\trequest=\"http://www.example.test/\"\n\treal=192.0.2.21:3128 gate\n");
    let v = &c.virtuals[0];
    assert_eq!(v.check_url(&v.reals[0]), "http://192.0.2.21:8080/x");
    assert_eq!(v.check_url(&v.reals[1]), "http://h.example.test/y");
    let v = &c.virtuals[1];
    assert_eq!(v.check_url(&v.reals[0]), "http://www.example.test/");
}

/// A virtual address that does not resolve loses its block, but the
/// block's other lines are still read: every error is reported.
#[test]
fn an_unresolvable_virtual_does_not_hide_its_reals_errors() {
    let e = errors(
        "virtual=192.0.2.xx:80\n\treal=192.0.2.2:80 bogus\n\tfallback=192.0.2.99:80 sideways\n",
    );
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[0].0 == 1 && e[0].1.contains("invalid address for virtual"));
    assert!(e[1].0 == 2 && e[1].1.contains("forward method"), "{e:?}");
    assert!(e[2].0 == 3 && e[2].1.contains("forward method"), "{e:?}");
    // The same with an address the parser cannot even read.
    let e = errors("virtual=\"192.0.2.1:80\"\n\treal=192.0.2.2:80 bogus\n");
    assert_eq!(e.len(), 2, "{e:?}");
}

fn load_bytes(bytes: &[u8]) -> Result<config::Loaded, ConfigError> {
    config::load_bytes(bytes, Path::new("t.cf"), &opts())
}

/// C30: a byte that is not UTF-8 is fine in a comment and an error in a
/// value: never silently replaced by U+FFFD.
#[test]
fn bytes_that_are_not_utf8_are_errors_outside_comments() {
    let head = b"virtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n".to_vec();
    for (line, col) in [
        (&b"\treceive=\"caf\xe9\"\n"[..], 14),
        (&b"\tvirtualhost=h\xe9.test\n"[..], 15),
        (&b"\tlogin=\"u\"\n\tpasswd=\"p\xe9\"\n"[..], 11),
    ] {
        let mut f = head.clone();
        f.extend_from_slice(line);
        let e = load_bytes(&f).expect_err("a Latin-1 value is rejected");
        let d = e.first_error().unwrap();
        assert!(d.message.contains("byte 0xE9 is not UTF-8"), "{e}");
        assert_eq!(d.col, col, "{e}");
        assert!(d.line >= 3, "{e}");
    }
    // Comments may hold any bytes (legacy encodings): the file loads.
    let mut f = b"# Caf\xe9 du commerce\n".to_vec();
    f.extend_from_slice(&head);
    f.extend_from_slice(b"\tservice=http # r\xe9seau\n\t# \xff\xfe\n");
    let l = load_bytes(&f).unwrap();
    assert_eq!(l.config.virtuals[0].reals.len(), 1);
}

/// Error wording: the suggested fix of a typographic quote is a line that
/// reads; a global line indented by 2 or 3 blanks is told to start in
/// column 0; a byte-order mark is visible.
#[test]
fn error_messages_name_the_fix() {
    let e = errors("virtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n\treceive=\u{201c}OK\"\n");
    assert!(
        e[0].1.contains("e.g. receive=\"OK\"") && e[0].1.contains("typographic quote"),
        "{e:?}"
    );
    let e = errors("virtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n\treceive=OK\n");
    assert!(e[0].1.ends_with("e.g. receive=\"OK\""), "{e:?}");
    for indent in ["  ", "   "] {
        let e = errors(&format!(
            "{indent}checktimeout=3\n{indent}autoreload=yes\n\
             virtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n{indent}service=http\n"
        ));
        assert!(e[0].1.contains("starts in column 0"), "{e:?}");
        assert!(!e[0].1.contains("at least 4"), "{e:?}");
        assert!(e[1].1.contains("starts in column 0"), "{e:?}");
        assert!(e[2].1.contains("at least 4 spaces"), "{e:?}");
    }
    let e = errors("\u{feff}checkinterval=3\nvirtual=192.0.2.10:80\n\treal=192.0.2.21:80 gate\n");
    assert!(
        e[0].1.contains("<U+FEFF>checkinterval") && e[0].1.contains("byte-order mark"),
        "{e:?}"
    );
}

/// Every configuration-like file the repository and the shared corpus hold.
fn sample_files() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![
        root.join("tests/data/compat/synthetic-edge-cases"),
        root.join("examples"),
        root.join("fuzz/seeds"),
    ];
    let shared = root.join("../shared/compat-corpus");
    if shared.is_dir() {
        dirs.push(shared.join("derived"));
        dirs.push(shared);
    }
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths.into_iter().filter(|p| p.is_file()) {
            let bytes = std::fs::read(&p).unwrap();
            out.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    out
}

/// `src/config/scan.rs` gives exactly the raw file the pest grammar gives,
/// for every input it takes (and declines every file with a CR or a form
/// feed): the sample files whole, hand-picked corners of the grammar, and
/// a fixed set of mutations of the samples (the fuzz target asserts the
/// same on whatever it finds).
#[test]
fn the_scanner_reads_every_file_as_the_grammar_does() {
    use ldirectord::config::{parser, scan};
    let check = |text: &str| {
        let pest = parser::parse_pest(text);
        match scan::parse(text) {
            Some(fast) => assert_eq!(fast, pest, "scanner and grammar differ on {text:?}"),
            None => assert!(text.contains(['\r', '\x0c']), "declined {text:?}"),
        }
        assert_eq!(parser::parse(text), pest);
    };
    let corners = [
        "",
        "\n",
        "x",
        "virtual",
        "virtual=",
        "virtual =1.2.3.4:80 # c\n",
        "virtual6=[::1]:80\n\treal6=[::2]:80 gate\n",
        "virtual6x=1\nvirtual-=1\nvirtual_=1\nvirtual 6=1\nvirtual#=1\n",
        "virtual=a\n\tx=1\n    y=2\n \tz=3\n  \tw=4\n   \tv=5\n   u=6\n\t\n    \n\t# c\n  # c\n\n\tq=7\n",
        "virtual=a\n\treal=b gate # c\n\trequest=\"/a#b\" # c\n\treceive=\"x\n\tr=\"a\"b\"#c\n\ts=\"\n",
        "virtual=a\n\tfoo bar\n\tfoo # bar\n\tfoo#bar\n\tfoo\n\t=x\n\t[x]\n\t\u{e9}x=1\n\tx\u{e9}=\u{e9} \n",
        "emailalertfrom=a#b\nquiescent = yes # c\nx=a\t#b\ny=a  #b\nz= #b\nw=\"a #b\" #c\nv=\"a #b\n",
        "supervised\nsupervised # x\nsupervised#x\nfoo bar\n[vip]\n=x\n\u{feff}x=1\n  stray\n\tstray\n",
        "a=\nb= \nc =\nd = # c\ne\t=\t1\t\n",
        "virtual=a\n\treal=b gate",
        "virtual=a\n\treal=b gate\n   ",
        "virtual=a\n\n\n\treal=b gate\n\n",
        "x=1\r\ny=2\n",
        "\rfoo\n",
        "x=\x0c1\n",
    ];
    for c in corners {
        check(c);
    }
    // Mutations: deterministic (xorshift), bounded in count.
    let pieces = [
        " ", "\t", "#", "\"", "=", "\n", "virtual", "virtual6", "real", "a", "Z", "9", "_", "-",
        "\u{e9}", "\u{feff}", "    ", " #", "\t#", "\u{a0}", ":", "x=1", "\n\t", "\n    ", "\n  ",
        "\r", "\x0c",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut rand = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let samples = sample_files();
    assert!(!samples.is_empty());
    for s in &samples {
        check(s);
    }
    for _ in 0..20_000 {
        let sample = &samples[rand(samples.len())];
        let lines: Vec<&str> = sample.split_inclusive('\n').collect();
        let from = rand(lines.len().max(1));
        let to = (from + 1 + rand(12)).min(lines.len());
        let mut text: Vec<char> = lines[from.min(to)..to].concat().chars().collect();
        for _ in 0..1 + rand(6) {
            let at = rand(text.len() + 1);
            match rand(3) {
                0 if at < text.len() => {
                    text.remove(at);
                }
                1 => {
                    let end = (at + rand(30)).min(text.len());
                    text.drain(at..end);
                }
                _ => {
                    // A CR or a form feed (the last two) one time in four.
                    let kinds = pieces.len() - if rand(4) == 0 { 0 } else { 2 };
                    let piece = pieces[rand(kinds)];
                    text.splice(at..at, piece.chars());
                }
            }
        }
        check(&text.into_iter().collect::<String>());
    }
}
