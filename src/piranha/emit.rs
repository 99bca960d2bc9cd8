//! [`LvsCf`] → ldirectord.cf text that programs the IPVS table lvsd and
//! its nannies programmed (reference §8, §13) and checks the reals as
//! nanny did (§10, via [`check`]); every difference a `# WARNING:` comment
//! next to the directive it concerns (§14) and a warning in [`Notes`].
//!
//! Each virtual and real names the lvs.cf line it came from. Inactive or
//! duplicate virtuals and reals are written commented out, so that the
//! whole of the lvs.cf can be found in the output. Values are checked here
//! only where they decide what lvsd would have done (a `timeout` of 0, a
//! missing address); the text is then read by `config::load_str` like any
//! other ldirectord.cf.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;

use super::check::{self, comment_safe, Kind};
use super::read::{Host, LvsCf, Network, Pmask, Protocol, Server, Virtual};
use super::{ha, Companion, Notes, Options};

/// Whether the ldirectord-rs extensions `slowstart=`, `loadmonitor=` and
/// `syncdaemon=` (names settled in PLAN.md) are written as directives.
/// When false they are written commented out, with a warning saying what
/// is lost: the state of a parser that does not read them yet.
pub const EXTENSIONS: bool = true;

/// What [`emit`] produces.
#[derive(Debug, Clone)]
pub struct Emitted {
    pub cf: String,
    pub companions: Vec<Companion>,
}

/// ipvsadm's longest persistence timeout (31 days).
const MAX_PERSISTENT: i32 = 2_678_400;

/// Convert `cf`. Errors (a file lvsd could not have run) go to `notes`.
pub fn emit(cf: &LvsCf, opts: &Options, notes: &mut Notes) -> Emitted {
    let mut e = Emitter {
        cf,
        opts,
        notes,
        out: Vec::new(),
        companions: Vec::new(),
        script_names: HashSet::new(),
        quiet: false,
        pending: BTreeMap::new(),
    };
    e.pending = e.notes.take_unplaced();
    e.file();
    let mut cf_text = e.out.join("\n");
    cf_text.push('\n');
    let mut companions = e.companions;
    match opts.ha {
        Some(super::Ha::Keepalived) => companions.extend(ha::keepalived(cf, opts)),
        Some(super::Ha::Pacemaker) => companions.extend(ha::pacemaker(cf, opts)),
        None => {}
    }
    Emitted {
        cf: cf_text,
        companions,
    }
}

struct Emitter<'a> {
    cf: &'a LvsCf,
    opts: &'a Options,
    notes: &'a mut Notes,
    out: Vec<String>,
    companions: Vec<Companion>,
    script_names: HashSet<String>,
    /// Inside a commented-out virtual: warnings are written as comments
    /// but not reported (that virtual does not run).
    quiet: bool,
    /// The reader's warnings (lexical), by line, until they are placed
    /// next to what they concern.
    pending: BTreeMap<usize, Vec<String>>,
}

/// Greedy word wrap of `text` into comment lines: `first` before the first
/// line, `rest` before the others.
fn wrap(first: &str, rest: &str, text: &str) -> Vec<String> {
    const WIDTH: usize = 79;
    let mut lines = Vec::new();
    let mut cur = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        let width = cur.replace('\t', "    ").chars().count();
        if !empty && width + 1 + word.chars().count() > WIDTH {
            lines.push(std::mem::replace(&mut cur, rest.to_string()));
            empty = true;
        }
        if !empty {
            cur.push(' ');
        }
        cur.push_str(word);
        empty = false;
    }
    lines.push(cur.trim_end().to_string());
    lines
}

/// A block of output lines.
#[derive(Default)]
struct Block {
    lines: Vec<String>,
}

impl Block {
    fn line(&mut self, s: impl Into<String>) {
        self.lines.push(s.into());
    }
    fn comment(&mut self, indent: &str, text: &str) {
        let first = format!("{indent}# ");
        let rest = format!("{indent}#   ");
        self.lines.extend(wrap(&first, &rest, text));
    }
    fn warning(&mut self, indent: &str, text: &str) {
        let first = format!("{indent}# WARNING: ");
        let rest = format!("{indent}#   ");
        self.lines.extend(wrap(&first, &rest, text));
    }
}

fn forward(n: Network) -> &'static str {
    match n {
        Network::Nat => "masq",
        Network::Direct => "gate",
        Network::Tunnel => "ipip",
    }
}

fn prefix_len(mask: Ipv4Addr) -> Option<u32> {
    let m = u32::from(mask);
    (m.leading_ones() + m.trailing_zeros() == 32).then(|| m.leading_ones())
}

/// What IPVS keys a virtual by (duplicates of a key: Piranha started only
/// the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Mark(u32),
    Addr(Ipv4Addr, bool, i32),
}

fn key_of(v: &Virtual) -> Key {
    match v.fwmark() {
        Some(m) => Key::Mark(m),
        None => Key::Addr(
            v.address
                .as_ref()
                .map_or(Ipv4Addr::UNSPECIFIED, |a| a.value.0.ip),
            v.protocol() == Protocol::Udp,
            v.port(),
        ),
    }
}

impl Emitter<'_> {
    fn warn(&mut self, b: &mut Block, indent: &str, line: usize, msg: &str) {
        if !self.quiet {
            self.notes.warn_placed(line, msg);
        }
        b.warning(indent, msg);
    }

    /// The reader's warnings of lines `a..=z`, except those inside one of
    /// `except` (sorted, disjoint line ranges), as comments.
    fn place(
        &mut self,
        b: &mut Block,
        indent: &str,
        a: usize,
        z: usize,
        except: &[(usize, usize)],
    ) {
        let lines: Vec<usize> = self
            .pending
            .range(a..=z)
            .map(|(l, _)| *l)
            .filter(|l| !within(except, *l))
            .collect();
        for l in lines {
            for msg in self.pending.remove(&l).unwrap_or_default() {
                b.warning(indent, &msg);
            }
        }
    }

    fn push(&mut self, b: Block) {
        self.out.extend(b.lines);
    }

    fn file(&mut self) {
        let cf = self.cf;
        let g = &cf.global;
        let mut h = Block::default();
        h.line(format!(
            "# {} - converted from {} by \"ldirectord convert\"",
            comment_safe(&self.opts.placement.cf_name),
            comment_safe(&self.opts.source),
        ));
        h.line("#");
        h.comment(
            "",
            "The lvs.cf was read by Piranha 0.8.6's rules; each virtual and real names the \
             lvs.cf line it came from. \"# WARNING:\" marks where the behaviour differs from \
             Piranha's. ldirectord(8), CONVERTING FROM PIRANHA, says what became of each \
             directive.",
        );
        if let Some(fos) = g.service_fos.as_ref().filter(|s| s.value) {
            self.notes.error(
                fos.line,
                fos.col,
                "service = fos: failover services (FOS) are not a load balancer and cannot be \
                 converted; Red Hat dropped them in 2002 (use keepalived or Pacemaker to fail a \
                 service over)",
            );
        }
        let live_virtuals: Vec<&Virtual> = cf
            .virtuals
            .iter()
            .filter(|v| !v.failover && v.active())
            .collect();
        if live_virtuals.is_empty() {
            let line = cf.virtuals.first().map_or(0, |v| v.line);
            self.warn(
                &mut h,
                "",
                line,
                "no active virtual server: pulse refused to start with this file (\"no active \
                 lvs services defined\"); the output has no virtual service",
            );
        }
        // Reader warnings outside every block.
        let blocks: Vec<(usize, usize)> =
            cf.virtuals.iter().map(|v| (v.line, v.end_line)).collect();
        self.place(&mut h, "", 0, usize::MAX, &blocks);
        self.director_failover(&mut h);
        self.generic_warnings(&mut h);
        h.line("");
        self.globals(&mut h);
        self.push(h);

        let mut seen: HashMap<Key, &Virtual> = HashMap::new();
        for v in &cf.virtuals {
            self.out.push(String::new());
            if v.failover {
                let mut b = Block::default();
                b.comment(
                    "",
                    &format!(
                        "failover {} (lvs.cf line {}): a failover service (FOS), which pulse \
                         ignores with service = lvs; not converted",
                        v.name, v.line
                    ),
                );
                self.place(&mut b, "", v.line, v.end_line, &[]);
                self.push(b);
                continue;
            }
            let mut commented = None;
            if !v.active() {
                let why = if v.active.is_none() {
                    "no \"active = 1\", and a virtual is inactive by default"
                } else {
                    "active = 0"
                };
                commented = Some(format!(
                    "inactive in lvs.cf ({why}): Piranha never started it, so it is commented \
                     out; uncomment its directive lines to use it"
                ));
            } else {
                let key = key_of(v);
                if let Some(first) = seen.get(&key) {
                    let what = match key {
                        Key::Mark(m) => format!("fwmark {m}"),
                        Key::Addr(ip, udp, port) => {
                            format!("{ip}:{port} {}", if udp { "udp" } else { "tcp" })
                        }
                    };
                    commented = Some(format!(
                        "a second virtual with {what} (the first is {} at line {}): Piranha \
                         started only the first, so this one is commented out",
                        first.name, first.line
                    ));
                } else {
                    seen.insert(key, v);
                }
            }
            let b = self.virtual_block(v, commented);
            self.quiet = false;
            self.push(b);
        }
        // Anything not placed yet (cannot happen; never lose a warning).
        let mut tail = Block::default();
        self.place(&mut tail, "", 0, usize::MAX, &[]);
        if !tail.lines.is_empty() {
            self.out.push(String::new());
            self.push(tail);
        }
    }

    /// What pulse did, which ldirectord does not.
    fn director_failover(&mut self, h: &mut Block) {
        let g = &self.cf.global;
        let host = |h: &Option<super::read::At<Host>>| {
            h.as_ref()
                .map(|h| h.value.ip.to_string())
                .unwrap_or_else(|| "(none)".into())
        };
        let mut facts = vec![format!(
            "primary {}, backup {} (backup_active = {}), heartbeat udp port {} every {} s, \
             partner dead after {} s",
            host(&g.primary),
            host(&g.backup),
            u8::from(g.backup_active()),
            g.heartbeat_port(),
            g.keepalive(),
            g.deadtime()
        )];
        if g.primary_private.is_some() || g.backup_private.is_some() {
            facts.push(format!(
                "a second heartbeat channel: primary_private {}, backup_private {}",
                host(&g.primary_private),
                host(&g.backup_private)
            ));
        }
        if g.monitor_links() {
            facts.push("monitor_links = 1 (a NIC link failure deactivated the director)".into());
        }
        let vips = ha::vips(self.cf);
        if !vips.is_empty() {
            let list: Vec<String> = vips
                .iter()
                .map(|v| format!("{} on {}", v.cidr(), v.label))
                .collect();
            facts.push(format!("VIPs raised by pulse: {}", list.join(", ")));
        }
        if let Some(nr) = &g.nat_router {
            facts.push(format!(
                "nat_router {} on {} (the NAT reals' default gateway)",
                nr.value.0.ip, nr.value.1
            ));
        }
        for (name, cmd) in [
            ("active_cmd", &g.active_cmd),
            ("inactive_cmd", &g.inactive_cmd),
        ] {
            if let Some(c) = cmd {
                facts.push(format!("{name} = \"{}\"", comment_safe(&c.value)));
            }
        }
        h.line("#");
        h.comment(
            "",
            "Director failover (pulse) is not ldirectord's job. The lvs.cf had:",
        );
        for f in &facts {
            let lines = wrap("#   - ", "#     ", f);
            for l in lines {
                h.line(l);
            }
        }
        let line = g.primary.as_ref().map_or(0, |p| p.line);
        let whereto =
            match self.opts.ha {
                Some(super::Ha::Keepalived) => {
                    format!(
                "they are in {} and {} (keepalived VRRP, both BACKUP with nopreempt: pulse \
                 did not fail back)",
                self.opts.placement.companion("keepalived-primary.conf").display(),
                self.opts.placement.companion("keepalived-backup.conf").display()
            )
                }
                Some(super::Ha::Pacemaker) => format!(
                "they are in {} (Pacemaker: IPaddr2 per VIP with resource stickiness, as pulse \
                 did not fail back)",
                self.opts.placement.companion("pcs.sh").display()
            ),
                None => "convert with --ha keepalived or --ha pacemaker to get them as a VRRP or \
                     Pacemaker configuration"
                    .to_string(),
            };
        let mut moved = vec!["director failover"];
        if !vips.is_empty() {
            moved.push("the VIPs");
        }
        if g.nat_router.is_some() {
            moved.push("the NAT router");
        }
        if g.syncdaemon() {
            moved.push("the sync daemon's role");
        }
        if [&g.tcp_timeout, &g.tcpfin_timeout, &g.udp_timeout]
            .iter()
            .any(|t| t.as_ref().is_some_and(|t| t.value != 0))
        {
            moved.push("IPVS timeouts");
        }
        if g.active_cmd.is_some() || g.inactive_cmd.is_some() {
            moved.push("the active/inactive commands");
        }
        let list = match moved.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => moved.join(""),
        };
        let mut msg = format!(
            "{list} were pulse's and are not in this file; {whereto}. The heartbeat (udp {}) \
             is gone",
            g.heartbeat_port()
        );
        if g.primary_private.is_some() || g.backup_private.is_some() {
            msg.push_str(
                "; its second (private) channel has no direct equivalent: give the VRRP \
                 instance a track_interface or a second instance on that network",
            );
        }
        self.warn(h, "", line, &msg);
        if let Some(nr) = &g.nat_router {
            if g.network() == Network::Nat {
                self.warn(
                    h,
                    "",
                    nr.line,
                    &format!(
                        "nat_router: the NAT reals route their replies through {}; that \
                         address must move with the active director (it is with the VIPs in \
                         the --ha companion)",
                        nr.value.0.ip
                    ),
                );
            }
        }
        let t = [&g.tcp_timeout, &g.tcpfin_timeout, &g.udp_timeout];
        if t.iter().any(|x| x.as_ref().is_some_and(|v| v.value != 0)) {
            let v = |x: &Option<super::read::At<i32>>| x.as_ref().map_or(0, |v| v.value);
            let line = t.iter().find_map(|x| x.as_ref()).map_or(0, |x| x.line);
            let how = if self.opts.ha == Some(super::Ha::Keepalived) {
                "lvs_timeouts in the keepalived companion sets them"
            } else {
                "run it at boot, or use --ha keepalived (lvs_timeouts)"
            };
            self.warn(
                h,
                "",
                line,
                &format!(
                    "tcp_timeout/tcpfin_timeout/udp_timeout: lvsd ran \"ipvsadm --set {} {} {}\" \
                     (0 = unchanged) at every start; ldirectord does not: {how}",
                    v(&g.tcp_timeout),
                    v(&g.tcpfin_timeout),
                    v(&g.udp_timeout)
                ),
            );
        }
        if let Some(hs) = &g.hard_shutdown {
            h.comment(
                "",
                &format!(
                    "hard_shutdown = {} (line {}): when a nanny died, lvsd {}; here a failing \
                     check affects only its own real",
                    u8::from(hs.value),
                    hs.line,
                    if hs.value {
                        "took the whole director down"
                    } else {
                        "logged it and carried on"
                    }
                ),
            );
        }
    }

    /// Warnings every conversion owes (§14.16–18).
    fn generic_warnings(&mut self, h: &mut Block) {
        self.warn(
            h,
            "",
            0,
            "lvsd ran \"ipvsadm -C\" at every start, deleting IPVS services it did not own; \
             ldirectord-rs adopts the table and changes only its own services",
        );
        self.warn(
            h,
            "",
            0,
            "reload: lvsd applied few edits without a restart (a removed real deleted its \
             whole virtual); ldirectord reload applies the whole file and keeps what did not \
             change",
        );
        let no_effect = &self.cf.global.no_effect;
        if let Some(first) = no_effect.first() {
            let mut names: Vec<&str> = no_effect.iter().map(|n| n.value.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            self.warn(
                h,
                "",
                first.line,
                &format!(
                    "{}: written by piranha-gui, no effect on pulse, lvsd or nanny; dropped",
                    names.join(", ")
                ),
            );
        }
    }

    fn globals(&mut self, h: &mut Block) {
        let g = &self.cf.global;
        h.comment("", "Piranha logged to syslog, facility daemon.");
        h.line("logfile=\"daemon\"");
        h.comment("", "nanny took a real out at its first failed check.");
        h.line("failurecount=1");
        h.comment(
            "",
            "A failed real is removed; virtuals with quiesce_server = 1 say otherwise.",
        );
        h.line("quiescent=no");
        h.comment("", "lvsd removed its services when it stopped.");
        h.line("cleanstop=yes");
        h.comment(
            "",
            "Each virtual has its own check interval (Perl ldirectord honours that only with \
             fork=yes).",
        );
        h.line("fork=yes");
        h.comment(
            "",
            &format!(
                "network = {} ({}): every real (and sorry server) is forwarded by {}.",
                match g.network() {
                    Network::Nat => "nat",
                    Network::Direct => "direct",
                    Network::Tunnel => "tunnel",
                },
                g.network
                    .as_ref()
                    .map_or_else(|| "the default".into(), |n| format!("line {}", n.line)),
                forward(g.network())
            ),
        );
        if let Some(sd) = g.syncdaemon.as_ref().filter(|s| s.value) {
            let iface = g.syncd_iface();
            let iface_ok = plain(iface) && iface.len() <= 15 && !iface.contains(['/', '=', ':']);
            let directive = format!(
                "syncdaemon=both {} syncid={}",
                g.syncd_iface(),
                g.syncd_id()
            );
            h.line("");
            h.comment(
                "",
                &format!(
                    "syncdaemon = 1 (line {}): pulse ran the IPVS connection sync daemon, master \
                     on the active director and backup on the other, on {} with id {}.",
                    sd.line,
                    g.syncd_iface(),
                    g.syncd_id()
                ),
            );
            if self.opts.ha == Some(super::Ha::Keepalived) {
                let msg = "the sync daemon follows the VRRP role in the keepalived companion \
                           (lvs_sync_daemon), as it followed pulse's; do not also start it here";
                self.warn(h, "", sd.line, msg);
                h.line(format!("# {directive}"));
            } else if EXTENSIONS && !iface_ok {
                let line = g.syncd_iface.as_ref().map_or(sd.line, |i| i.line);
                let msg = format!(
                    "syncd_iface = {iface} is not an interface name (at most 15 characters, no \
                     '/', '=' or ':'), so the sync daemon is not started: correct it and \
                     uncomment the line"
                );
                self.warn(h, "", line, &msg);
                h.line(format!("# {directive}"));
            } else if EXTENSIONS {
                self.warn(
                    h,
                    "",
                    sd.line,
                    "syncdaemon=both runs both roles on each director at once (the standby \
                     receives, the active one sends), so no role change is needed on failover",
                );
                h.line(directive);
            } else {
                self.warn(
                    h,
                    "",
                    sd.line,
                    "this ldirectord-rs does not read syncdaemon= yet: start the sync daemon \
                     with ipvsadm --start-daemon, or use --ha keepalived (lvs_sync_daemon)",
                );
                h.line(format!("# {directive}"));
            }
        }
    }

    fn script_path(&mut self, v: &Virtual) -> std::path::PathBuf {
        let base: String = v
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        let stem = if base.is_empty() {
            format!("line{}", v.line)
        } else {
            base
        };
        // Two virtuals whose names read the same here: -2, -3, …
        let mut name = format!("check-{stem}.sh");
        let mut n = 1;
        while !self.script_names.insert(name.clone()) {
            n += 1;
            name = format!("check-{stem}-{n}.sh");
        }
        self.opts.placement.companion(&name)
    }

    fn virtual_block(&mut self, v: &Virtual, commented: Option<String>) -> Block {
        let live = commented.is_none();
        let g = &self.cf.global;
        let fwd = forward(g.network());
        let mut b = Block::default();
        let t = "\t";
        // Header: where it came from, and what pulse did with its address.
        let mut head = format!("virtual {} (lvs.cf line {})", v.name, v.line);
        if let Some(a) = &v.address {
            head.push_str(&format!(": VIP {} on {}", a.value.0.ip, a.value.1));
            if let Some(m) = &v.vip_nmask {
                head.push_str(&format!(", vip_nmask {}", m.value));
            }
        }
        b.comment("", &head);
        if let Some(why) = &commented {
            let line = v.active.as_ref().map_or(v.line, |a| a.line);
            self.warn(&mut b, "", line, why);
        }
        self.quiet = !live;
        let servers: Vec<(usize, usize)> = v.servers.iter().map(|s| (s.line, s.end_line)).collect();
        self.place(&mut b, "", v.line, v.end_line, &servers);

        // virtual=
        let vport = v.port();
        match v.fwmark() {
            Some(mark) => {
                b.line(format!("virtual={mark}"));
                b.comment(
                    t,
                    &format!(
                        "fwmark {mark}: IPVS matches packets marked {mark} (iptables -t mangle \
                         … -j MARK, outside Piranha as here); the VIP and port are not part of \
                         the service"
                    ),
                );
            }
            None => {
                let ip = v.address.as_ref().map(|a| a.value.0.ip);
                match ip.filter(|ip| !ip.is_unspecified()) {
                    Some(ip) => b.line(format!("virtual={ip}:{}", vport.clamp(0, 65535))),
                    None => {
                        if live {
                            self.notes.error(
                                v.line,
                                1,
                                format!(
                                    "virtual {} has no address (address = IP DEVICE): lvsd \
                                     would have programmed 0.0.0.0:{vport}",
                                    v.name
                                ),
                            );
                        }
                        b.line(format!("virtual=0.0.0.0:{}", vport.clamp(0, 65535)));
                    }
                }
                if live && !(1..=65535).contains(&vport) {
                    let (line, col) = v.port.as_ref().map_or((v.line, 1), |p| (p.line, p.col));
                    self.notes.error(
                        line,
                        col,
                        format!("port {vport}: a virtual's port must be between 1 and 65535"),
                    );
                }
            }
        }
        if let Some(a) = &v.address {
            self.host_name_warning(&mut b, &a.value.0, a.line);
        }

        // Reals.
        let mut real_ports = Vec::new();
        let mut max_weight = 0;
        let mut weights = Vec::new();
        let mut seen_reals: HashMap<(Ipv4Addr, i32), usize> = HashMap::new();
        for s in &v.servers {
            self.real(
                &mut b,
                v,
                s,
                live,
                fwd,
                &mut seen_reals,
                &mut real_ports,
                &mut weights,
            );
        }
        for w in &weights {
            max_weight = max_weight.max(*w);
        }

        b.line(format!(
            "{t}protocol={}",
            match (v.fwmark(), v.protocol()) {
                (Some(_), _) => "fwm",
                (None, Protocol::Tcp) => "tcp",
                (None, Protocol::Udp) => "udp",
            }
        ));
        b.line(format!("{t}scheduler={}", v.scheduler()));
        self.persistence(&mut b, v, live);
        self.check(&mut b, v, live, &real_ports);
        self.timing(&mut b, v, live, max_weight, &weights);
        if let Some(s) = &v.sorry_server {
            b.comment(
                t,
                &format!(
                    "sorry_server {} (line {}): lvsd added it with weight 1 while no real was up",
                    s.value, s.line
                ),
            );
            b.line(format!(
                "{t}fallback={}:{} {fwd}",
                s.value,
                vport.clamp(0, 65535)
            ));
        }
        if v.client_monitor() != "/usr/sbin/nanny" {
            let cm = v.client_monitor.as_ref().map_or(v.line, |c| c.line);
            let msg = format!(
                "client_monitor = {}: lvsd ran that program instead of nanny; it cannot be \
                 converted, the check above is nanny's",
                v.client_monitor()
            );
            self.warn(&mut b, t, cm, &msg);
        }
        if !v.unused.is_empty() {
            let names: Vec<&str> = v.unused.iter().map(|u| u.value.as_str()).collect();
            b.comment(
                t,
                &format!(
                    "{}: failover-service directives, unused with service = lvs",
                    names.join(", ")
                ),
            );
        }

        if live {
            return b;
        }
        // Commented out: every directive line gets "# " after its indent.
        let lines = b
            .lines
            .into_iter()
            .map(|l| {
                let body = l.trim_start_matches('\t');
                if body.starts_with('#') || body.is_empty() {
                    l
                } else {
                    format!("{}# {body}", &l[..l.len() - body.len()])
                }
            })
            .collect();
        Block { lines }
    }

    fn host_name_warning(&mut self, b: &mut Block, h: &Host, line: usize) {
        if let Some(name) = &h.name {
            let msg = format!(
                "{name} is a host name: Piranha resolved it once, when it read the file; it is \
                 written as {} (its address now)",
                h.ip
            );
            self.warn(b, "\t", line, &msg);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn real(
        &mut self,
        b: &mut Block,
        v: &Virtual,
        s: &Server,
        live: bool,
        fwd: &str,
        seen: &mut HashMap<(Ipv4Addr, i32), usize>,
        real_ports: &mut Vec<i32>,
        weights: &mut Vec<i32>,
    ) {
        let t = "\t";
        b.comment(t, &format!("server {} (lvs.cf line {})", s.name, s.line));
        self.place(b, t, s.line, s.end_line, &[]);
        let ip = s
            .address
            .as_ref()
            .map(|a| a.value.ip)
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        let port = s.port();
        let mut weight = s.weight();
        let mut comment_out = None;
        if !s.active() {
            comment_out = Some(if s.active.is_none() {
                "no \"active = 1\", and a server is inactive by default"
            } else {
                "active = 0"
            });
        }
        if comment_out.is_none() {
            if live {
                self.check_real(s, ip, port, weight);
            }
            if let Some(a) = &s.address {
                self.host_name_warning(b, &a.value, a.line);
            }
            if s.port.is_none() && port != v.port() {
                let vp = v.port.as_ref().map_or(0, |p| p.line);
                let msg = format!(
                    "this server block comes before the virtual's port = {} (line {vp}): \
                     Piranha gave the real the port as of its server line, {port}; kept",
                    v.port()
                );
                self.warn(b, t, s.line, &msg);
            }
            if weight <= 0 {
                let line = s.weight.as_ref().map_or(s.line, |w| w.line);
                let msg = format!(
                    "weight = {weight}: nanny put it into IPVS with weight 1 (its slow start \
                     begins at max(1, weight/32)), so it took traffic; converted to 1 (the \
                     same). Write active = 0 or use ldirectord's maintenance to keep a real \
                     out"
                );
                self.warn(b, t, line, &msg);
                weight = 1;
            }
            if let Some(first) = seen.get(&(ip, port)) {
                let msg = format!(
                    "the same real as line {first}: its nanny's ipvsadm -a failed, nanny \
                     exited, and with hard_shutdown = 1 lvsd stopped the director; commented \
                     out"
                );
                self.warn(b, t, s.line, &msg);
                comment_out = Some("a duplicate");
            } else {
                seen.insert((ip, port), s.line);
            }
        }
        let line = format!("{t}real={ip}:{} {fwd} {weight}", port.clamp(0, 65535));
        match comment_out {
            None => {
                b.line(line);
                real_ports.push(port);
                weights.push(weight);
            }
            Some(why) => {
                if why != "a duplicate" {
                    let msg = format!(
                        "inactive ({why}): Piranha never started its nanny, so the real was \
                         never in IPVS; commented out"
                    );
                    self.warn(b, t, s.active.as_ref().map_or(s.line, |a| a.line), &msg);
                }
                b.line(format!("{t}# {}", line.trim_start()));
            }
        }
    }

    /// What lvsd and nanny could not have run.
    fn check_real(&mut self, s: &Server, ip: Ipv4Addr, port: i32, weight: i32) {
        if ip.is_unspecified() {
            self.notes.error(
                s.line,
                1,
                format!(
                    "server {} has no address: nanny would have checked 0.0.0.0",
                    s.name
                ),
            );
        }
        if !(1..=65535).contains(&port) {
            let (line, col) = s.port.as_ref().map_or((s.line, 1), |p| (p.line, p.col));
            self.notes.error(
                line,
                col,
                format!("port {port}: a real's port must be between 1 and 65535"),
            );
        }
        if weight > 65535 {
            let (line, col) = s.weight.as_ref().map_or((s.line, 1), |w| (w.line, w.col));
            self.notes.error(
                line,
                col,
                format!("weight {weight}: ipvsadm refused weights above 65535"),
            );
        }
    }

    fn persistence(&mut self, b: &mut Block, v: &Virtual, live: bool) {
        let t = "\t";
        let p = v.persistent();
        if p > 0 {
            if live && p > MAX_PERSISTENT {
                let (line, col) = v
                    .persistent
                    .as_ref()
                    .map_or((v.line, 1), |x| (x.line, x.col));
                self.notes.error(
                    line,
                    col,
                    format!(
                        "persistent = {p}: ipvsadm refused more than {MAX_PERSISTENT} seconds \
                         (31 days), so lvsd never created this virtual"
                    ),
                );
            }
            b.line(format!("{t}persistent={}", p.min(MAX_PERSISTENT)));
            match v.pmask.as_ref().map(|m| m.value) {
                Some(Pmask::Mask(m)) if m != Ipv4Addr::UNSPECIFIED => {
                    b.line(format!("{t}netmask={m}"))
                }
                Some(Pmask::AllOnes) => {
                    b.comment(t, "pmask 255.255.255.255 is Piranha's \"no mask\"")
                }
                Some(Pmask::Unreadable) => b.comment(
                    t,
                    "pmask is not an address; Piranha ignored it (per-client persistence)",
                ),
                _ => {}
            }
        } else if v.pmask.is_some() {
            b.comment(t, "pmask without persistent: ignored, as by lvsd");
        }
    }

    fn check(&mut self, b: &mut Block, v: &Virtual, live: bool, real_ports: &[i32]) {
        let t = "\t";
        let plan = check::plan(v, real_ports);
        for (line, col, msg) in &plan.errors {
            if live {
                self.notes.error(*line, *col, msg.clone());
            }
        }
        for e in &plan.explain {
            b.comment(t, &format!("{e}."));
        }
        for (line, msg) in &plan.warnings {
            self.warn(b, t, *line, msg);
        }
        match plan.kind {
            Kind::Connect => b.line(format!("{t}checktype=connect")),
            Kind::Off => b.line(format!("{t}checktype=off")),
            Kind::SimpleTcp { request, receive } => {
                b.line(format!("{t}checktype=negotiate"));
                b.line(format!("{t}service=simpletcp"));
                b.line(format!("{t}request=\"{request}\""));
                b.line(format!("{t}receive=\"{receive}\""));
            }
            Kind::External { script } => {
                let path = self.script_path(v);
                let shown = path.display().to_string();
                if live && shown.chars().any(|c| c == '"' || c.is_control()) {
                    let line = v.send_program.as_ref().map_or(v.line, |s| s.line);
                    self.notes.error(
                        line,
                        1,
                        format!(
                            "the check script's path {shown:?} cannot be written into \
                             checkcommand=\"…\" (a double quote or a control character): \
                             write the output to another directory"
                        ),
                    );
                }
                b.comment(
                    t,
                    &format!(
                        "{} is the wrapper script (convert -o writes it beside the file).",
                        path.display()
                    ),
                );
                b.line(format!("{t}checktype=external"));
                b.line(format!("{t}checkcommand=\"{}\"", path.display()));
                if live {
                    self.companions.push(Companion {
                        path,
                        text: script,
                        mode: 0o755,
                        what: "check script".into(),
                    });
                }
            }
        }
    }

    fn timing(&mut self, b: &mut Block, v: &Virtual, live: bool, max_weight: i32, weights: &[i32]) {
        let t = "\t";
        let timeout = v.timeout();
        if live && timeout <= 0 {
            let (line, col) = v.timeout.as_ref().map_or((v.line, 1), |x| (x.line, x.col));
            self.notes.error(
                line,
                col,
                format!(
                    "timeout = {timeout}: nanny divides by the timeout and crashed (it is both \
                     the time between checks and the time a check may take)"
                ),
            );
        }
        let timeout = timeout.max(1);
        b.comment(
            t,
            &format!(
                "timeout = {timeout}{}: nanny checked every {timeout} s (plus the check's own \
                 time) and gave a connect and a read {timeout} s each.",
                if v.timeout.is_none() {
                    " (default)"
                } else {
                    ""
                }
            ),
        );
        b.line(format!("{t}checkinterval={timeout}"));
        b.line(format!("{t}checktimeout={timeout}"));
        b.line(format!("{t}negotiatetimeout={timeout}"));
        let reentry = match v.reentry() {
            0 => 180,
            r => r,
        };
        let rise = (reentry / timeout).max(1);
        if rise > 1 {
            let line = v.reentry.as_ref().map_or(v.line, |r| r.line);
            let msg =
                format!(
                "reentry = {reentry}{}: nanny put a failed real back after {reentry}/{timeout} \
                 = {rise} good checks in a row: risecount={rise} (an ldirectord-rs directive; \
                 Perl ldirectord ignores it). nanny added each real at its first good check at \
                 start-up; here the first also needs {rise}",
                if v.reentry.is_none() { " (default)" } else { "" }
            );
            self.warn(b, t, line, &msg);
            b.line(format!("{t}risecount={rise}"));
        }
        if v.quiesce() {
            b.comment(
                t,
                "quiesce_server = 1: nanny set a failed real's weight to 0 instead of removing it.",
            );
            b.line(format!("{t}quiescent=yes"));
        }
        self.slow_start(b, v, timeout, max_weight);
        self.load_monitor(b, v, timeout, weights);
    }

    /// nanny's slow start (§10.3): W/32 (at least 1), doubled every tick of
    /// ⌊20/T⌋ checks (every check above T = 20) up to W.
    fn slow_start(&mut self, b: &mut Block, v: &Virtual, timeout: i32, max_weight: i32) {
        if max_weight < 2 {
            return;
        }
        let t = "\t";
        let mut w = (max_weight >> 5).max(1);
        let mut steps = 0;
        while w < max_weight {
            w = (w * 2).min(max_weight);
            steps += 1;
        }
        let tick = tick(timeout);
        let seconds = steps * tick;
        let directive = format!("slowstart={seconds}");
        let why = format!(
            "nanny eased every real in when it (re)entered: weight max(1, W/32), doubled about \
             every {tick} s, {steps} steps to {max_weight}"
        );
        if EXTENSIONS {
            let msg = format!(
                "{why}; slowstart={seconds} ramps a returning real from 1 to its weight over \
                 {seconds} s instead (evenly, and not at start-up)"
            );
            self.warn(b, t, v.line, &msg);
            b.line(format!("{t}{directive}"));
        } else {
            let msg = format!(
                "{why}; this ldirectord-rs does not read slowstart= yet, so a returning real \
                 gets its full weight at once"
            );
            self.warn(b, t, v.line, &msg);
            b.line(format!("{t}# {directive}"));
        }
    }

    /// `load_monitor` (§10.6) → `loadmonitor=nanny:PATH`.
    fn load_monitor(&mut self, b: &mut Block, v: &Virtual, timeout: i32, weights: &[i32]) {
        let Some(lm) = &v.load_monitor else { return };
        if lm.value == "none" {
            return;
        }
        let t = "\t";
        let g = &self.cf.global;
        let (program, why) = match lm.value.as_str() {
            "uptime" => (
                g.rsh_command().to_string(),
                format!(
                    "load_monitor = uptime: nanny ran \"{} RIP uptime\" (rsh_command), which \
                     needs password-less root login on every real",
                    g.rsh_command()
                ),
            ),
            "rup" => (
                "rup".to_string(),
                "load_monitor = rup: nanny ran \"rup RIP\", which needs rpc.rstatd on every real"
                    .to_string(),
            ),
            "ruptime" => (
                "ruptime".to_string(),
                "load_monitor = ruptime: nanny 0.8.6 could not parse ruptime's output (no \
                 colon after \"load\"), so the weights never moved"
                    .to_string(),
            ),
            path => (
                path.to_string(),
                format!(
                    "load_monitor = {path}: nanny ran \"{path} RIP\" and read the number after \
                     \"load…: \" in its output"
                ),
            ),
        };
        let every = tick(timeout);
        let mut msg = format!(
            "{why}. Every {every} s it moved the weight between W and 10×W with the 1-minute \
             load (1.0 is the target; not divided by the CPU count)"
        );
        if !weights.is_empty() && weights.iter().all(|w| *w == 1) {
            msg.push_str("; it never moved a weight of 1, as every real here has");
        }
        let directive = format!("loadmonitor=nanny:{program}");
        let interval = format!("loadinterval={every}");
        let runnable = matches!(program.as_str(), "rup" | "ruptime" | "rsh" | "ssh")
            || (program.starts_with('/') && plain(&program));
        if EXTENSIONS && !runnable {
            msg.push_str(&format!(
                "; nanny found {program} through its PATH, and loadmonitor=nanny: needs rup, \
                 ruptime, rsh, ssh or an absolute path: write its full path and uncomment the \
                 line (the weights stay as configured until then)"
            ));
            self.warn(b, t, lm.line, &msg);
            b.line(format!("{t}# {directive}"));
        } else if EXTENSIONS {
            msg.push_str(&format!("; {directive} with {interval} does the same"));
            self.warn(b, t, lm.line, &msg);
            b.line(format!("{t}{directive}"));
            b.line(format!("{t}{interval}"));
        } else {
            msg.push_str(
                "; this ldirectord-rs does not read loadmonitor= yet, so the weights stay as \
                 configured",
            );
            self.warn(b, t, lm.line, &msg);
            b.line(format!("{t}# {directive}"));
        }
    }
}

/// A value that fits in an ldirectord.cf directive as one word: no blank,
/// control character, `#` (a comment in a block) or `"`.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '#' || c == '"')
}

/// nanny's weight "tick" in seconds (§10.1): every ⌊20/T⌋-th check, every
/// check above T = 20.
fn tick(timeout: i32) -> i32 {
    if timeout > 20 {
        timeout
    } else {
        (20 / timeout.max(1)) * timeout.max(1)
    }
}

/// Whether `line` lies in one of `ranges` (sorted by start, disjoint).
fn within(ranges: &[(usize, usize)], line: usize) -> bool {
    let i = ranges.partition_point(|(a, _)| *a <= line);
    i > 0 && line <= ranges[i - 1].1
}

/// The prefix length of a netmask, `None` if it is not contiguous.
pub fn netmask_prefix(mask: Ipv4Addr) -> Option<u32> {
    prefix_len(mask)
}
