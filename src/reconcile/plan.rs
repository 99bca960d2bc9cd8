//! The plan's notation: one kernel operation as a line that says what it
//! adds, edits (each field that changes, before -> after) or deletes, for
//! `ldirectord plan` and for the lines a reload logs of what it applied.
//! The two come from the same function on the same operations, so a plan
//! and the reload after it can be compared line by line.
//!
//! ```text
//! add service tcp:192.0.2.10:80 scheduler wrr persistent 300 netmask 255.255.255.0
//! add real 192.0.2.21:80 to tcp:192.0.2.10:80 masq weight 3 upper 100
//! edit service tcp:192.0.2.10:80: scheduler wrr -> rr
//! edit real 192.0.2.21:80 of tcp:192.0.2.10:80: weight 3 -> 0
//! delete real 192.0.2.21:80 from tcp:192.0.2.10:80
//! delete service fwm:7
//! ```
//!
//! Pure: it reads the table the operations apply to, changes nothing.

use std::collections::HashMap;

use crate::config::bracketed;
use crate::ipvs::{
    Dest, DestKey, Family, Netmask, Op, Protocol, Service, ServiceFlags, ServiceKey,
};

/// The table before the operations, indexed for [`Before::describe`].
pub struct Before<'a> {
    services: HashMap<ServiceKey, (&'a Service, HashMap<DestKey, &'a Dest>)>,
}

impl<'a> Before<'a> {
    pub fn new(table: &'a [(Service, Vec<Dest>)]) -> Before<'a> {
        Before {
            services: table
                .iter()
                .map(|(s, ds)| (s.key, (s, ds.iter().map(|d| (d.key, d)).collect())))
                .collect(),
        }
    }

    /// `op` as a line of the plan.
    pub fn describe(&self, op: &Op) -> String {
        match op {
            Op::AddService(s) => {
                let mut line = format!(
                    "add service {} scheduler {}",
                    service_id(&s.key),
                    s.scheduler
                );
                for (name, value) in service_fields(s) {
                    if !value.is_empty() {
                        line.push_str(&format!(" {name} {value}"));
                    }
                }
                line
            }
            Op::EditService(s) => {
                let id = service_id(&s.key);
                match self.services.get(&s.key) {
                    Some((old, _)) => {
                        let mut fields =
                            vec![("scheduler", old.scheduler.clone(), s.scheduler.clone())];
                        for ((name, a), (_, b)) in
                            service_fields(old).into_iter().zip(service_fields(s))
                        {
                            fields.push((name, a, b));
                        }
                        format!("edit service {id}: {}", changed(fields))
                    }
                    None => format!("edit service {id}"),
                }
            }
            Op::DelService(k) => format!("delete service {}", service_id(k)),
            Op::AddDest(k, d) => {
                let d = d.normalized_for(k);
                let mut line = format!(
                    "add real {} to {} {} weight {}",
                    dest_id(&d.key),
                    service_id(k),
                    forward(&d),
                    d.weight
                );
                for (name, value) in dest_fields(&d).into_iter().skip(2) {
                    if value != "0" && !value.is_empty() {
                        line.push_str(&format!(" {name} {value}"));
                    }
                }
                line
            }
            Op::EditDest(k, d) => {
                let d = d.normalized_for(k);
                let what = format!("edit real {} of {}", dest_id(&d.key), service_id(k));
                match self.services.get(k).and_then(|(_, ds)| ds.get(&d.key)) {
                    Some(old) => {
                        let fields = dest_fields(old)
                            .into_iter()
                            .zip(dest_fields(&d))
                            .map(|((name, a), (_, b))| (name, a, b))
                            .collect();
                        format!("{what}: {}", changed(fields))
                    }
                    None => what,
                }
            }
            Op::DelDest(k, d) => format!("delete real {} from {}", dest_id(d), service_id(k)),
        }
    }
}

/// `name a -> b, …` of the fields that differ.
fn changed(fields: Vec<(&'static str, String, String)>) -> String {
    let show = |v: &str| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.to_string()
        }
    };
    let parts: Vec<String> = fields
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(name, a, b)| format!("{name} {} -> {}", show(&a), show(&b)))
        .collect();
    if parts.is_empty() {
        "no field changes".into()
    } else {
        parts.join(", ")
    }
}

/// Upstream's id of a service: `tcp:192.0.2.10:80`, `fwm:7`, `fwm6:7`.
pub fn service_id(k: &ServiceKey) -> String {
    match k {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let p = match protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
                Protocol::Sctp => "sctp",
            };
            format!("{p}:{}:{port}", bracketed(addr))
        }
        ServiceKey::Fwmark { family, mark } => match family {
            Family::Inet => format!("fwm:{mark}"),
            Family::Inet6 => format!("fwm6:{mark}"),
        },
    }
}

fn dest_id(k: &DestKey) -> String {
    format!("{}:{}", bracketed(&k.addr), k.port)
}

/// The optional fields of a service, empty when not set (in order).
fn service_fields(s: &Service) -> Vec<(&'static str, String)> {
    let persistent = s.flags.contains(ServiceFlags::PERSISTENT);
    let netmask = match (persistent, s.netmask) {
        (false, _) => String::new(),
        (true, Netmask::V4(m)) if m.is_broadcast() => String::new(),
        (true, Netmask::V6(128)) => String::new(),
        (true, Netmask::V4(m)) => m.to_string(),
        (true, Netmask::V6(p)) => format!("/{p}"),
    };
    let flag = |f: ServiceFlags, name: &str| {
        if s.flags.contains(f) {
            name.to_string()
        } else {
            String::new()
        }
    };
    vec![
        (
            "persistent",
            if persistent {
                s.timeout.to_string()
            } else {
                String::new()
            },
        ),
        ("netmask", netmask),
        ("ops", flag(ServiceFlags::ONEPACKET, "yes")),
        ("flag-1", flag(ServiceFlags::SCHED1, "yes")),
        ("flag-2", flag(ServiceFlags::SCHED2, "yes")),
        ("flag-3", flag(ServiceFlags::SCHED3, "yes")),
        ("pe", s.pe_name.clone().unwrap_or_default()),
    ]
}

fn forward(d: &Dest) -> &'static str {
    match d.forward {
        crate::ipvs::Forward::Masq => "masq",
        crate::ipvs::Forward::Route => "gate",
        crate::ipvs::Forward::Tunnel => "ipip",
        crate::ipvs::Forward::Local => "local",
    }
}

/// Every field of a destination (forward and weight first).
fn dest_fields(d: &Dest) -> Vec<(&'static str, String)> {
    vec![
        ("forward", forward(d).to_string()),
        ("weight", d.weight.to_string()),
        ("upper", d.upper_threshold.to_string()),
        ("lower", d.lower_threshold.to_string()),
        ("tunnel", format!("{:?}", d.tunnel_type).to_lowercase()),
        ("tunnel-port", d.tunnel_port.to_string()),
        ("tunnel-flags", format!("{:#x}", d.tunnel_flags.0)),
    ]
    .into_iter()
    .map(|(n, v)| {
        // The tunnel's defaults say nothing.
        let v = match (n, v.as_str()) {
            ("tunnel", "ipip") | ("tunnel-flags", "0x0") => String::new(),
            ("tunnel-port", "0") => String::new(),
            _ => v,
        };
        (n, v)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::Forward;

    #[test]
    fn each_operation_says_what_changes() {
        let k = ServiceKey::tcp("192.0.2.10".parse().unwrap(), 80);
        let old = Service::new(k, "wrr");
        let d = Dest::new(
            DestKey::new("192.0.2.21".parse().unwrap(), 80),
            Forward::Masq,
        )
        .weight(3)
        .thresholds(100, 0);
        let table = vec![(old.clone(), vec![d.clone()])];
        let b = Before::new(&table);
        let persistent = Service::new(k, "rr")
            .persistent(300)
            .netmask(Netmask::V4("255.255.255.0".parse().unwrap()));
        assert_eq!(
            b.describe(&Op::AddService(persistent.clone())),
            "add service tcp:192.0.2.10:80 scheduler rr persistent 300 netmask 255.255.255.0"
        );
        assert_eq!(
            b.describe(&Op::EditService(persistent)),
            "edit service tcp:192.0.2.10:80: scheduler wrr -> rr, persistent none -> 300, \
             netmask none -> 255.255.255.0"
        );
        assert_eq!(
            b.describe(&Op::AddDest(k, d.clone())),
            "add real 192.0.2.21:80 to tcp:192.0.2.10:80 masq weight 3 upper 100"
        );
        assert_eq!(
            b.describe(&Op::EditDest(k, d.clone().weight(0))),
            "edit real 192.0.2.21:80 of tcp:192.0.2.10:80: weight 3 -> 0"
        );
        let gate = Dest::new(
            DestKey::new("192.0.2.21".parse().unwrap(), 80),
            Forward::Route,
        );
        assert_eq!(
            b.describe(&Op::EditDest(k, gate)),
            "edit real 192.0.2.21:80 of tcp:192.0.2.10:80: forward masq -> gate, weight 3 -> 1, \
             upper 100 -> 0"
        );
        assert_eq!(
            b.describe(&Op::DelDest(k, d.key)),
            "delete real 192.0.2.21:80 from tcp:192.0.2.10:80"
        );
        let f = ServiceKey::fwmark(Family::Inet6, 7);
        assert_eq!(b.describe(&Op::DelService(f)), "delete service fwm6:7");
        let v6 = ServiceKey::udp("2001:db8::10".parse().unwrap(), 53);
        assert_eq!(service_id(&v6), "udp:[2001:db8::10]:53");
    }
}
