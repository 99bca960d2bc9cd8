//! `/`: the status page for people, one HTML document from a [`Snapshot`].
//! No script, no external asset (styles inline), refreshed by the browser
//! every few seconds (`<meta http-equiv="refresh">`). Every value that
//! comes from the configuration or a server's answer is escaped.
//!
//! Per virtual service a table of its reals (and fallback server): state,
//! configured and kernel weight, last check result or reason, latency,
//! since when, active and inactive connections; then the last state
//! changes. Each real's row carries `data-real` and `data-state`
//! attributes (what the browser test reads).

use std::fmt::Write;

use super::snapshot::{RealStatus, Snapshot, State};

/// Seconds between two reloads of the page by the browser.
pub const REFRESH_SECONDS: u32 = 5;

/// The page at time `now`.
pub fn render(s: &Snapshot, now: f64) -> String {
    let mut h = String::with_capacity(4096 + s.virtuals.len() * 2048);
    let d = &s.daemon;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>ldirectord: {}</title><style>{STYLE}</style></head><body>\n",
        esc(&d.config)
    );
    let count = |st: State| {
        s.virtuals
            .iter()
            .flat_map(|v| &v.reals)
            .filter(|r| r.state == st)
            .count()
    };
    let _ = write!(
        h,
        "<header><h1>ldirectord <small>{}</small></h1><p>{} · pid {} · {} · \
         started {} · as of {}</p><p class=\"totals\">",
        esc(&d.config),
        esc(&d.version),
        d.pid,
        esc(&d.state),
        ago(now, d.started),
        clock(s.taken),
    );
    for st in [
        State::Up,
        State::Down,
        State::Quiescent,
        State::Unknown,
        State::Fallback,
    ] {
        let n = count(st);
        if n > 0 || st == State::Up || st == State::Down {
            let _ = write!(h, "<span class=\"st {0}\">{n} {0}</span> ", st.as_str());
        }
    }
    h.push_str("</p></header>\n<main>\n");
    for v in &s.virtuals {
        let _ = write!(
            h,
            "<section data-virtual=\"{0}\"><h2>{0} <small>{1}{2}{3}</small></h2>\n\
             <table><thead><tr><th>real</th><th>state</th><th>weight</th>\
             <th>effective</th><th>kernel weight</th><th>last check</th><th>latency</th><th>since</th>\
             <th>active</th><th>inactive</th></tr></thead><tbody>\n",
            esc(&v.id),
            esc(&v.scheduler),
            if v.in_kernel {
                ""
            } else {
                " · <b class=\"bad\">not in the kernel table</b>"
            },
            if v.fallback_active {
                " · <b class=\"warn\">no real up</b>"
            } else {
                ""
            },
        );
        for r in &v.reals {
            row(&mut h, r, now);
        }
        h.push_str("</tbody></table></section>\n");
    }
    h.push_str(
        "<section><h2>Last state changes</h2><table class=\"changes\"><thead><tr>\
         <th>when</th><th>virtual</th><th>real</th><th>state</th><th>reason</th>\
         </tr></thead><tbody>\n",
    );
    if s.recent_changes.is_empty() {
        h.push_str("<tr><td colspan=\"5\">none since the daemon started</td></tr>\n");
    }
    for c in &s.recent_changes {
        let _ = writeln!(
            h,
            "<tr><td title=\"{at}\">{ago}</td><td>{v}</td><td>{r}</td>\
             <td><span class=\"st {st}\">{st}</span></td><td>{why}</td></tr>",
            at = clock(c.at),
            ago = ago(now, c.at),
            v = esc(&c.virtual_id),
            r = esc(&c.real),
            st = c.state.as_str(),
            why = esc(&c.reason),
        );
    }
    let _ = write!(
        h,
        "</tbody></table></section>\n</main><footer>Refreshes every {REFRESH_SECONDS} s. \
         Also: <a href=\"/status.json\">/status.json</a> · <a href=\"/metrics\">/metrics</a>\
         </footer></body></html>\n"
    );
    h
}

fn row(h: &mut String, r: &RealStatus, now: f64) {
    let opt = |n: Option<u32>| n.map_or_else(|| "–".to_string(), |n| n.to_string());
    let (check, latency) = match &r.last_check {
        Some(c) => (
            format!(
                "<span class=\"{}\">{}</span> <small title=\"{}\">{}</small>",
                if c.ok { "ok" } else { "bad" },
                esc(&c.result),
                clock(c.at),
                ago(now, c.at)
            ),
            format!("{:.1} ms", c.latency * 1000.0),
        ),
        None => ("–".to_string(), "–".to_string()),
    };
    let since = match r.since {
        Some(t) => format!("<span title=\"{}\">{}</span>", clock(t), ago(now, t)),
        None => "start".to_string(),
    };
    let t = r.ipvs.as_ref();
    let effective = format!(
        "{}{}",
        r.effective_weight
            .map_or_else(|| "out".to_string(), |w| w.to_string()),
        if r.weight_reasons.is_empty() {
            String::new()
        } else {
            format!(" <small>({})</small>", esc(&r.weight_reasons.join(", ")))
        }
    );
    let _ = writeln!(
        h,
        "<tr data-real=\"{0}\" data-state=\"{1}\"><td>{0}{2}</td>\
         <td><span class=\"st {1}\">{1}</span></td><td>{3}</td><td>{effective}</td><td>{4}</td>\
         <td>{check}</td><td>{latency}</td><td>{since}</td><td>{5}</td><td>{6}</td></tr>",
        esc(&r.real),
        r.state.as_str(),
        match r.role {
            super::snapshot::Role::Fallback => " <small>(fallback)</small>",
            super::snapshot::Role::Real => "",
        },
        r.weight,
        opt(r.kernel_weight),
        opt(t.and_then(|t| t.active_connections)),
        opt(t.and_then(|t| t.inactive_connections)),
    );
}

/// HTML-escape `s` (text and attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `3 s ago`, `5 min ago`, `2 h ago`, `4 d ago`.
fn ago(now: f64, t: f64) -> String {
    let s = (now - t).max(0.0) as u64;
    match s {
        0..=119 => format!("{s} s ago"),
        120..=7199 => format!("{} min ago", s / 60),
        7200..=172_799 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86400),
    }
}

/// `2026-11-22 14:03:07 UTC` for seconds since the epoch.
pub fn clock(t: f64) -> String {
    let secs = t.max(0.0) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Howard Hinnant's days → civil date.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

const STYLE: &str = "\
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}\
header{background:#1d2330;color:#fff;padding:12px 20px}header h1{margin:0;font-size:20px}\
header p{margin:4px 0;color:#c9cfdb}header small{font-weight:normal;color:#c9cfdb}\
main{padding:8px 20px}section{background:#fff;border:1px solid #dde1e8;border-radius:6px;\
margin:12px 0;padding:8px 12px}h2{font-size:16px;margin:4px 0 8px}h2 small{font-weight:normal;\
color:#5b6475}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;\
border-bottom:1px solid #eceff3;white-space:nowrap}th{font-weight:600;color:#5b6475;\
font-size:12px}td:nth-child(4),td:nth-child(6){white-space:normal}\
.st{display:inline-block;min-width:64px;text-align:center;border-radius:10px;padding:0 8px;\
font-size:12px;font-weight:600;color:#fff;background:#7a8294}\
.st.up{background:#2e8540}.st.down{background:#c0392b}.st.quiescent{background:#d68910}\
.st.fallback{background:#8e44ad}.st.standby{background:#aab0bc}.st.unknown{background:#7a8294}\
.totals .st{margin-right:6px}.ok{color:#2e8540}.bad{color:#c0392b}.warn{color:#d68910}\
footer{padding:8px 20px 20px;color:#5b6475}a{color:#2c6cb0}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_escaping() {
        assert_eq!(clock(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(clock(1_795_000_000.9), "2026-11-18 11:06:40 UTC");
        assert_eq!(clock(951_782_400.0), "2000-02-29 00:00:00 UTC");
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(ago(100.0, 40.0), "60 s ago");
        assert_eq!(ago(10_000.0, 0.0), "2 h ago");
    }
}
