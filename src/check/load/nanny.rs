//! Piranha nanny's load monitor, reproduced (`loadmonitor=nanny:PROGRAM`):
//! which program runs, how its output is read, and the weight formula,
//! quirks included, so that a site converted from `lvs.cf` keeps its
//! weights. Pure: no I/O (running the program is [`super::query`]).
//!
//! From the Piranha reference (`../shared/reference/piranha.md` §10.6,
//! nanny 0.8.6 `getRemoteLoad`, `getExecOutput` and `adjustWeight`, read
//! and run there):
//!
//! - `rsh` and `ssh` run `rsh RIP uptime`; `rup`, `ruptime` and a program
//!   path run `PROGRAM RIP` (through the PATH, no shell);
//! - a program that exits non-zero (or is killed) gives no load; its output
//!   is read (at most 4095 bytes) and its last byte chopped (it is assumed
//!   to be the newline);
//! - the 1-minute load is found after the first `load`: a `:` must follow
//!   somewhere, the number starts two characters after that colon, it is
//!   digits and dots, and the character after it must be `,` or a space;
//!   anything else is "bad load average returned" (no load);
//! - each tick, with W the configured weight and w nanny's own idea of
//!   the weight (never read back from the kernel):
//!   `w < W` → `min(2w, W)`; otherwise for a load L ≥ 0 other than 1,
//!   L < 1 → `min(trunc(w + W/2·∛(1−L)), 10·W)`, L > 1 →
//!   `max(trunc(w − W/2·∛(L−1)), W)`, applied only when it moves w by at
//!   least W/4. W/2 and W/4 are real numbers, the load a C `float`.

/// nanny's `-S` scale (lvsd never passes it): the weight grows to at most
/// this many times the configured one.
pub const SCALE: u32 = 10;

/// How much of the program's output nanny reads (its 4096-byte buffer).
pub const MAX_OUTPUT: usize = 4095;

/// The command nanny runs for `program` against the real at `addr`.
pub fn argv(program: &str, addr: &str) -> Vec<String> {
    let mut v = vec![program.to_string(), addr.to_string()];
    if matches!(program, "rsh" | "ssh") {
        v.push("uptime".into());
    }
    v
}

/// The 1-minute load in `output` as nanny reads it, after the chop of the
/// last byte; `None` where nanny returns -1 ("bad load average returned").
pub fn parse_load(output: &[u8]) -> Option<f32> {
    // getExecOutput: the last byte read is dropped, whatever it is.
    let text = output.get(..output.len().saturating_sub(1))?;
    // C string: nothing after a NUL is seen.
    let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
    let at = find(text, b"load")?;
    let colon = at + text[at..].iter().position(|&b| b == b':')?;
    // Two characters after the colon; past the end of the string nanny
    // would read beyond it (undefined in C): no load.
    let start = colon + 2;
    if start > text.len() {
        return None;
    }
    let digits = text[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b'.')
        .count();
    match text.get(start + digits) {
        Some(b',') | Some(b' ') => Some(strtod_prefix(&text[start..start + digits])),
        _ => None,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `strtod` of a run of digits and dots, as a C `float`: the longest
/// prefix that is a number (`1.2.3` → 1.2, `` and `.` → 0).
fn strtod_prefix(s: &[u8]) -> f32 {
    let int = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut end = int;
    if s.get(int) == Some(&b'.') {
        let frac = s[int + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if int + frac > 0 {
            end = int + 1 + frac;
        }
    }
    let text = std::str::from_utf8(&s[..end]).unwrap_or("");
    // strtod gives a double, nanny keeps it in a float.
    text.parse::<f64>().unwrap_or(0.0) as f32
}

/// One tick of nanny's `adjustWeight`: the new weight from the last one
/// `w`, the configured one `configured` and the 1-minute `load` (`None`:
/// the monitor gave none, nothing changes).
pub fn adjust(w: u32, configured: u32, load: Option<f32>) -> u32 {
    if w < configured {
        // Slow start, whatever the load (`lastWeight << 1`, capped).
        return w.saturating_mul(2).min(configured);
    }
    let Some(load) = load.filter(|&l| l >= 0.0 && l != 1.0) else {
        return w;
    };
    let scale_factor = f64::from(configured) / 2.0;
    let threshold = configured as f32 / 4.0;
    let (w_f, l) = (f64::from(w), f64::from(load));
    // (int) of a double truncates toward zero; the results are ≥ 0 here.
    let new = if load < 1.0 {
        let n = (w_f + scale_factor * (1.0 - l).cbrt()) as i64;
        n.min(i64::from(SCALE) * i64::from(configured))
    } else {
        let n = (w_f - scale_factor * (l - 1.0).cbrt()) as i64;
        n.max(i64::from(configured))
    };
    // abs(int) compared with a float threshold.
    if (new - i64::from(w)).abs() as f32 >= threshold {
        u32::try_from(new).unwrap_or(u32::MAX)
    } else {
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §10.6, "Parsing [run]": output after the chop → result (-1 = None).
    #[test]
    fn parsing_table_row_by_row() {
        let rows: &[(&str, Option<f32>)] = &[
            // uptime, rup
            (
                " 10:00:00 up 3 days,  2 users,  load average: 0.50, 0.40, 0.30",
                Some(0.50),
            ),
            // single-host ruptime: no colon after `load`
            ("web1  up 3+02:03,  1 user  load 0.50, 0.40, 0.30", None),
            // `load average: 0.5` + newline: after the chop nothing follows
            ("load average: 0.5", None),
            ("load: 2.5 ", Some(2.5)),
            // two spaces: the number is empty
            ("load average:  0.50, 0.40, 0.30", Some(0.0)),
        ];
        for (text, want) in rows {
            // The program printed the text and a newline; the chop takes it.
            let out = format!("{text}\n");
            assert_eq!(parse_load(out.as_bytes()), *want, "{text:?}");
        }
    }

    #[test]
    fn ruptime_listing_several_hosts_reads_the_next_lines_colon() {
        // The colon of the next host's uptime is used: garbage, as nanny.
        let out = b"web1  up 3+02:03,  1 user  load 0.50, 0.40, 0.30\n\
                    web2  up   7:00,  0 users, load 7.00, 7.10, 7.20\n";
        let got = parse_load(out);
        assert!(got.is_some_and(|l| l != 0.5), "{got:?}");
    }

    #[test]
    fn parsing_edges() {
        // No newline: the chop takes the last digit of the 15-minute
        // value; the 1-minute one is read all the same.
        assert_eq!(parse_load(b"load average: 0.50, 0.40, 0.30"), Some(0.5));
        // The chop can cut the comma of a one-number answer.
        assert_eq!(parse_load(b"load: 3.25,"), None);
        assert_eq!(parse_load(b"load: 3.25, "), Some(3.25));
        assert_eq!(parse_load(b""), None);
        assert_eq!(parse_load(b"\n"), None);
        assert_eq!(parse_load(b"nothing here\n"), None);
        // The colon is the last character: nanny reads past the string.
        assert_eq!(parse_load(b"load:\n"), None);
        assert_eq!(parse_load(b"load: \n"), None);
        assert_eq!(parse_load(b"load: 1.2.3 x\n"), Some(1.2));
        assert_eq!(parse_load(b"load: . x\n"), Some(0.0));
        // `load` inside another word counts, as strstr finds it.
        assert_eq!(parse_load(b"overload: 4.00, 1\n"), Some(4.0));
        // A NUL ends the C string.
        assert_eq!(parse_load(b"x\0load: 1.0, 1\n"), None);
    }

    #[test]
    fn the_program_nanny_runs() {
        assert_eq!(argv("rsh", "192.0.2.1"), ["rsh", "192.0.2.1", "uptime"]);
        assert_eq!(argv("ssh", "192.0.2.1"), ["ssh", "192.0.2.1", "uptime"]);
        assert_eq!(argv("rup", "192.0.2.1"), ["rup", "192.0.2.1"]);
        assert_eq!(argv("ruptime", "192.0.2.1"), ["ruptime", "192.0.2.1"]);
        assert_eq!(
            argv("/usr/local/bin/getload", "192.0.2.1"),
            ["/usr/local/bin/getload", "192.0.2.1"]
        );
    }

    /// The weights of `ticks` successive ticks from `w` at a steady load.
    fn ticks(w: u32, configured: u32, load: f32, n: usize) -> Vec<u32> {
        let mut out = vec![w];
        for _ in 0..n {
            let w = adjust(*out.last().unwrap(), configured, Some(load));
            out.push(w);
        }
        out
    }

    /// §10.3: the slow start from max(1, W >> 5), doubling per tick.
    #[test]
    fn slow_start_trajectories() {
        assert_eq!(ticks(100 >> 5, 100, 1.0, 6), [3, 6, 12, 24, 48, 96, 100]);
        assert_eq!(ticks(1, 32, 1.0, 5), [1, 2, 4, 8, 16, 32]);
        assert_eq!(ticks(1, 1, 0.0, 2), [1, 1, 1]);
        // Applied whatever the load, even with none.
        assert_eq!(adjust(3, 100, None), 6);
    }

    /// §10.6 "Integer truncation makes small weights inert", row by row:
    /// W, then the trajectory at L = 0.0, 0.5, 0.9 and 1.1 (and 2.0 for
    /// "L ≥ 1.1"), from w = W.
    #[test]
    fn small_weights_table_row_by_row() {
        // W = 1: stays 1 forever at every load.
        for l in [0.0, 0.5, 0.9, 1.1, 2.0] {
            assert_eq!(ticks(1, 1, l, 5), [1; 6], "W=1 L={l}");
        }
        // W = 2: +1 per tick up to 20 at L = 0; stays 2 otherwise.
        let t = ticks(2, 2, 0.0, 20);
        assert_eq!(&t[..4], [2, 3, 4, 5]);
        assert_eq!(*t.last().unwrap(), 20);
        assert!(t.windows(2).all(|p| p[1] == (p[0] + 1).min(20)));
        for l in [0.5, 0.9, 1.1, 2.0] {
            assert_eq!(ticks(2, 2, l, 5), [2; 6], "W=2 L={l}");
        }
        // W = 4: +2 per tick up to 40 at L = 0, +1 at L = 0.5; 4 above.
        let t = ticks(4, 4, 0.0, 20);
        assert_eq!(&t[..4], [4, 6, 8, 10]);
        assert_eq!(*t.last().unwrap(), 40);
        assert_eq!(&ticks(4, 4, 0.5, 3)[..], [4, 5, 6, 7]);
        for l in [0.9, 1.1, 2.0] {
            assert_eq!(ticks(4, 4, l, 5), [4; 6], "W=4 L={l}");
        }
        // W = 10: 10, 15, 20, … 100 at L = 0; 10, 13, 16, … at L = 0.5.
        let t = ticks(10, 10, 0.0, 20);
        assert_eq!(&t[..4], [10, 15, 20, 25]);
        assert_eq!(*t.last().unwrap(), 100);
        assert_eq!(&ticks(10, 10, 0.5, 3)[..], [10, 13, 16, 19]);
        for l in [0.9, 1.1, 2.0] {
            assert_eq!(ticks(10, 10, l, 5), [10; 6], "W=10 L={l}");
        }
        // W = 100: 100, 150, 200, … 1000; 100, 139, 178, … at L = 0.5.
        let t = ticks(100, 100, 0.0, 20);
        assert_eq!(&t[..4], [100, 150, 200, 250]);
        assert_eq!(*t.last().unwrap(), 1000);
        assert_eq!(&ticks(100, 100, 0.5, 3)[..], [100, 139, 178, 217]);
        for l in [0.9, 1.1, 2.0] {
            assert_eq!(ticks(100, 100, l, 5), [100; 6], "W=100 L={l}");
        }
    }

    /// §10.6: from w = 500 with W = 100.
    #[test]
    fn from_500_row_by_row() {
        assert_eq!(&ticks(500, 100, 2.0, 3)[..], [500, 450, 400, 350]);
        assert_eq!(*ticks(500, 100, 2.0, 20).last().unwrap(), 100);
        assert_eq!(adjust(500, 100, Some(1.5)), 460);
        assert_eq!(adjust(500, 100, Some(1.2)), 470);
        assert_eq!(adjust(500, 100, Some(1.1)), 500);
    }

    #[test]
    fn no_load_or_exactly_one_changes_nothing() {
        assert_eq!(adjust(150, 100, None), 150);
        assert_eq!(adjust(150, 100, Some(1.0)), 150);
        assert_eq!(adjust(150, 100, Some(-1.0)), 150);
        // The dead band: 0.875 < L < 1.125 moves nothing (ignoring
        // truncation).
        assert_eq!(adjust(500, 100, Some(0.9)), 500);
        assert_eq!(adjust(500, 100, Some(0.87)), 525);
    }
}
