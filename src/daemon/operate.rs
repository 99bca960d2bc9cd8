//! The operator's commands on a running daemon, as the command line runs
//! them: `drain|disable|enable|weight` (through the control socket, with
//! `drain --wait` polling the real's connections until they reach 0) and
//! `plan` (the kernel operations a reload — through the socket — or, with
//! no daemon, a start would make now; it changes nothing).
//!
//! Exit codes: 0 done (for `plan`: nothing to do), 1 not done (no daemon,
//! an unknown real, a refusal, `--wait`'s time up; for `plan`: there are
//! operations), 2 a configuration error (`plan`), 3 `plan` could not be
//! made (the kernel table cannot be read, the daemon did not answer).
//! What it says goes to stderr, except what a script reads: the changes
//! made, and the plan's lines, on stdout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::control::protocol::{self, Reply, Request, Target};
use crate::control::{client, state, state_text};

use super::director::Director;
use super::lifecycle::Context;
use super::pidfile::{self, Daemon, Identity};

/// The live ldirectord of this configuration, or the exit status and
/// message of there being none that we can talk to.
fn daemon(ctx: &Context, file_exists: bool) -> Result<Daemon, String> {
    let found = pidfile::find(Identity {
        arg: &ctx.config_arg,
        path: file_exists.then_some(ctx.config_path.as_path()),
    });
    match found.running.into_iter().next() {
        // Upstream's wording, as `status` and `reload` say it.
        None => Err(format!(
            "ldirectord is stopped for {}",
            ctx.config_path.display()
        )),
        Some(d) if !d.own => Err(format!(
            "ldirectord for {} runs with pid {} under another program's pid file ({}): \
             it has no control socket",
            ctx.config_path.display(),
            d.pid,
            d.pid_file.display()
        )),
        Some(d) => Ok(d),
    }
}

fn weight_text(w: Option<u32>) -> String {
    w.map_or_else(|| "out".to_string(), |w| w.to_string())
}

/// Print a refusal: the error, and the close matches of an unknown real.
fn refused(reply: &Reply) {
    let error = reply.error.as_deref().unwrap_or("refused");
    if reply.matches.is_empty() {
        eprintln!("ldirectord: {error}");
    } else {
        eprintln!(
            "ldirectord: {error}; close matches: {}",
            reply.matches.join(", ")
        );
    }
}

/// `drain|disable|enable|weight`: send `request`; with `wait`, wait (at
/// most that long) for the drained real's active connections to reach 0.
pub fn change(ctx: &Context, file_exists: bool, request: &Request, wait: Option<Duration>) -> i32 {
    let d = match daemon(ctx, file_exists) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let path = ctx.control_path();
    let reply = match client::call(&path, d.pid, request, protocol::REPLY_TIMEOUT) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ldirectord: {e}");
            return 1;
        }
    };
    if !reply.ok {
        refused(&reply);
        return 1;
    }
    for c in &reply.changes {
        let what = if c.before == c.after {
            format!("{} (unchanged)", state_text(c.after))
        } else {
            format!("{} -> {}", state_text(c.before), state_text(c.after))
        };
        println!(
            "{} ({}): {what}, weight {} -> {}",
            c.real,
            c.virtual_id,
            weight_text(c.weight_before),
            weight_text(c.weight_after)
        );
    }
    let (Some(limit), Some((target, _))) = (wait, request.setting()) else {
        return 0;
    };
    wait_drained(&path, d.pid, &target, reply.at.unwrap_or(0.0), limit)
}

/// Poll the daemon (once a second, at most `limit`) until the real's
/// active connections, read by the director after `since`, are 0.
fn wait_drained(
    path: &std::path::Path,
    pid: u32,
    target: &Target,
    since: f64,
    limit: Duration,
) -> i32 {
    let started = Instant::now();
    let mut shown: Option<u64> = None;
    loop {
        let request = Request::Connections(target.clone());
        let reply = match client::call(path, pid, &request, protocol::REPLY_TIMEOUT) {
            Ok(r) if r.ok => r,
            Ok(r) => {
                refused(&r);
                return 1;
            }
            Err(e) => {
                eprintln!("ldirectord: {e}");
                return 1;
            }
        };
        // Counters read before the drain say nothing of it.
        let fresh = reply.ipvs_read.is_some_and(|t| t >= since);
        let active: u64 = reply
            .connections
            .iter()
            .map(|c| u64::from(c.active.unwrap_or(0)))
            .sum();
        if fresh && active == 0 {
            println!(
                "{}: no active connections (after {} s)",
                target.real,
                started.elapsed().as_secs()
            );
            return 0;
        }
        if fresh && shown != Some(active) {
            eprintln!("{}: {active} active connections", target.real);
            shown = Some(active);
        }
        if started.elapsed() >= limit {
            eprintln!(
                "ldirectord: {} still has {} after {} s",
                target.real,
                if fresh {
                    format!("{active} active connections")
                } else {
                    "connections (its counters were not read again in time)".to_string()
                },
                limit.as_secs()
            );
            return 1;
        }
        std::thread::sleep(Duration::from_secs(1).min(limit.saturating_sub(started.elapsed())));
    }
}

/// `plan`: the kernel operations a reload (a running daemon: its health,
/// its overrides) or a start (no daemon: the adoption rules and the state
/// file's overrides) would make now.
pub fn plan(ctx: &Context, config: Arc<Config>) -> i32 {
    let shown = ctx.config_path.display();
    let (lines, what) = match daemon(ctx, true) {
        Ok(d) => {
            let reply = match client::call(
                &ctx.control_path(),
                d.pid,
                &Request::Plan,
                protocol::REPLY_TIMEOUT,
            ) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("ldirectord: {e}");
                    return 3;
                }
            };
            if !reply.ok {
                refused(&reply);
                let config_error = reply
                    .error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("the configuration has errors"));
                return if config_error { 2 } else { 3 };
            }
            (
                reply.plan.unwrap_or_default(),
                format!(
                    "ldirectord for {shown} is running with pid {}: a reload",
                    d.pid
                ),
            )
        }
        Err(stopped) => {
            let table = match read_table() {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("ldirectord: cannot read the IPVS table: {e}");
                    return 3;
                }
            };
            let stored = match state::read(&ctx.state_path()) {
                state::Read::Found(s) => s.overrides,
                state::Read::Missing => Vec::new(),
                state::Read::Corrupt(why) => {
                    eprintln!(
                        "ldirectord: warning: the state file {} is not usable ({why}): a start \
                         would set it aside and run without operator overrides",
                        ctx.state_path().display()
                    );
                    Vec::new()
                }
            };
            let ops = Director::plan_start_at(config, table, stored, Instant::now());
            (
                ops.into_iter().map(|p| p.line).collect(),
                format!("{stopped}: a start"),
            )
        }
    };
    match lines.len() {
        0 => eprintln!("{what} would make no kernel operations"),
        1 => eprintln!("{what} would make 1 kernel operation:"),
        n => eprintln!("{what} would make {n} kernel operations:"),
    }
    for l in &lines {
        println!("{l}");
    }
    i32::from(!lines.is_empty())
}

fn read_table() -> crate::ipvs::Result<Vec<crate::ipvs::ServiceEntry>> {
    use crate::ipvs::IpvsBackend;
    crate::ipvs::NetlinkIpvs::new()?.dump()
}
