//! The command line: upstream's synopsis
//! `ldirectord [-d|--debug] [--] [configfile] start|stop|restart|try-restart|reload|force-reload|status`,
//! plus our verbs. Owns argument parsing, config-file lookup and exit
//! codes; the work of each verb lives elsewhere.
//!
//! Exit codes (upstream's): 0 success; 1 config file not found (and
//! `reload` with no daemon); 2 configuration error; 255 usage error.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::Parser;

use crate::config::{self, names::Lookup, Options};

/// The version line scripts look for, then ours.
pub const VERSION_TEXT: &str = concat!(
    "Linux Director v1.186-ha (ldirectord-rs ",
    env!("CARGO_PKG_VERSION"),
    ")\n",
    "A drop-in successor to ldirectord, the Linux Director Daemon.\n",
    "Compatible with the configuration files, commands and exit codes of\n",
    "ldirectord v1.186-ha (resource-agents 4.x).\n",
    "\n",
    "This program is free software; you may redistribute it under the\n",
    "terms of the MIT or Apache-2.0 licence.\n",
);

const USAGE: &str = "\
Usage:
    ldirectord [-d|--debug] [--] [configfile] start|stop|restart|try-restart|reload|force-reload|status
    ldirectord [configfile] configtest|check
    ldirectord [configfile] doctor [--real]
    ldirectord list [--stats]
    ldirectord -t [configfile]
    ldirectord -h|--help
    ldirectord -v|--version

Options:
    -d, --debug    Don't daemonize; log to stderr.
    -t             Test the configuration: print every error (exit 2), or the
                   resolved configuration as canonical ldirectord.cf (exit 0).
    --real         With doctor: check this host as a real server.
    -h, --help     Print this help.
    -v, --version  Print the version.

The configuration file is looked up as /etc/ha.d/<configfile>, then
/etc/ha.d/conf/<configfile>, then <configfile> as given; the default is
ldirectord.cf. See ldirectord(8).
";

#[derive(Parser, Debug)]
#[command(
    name = "ldirectord",
    disable_help_flag = true,
    disable_version_flag = true,
    override_usage = "ldirectord [-d|--debug] [--] [configfile] start|stop|restart|try-restart|reload|force-reload|status"
)]
struct Args {
    #[arg(short = 'd', long = "debug")]
    debug: bool,
    #[arg(short = 't')]
    test: bool,
    #[arg(short = 'h', long = "help", short_alias = '?')]
    help: bool,
    #[arg(short = 'v', long = "version")]
    version: bool,
    /// `list --stats`: counters as `ipvsadm -Ln --stats`.
    #[arg(long = "stats")]
    stats: bool,
    /// `doctor --real`: check this host as a real server.
    #[arg(long = "real")]
    real: bool,
    /// `[configfile] command`
    #[arg(trailing_var_arg = false)]
    rest: Vec<String>,
}

/// The commands of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Start,
    Stop,
    Restart,
    TryRestart,
    Reload,
    ForceReload,
    Status,
    /// `-t` / `configtest`.
    ConfigTest,
    /// Run every check once and report.
    Check,
    /// Print the kernel's IPVS table.
    List,
    /// Check what the director (or, with `--real`, a real) needs.
    Doctor,
}

impl Verb {
    fn from_name(s: &str) -> Option<Verb> {
        Some(match s {
            "start" => Verb::Start,
            "stop" => Verb::Stop,
            "restart" => Verb::Restart,
            "try-restart" => Verb::TryRestart,
            "reload" => Verb::Reload,
            "force-reload" => Verb::ForceReload,
            "status" => Verb::Status,
            "configtest" => Verb::ConfigTest,
            "check" => Verb::Check,
            "list" => Verb::List,
            "doctor" => Verb::Doctor,
            _ => return None,
        })
    }
}

/// A parsed invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub debug: bool,
    /// `--stats` (for `list`).
    pub stats: bool,
    /// `--real` (for `doctor`).
    pub real: bool,
    pub verb: Verb,
    /// The config argument as given (default `ldirectord.cf`).
    pub config_arg: String,
}

/// Where an invocation ends before a verb runs.
#[derive(Debug, PartialEq, Eq)]
pub enum Early {
    Help,
    Version,
    Usage(String),
}

/// Parse arguments (without the program name).
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Invocation, Early> {
    let argv: Vec<OsString> = std::iter::once(OsString::from("ldirectord"))
        .chain(args)
        .collect();
    let a = Args::try_parse_from(argv).map_err(|e| Early::Usage(e.to_string()))?;
    if a.help {
        return Err(Early::Help);
    }
    if a.version {
        return Err(Early::Version);
    }
    let (config_arg, verb) = if a.test {
        match a.rest.as_slice() {
            [] => (None, Verb::ConfigTest),
            [c] => (Some(c.clone()), Verb::ConfigTest),
            _ => {
                return Err(Early::Usage(
                    "-t takes at most one configuration file".into(),
                ))
            }
        }
    } else {
        match a.rest.as_slice() {
            [v] => (None, verb(v)?),
            [c, v] => (Some(c.clone()), verb(v)?),
            [] => return Err(Early::Usage("no command given".into())),
            _ => return Err(Early::Usage("too many arguments".into())),
        }
    };
    if a.real && verb != Verb::Doctor {
        return Err(Early::Usage("--real goes with doctor only".into()));
    }
    Ok(Invocation {
        debug: a.debug,
        stats: a.stats,
        real: a.real,
        verb,
        config_arg: config_arg.unwrap_or_else(|| "ldirectord.cf".into()),
    })
}

fn verb(s: &str) -> Result<Verb, Early> {
    Verb::from_name(s).ok_or_else(|| Early::Usage(format!("unknown command \"{s}\"")))
}

/// Upstream's lookup: `/etc/ha.d/<c>`, `/etc/ha.d/conf/<c>`, then `<c>`.
pub fn find_config(arg: &str) -> Option<PathBuf> {
    config_candidates(arg).into_iter().find(|p| p.is_file())
}

/// The paths [`find_config`] tries, in order, each once (an absolute
/// argument is the same path three times).
pub fn config_candidates(arg: &str) -> Vec<PathBuf> {
    let base = std::env::var_os("LDIRECTORD_CONFIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/ha.d"));
    let mut paths = Vec::new();
    for p in [
        base.join(arg),
        base.join("conf").join(arg),
        PathBuf::from(arg),
    ] {
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    paths
}

/// Upstream's first line, then where we looked (a relative path is
/// shown with the directory it was relative to).
fn not_found_message(arg: &str) -> String {
    let cwd = std::env::current_dir().ok();
    let mut msg = format!("Config file {arg} not found; looked for:\n");
    for p in config_candidates(arg) {
        match &cwd {
            Some(dir) if p.is_relative() => {
                msg.push_str(&format!("    {} (in {})\n", p.display(), dir.display()))
            }
            _ => msg.push_str(&format!("    {}\n", p.display())),
        }
    }
    msg
}

/// How names are resolved: the system resolver, unless
/// `LDIRECTORD_RESOLVE=hosts` restricts it to /etc/hosts (no DNS queries).
pub fn lookup_from_env() -> Lookup {
    match std::env::var("LDIRECTORD_RESOLVE").as_deref() {
        Ok("hosts") => Lookup::HostsFile,
        _ => Lookup::System,
    }
}

/// Run the command line; returns the process exit code.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let inv = match parse(args) {
        Ok(inv) => inv,
        Err(Early::Help) => {
            print!("{USAGE}");
            return 0;
        }
        Err(Early::Version) => {
            print!("{VERSION_TEXT}");
            return 0;
        }
        Err(Early::Usage(msg)) => {
            // Upstream (pod2usage) prints the synopsis to stdout, exit 255.
            eprintln!("ldirectord: {}", msg.lines().next().unwrap_or(""));
            print!("{USAGE}");
            return 255;
        }
    };
    // `list` shows the kernel's table; it needs no configuration.
    if inv.verb == Verb::List {
        return list(inv.stats);
    }
    let Some(path) = find_config(&inv.config_arg) else {
        eprint!("{}", not_found_message(&inv.config_arg));
        return 1;
    };
    let opts = Options {
        lookup: lookup_from_env(),
        ..Options::default()
    };
    // Upstream parses the configuration before it dispatches any command,
    // so every command exits 2 on a configuration error.
    let loaded = match config::load_file(&path, &opts) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let mut stderr = std::io::stderr().lock();
    for w in &loaded.warnings {
        let _ = stderr.write_all(w.render(&path, &loaded.source).as_bytes());
    }
    drop(stderr);
    use crate::daemon::lifecycle::{self, Context};
    let ctx = Context {
        config_path: path.clone(),
        cfgname: Context::cfgname_for(&inv.config_arg),
        debug: inv.debug,
        invoked_as: invoked_as(&inv),
    };
    let config = std::sync::Arc::new(loaded.config);
    if matches!(
        inv.verb,
        Verb::Start
            | Verb::Stop
            | Verb::Restart
            | Verb::TryRestart
            | Verb::Reload
            | Verb::ForceReload
            | Verb::Status
    ) {
        // Upstream logs every invocation whose configuration parses (note
        // the trailing space, as upstream writes it).
        lifecycle::command_logger(&ctx, &config).log(&format!(
            "Invoking ldirectord invoked as: {} ",
            ctx.invoked_as
        ));
    }
    match inv.verb {
        Verb::Start => lifecycle::start(&ctx, config),
        Verb::Stop => lifecycle::stop(&ctx),
        Verb::Restart => lifecycle::restart(&ctx, config),
        Verb::TryRestart => lifecycle::try_restart(&ctx, config),
        Verb::Reload | Verb::ForceReload => lifecycle::reload(&ctx, &config),
        Verb::Status => lifecycle::status(&ctx, &config),
        Verb::ConfigTest => {
            print!("{}", config::canonical::render(&config));
            0
        }
        Verb::Check => run_check(&config),
        Verb::Doctor => crate::doctor::run(&config, inv.real),
        // Handled before the configuration is read.
        Verb::List => list(inv.stats),
    }
}

/// `ldirectord list [--stats]`: the live IPVS table as `ipvsadm -Ln`.
fn list(stats: bool) -> i32 {
    use crate::ipvs::{render, IpvsBackend, NetlinkIpvs};
    let result = NetlinkIpvs::new().and_then(|mut nl| {
        let info = nl.info()?;
        let table = nl.dump()?;
        Ok(if stats {
            render::list_stats(&info, &table)
        } else {
            render::list(&info, &table)
        })
    });
    match result {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("ldirectord: {e}");
            1
        }
    }
}

/// `check`: every configured check once, a report on stdout; exit 1 if
/// any real is down, 0 otherwise.
fn run_check(config: &config::Config) -> i32 {
    use crate::check::{pool::PoolOptions, probe::Prober, report};
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ldirectord: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let reports = runtime.block_on(async {
        let prober = std::sync::Arc::new(Prober::new());
        report::check_once(config, prober, &PoolOptions::from_env()).await
    });
    print!("{}", report::render(&reports));
    i32::from(report::any_down(&reports))
}

/// `$0 [configfile] command` as upstream logs it (options removed).
fn invoked_as(inv: &Invocation) -> String {
    let argv0 = std::env::args()
        .next()
        .unwrap_or_else(|| "ldirectord".into());
    let verb = match inv.verb {
        Verb::Start => "start",
        Verb::Stop => "stop",
        Verb::Restart => "restart",
        Verb::TryRestart => "try-restart",
        Verb::Reload => "reload",
        Verb::ForceReload => "force-reload",
        Verb::Status => "status",
        Verb::ConfigTest => "configtest",
        Verb::Check => "check",
        Verb::List => "list",
        Verb::Doctor => "doctor",
    };
    format!("{argv0} {} {verb}", inv.config_arg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Invocation, Early> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn upstream_synopsis() {
        let i = p(&["start"]).unwrap();
        assert_eq!(
            (i.verb, i.config_arg.as_str(), i.debug),
            (Verb::Start, "ldirectord.cf", false)
        );
        let i = p(&["-d", "my.cf", "reload"]).unwrap();
        assert_eq!(
            (i.verb, i.config_arg.as_str(), i.debug),
            (Verb::Reload, "my.cf", true)
        );
        let i = p(&["--", "my.cf", "force-reload"]).unwrap();
        assert_eq!(
            (i.verb, i.config_arg.as_str()),
            (Verb::ForceReload, "my.cf")
        );
        assert_eq!(p(&["-t"]).unwrap().verb, Verb::ConfigTest);
        assert_eq!(p(&["-t", "x.cf"]).unwrap().config_arg, "x.cf");
        assert_eq!(p(&["x.cf", "configtest"]).unwrap().verb, Verb::ConfigTest);
        assert!(matches!(p(&[]), Err(Early::Usage(_))));
        assert!(matches!(p(&["bogus"]), Err(Early::Usage(_))));
        assert!(matches!(p(&["-v"]), Err(Early::Version)));
        assert!(matches!(p(&["-h"]), Err(Early::Help)));
        let i = p(&["x.cf", "doctor", "--real"]).unwrap();
        assert_eq!((i.verb, i.real), (Verb::Doctor, true));
        assert!(!p(&["doctor"]).unwrap().real);
        assert!(matches!(
            p(&["x.cf", "status", "--real"]),
            Err(Early::Usage(_))
        ));
    }
}
