//! Applying changes: the only place that writes to IPVS.
//!
//! Idempotent, as keepalived's `ipvs_talk` is: "exists" on an add and "not
//! found" on a delete mean the kernel is already where we want it; an edit
//! of something that vanished (another manager, `ipvsadm -C`) becomes an
//! add. Anything else is reported back with its errno meaning; the caller
//! logs it and retries on its next pass (the diff is recomputed from a fresh
//! dump, so nothing is lost).

use std::collections::HashMap;

use crate::ipvs::{Error, IpvsBackend, Op, ServiceKey};

use super::Change;

/// `changes` cut into chunks of about `max` operations, whole services at
/// a time: each service's changes stay together and in the diff's order
/// (adds before deletes, services before their dests), services in the
/// order they first appear. Applied chunk by chunk, a large start has its
/// first services and their reals in the kernel, and logged, while the
/// others are still to be sent, instead of every service first and every
/// real after. A service with more than `max` changes is a chunk of its own.
pub fn by_services(changes: Vec<Change>, max: usize) -> Vec<Vec<Change>> {
    if changes.len() <= max {
        return vec![changes];
    }
    let mut group_of: HashMap<ServiceKey, usize> = HashMap::new();
    let mut sizes: Vec<usize> = Vec::new();
    let groups: Vec<usize> = changes
        .iter()
        .map(|c| {
            let next = sizes.len();
            let g = *group_of.entry(*c.op.service_key()).or_insert(next);
            if g == next {
                sizes.push(0);
            }
            sizes[g] += 1;
            g
        })
        .collect();
    // Consecutive groups fill a chunk up to `max`.
    let mut chunk_of = Vec::with_capacity(sizes.len());
    let (mut chunk, mut filled) = (0, 0);
    for size in sizes {
        if filled > 0 && filled + size > max {
            chunk += 1;
            filled = 0;
        }
        filled += size;
        chunk_of.push(chunk);
    }
    let mut out: Vec<Vec<Change>> = (0..=chunk).map(|_| Vec::new()).collect();
    for (c, g) in changes.into_iter().zip(groups) {
        out[chunk_of[g]].push(c);
    }
    out
}

/// The outcome of [`apply`].
#[derive(Debug, Default)]
pub struct Applied {
    /// Changes that took effect (or were already in effect).
    pub done: Vec<Change>,
    /// Changes the kernel refused.
    pub failed: Vec<(Change, Error)>,
}

/// Apply `changes` in order through `backend`.
pub fn apply<B: IpvsBackend + ?Sized>(backend: &mut B, changes: Vec<Change>) -> Applied {
    let ops: Vec<Op> = changes.iter().map(|c| c.op.clone()).collect();
    let results = backend.apply(&ops);
    let mut out = Applied::default();
    let mut retry: Vec<(Change, Op)> = Vec::new();
    for (change, result) in changes.into_iter().zip(results) {
        match result {
            Ok(()) => out.done.push(change),
            Err(e) => match &change.op {
                Op::AddService(_) | Op::AddDest(..) if e.is_exists() => out.done.push(change),
                Op::DelService(_) | Op::DelDest(..) if e.is_not_found() => out.done.push(change),
                Op::EditService(s) if e.is_not_found() => {
                    let op = Op::AddService(s.clone());
                    retry.push((change, op));
                }
                Op::EditDest(k, d) if e.is_not_found() => {
                    let op = Op::AddDest(*k, d.clone());
                    retry.push((change, op));
                }
                _ => out.failed.push((change, e)),
            },
        }
    }
    if !retry.is_empty() {
        let ops: Vec<Op> = retry.iter().map(|(_, op)| op.clone()).collect();
        for ((change, _), result) in retry.into_iter().zip(backend.apply(&ops)) {
            match result {
                Ok(()) => out.done.push(change),
                Err(e) if e.is_exists() => out.done.push(change),
                Err(e) => out.failed.push((change, e)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{desired, diff};
    use super::*;
    use crate::config::Config;
    use crate::ipvs::{IpvsBackend, MemoryIpvs, Service, ServiceKey};

    use crate::config::test_config as cfg;

    const CF: &str = "fallback=127.0.0.1:80\nquiescent=no\n\
        virtual=192.0.2.1:80\n\treal=192.0.2.11:80 masq 3\n\treal=192.0.2.12:80 gate 2\n\
        virtual=7\n\treal=192.0.2.21 gate\n\
        virtual6=[2001:db8::1]:443\n\treal6=[2001:db8::11]:443 ipip 5 l:1 u:10\n";

    fn table(b: &mut MemoryIpvs) -> Vec<(Service, Vec<crate::ipvs::Dest>)> {
        let mut t = b.services().unwrap();
        t.sort_by_key(|(s, _)| format!("{}", s.key));
        for (_, ds) in &mut t {
            ds.sort_by_key(|d| d.key.to_string());
        }
        t
    }

    fn converge(c: &Config, b: &mut MemoryIpvs, up: impl Fn(&str) -> bool + Copy) -> Vec<Change> {
        let want = desired(c, |_, r| up(&r.addr.to_string()));
        let changes = diff(c, &b.services().unwrap(), &want, &[]);
        let applied = apply(b, changes.clone());
        assert!(applied.failed.is_empty(), "{:?}", applied.failed);
        changes
    }

    #[test]
    fn chunks_keep_each_service_whole_and_in_order() {
        let mut text = String::from("quiescent=no\n");
        for v in 0..5 {
            text.push_str(&format!("virtual=192.0.2.1:{}\n", 80 + v));
            for r in 0..3 {
                text.push_str(&format!("\treal=192.0.2.{}:80 masq\n", 10 + r));
            }
        }
        let c = cfg(&text);
        let mut b = MemoryIpvs::new();
        let want = desired(&c, |_, _| true);
        let changes = diff(&c, &b.services().unwrap(), &want, &[]);
        // 5 services and 15 reals; chunks of at most 8: two services each.
        let chunks = by_services(changes.clone(), 8);
        let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
        assert_eq!(sizes, [8, 8, 4]);
        for chunk in &chunks {
            // Every service of a chunk is added before its reals.
            let first_dest = chunk.iter().position(|c| matches!(c.op, Op::AddDest(..)));
            assert!(chunk[..first_dest.unwrap()]
                .iter()
                .all(|c| matches!(c.op, Op::AddService(_))));
            assert!(apply(&mut b, chunk.clone()).failed.is_empty());
        }
        // The same changes, reordered only.
        let mut flat: Vec<Change> = chunks.concat();
        let key = |c: &Change| format!("{:?}", c.op);
        flat.sort_by_key(key);
        let mut all = changes;
        all.sort_by_key(key);
        assert_eq!(flat, all);
        assert!(diff(&c, &b.services().unwrap(), &want, &[]).is_empty());
        // Under the bound: one chunk, untouched.
        let small = diff(&c, &[], &want, &[]);
        assert_eq!(by_services(small.clone(), 100), [small]);
    }

    #[test]
    fn empty_to_desired_then_no_changes() {
        let c = cfg(CF);
        let mut b = MemoryIpvs::new();
        let first = converge(&c, &mut b, |_| true);
        assert_eq!(
            first
                .iter()
                .filter(|c| c.kind == super::super::ChangeKind::AddVirtual)
                .count(),
            3
        );
        // diff(S, S) = []: a converged table needs nothing.
        let want = desired(&c, |_, _| true);
        assert!(diff(&c, &b.services().unwrap(), &want, &[]).is_empty());
        // Idempotent: applying the same changes again is harmless.
        let again = apply(&mut b, first);
        assert!(again.failed.is_empty());
    }

    #[test]
    fn services_before_dests_on_add_and_dests_before_services_on_delete() {
        let c = cfg(CF);
        let mut b = MemoryIpvs::new();
        let changes = converge(&c, &mut b, |_| true);
        let first_dest = changes
            .iter()
            .position(|c| matches!(c.op, Op::AddDest(..)))
            .unwrap();
        assert!(changes[..first_dest]
            .iter()
            .all(|c| matches!(c.op, Op::AddService(_))));
        // Tear down: everything of ours is purged, dests first.
        let empty = cfg("");
        let keys: Vec<ServiceKey> = b.services().unwrap().iter().map(|(s, _)| s.key).collect();
        let down = diff(
            &empty,
            &b.services().unwrap(),
            &desired(&empty, |_, _| true),
            &keys,
        );
        assert!(down.iter().all(|c| matches!(c.op, Op::DelService(_))));
        assert!(apply(&mut b, down).failed.is_empty());
        assert!(b.services().unwrap().is_empty());
    }

    #[test]
    fn real_down_and_up_swaps_with_the_fallback_without_an_empty_moment() {
        let c = cfg(CF);
        let mut b = MemoryIpvs::new();
        converge(&c, &mut b, |_| true);
        let down = converge(&c, &mut b, |a| a != "192.0.2.11" && a != "192.0.2.12");
        let kinds: Vec<_> = down.iter().map(|c| c.kind).collect();
        use super::super::ChangeKind::*;
        assert_eq!(kinds, [AddFallback, DeleteReal, DeleteReal]);
        assert_eq!(
            down[1].log_line("start"),
            "Deleted real server: 192.0.2.11:80 (192.0.2.1:80)"
        );
        let up = converge(&c, &mut b, |_| true);
        let kinds: Vec<_> = up.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, [AddReal, AddReal, DeleteFallback]);
        assert_eq!(
            up[0].log_line("start"),
            "Added real server: 192.0.2.11:80 (192.0.2.1:80) (Weight set to 3)"
        );
    }

    #[test]
    fn quiescent_edits_weight_and_readdquiescent_re_adds() {
        let c = cfg("quiescent=yes\nvirtual=192.0.2.1:80\n\treal=192.0.2.11:80 masq 3\n\treal=192.0.2.12:80 masq 1\n");
        let mut b = MemoryIpvs::new();
        converge(&c, &mut b, |_| true);
        let q = converge(&c, &mut b, |a| a != "192.0.2.11");
        assert_eq!(q[0].kind, super::super::ChangeKind::QuiesceReal);
        assert_eq!(
            q[0].log_line(""),
            "Quiescent real server: 192.0.2.11:80 (192.0.2.1:80) (Weight set to 0)"
        );
        // An operator removes the quiesced real: not re-added without readdquiescent.
        let key = ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80);
        let dk = crate::ipvs::DestKey::new("192.0.2.11".parse().unwrap(), 80);
        assert!(b.apply(&[Op::DelDest(key, dk)])[0].is_ok());
        assert!(converge(&c, &mut b, |a| a != "192.0.2.11").is_empty());
        let c2 = cfg("quiescent=yes\nreaddquiescent=yes\nvirtual=192.0.2.1:80\n\treal=192.0.2.11:80 masq 3\n\treal=192.0.2.12:80 masq 1\n");
        let r = converge(&c2, &mut b, |a| a != "192.0.2.11");
        assert_eq!(r[0].kind, super::super::ChangeKind::ReaddQuiescentReal);
    }

    #[test]
    fn strangers_are_left_alone_and_unconfigured_dests_of_ours_are_purged() {
        let c = cfg("virtual=192.0.2.1:80\n\treal=192.0.2.11:80 masq\n");
        let mut b = MemoryIpvs::new();
        let other = Service::new(ServiceKey::tcp("198.51.100.1".parse().unwrap(), 443), "rr");
        let ours = Service::new(ServiceKey::tcp("192.0.2.1".parse().unwrap(), 80), "wrr");
        let stray = crate::ipvs::Dest::new(
            crate::ipvs::DestKey::new("192.0.2.99".parse().unwrap(), 80),
            crate::ipvs::Forward::Masq,
        );
        for r in b.apply(&[
            Op::AddService(other.clone()),
            Op::AddService(ours.clone()),
            Op::AddDest(ours.key, stray),
        ]) {
            r.unwrap();
        }
        let changes = converge(&c, &mut b, |_| true);
        let kinds: Vec<_> = changes.iter().map(|c| c.kind).collect();
        use super::super::ChangeKind::*;
        assert_eq!(kinds, [AddReal, PurgeReal]);
        assert_eq!(
            changes[1].log_line("start"),
            "Purged real server (start): 192.0.2.99:80 (192.0.2.1:80)"
        );
        assert!(table(&mut b).iter().any(|(s, _)| s.key == other.key));
    }

    #[test]
    fn drift_is_repaired_and_edits_replace_what_changed() {
        let c = cfg(CF);
        let mut b = MemoryIpvs::new();
        converge(&c, &mut b, |_| true);
        let before = table(&mut b);
        b.flush().unwrap();
        converge(&c, &mut b, |_| true);
        assert_eq!(table(&mut b), before);
        // A changed scheduler edits the service in place.
        let c2 = cfg(&CF.replace("virtual=7\n", "virtual=7\n\tscheduler=rr\n"));
        let ch = converge(&c2, &mut b, |_| true);
        assert_eq!(ch.len(), 1);
        assert_eq!(ch[0].kind, super::super::ChangeKind::EditVirtual);
    }
}
