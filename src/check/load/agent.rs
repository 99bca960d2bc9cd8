//! HAProxy's agent-check text protocol: one line from the real server
//! (`75%`, `drain`, `up 50% maxconn:30`, `down#disk full`) parsed into an
//! [`AgentReply`]. Pure: no I/O (the query that reads the line is
//! [`super::query`]), no state (the table that remembers what the agent
//! said is [`super::table`]).
//!
//! What each word means follows HAProxy's configuration manual, section
//! "agent-check" (doc/configuration.txt, read at haproxy/haproxy
//! 50872daa, 2026-08-21):
//!
//! - "a series of words delimited by spaces, tabs or commas in any order",
//!   the line "terminated by the first '\r' or '\n' met";
//! - `N%` "set[s] the weight proportional to the initial weight" (here: the
//!   configured weight); `weight:N%` the same, `weight:N` an absolute
//!   weight (HAProxy: 0 to 256, its range; here 0 to 65535, the range of
//!   `real=` weights);
//! - `maxconn:N` "set[s] the maxconn of a server": IPVS's equivalent is the
//!   upper connection threshold (`u:N` of `real=`, `ipvsadm -x`);
//! - `ready` cancels `drain` and `maint`; `drain` accepts no new
//!   connections "other than those that are accepted via persistence"
//!   (weight 0, the real stays in the table); `maint` accepts none (out of
//!   the table as if down);
//! - `down`, `fail`, `stopped`, "optionally followed by a description
//!   string after a sharp ('#')", mark the server down; `up` marks it up
//!   again "if health checks also report that the service is accessible";
//! - "Parameters which are not advertised by the agent are not changed".
//!
//! Where the manual is silent we follow what HAProxy does: words are
//! matched without regard to case (agents in the wild answer `UP 99%`), and
//! of several words of one kind the last wins. One choice of our own: a
//! line with a word that is none of these is garbage as a whole and changes
//! nothing (HAProxy applies the words it knows and reports the first it
//! does not), so that a garbled answer can never half-apply.

use super::super::CheckError;

/// The weight an agent asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoadWeight {
    /// A share of the configured weight, in percent (`75%`, `weight:75%`);
    /// more than 100 raises it.
    Percent(u32),
    /// A weight of its own (`weight:N`; nanny's formula).
    Absolute(u32),
}

/// The administrative state an agent sets (HAProxy's READY, DRAIN, MAINT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Admin {
    /// In service (`ready`, and before any agent said otherwise).
    #[default]
    Ready,
    /// Weight 0, the real stays: no new connections, established ones and
    /// persistence go on.
    Drain,
    /// Out of the table as if down, without counting as a failed check.
    Maint,
}

impl Admin {
    pub fn as_str(self) -> &'static str {
        match self {
            Admin::Ready => "ready",
            Admin::Drain => "drain",
            Admin::Maint => "maint",
        }
    }
}

/// The operational state an agent sets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AgentHealth {
    /// `up`: no veto (the health check decides).
    Up,
    /// `down`, `fail` or `stopped`: the real is down whatever its health
    /// check says, until the agent says `up`. `text`: the word and the
    /// description after `#`, e.g. `stopped (backup running)`.
    Down { text: String },
}

/// What one agent line says. `None`: not advertised, not changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AgentReply {
    pub weight: Option<LoadWeight>,
    pub admin: Option<Admin>,
    pub health: Option<AgentHealth>,
    pub maxconn: Option<u32>,
}

/// The largest absolute weight (that of `real=`, as ipvsadm's).
pub const MAX_WEIGHT: u32 = 65535;

/// Parse one agent line (without its end of line; anything after a `\r`
/// or `\n` is ignored all the same).
pub fn parse(line: &str) -> Result<AgentReply, CheckError> {
    let line = line.split(['\r', '\n']).next().unwrap_or("");
    let (words, description) = match line.split_once('#') {
        Some((w, d)) => (w, d.trim_matches([' ', '\t'])),
        None => (line, ""),
    };
    let mut reply = AgentReply::default();
    let mut health_word = None;
    for word in words.split([' ', '\t', ',']).filter(|w| !w.is_empty()) {
        let lower = word.to_ascii_lowercase();
        match lower.as_str() {
            "up" => health_word = Some(None),
            "down" | "fail" | "stopped" => health_word = Some(Some(lower)),
            "ready" => reply.admin = Some(Admin::Ready),
            "drain" => reply.admin = Some(Admin::Drain),
            "maint" => reply.admin = Some(Admin::Maint),
            w => {
                if let Some(v) = w.strip_prefix("weight:") {
                    reply.weight = Some(weight(v, true).ok_or_else(|| garbage(word))?);
                } else if let Some(v) = w.strip_prefix("maxconn:") {
                    reply.maxconn = Some(number(v).ok_or_else(|| garbage(word))?);
                } else {
                    reply.weight = Some(weight(w, false).ok_or_else(|| garbage(word))?);
                }
            }
        }
    }
    reply.health = health_word.map(|w| match w {
        None => AgentHealth::Up,
        Some(word) if description.is_empty() => AgentHealth::Down { text: word },
        Some(word) => AgentHealth::Down {
            text: format!("{word} ({description})"),
        },
    });
    Ok(reply)
}

fn garbage(word: &str) -> CheckError {
    let shown: String = word.chars().take(40).collect();
    CheckError::Protocol(format!(
        "agent answered \"{shown}\", not an agent-check word"
    ))
}

/// `N%` (or, with `absolute`, also `N`).
fn weight(v: &str, absolute: bool) -> Option<LoadWeight> {
    match v.strip_suffix('%') {
        Some(p) => number(p).map(LoadWeight::Percent),
        None if absolute => number(v)
            .filter(|&n| n <= MAX_WEIGHT)
            .map(LoadWeight::Absolute),
        None => None,
    }
}

/// Decimal digits only; too large a number saturates.
fn number(v: &str) -> Option<u32> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(v.parse::<u32>().unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> AgentReply {
        parse(line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    }

    fn down(text: &str) -> Option<AgentHealth> {
        Some(AgentHealth::Down { text: text.into() })
    }

    #[test]
    fn every_keyword() {
        assert_eq!(ok("75%").weight, Some(LoadWeight::Percent(75)));
        assert_eq!(ok("weight:75%").weight, Some(LoadWeight::Percent(75)));
        assert_eq!(ok("weight:7").weight, Some(LoadWeight::Absolute(7)));
        assert_eq!(ok("maxconn:30").maxconn, Some(30));
        assert_eq!(ok("ready").admin, Some(Admin::Ready));
        assert_eq!(ok("drain").admin, Some(Admin::Drain));
        assert_eq!(ok("maint").admin, Some(Admin::Maint));
        assert_eq!(ok("up").health, Some(AgentHealth::Up));
        assert_eq!(ok("down").health, down("down"));
        assert_eq!(ok("fail").health, down("fail"));
        assert_eq!(ok("stopped").health, down("stopped"));
    }

    #[test]
    fn a_word_alone_changes_only_its_own_kind() {
        let r = ok("drain");
        assert_eq!((r.weight, r.health, r.maxconn), (None, None, None));
        assert_eq!(ok(""), AgentReply::default());
        assert_eq!(ok(" \t, "), AgentReply::default());
    }

    #[test]
    fn combinations_in_any_order_with_any_separator() {
        let r = ok("up 50%,maxconn:10\tdrain");
        assert_eq!(r.health, Some(AgentHealth::Up));
        assert_eq!(r.weight, Some(LoadWeight::Percent(50)));
        assert_eq!(r.maxconn, Some(10));
        assert_eq!(r.admin, Some(Admin::Drain));
        assert_eq!(ok("drain,,50%  up"), r.clone().with_maxconn(None));
        // The last word of a kind wins.
        assert_eq!(ok("drain ready").admin, Some(Admin::Ready));
        assert_eq!(ok("10% 20%").weight, Some(LoadWeight::Percent(20)));
        assert_eq!(ok("down up").health, Some(AgentHealth::Up));
    }

    #[test]
    fn case_does_not_matter() {
        let r = ok("UP 99%");
        assert_eq!(r.health, Some(AgentHealth::Up));
        assert_eq!(ok("DRAIN").admin, Some(Admin::Drain));
        assert_eq!(ok("Weight:3").weight, Some(LoadWeight::Absolute(3)));
        assert_eq!(ok("STOPPED").health, down("stopped"));
    }

    #[test]
    fn the_description_after_a_sharp() {
        assert_eq!(ok("down#disk full").health, down("down (disk full)"));
        assert_eq!(
            ok("fail # db unreachable ").health,
            down("fail (db unreachable)")
        );
        // Words after the sharp are description, not words.
        let r = ok("50% # drain later");
        assert_eq!(r.admin, None);
        assert_eq!(r.weight, Some(LoadWeight::Percent(50)));
        assert_eq!(ok("up#back").health, Some(AgentHealth::Up));
    }

    #[test]
    fn percentages_zero_and_over_100() {
        assert_eq!(ok("0%").weight, Some(LoadWeight::Percent(0)));
        assert_eq!(ok("250%").weight, Some(LoadWeight::Percent(250)));
        assert_eq!(
            ok("99999999999999999999%").weight,
            Some(LoadWeight::Percent(u32::MAX))
        );
        assert_eq!(ok("weight:0").weight, Some(LoadWeight::Absolute(0)));
        assert_eq!(ok("weight:65535").weight, Some(LoadWeight::Absolute(65535)));
    }

    #[test]
    fn the_line_ends_at_the_first_cr_or_lf() {
        assert_eq!(ok("50%\r\ndrain\n").admin, None);
        assert_eq!(ok("drain\n50%").weight, None);
    }

    #[test]
    fn garbage_is_refused_as_a_whole() {
        for bad in [
            "hello",
            "75",
            "75.5%",
            "-5%",
            "%",
            "7 5%x",
            "weight:",
            "weight:70000",
            "weight:abc",
            "maxconn:",
            "maxconn:-1",
            "drain please",
            "HTTP/1.1 200 OK",
        ] {
            assert!(
                matches!(parse(bad), Err(CheckError::Protocol(_))),
                "{bad:?} was accepted: {:?}",
                parse(bad)
            );
        }
        let e = parse("50% sideways").unwrap_err().to_string();
        assert!(e.contains("\"sideways\""), "{e}");
    }

    impl AgentReply {
        fn with_maxconn(mut self, m: Option<u32>) -> Self {
            self.maxconn = m;
            self
        }
    }
}
