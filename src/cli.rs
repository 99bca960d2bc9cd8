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
    ldirectord [configfile] status --json
    ldirectord [configfile] configtest|check
    ldirectord [configfile] doctor [--real]
    ldirectord list [--stats|--daemon]
    ldirectord convert LVS_CF [-o FILE] [--lenient] [--ha keepalived|pacemaker]
    ldirectord -t [configfile]
    ldirectord -h|--help
    ldirectord -v|--version

Options:
    -d, --debug    Don't daemonize; log to stderr.
    -t             Test the configuration: print every error (exit 2), or the
                   resolved configuration as canonical ldirectord.cf (exit 0).
    --real         With doctor: check this host as a real server.
    --stats        With list: the counters, as ipvsadm -Ln --stats.
    --daemon       With list: the connection-sync daemons, as ipvsadm -L --daemon.
    --json         With status: the daemon's status as JSON (see ldirectord(8)).
    -o FILE        With convert: write the ldirectord.cf to FILE (atomically)
                   and its companion files beside it, instead of printing it.
    --lenient      With convert: read past what Piranha refused but can be
                   read (CRLF, inline comments, key=value), with a warning.
    --ha KIND      With convert: also write director failover (what pulse
                   did) for keepalived or pacemaker.
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
    /// `list --daemon`: the sync daemons as `ipvsadm -L --daemon`.
    #[arg(long = "daemon")]
    daemon: bool,
    /// `doctor --real`: check this host as a real server.
    #[arg(long = "real")]
    real: bool,
    /// `status --json`: the status as JSON.
    #[arg(long = "json")]
    json: bool,
    /// `convert -o FILE`.
    #[arg(short = 'o')]
    output: Option<String>,
    /// `convert --lenient`.
    #[arg(long = "lenient")]
    lenient: bool,
    /// `convert --ha keepalived|pacemaker`.
    #[arg(long = "ha")]
    ha: Option<String>,
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
    /// `convert LVS_CF`: Piranha's lvs.cf → ldirectord.cf.
    Convert,
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
    /// `--daemon` (for `list`).
    pub daemon: bool,
    /// `--real` (for `doctor`).
    pub real: bool,
    /// `--json` (for `status`).
    pub json: bool,
    pub verb: Verb,
    /// The config argument as given (default `ldirectord.cf`).
    pub config_arg: String,
    /// The arguments of `convert`.
    pub convert: Option<ConvertArgs>,
}

/// `convert LVS_CF [-o FILE] [--lenient] [--ha keepalived|pacemaker]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertArgs {
    pub lvs_cf: String,
    pub output: Option<String>,
    pub lenient: bool,
    pub ha: Option<crate::piranha::Ha>,
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
    if a.rest.first().map(String::as_str) == Some("convert") && !a.test {
        return parse_convert(a);
    }
    if a.output.is_some() || a.lenient || a.ha.is_some() {
        return Err(Early::Usage(
            "-o, --lenient and --ha go with convert only".into(),
        ));
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
    if (a.stats || a.daemon) && verb != Verb::List {
        return Err(Early::Usage(
            "--stats and --daemon go with list only".into(),
        ));
    }
    if a.stats && a.daemon {
        return Err(Early::Usage(
            "list takes --stats or --daemon, not both".into(),
        ));
    }
    if a.json && verb != Verb::Status {
        return Err(Early::Usage("--json goes with status only".into()));
    }
    Ok(Invocation {
        debug: a.debug,
        stats: a.stats,
        daemon: a.daemon,
        real: a.real,
        json: a.json,
        verb,
        config_arg: config_arg.unwrap_or_else(|| "ldirectord.cf".into()),
        convert: None,
    })
}

fn parse_convert(a: Args) -> Result<Invocation, Early> {
    let lvs_cf = match a.rest.as_slice() {
        [_, f] => f.clone(),
        [_] => return Err(Early::Usage("convert needs the lvs.cf to read".into())),
        _ => return Err(Early::Usage("convert takes one lvs.cf".into())),
    };
    if a.debug || a.stats || a.daemon || a.real || a.json {
        return Err(Early::Usage(
            "convert takes only -o, --lenient and --ha".into(),
        ));
    }
    let ha = match a.ha.as_deref() {
        None => None,
        Some(k) => Some(crate::piranha::Ha::from_name(k).ok_or_else(|| {
            Early::Usage(format!("--ha takes keepalived or pacemaker, not \"{k}\""))
        })?),
    };
    Ok(Invocation {
        debug: false,
        stats: false,
        daemon: false,
        real: false,
        json: false,
        verb: Verb::Convert,
        config_arg: String::new(),
        convert: Some(ConvertArgs {
            lvs_cf,
            output: a.output,
            lenient: a.lenient,
            ha,
        }),
    })
}

fn verb(s: &str) -> Result<Verb, Early> {
    Verb::from_name(s).ok_or_else(|| Early::Usage(format!("unknown command \"{s}\"")))
}

/// Upstream's lookup: `/etc/ha.d/<c>`, `/etc/ha.d/conf/<c>`, then `<c>`.
pub fn find_config(arg: &str) -> Option<PathBuf> {
    config::locate(arg)
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
        return list(inv.stats, inv.daemon);
    }
    if let Some(args) = &inv.convert {
        return convert(args);
    }
    let opts = Options {
        lookup: lookup_from_env(),
        ..Options::default()
    };
    if is_lifecycle(inv.verb) {
        return lifecycle_command(&inv, &opts);
    }
    let Some(path) = find_config(&inv.config_arg) else {
        eprintln!("{}", config_not_found(&inv.config_arg));
        return 1;
    };
    let loaded = match config::load_file(&path, &opts) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    print_warnings(&path, &loaded);
    let config = loaded.config;
    match inv.verb {
        Verb::ConfigTest => {
            print!("{}", config::canonical::render(&config));
            0
        }
        Verb::Check => run_check(&config),
        Verb::Doctor => crate::doctor::run(&config, inv.real),
        // Handled before the configuration is read.
        _ => list(inv.stats, inv.daemon),
    }
}

/// Upstream's message for a configuration argument that names no file,
/// then every place [`find_config`] looked, in its order, each once (an
/// absolute argument is one path); a relative one with the directory it
/// was relative to.
fn config_not_found(arg: &str) -> String {
    let base = std::env::var_os("LDIRECTORD_CONFIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/ha.d"));
    let mut searched: Vec<PathBuf> = Vec::new();
    for p in [
        base.join(arg),
        base.join("conf").join(arg),
        PathBuf::from(arg),
    ] {
        if !searched.contains(&p) {
            searched.push(p);
        }
    }
    let cwd = std::env::current_dir().ok();
    let mut msg = format!("Config file {arg} not found; looked for:");
    for p in searched {
        match &cwd {
            Some(dir) if p.is_relative() => {
                msg.push_str(&format!("\n    {} (in {})", p.display(), dir.display()))
            }
            _ => msg.push_str(&format!("\n    {}", p.display())),
        }
    }
    msg
}

fn is_lifecycle(verb: Verb) -> bool {
    matches!(
        verb,
        Verb::Start
            | Verb::Stop
            | Verb::Restart
            | Verb::TryRestart
            | Verb::Reload
            | Verb::ForceReload
            | Verb::Status
    )
}

fn print_warnings(path: &std::path::Path, loaded: &config::Loaded) {
    let mut stderr = std::io::stderr().lock();
    for w in &loaded.warnings {
        let _ = stderr.write_all(w.render(path, &loaded.source).as_bytes());
    }
}

/// The lifecycle verbs. Upstream parses the file before it dispatches any
/// command, so a typo saved in it made every command exit 2: `stop` did
/// not stop and `status` failed while the daemon ran. Here only `start`
/// needs the file to be good; `status` and `stop` need only its name
/// (also once it is deleted), and `reload` and `restart` refuse a file
/// they could not put in force, without touching the daemon.
fn lifecycle_command(inv: &Invocation, opts: &Options) -> i32 {
    use crate::daemon::lifecycle::{self, Context, File};
    let path = find_config(&inv.config_arg);
    let file = match &path {
        None => File::Missing(config_not_found(&inv.config_arg)),
        Some(p) => match config::load_file(p, opts) {
            Ok(l) => {
                print_warnings(p, &l);
                File::Good(std::sync::Arc::new(l.config))
            }
            Err(e) => {
                let global = config::salvage_global(&e.source_text, opts);
                File::Broken(e, Box::new(global))
            }
        },
    };
    let ctx = Context {
        config_path: path.unwrap_or_else(|| PathBuf::from(&inv.config_arg)),
        config_arg: inv.config_arg.clone(),
        cfgname: Context::cfgname_for(&inv.config_arg),
        debug: inv.debug,
        invoked_as: invoked_as(inv),
    };
    lifecycle::log_invocation(&ctx, &file);
    match inv.verb {
        Verb::Start => lifecycle::start(&ctx, &file),
        Verb::Stop => lifecycle::stop(&ctx, &file),
        Verb::Restart => lifecycle::restart(&ctx, &file),
        Verb::TryRestart => lifecycle::try_restart(&ctx, &file),
        Verb::Reload | Verb::ForceReload => lifecycle::reload(&ctx, &file),
        _ => lifecycle::status(&ctx, &file, inv.json),
    }
}

/// `convert`: read an lvs.cf, print or write the ldirectord.cf (and its
/// companions). Exit 0 when it was printed or written, 1 when a file
/// cannot be read or written, 2 when the lvs.cf has errors.
fn convert(args: &ConvertArgs) -> i32 {
    use crate::piranha::{self, files, Placement};
    let src = std::path::Path::new(&args.lvs_cf);
    let bytes = match std::fs::read(src) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("ldirectord: cannot read {}: {e}", src.display());
            return 1;
        }
    };
    // For the error listing only: convert_bytes decides what bytes mean.
    let text = String::from_utf8_lossy(&bytes);
    let placement = match &args.output {
        None => Placement::stdout(),
        Some(out) => {
            let out = std::path::Path::new(out);
            let dir = match out.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => std::path::Path::new("."),
            };
            if out.is_dir() {
                eprintln!(
                    "ldirectord: cannot write {}: it is a directory",
                    out.display()
                );
                return 1;
            }
            let (Some(name), Ok(dir)) = (out.file_name(), dir.canonicalize()) else {
                eprintln!(
                    "ldirectord: cannot write {}: its directory does not exist",
                    out.display()
                );
                return 1;
            };
            Placement {
                dir,
                cf_name: name.to_string_lossy().into_owned(),
            }
        }
    };
    let lookup = lookup_from_env();
    let opts = piranha::Options {
        lenient: args.lenient,
        ha: args.ha,
        lookup,
        placement: placement.clone(),
        source: args.lvs_cf.clone(),
    };
    let conv = match piranha::convert_bytes(&bytes, &opts) {
        Ok(c) => c,
        Err(diags) => {
            let mut stderr = std::io::stderr().lock();
            let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
            for d in &errors {
                let _ = stderr.write_all(d.render(src, &text).as_bytes());
            }
            let _ = writeln!(
                stderr,
                "{}: {} error{}; nothing converted",
                src.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            return 2;
        }
    };
    let mut stderr = std::io::stderr().lock();
    for w in &conv.warnings {
        let _ = stderr.write_all(piranha::render_warning(w, src).as_bytes());
    }
    // What we wrote must be what our own parser reads.
    let cf_path = placement.cf_path();
    let check = Options {
        lookup,
        ..Options::default()
    };
    if let Err(e) = config::load_str(&conv.cf, &cf_path, &check) {
        let _ = writeln!(
            stderr,
            "ldirectord: the converted file does not load (a bug of convert; please report \
             it with the lvs.cf):\n{e}"
        );
        return 2;
    }
    match &args.output {
        None => {
            drop(stderr);
            print!("{}", conv.printable());
        }
        Some(_) => match files::write(&conv, &cf_path) {
            Ok(paths) => {
                for p in paths {
                    let _ = writeln!(stderr, "ldirectord: wrote {}", p.display());
                }
            }
            Err(e) => {
                let _ = writeln!(stderr, "ldirectord: cannot write {e}");
                return 1;
            }
        },
    }
    0
}

/// `ldirectord list [--stats|--daemon]`: the live IPVS table as
/// `ipvsadm -Ln` (or its counters, or the sync daemons).
fn list(stats: bool, daemon: bool) -> i32 {
    use crate::ipvs::{render, IpvsBackend, NetlinkIpvs};
    let result = NetlinkIpvs::new().and_then(|mut nl| {
        if daemon {
            return Ok(render::daemons(&nl.daemons()?));
        }
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
        Verb::Convert => "convert",
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
        let i = p(&["list", "--daemon"]).unwrap();
        assert_eq!((i.verb, i.daemon, i.stats), (Verb::List, true, false));
        assert!(matches!(p(&["start", "--daemon"]), Err(Early::Usage(_))));
        assert!(matches!(
            p(&["list", "--daemon", "--stats"]),
            Err(Early::Usage(_))
        ));
        assert!(p(&["x.cf", "status", "--json"]).unwrap().json);
        assert!(matches!(p(&["list", "--json"]), Err(Early::Usage(_))));
    }

    #[test]
    fn convert_arguments() {
        let i = p(&["convert", "lvs.cf"]).unwrap();
        assert_eq!(i.verb, Verb::Convert);
        let c = i.convert.unwrap();
        assert_eq!(
            (c.lvs_cf.as_str(), c.output, c.lenient, c.ha),
            ("lvs.cf", None, false, None)
        );
        let c = p(&[
            "convert",
            "--lenient",
            "lvs.cf",
            "-o",
            "out.cf",
            "--ha",
            "keepalived",
        ])
        .unwrap()
        .convert
        .unwrap();
        assert_eq!(
            (c.output.as_deref(), c.lenient, c.ha),
            (Some("out.cf"), true, Some(crate::piranha::Ha::Keepalived))
        );
        for bad in [
            &["convert"][..],
            &["convert", "a", "b"],
            &["convert", "a", "--ha", "heartbeat"],
            &["-d", "convert", "a"],
            &["x.cf", "start", "--lenient"],
            &["start", "-o", "x"],
        ] {
            assert!(matches!(p(bad), Err(Early::Usage(_))), "{bad:?}");
        }
    }
}
