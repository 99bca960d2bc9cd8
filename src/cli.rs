//! The command line: upstream's synopsis
//! `ldirectord [-d|--debug] [--] [configfile] start|stop|restart|try-restart|reload|force-reload|status`,
//! plus our verbs. Owns argument parsing, config-file lookup and exit
//! codes; the work of each verb lives elsewhere.
//!
//! Exit codes (upstream's): 0 success; 1 config file not found (and
//! `reload` with no daemon); 2 configuration error; 255 usage error. The
//! operator's verbs (`drain`, `disable`, `enable`, `weight`, `plan`) add
//! theirs ([`crate::daemon::operate`]).

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
    ldirectord [configfile] drain REAL [VIRTUAL] [--wait [SECONDS]]
    ldirectord [configfile] disable|enable REAL [VIRTUAL]
    ldirectord [configfile] weight REAL N [VIRTUAL]
    ldirectord [configfile] plan
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
    --wait [S]     With drain: wait until the real's active connections reach
                   0, at most S seconds (default 600); exit 1 if time is up.
    -o FILE        With convert: write the ldirectord.cf to FILE (atomically)
                   and its companion files beside it, instead of printing it.
    --lenient      With convert: read past what Piranha refused but can be
                   read (CRLF, inline comments, key=value), with a warning.
    --ha KIND      With convert: also write director failover (what pulse
                   did) for keepalived or pacemaker.
    -h, --help     Print this help.
    -v, --version  Print the version.

REAL is ADDRESS:PORT as status shows it (IPv6 in brackets); VIRTUAL narrows
it to one virtual service (tcp:VIP:PORT, VIP:PORT or a firewall mark).

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
    /// `drain --wait[=SECONDS]` (`--wait SECONDS` is rewritten so).
    #[arg(long = "wait", num_args = 0..=1, require_equals = true, default_missing_value = "600")]
    wait: Option<String>,
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
    /// `drain REAL [VIRTUAL]`: weight 0 until enabled, connections kept.
    Drain,
    /// `disable REAL [VIRTUAL]`: out of the table until enabled.
    Disable,
    /// `enable REAL [VIRTUAL]`: back to health-driven.
    Enable,
    /// `weight REAL N [VIRTUAL]`: weight N until enabled.
    Weight,
    /// The kernel operations a reload (or a start) would make now.
    Plan,
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
            "drain" => Verb::Drain,
            "disable" => Verb::Disable,
            "enable" => Verb::Enable,
            "weight" => Verb::Weight,
            "plan" => Verb::Plan,
            _ => return None,
        })
    }

    /// A verb that only reads files or the kernel and prints: it may die
    /// of SIGPIPE like any filter. The others keep Rust's ignored SIGPIPE:
    /// they run the daemon, run checks, or talk over sockets and pipes
    /// whose peer may close first, and must report that, not die of it.
    fn only_prints(self) -> bool {
        matches!(
            self,
            Verb::Status | Verb::ConfigTest | Verb::List | Verb::Convert
        )
    }

    /// A verb that changes an override through the control socket.
    fn is_control(self) -> bool {
        matches!(
            self,
            Verb::Drain | Verb::Disable | Verb::Enable | Verb::Weight
        )
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
    /// The arguments of `drain`, `disable`, `enable` and `weight`.
    pub control: Option<ControlArgs>,
}

/// `drain|disable|enable REAL [VIRTUAL]`, `weight REAL N [VIRTUAL]`, as
/// typed (checked when run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlArgs {
    pub real: String,
    pub virtual_service: Option<String>,
    /// `weight`'s N.
    pub weight: Option<String>,
    /// `drain --wait`: at most this many seconds.
    pub wait: Option<String>,
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
    let mut argv: Vec<OsString> = std::iter::once(OsString::from("ldirectord"))
        .chain(args)
        .collect();
    // `--wait SECONDS` as `--wait=SECONDS` (a bare `--wait` takes none).
    if let Some(i) = argv.iter().position(|a| a == "--wait") {
        if argv
            .get(i + 1)
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            let n = argv.remove(i + 1);
            argv[i] = OsString::from(format!("--wait={}", n.to_string_lossy()));
        }
    }
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
    let mut control = None;
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
        let is = |i: usize| a.rest.get(i).and_then(|v| Verb::from_name(v));
        // `[configfile] verb [arguments]`: an operator's verb first takes
        // its arguments; else the verb is second when there are two words
        // (a configuration file may be named like a verb).
        let at = match (is(0), is(1)) {
            (Some(v), _) if v.is_control() => 0,
            (_, Some(_)) => 1,
            (Some(_), None) if a.rest.len() == 1 || is(0).is_some_and(Verb::is_control) => 0,
            _ => match a.rest.as_slice() {
                [] => return Err(Early::Usage("no command given".into())),
                [v] => return Err(Early::Usage(format!("unknown command \"{v}\""))),
                [_, v] => return Err(Early::Usage(format!("unknown command \"{v}\""))),
                _ => return Err(Early::Usage("too many arguments".into())),
            },
        };
        let v = is(at).expect("a verb");
        let words = &a.rest[at + 1..];
        if v.is_control() {
            control = Some(control_args(v, words, a.wait.clone())?);
        } else if !words.is_empty() {
            return Err(Early::Usage("too many arguments".into()));
        }
        (a.rest[..at].first().cloned(), v)
    };
    if a.wait.is_some() && verb != Verb::Drain {
        return Err(Early::Usage("--wait goes with drain only".into()));
    }
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
        control,
    })
}

/// The words after `drain|disable|enable|weight`.
fn control_args(v: Verb, words: &[String], wait: Option<String>) -> Result<ControlArgs, Early> {
    let name = match v {
        Verb::Drain => "drain",
        Verb::Disable => "disable",
        Verb::Enable => "enable",
        _ => "weight",
    };
    let (real, weight, virtual_service) = match (v, words) {
        (Verb::Weight, [r, n]) => (r, Some(n.clone()), None),
        (Verb::Weight, [r, n, vs]) => (r, Some(n.clone()), Some(vs.clone())),
        (Verb::Weight, _) => {
            return Err(Early::Usage("weight takes REAL N [VIRTUAL]".into()));
        }
        (_, [r]) => (r, None, None),
        (_, [r, vs]) => (r, None, Some(vs.clone())),
        _ => return Err(Early::Usage(format!("{name} takes REAL [VIRTUAL]"))),
    };
    Ok(ControlArgs {
        real: real.clone(),
        virtual_service,
        weight,
        wait,
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
        control: None,
        convert: Some(ConvertArgs {
            lvs_cf,
            output: a.output,
            lenient: a.lenient,
            ha,
        }),
    })
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

/// A command that only prints ends quietly when its reader goes away
/// (`ldirectord status | head -1`), as the Perl program and every Unix
/// filter do, instead of panicking in `println!` on a broken pipe (Rust
/// ignores SIGPIPE). Only for [`Verb::only_prints`].
fn restore_sigpipe() {
    // SAFETY: setting a signal's disposition to the default has no
    // preconditions; no other thread exists yet.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Run the command line; returns the process exit code.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    crate::daemon::timeline::init();
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
    if inv.verb.only_prints() {
        restore_sigpipe();
    }
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
    if let Some(args) = &inv.control {
        return control_command(&inv, args);
    }
    let Some(path) = find_config(&inv.config_arg) else {
        eprintln!("{}", config_not_found(&inv.config_arg));
        // For plan, 1 means "there are operations".
        return if inv.verb == Verb::Plan { 2 } else { 1 };
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
        Verb::Plan => {
            crate::daemon::operate::plan(&context(&inv, path), std::sync::Arc::new(config))
        }
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
    use crate::daemon::lifecycle::{self, File};
    let path = find_config(&inv.config_arg);
    let file = match &path {
        None => File::Missing(config_not_found(&inv.config_arg)),
        Some(p) => match config::load_file(p, opts) {
            Ok(l) => {
                crate::daemon::timeline::mark("parsed", || {
                    let reals: usize = l.config.virtuals.iter().map(|v| v.reals.len()).sum();
                    format!("{} virtuals, {reals} reals", l.config.virtuals.len())
                });
                print_warnings(p, &l);
                File::Good(std::sync::Arc::new(l.config))
            }
            Err(e) => {
                let global = config::salvage_global(&e.source_text, opts);
                File::Broken(e, Box::new(global))
            }
        },
    };
    let ctx = context(inv, path.unwrap_or_else(|| PathBuf::from(&inv.config_arg)));
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

/// How a command on configuration `config_path` was invoked.
fn context(inv: &Invocation, config_path: PathBuf) -> crate::daemon::lifecycle::Context {
    use crate::daemon::lifecycle::Context;
    Context {
        config_path,
        config_arg: inv.config_arg.clone(),
        cfgname: Context::cfgname_for(&inv.config_arg),
        debug: inv.debug,
        invoked_as: invoked_as(inv),
    }
}

/// `drain|disable|enable|weight`: what was typed, checked, sent to the
/// running daemon. Needs only the configuration's name: the daemon checks
/// the real against the configuration it runs with.
fn control_command(inv: &Invocation, args: &ControlArgs) -> i32 {
    use crate::control::protocol::{self, Request, Target, WeightTarget};
    use crate::control::Override;
    let lookup = lookup_from_env();
    let checked = (|| {
        let real = protocol::parse_real(&args.real, lookup)?;
        let virtual_service = args
            .virtual_service
            .as_deref()
            .map(|v| protocol::parse_virtual(v, lookup))
            .transpose()?;
        let wait = match args.wait.as_deref() {
            None => None,
            Some(s) => match s.parse::<u64>() {
                Ok(n) if n <= 86_400 => Some(std::time::Duration::from_secs(n)),
                _ => return Err(format!("--wait takes 0 to 86400 seconds, not \"{s}\"")),
            },
        };
        let target = Target {
            real: real.clone(),
            virtual_service: virtual_service.clone(),
        };
        let request = match inv.verb {
            Verb::Drain => Request::Drain(target),
            Verb::Disable => Request::Disable(target),
            Verb::Enable => Request::Enable(target),
            _ => {
                let n = args.weight.as_deref().unwrap_or("");
                let weight = n
                    .parse::<u32>()
                    .ok()
                    .filter(|w| *w <= Override::MAX_WEIGHT)
                    .ok_or_else(|| {
                        format!(
                            "a weight is a whole number from 0 to {}, not \"{n}\"",
                            Override::MAX_WEIGHT
                        )
                    })?;
                Request::Weight(WeightTarget {
                    real,
                    virtual_service,
                    weight,
                })
            }
        };
        Ok((request, wait))
    })();
    let (request, wait) = match checked {
        Ok(x) => x,
        Err(e) => {
            eprintln!("ldirectord: {e}");
            return 1;
        }
    };
    let path = find_config(&inv.config_arg);
    let exists = path.is_some();
    let ctx = context(inv, path.unwrap_or_else(|| PathBuf::from(&inv.config_arg)));
    crate::daemon::operate::change(&ctx, exists, &request, wait)
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
        Verb::Drain => "drain",
        Verb::Disable => "disable",
        Verb::Enable => "enable",
        Verb::Weight => "weight",
        Verb::Plan => "plan",
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
    fn operator_verbs_and_their_arguments() {
        let i = p(&["drain", "192.0.2.21:80"]).unwrap();
        assert_eq!(
            (i.verb, i.config_arg.as_str()),
            (Verb::Drain, "ldirectord.cf")
        );
        let c = i.control.unwrap();
        assert_eq!(
            (c.real.as_str(), c.virtual_service, c.wait),
            ("192.0.2.21:80", None, None)
        );
        let i = p(&[
            "web.cf",
            "drain",
            "192.0.2.21:80",
            "tcp:192.0.2.10:80",
            "--wait",
            "30",
        ])
        .unwrap();
        let c = i.control.unwrap();
        assert_eq!(i.config_arg, "web.cf");
        assert_eq!(c.virtual_service.as_deref(), Some("tcp:192.0.2.10:80"));
        assert_eq!(c.wait.as_deref(), Some("30"));
        let c = p(&["drain", "--wait", "192.0.2.21:80"])
            .unwrap()
            .control
            .unwrap();
        assert_eq!(
            (c.real.as_str(), c.wait.as_deref()),
            ("192.0.2.21:80", Some("600"))
        );
        let c = p(&["weight", "[2001:db8::1]:80", "5"])
            .unwrap()
            .control
            .unwrap();
        assert_eq!(c.weight.as_deref(), Some("5"));
        assert_eq!(p(&["x.cf", "plan"]).unwrap().verb, Verb::Plan);
        assert_eq!(p(&["plan"]).unwrap().verb, Verb::Plan);
        assert_eq!(
            p(&["x.cf", "enable", "192.0.2.21:80"]).unwrap().verb,
            Verb::Enable
        );
        // A file named like a verb still works the old way.
        let i = p(&["start", "stop"]).unwrap();
        assert_eq!((i.verb, i.config_arg.as_str()), (Verb::Stop, "start"));
        for bad in [
            &["drain"][..],
            &["drain", "a", "b", "c"],
            &["weight", "192.0.2.21:80"],
            &["x.cf", "plan", "extra"],
            &["x.cf", "enable", "192.0.2.21:80", "--wait"],
            &["x.cf", "start", "--wait=3"],
        ] {
            assert!(matches!(p(bad), Err(Early::Usage(_))), "{bad:?}");
        }
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
