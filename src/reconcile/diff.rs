//! `diff(actual, desired)`: the ordered, minimal list of IPVS operations
//! that turns the kernel table into the desired one, each labelled with what
//! it means to an operator (upstream's log texts).
//!
//! Order: services are added and edited first, then destinations are added
//! and edited, then destinations deleted, then services deleted. Adding
//! before deleting means a virtual service never passes through an empty
//! state when its fallback and its reals swap places.
//!
//! Only services that the configuration names (or that `purge` lists: ours
//! from a previous configuration) are touched; anything else in the kernel
//! table belongs to someone else. Pure: no I/O.

use std::collections::HashMap;

use crate::config::{bracketed, Config, Virtual};
use crate::ipvs::{Dest, DestKey, Op, Service, ServiceKey};

use super::desired::{real_key, Desired, Presence, Role};

/// What an operation means, for logs and alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    AddVirtual,
    EditVirtual,
    /// A service of ours that the configuration no longer names.
    PurgeVirtual,
    AddReal,
    /// A present real gets its configured weight (back).
    RestoreReal,
    /// The weight of a real in service moves (its load monitor, slow
    /// start, a drain, drift repair) without it coming or going: logged,
    /// never mailed.
    ReweightReal,
    QuiesceReal,
    ReaddQuiescentReal,
    DeleteReal,
    AddFallback,
    EditFallback,
    DeleteFallback,
    /// A destination of one of our services that the config does not name.
    PurgeReal,
}

/// One operation and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub op: Op,
    pub kind: ChangeKind,
    /// Upstream's notation of the virtual service: `VIP:VPORT` or the mark.
    pub virtual_service: String,
    /// `RIP:RPORT` for destination changes.
    pub dest: Option<String>,
    /// The weight a destination is set to.
    pub weight: u32,
    /// `Config::virtuals` index, when the service is configured.
    pub virtual_index: Option<usize>,
    /// For a real: its index in the virtual's `reals`.
    pub real_index: Option<usize>,
}

impl Change {
    /// The log line upstream ldirectord writes for this change (reference
    /// §f.10). `phase` is "start" or "stop" for purges.
    pub fn log_line(&self, phase: &str) -> String {
        let v = &self.virtual_service;
        let r = self.dest.as_deref().unwrap_or("");
        let w = self.weight;
        match self.kind {
            ChangeKind::AddVirtual => format!("Added virtual server: {v}"),
            ChangeKind::EditVirtual => format!("Changed virtual server: {v}"),
            ChangeKind::PurgeVirtual => format!("Purged virtual server ({phase}): {v}"),
            ChangeKind::AddReal => format!("Added real server: {r} ({v}) (Weight set to {w})"),
            ChangeKind::RestoreReal => {
                format!("Restored real server: {r} ({v}) (Weight set to {w})")
            }
            ChangeKind::ReweightReal => {
                format!("Changed real server weight: {r} ({v}) (Weight set to {w})")
            }
            ChangeKind::QuiesceReal => {
                format!("Quiescent real server: {r} ({v}) (Weight set to 0)")
            }
            ChangeKind::ReaddQuiescentReal => {
                format!("Readd Quiescent real server: {r} ({v}) (Weight set to 0)")
            }
            ChangeKind::DeleteReal => format!("Deleted real server: {r} ({v})"),
            ChangeKind::AddFallback => {
                format!("Added fallback server: {r} ({v}) (Weight set to {w})")
            }
            ChangeKind::EditFallback => {
                format!("Changed fallback server: {r} ({v}) (Weight set to {w})")
            }
            ChangeKind::DeleteFallback => format!("Deleted fallback server: {r} ({v})"),
            ChangeKind::PurgeReal => format!("Purged real server ({phase}): {r} ({v})"),
        }
    }

    /// Whether upstream sends an e-mail alert for this change (changes of
    /// real and fallback servers, not of virtual services).
    pub fn alerts(&self) -> bool {
        !matches!(
            self.kind,
            ChangeKind::AddVirtual
                | ChangeKind::EditVirtual
                | ChangeKind::PurgeVirtual
                | ChangeKind::ReweightReal
        )
    }
}

/// `VIP:VPORT` / mark as upstream writes a service.
pub fn service_text(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr { addr, port, .. } => format!("{}:{port}", bracketed(addr)),
        ServiceKey::Fwmark { mark, .. } => mark.to_string(),
    }
}

fn dest_text(key: &DestKey) -> String {
    format!("{}:{}", bracketed(&key.addr), key.port)
}

/// The changes that take `actual` to `desired`. `purge` lists services of
/// ours that must go (removed from the configuration by a reload).
pub fn diff(
    config: &Config,
    actual: &[(Service, Vec<Dest>)],
    desired: &Desired,
    purge: &[ServiceKey],
) -> Vec<Change> {
    let actual: HashMap<ServiceKey, (&Service, HashMap<DestKey, &Dest>)> = actual
        .iter()
        .map(|(s, ds)| (s.key, (s, ds.iter().map(|d| (d.key, d)).collect())))
        .collect();
    let (mut add_svc, mut edit_svc, mut add_dest, mut edit_dest, mut del_dest, mut del_svc) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);

    for ds in &desired.services {
        let key = ds.service.key;
        let v = &config.virtuals[ds.virtual_index];
        let vtext = service_text(&key);
        let change = |op: Op, kind: ChangeKind, dest: Option<&Dest>, ri: Option<usize>| Change {
            op,
            kind,
            virtual_service: vtext.clone(),
            dest: dest.map(|d| dest_text(&d.key)),
            weight: dest.map_or(0, |d| d.weight),
            virtual_index: Some(ds.virtual_index),
            real_index: ri,
        };
        let present = actual.get(&key);
        match present {
            None => add_svc.push(change(
                Op::AddService(ds.service.clone()),
                ChangeKind::AddVirtual,
                None,
                None,
            )),
            Some((svc, _)) if **svc != ds.service => edit_svc.push(change(
                Op::EditService(ds.service.clone()),
                ChangeKind::EditVirtual,
                None,
                None,
            )),
            Some(_) => {}
        }
        let dests_now = present.map(|(_, d)| d);
        for dd in &ds.dests {
            let ri = match dd.role {
                Role::Real(i) => Some(i),
                Role::Fallback => None,
            };
            match dests_now.and_then(|d| d.get(&dd.dest.key)) {
                None if dd.presence == Presence::Required => {
                    let kind = match (dd.role, dd.dest.weight) {
                        (Role::Fallback, _) => ChangeKind::AddFallback,
                        (Role::Real(i), 0) if v.reals[i].weight != 0 => {
                            ChangeKind::ReaddQuiescentReal
                        }
                        (Role::Real(_), _) => ChangeKind::AddReal,
                    };
                    add_dest.push(change(
                        Op::AddDest(key, dd.dest.clone()),
                        kind,
                        Some(&dd.dest),
                        ri,
                    ));
                }
                None => {}
                Some(now) if **now != dd.dest => {
                    let configured = |i: usize| v.reals[i].weight;
                    let kind = match dd.role {
                        Role::Fallback => ChangeKind::EditFallback,
                        Role::Real(i)
                            if dd.dest.weight == 0 && configured(i) != 0 && !dd.in_service =>
                        {
                            ChangeKind::QuiesceReal
                        }
                        // In service before and after, same forwarding:
                        // only its weight (or thresholds) moved.
                        Role::Real(i)
                            if dd.in_service
                                && now.forward == dd.dest.forward
                                && (now.weight > 0 || configured(i) == 0)
                                && (dd.dest.weight > 0 || configured(i) != 0) =>
                        {
                            ChangeKind::ReweightReal
                        }
                        Role::Real(_) => ChangeKind::RestoreReal,
                    };
                    edit_dest.push(change(
                        Op::EditDest(key, dd.dest.clone()),
                        kind,
                        Some(&dd.dest),
                        ri,
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(now) = dests_now {
            // Deterministic order: ipvsadm's.
            let mut now: Vec<(&DestKey, &&Dest)> = now.iter().collect();
            now.sort_by_key(|(k, _)| k.ipvsadm_order());
            for (dkey, d) in now {
                if ds.dests.iter().any(|dd| dd.dest.key == *dkey) {
                    continue;
                }
                let (kind, ri) = deletion_kind(v, dkey);
                del_dest.push(change(Op::DelDest(key, *dkey), kind, Some(d), ri));
            }
        }
    }
    for key in purge {
        if actual.contains_key(key) && !desired.services.iter().any(|s| s.service.key == *key) {
            del_svc.push(Change {
                op: Op::DelService(*key),
                kind: ChangeKind::PurgeVirtual,
                virtual_service: service_text(key),
                dest: None,
                weight: 0,
                virtual_index: None,
                real_index: None,
            });
        }
    }
    [add_svc, edit_svc, add_dest, edit_dest, del_dest, del_svc].concat()
}

/// What deleting `key` from virtual `v` means: a configured real going
/// down, the fallback going away, or a stranger being purged.
fn deletion_kind(v: &Virtual, key: &DestKey) -> (ChangeKind, Option<usize>) {
    if let Some(i) = v.reals.iter().position(|r| real_key(v, r) == *key) {
        return (ChangeKind::DeleteReal, Some(i));
    }
    if let Some(f) = &v.fallback {
        let port = f.port.unwrap_or(v.key.port());
        if f.addr == key.addr && (port == key.port || v.key.port() == key.port) {
            return (ChangeKind::DeleteFallback, None);
        }
    }
    (ChangeKind::PurgeReal, None)
}
