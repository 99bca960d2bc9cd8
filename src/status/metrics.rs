//! `/metrics`: a [`Snapshot`] and the pool's [`CheckStats`] in the
//! Prometheus text format (0.0.4), encoded by `prometheus-client`.
//!
//! Names follow Prometheus' conventions: `ldirectord_` prefix, base units
//! in the name (`_seconds`, `_bytes`), `_total` on counters (added by the
//! encoder), `virtual` and `real` labels holding upstream's ids
//! (`tcp:192.0.2.10:80`, `192.0.2.21:80`). The families, their types and
//! meaning are listed in ldirectord(8), STATUS HTTP SERVER.
//!
//! Nothing is registered ahead of time: each scrape encodes what the
//! snapshot holds, through collectors over it. The text is handed over in
//! chunks of about [`CHUNK`] bytes as the encoder writes it ([`render`]),
//! so a scrape of 10,000 reals (13 MB of text) never holds more than a
//! few chunks at once.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::snapshot::{RealStatus, Snapshot, State, Traffic, VirtualStatus};
use crate::check::stats::{CheckStats, RESULTS};

/// `Content-Type` of the text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// What one scrape encodes.
#[derive(Debug)]
pub struct Sources {
    pub snapshot: Arc<Snapshot>,
    /// The pool's counters (`None`: no pool, e.g. in tests).
    pub checks: Option<Arc<CheckStats>>,
    /// The time of the scrape (for "seconds since").
    pub now: f64,
}

/// Size of the parts [`render`] hands over.
pub const CHUNK: usize = 64 * 1024;

/// Encode every family, handing the text over in parts of about
/// [`CHUNK`] bytes as it is written. Stops early when `emit` returns false
/// (the client went away).
pub fn render(sources: &Arc<Sources>, emit: impl FnMut(String) -> bool) {
    let mut registry = Registry::default();
    for part in 0..PARTS {
        registry.register_collector(Box::new(Part {
            sources: sources.clone(),
            part,
        }));
    }
    let mut sink = Chunks {
        buf: String::with_capacity(CHUNK + 1024),
        emit,
    };
    // An error is the sink's: the client went away.
    if prometheus_client::encoding::prometheus_text::encode(&mut sink, &registry).is_ok()
        && !sink.buf.is_empty()
    {
        (sink.emit)(sink.buf);
    }
}

/// The whole text at once (tests, small tables).
pub fn render_to_string(sources: &Arc<Sources>) -> String {
    let mut all = String::new();
    render(sources, |part| {
        all.push_str(&part);
        true
    });
    all
}

/// Collects the encoder's writes and hands them on every [`CHUNK`] bytes.
struct Chunks<F> {
    buf: String,
    emit: F,
}

impl<F: FnMut(String) -> bool> std::fmt::Write for Chunks<F> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.buf.push_str(s);
        if self.buf.len() >= CHUNK {
            let full = std::mem::replace(&mut self.buf, String::with_capacity(CHUNK + 1024));
            if !(self.emit)(full) {
                return Err(std::fmt::Error);
            }
        }
        Ok(())
    }
}

/// A value of a sample.
enum Num {
    U(u64),
    F(f64),
}

/// One family with a sample per real: name, help, type, value.
type RealFamily = (
    &'static str,
    &'static str,
    MetricType,
    fn(&Sources, &RealStatus) -> Option<Num>,
);

fn traffic(r: &RealStatus) -> Option<&Traffic> {
    r.ipvs.as_ref()
}

/// The families with one sample per real, each one part of the text.
const REAL_FAMILIES: [RealFamily; 10] = [
    (
        "ldirectord_real_up",
        "1 when the real server's checks pass (state up), else 0.",
        MetricType::Gauge,
        |_, r| Some(Num::U(u64::from(r.state == State::Up))),
    ),
    (
        "ldirectord_real_weight",
        "The real server's weight in the kernel's IPVS table (0 when it is not in the table).",
        MetricType::Gauge,
        |_, r| Some(Num::U(u64::from(r.kernel_weight.unwrap_or(0)))),
    ),
    (
        "ldirectord_real_effective_weight",
        "The weight the director gives the real server now (configured × load monitor × slow start; 0 when out of service).",
        MetricType::Gauge,
        |_, r| Some(Num::U(u64::from(r.effective_weight.unwrap_or(0)))),
    ),
    (
        "ldirectord_real_configured_weight",
        "The weight of the real server's real= line.",
        MetricType::Gauge,
        |_, r| Some(Num::U(u64::from(r.weight))),
    ),
    (
        "ldirectord_real_check_duration_seconds",
        "How long the real server's last check took.",
        MetricType::Gauge,
        |_, r| r.last_check.as_ref().map(|c| Num::F(c.latency)),
    ),
    (
        "ldirectord_real_transitions",
        "State changes (up to down or back) of the real server since the daemon started.",
        MetricType::Counter,
        |_, r| Some(Num::U(r.transitions)),
    ),
    (
        "ldirectord_real_since_last_change_seconds",
        "Seconds since the real server's state last changed (since the daemon started when it has not).",
        MetricType::Gauge,
        |s, r| {
            let since = r.since.unwrap_or(s.snapshot.daemon.started);
            Some(Num::F(((s.now - since).max(0.0) * 1000.0).round() / 1000.0))
        },
    ),
    (
        "ldirectord_ipvs_real_connections",
        "Connections IPVS scheduled to the real server (kernel counter, read once per check interval at most).",
        MetricType::Counter,
        |_, r| traffic(r).map(|t| Num::U(t.connections)),
    ),
    (
        "ldirectord_ipvs_real_active_connections",
        "Active connections of the real server in IPVS.",
        MetricType::Gauge,
        |_, r| traffic(r).and_then(|t| t.active_connections).map(|n| Num::U(u64::from(n))),
    ),
    (
        "ldirectord_ipvs_real_inactive_connections",
        "Inactive connections of the real server in IPVS.",
        MetricType::Gauge,
        |_, r| traffic(r).and_then(|t| t.inactive_connections).map(|n| Num::U(u64::from(n))),
    ),
];

/// Parts: the per-real families, the per-real packets and bytes (two
/// families with a `direction` label), the operators' overrides, the rest
/// (small) in one.
const PARTS: usize = REAL_FAMILIES.len() + 4;

#[derive(Debug)]
struct Part {
    sources: Arc<Sources>,
    part: usize,
}

impl Collector for Part {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &*self.sources;
        match self.part {
            i if i < REAL_FAMILIES.len() => {
                let (name, help, kind, value) = REAL_FAMILIES[i];
                let mut fam = e.encode_descriptor(name, help, None, kind)?;
                for (v, r) in s.snapshot.reals() {
                    if let Some(n) = value(s, r) {
                        let labels = [("virtual", v.id.as_str()), ("real", r.real.as_str())];
                        sample(&mut fam, &labels, kind, n)?;
                    }
                }
                Ok(())
            }
            i if i == REAL_FAMILIES.len() => real_directional(
                &mut e,
                s,
                "ldirectord_ipvs_real_packets",
                "Packets IPVS forwarded for the real server, by direction.",
                |t| (t.packets_in, t.packets_out),
            ),
            i if i == REAL_FAMILIES.len() + 1 => real_directional(
                &mut e,
                s,
                "ldirectord_ipvs_real_bytes",
                "Bytes IPVS forwarded for the real server, by direction.",
                |t| (t.bytes_in, t.bytes_out),
            ),
            i if i == REAL_FAMILIES.len() + 2 => real_overrides(&mut e, s),
            _ => small_families(&mut e, s),
        }
    }
}

fn sample(
    fam: &mut MetricEncoder,
    labels: &impl EncodeLabelSet,
    kind: MetricType,
    n: Num,
) -> Result<(), std::fmt::Error> {
    let mut m = fam.encode_family(labels)?;
    match (kind, n) {
        (MetricType::Counter, Num::U(v)) => m.encode_counter::<NoLabelSet, u64, u64>(&v, None),
        (MetricType::Counter, Num::F(v)) => m.encode_counter::<NoLabelSet, f64, f64>(&v, None),
        (_, Num::U(v)) => m.encode_gauge(&(v as i64)),
        (_, Num::F(v)) => m.encode_gauge(&v),
    }
}

fn real_directional(
    e: &mut DescriptorEncoder,
    s: &Sources,
    name: &str,
    help: &str,
    value: fn(&Traffic) -> (u64, u64),
) -> Result<(), std::fmt::Error> {
    let mut fam = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (v, r) in s.snapshot.reals() {
        if let Some(t) = traffic(r) {
            let (i, o) = value(t);
            for (dir, n) in [("in", i), ("out", o)] {
                let labels = [
                    ("virtual", v.id.as_str()),
                    ("real", r.real.as_str()),
                    ("direction", dir),
                ];
                sample(&mut fam, &labels, MetricType::Counter, Num::U(n))?;
            }
        }
    }
    Ok(())
}

/// `ldirectord_real_override`: a sample per real with an operator's
/// override, labelled with its action; 1 while it decides the weight, 0
/// while something stricter wins.
fn real_overrides(e: &mut DescriptorEncoder, s: &Sources) -> Result<(), std::fmt::Error> {
    let mut fam = e.encode_descriptor(
        "ldirectord_real_override",
        "An operator's override of the real server (ldirectord drain|disable|weight, until enable), by action: 1 while it decides the weight, 0 while something stricter wins (down, maintenance, the agent).",
        None,
        MetricType::Gauge,
    )?;
    for (v, r) in s.snapshot.reals() {
        if let Some(o) = &r.operator {
            let labels = [
                ("virtual", v.id.as_str()),
                ("real", r.real.as_str()),
                ("action", o.what.action()),
            ];
            sample(
                &mut fam,
                &labels,
                MetricType::Gauge,
                Num::U(u64::from(o.in_force)),
            )?;
        }
    }
    Ok(())
}

/// A family without labels holding one value.
fn single(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    n: Num,
) -> Result<(), std::fmt::Error> {
    let mut fam = e.encode_descriptor(name, help, None, kind)?;
    match (kind, n) {
        (MetricType::Counter, Num::U(v)) => fam.encode_counter::<NoLabelSet, u64, u64>(&v, None),
        (MetricType::Counter, Num::F(v)) => fam.encode_counter::<NoLabelSet, f64, f64>(&v, None),
        (_, Num::U(v)) => fam.encode_gauge(&(v as i64)),
        (_, Num::F(v)) => fam.encode_gauge(&v),
    }
}

/// One family with a sample per virtual service.
fn per_virtual(
    e: &mut DescriptorEncoder,
    s: &Sources,
    name: &str,
    help: &str,
    kind: MetricType,
    value: fn(&VirtualStatus) -> Option<u64>,
) -> Result<(), std::fmt::Error> {
    let mut fam = e.encode_descriptor(name, help, None, kind)?;
    for v in &s.snapshot.virtuals {
        if let Some(n) = value(v) {
            sample(&mut fam, &[("virtual", v.id.as_str())], kind, Num::U(n))?;
        }
    }
    Ok(())
}

fn small_families(e: &mut DescriptorEncoder, s: &Sources) -> Result<(), std::fmt::Error> {
    let snap = &*s.snapshot;
    let d = &snap.daemon;
    // The daemon.
    {
        let mut fam = e.encode_descriptor(
            "ldirectord_build",
            "The program's version; the value is 1.",
            None,
            MetricType::Info,
        )?;
        fam.encode_info(&[
            ("version", env!("CARGO_PKG_VERSION")),
            ("upstream", crate::daemon::lifecycle::VERSION_STR),
        ])?;
    }
    single(
        e,
        "ldirectord_start_time_seconds",
        "When the daemon started, seconds since the Unix epoch.",
        MetricType::Gauge,
        Num::F(d.started),
    )?;
    single(
        e,
        "ldirectord_snapshot_timestamp_seconds",
        "When the director took the state these metrics show (at most a second old while it runs).",
        MetricType::Gauge,
        Num::F(snap.taken),
    )?;
    if let Some(t) = d.ipvs_read {
        single(
            e,
            "ldirectord_ipvs_read_timestamp_seconds",
            "When the IPVS counters were last read from the kernel.",
            MetricType::Gauge,
            Num::F(t),
        )?;
    }
    {
        let mut fam = e.encode_descriptor(
            "ldirectord_reloads",
            "Configuration reloads by outcome: ok (put in force) or failed (errors; the running configuration kept).",
            None,
            MetricType::Counter,
        )?;
        for (outcome, n) in [("ok", d.reloads.ok), ("failed", d.reloads.failed)] {
            sample(
                &mut fam,
                &[("outcome", outcome)],
                MetricType::Counter,
                Num::U(n),
            )?;
        }
    }
    if let (Some(at), Some(ok)) = (d.reloads.last, d.reloads.last_ok) {
        single(
            e,
            "ldirectord_last_reload_timestamp_seconds",
            "When the configuration was last reloaded.",
            MetricType::Gauge,
            Num::F(at),
        )?;
        single(
            e,
            "ldirectord_last_reload_success",
            "1 when the last reload was put in force, 0 when it failed.",
            MetricType::Gauge,
            Num::U(u64::from(ok)),
        )?;
    }
    single(
        e,
        "ldirectord_netlink_errors",
        "Netlink requests to IPVS that failed (table reads and changes).",
        MetricType::Counter,
        Num::U(d.netlink_errors),
    )?;
    // Reals by state.
    {
        let mut fam = e.encode_descriptor(
            "ldirectord_reals",
            "Real servers (fallback servers included) by state.",
            None,
            MetricType::Gauge,
        )?;
        for state in [
            State::Up,
            State::Down,
            State::Quiescent,
            State::Unknown,
            State::Fallback,
            State::Standby,
        ] {
            let n = snap
                .virtuals
                .iter()
                .flat_map(|v| &v.reals)
                .filter(|r| r.state == state)
                .count();
            sample(
                &mut fam,
                &[("state", state.as_str())],
                MetricType::Gauge,
                Num::U(n as u64),
            )?;
        }
    }
    // Virtual services.
    per_virtual(
        e,
        s,
        "ldirectord_virtual_fallback_active",
        "1 while no real server of the virtual service is up (its fallback server, if any, serves).",
        MetricType::Gauge,
        |v| Some(u64::from(v.fallback_active)),
    )?;
    per_virtual(
        e,
        s,
        "ldirectord_virtual_in_kernel",
        "1 when the kernel's IPVS table has the virtual service.",
        MetricType::Gauge,
        |v| Some(u64::from(v.in_kernel)),
    )?;
    per_virtual(
        e,
        s,
        "ldirectord_ipvs_service_connections",
        "Connections IPVS scheduled for the virtual service.",
        MetricType::Counter,
        |v| v.ipvs.map(|t| t.connections),
    )?;
    for (name, help, value) in [
        (
            "ldirectord_ipvs_service_packets",
            "Packets IPVS forwarded for the virtual service, by direction.",
            (|t| (t.packets_in, t.packets_out)) as fn(&Traffic) -> (u64, u64),
        ),
        (
            "ldirectord_ipvs_service_bytes",
            "Bytes IPVS forwarded for the virtual service, by direction.",
            |t| (t.bytes_in, t.bytes_out),
        ),
    ] {
        let mut fam = e.encode_descriptor(name, help, None, MetricType::Counter)?;
        for v in &snap.virtuals {
            if let Some(t) = &v.ipvs {
                let (i, o) = value(t);
                for (dir, n) in [("in", i), ("out", o)] {
                    let labels = [("virtual", v.id.as_str()), ("direction", dir)];
                    sample(&mut fam, &labels, MetricType::Counter, Num::U(n))?;
                }
            }
        }
    }
    // The checks (the pool's counters).
    if let Some(c) = &s.checks {
        {
            let mut fam = e.encode_descriptor(
                "ldirectord_checks",
                "Finished health checks by result: ok, or why they failed.",
                None,
                MetricType::Counter,
            )?;
            for (result, n) in RESULTS.iter().zip(c.results()) {
                sample(
                    &mut fam,
                    &[("result", *result)],
                    MetricType::Counter,
                    Num::U(n),
                )?;
            }
        }
        for (name, help, (buckets, sum, count)) in [
            (
                "ldirectord_check_latency_seconds",
                "How long health checks took.",
                c.latency.read(),
            ),
            (
                "ldirectord_check_lateness_seconds",
                "How long after it was due each health check started (waiting for a free slot included).",
                c.lateness.read(),
            ),
        ] {
            let mut fam = e.encode_descriptor(name, help, None, MetricType::Histogram)?;
            fam.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
        single(
            e,
            "ldirectord_checks_in_flight",
            "Health checks running now.",
            MetricType::Gauge,
            Num::U(c.in_flight()),
        )?;
        single(
            e,
            "ldirectord_checks_waiting",
            "Health checks that are due and wait for a free slot.",
            MetricType::Gauge,
            Num::U(c.waiting()),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::snapshot::*;

    fn snapshot(n: usize) -> Snapshot {
        let traffic = Traffic {
            connections: 7,
            packets_in: 1,
            packets_out: 2,
            bytes_in: 3,
            bytes_out: 4,
            active_connections: Some(5),
            inactive_connections: Some(6),
        };
        let virtuals = (0..n.div_ceil(10))
            .map(|v| VirtualStatus {
                id: format!("tcp:192.0.2.1:{}", 1000 + v),
                service: format!("192.0.2.1:{}", 1000 + v),
                protocol: "tcp".into(),
                scheduler: "wrr".into(),
                in_kernel: true,
                fallback_active: false,
                ipvs: Some(traffic),
                reals: (0..10)
                    .map(|i| RealStatus {
                        real: format!("192.0.2.{}:80", 10 + i),
                        role: Role::Real,
                        forward: Forward::Masq,
                        state: if i == 0 { State::Down } else { State::Up },
                        weight: 2,
                        effective_weight: (i != 0).then_some(2),
                        weight_reasons: Vec::new(),
                        operator: None,
                        kernel_weight: (i != 0).then_some(2),
                        last_check: None,
                        since: None,
                        transitions: 1,
                        ipvs: Some(traffic),
                    })
                    .collect(),
            })
            .collect();
        Snapshot {
            schema: SCHEMA,
            virtuals,
            ..Snapshot::default()
        }
    }

    #[test]
    fn families_stay_whole_across_chunks() {
        let sources = Arc::new(Sources {
            snapshot: Arc::new(snapshot(3000)),
            checks: Some(Arc::new(CheckStats::default())),
            now: 100.0,
        });
        let mut chunks = 0;
        let mut text = String::new();
        render(&sources, |c| {
            assert!(c.len() < CHUNK + 1024, "a chunk of {} bytes", c.len());
            chunks += 1;
            text.push_str(&c);
            true
        });
        assert!(chunks > 10, "{chunks} chunks");
        assert_eq!(text, render_to_string(&sources));
        // Each family is announced once, and its samples follow it.
        let mut seen = std::collections::HashSet::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                current = rest.split(' ').next().unwrap().to_string();
                assert!(seen.insert(current.clone()), "{current} twice");
            } else if !line.starts_with('#') {
                assert!(line.starts_with(&current), "{line} outside {current}");
            }
        }
        let count = |prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
        assert_eq!(count("ldirectord_real_up{"), 3000);
        assert_eq!(count("ldirectord_ipvs_real_bytes_total{"), 6000);
        assert_eq!(
            count("ldirectord_real_check_duration_seconds{"),
            0,
            "never checked"
        );
        assert!(text.contains("ldirectord_reals{state=\"down\"} 300\n"));
        // A client that goes away stops the encoding.
        let mut calls = 0;
        render(&sources, |_| {
            calls += 1;
            false
        });
        assert_eq!(calls, 1);
    }
}
