//! Slow-start clocks (`slowstart=SECONDS`, an ldirectord-rs extension):
//! when each (virtual, real) pair came back into service, so that the
//! desired state can ramp its weight from 1 to its weight in whole-second
//! steps ([`crate::reconcile::desired::weigh`] does the arithmetic).
//!
//! A pair ramps when it goes from a known state out of service (down, in
//! maintenance, drained, weight 0 by its monitor) to in service; never when
//! its first known state is in service (start-up, adoption, a real added
//! by a reload), and never with `slowstart=0`. Leaving service during a
//! ramp ends it (the real drops as usual and ramps again when it returns).
//!
//! Pure bookkeeping: time is a value passed in, so tests drive it with a
//! fake clock. The director asks [`SlowStart::due`] on every wake-up and
//! wakes at [`SlowStart::next_step`]: each ramping pair changes its weight
//! at most once a second.

use std::time::{Duration, Instant};

use crate::check::pool::Member;
use crate::fastmap::FastMap;
use crate::reconcile::desired::Ramp;

#[derive(Debug, Clone, Copy)]
struct Clock {
    since: Instant,
    over: u32,
    /// The whole seconds of the last step handed out.
    step: u32,
}

impl Clock {
    fn elapsed(&self, now: Instant) -> u32 {
        u32::try_from(now.saturating_duration_since(self.since).as_secs()).unwrap_or(u32::MAX)
    }
}

/// Every pair's service state as last seen, and the ramps in progress.
#[derive(Debug, Default, Clone)]
pub struct SlowStart {
    /// In service at the last look; pairs never seen in a known state are
    /// absent.
    serving: FastMap<Member, bool>,
    ramps: FastMap<Member, Clock>,
}

impl SlowStart {
    pub fn new() -> SlowStart {
        SlowStart::default()
    }

    /// Pair `m` is in service (`Some(true)`), out of it (`Some(false)`) or
    /// not known (`None`: not checked since start-up, or not worth
    /// watching: no slow start and no monitor to restart) at `now`, with
    /// `slowstart` = `over` seconds. Returns its ramp, if it is ramping.
    /// Only watched pairs take memory.
    pub fn observe(
        &mut self,
        m: &Member,
        serving: Option<bool>,
        over: u32,
        now: Instant,
    ) -> Option<Ramp> {
        let Some(serving) = serving else {
            self.serving.remove(m);
            self.ramps.remove(m);
            return None;
        };
        let was = self.serving.insert(m.clone(), serving);
        match (was, serving) {
            (Some(false), true) if over > 0 => {
                self.ramps.insert(
                    m.clone(),
                    Clock {
                        since: now,
                        over,
                        step: 0,
                    },
                );
            }
            (_, false) => {
                self.ramps.remove(m);
            }
            _ => {}
        }
        let clock = self.ramps.get_mut(m)?;
        // A reload may change slowstart mid-ramp: the new length counts.
        clock.over = over;
        if over == 0 {
            self.ramps.remove(m);
            return None;
        }
        Some(Ramp {
            elapsed: clock.elapsed(now),
            over,
        })
    }

    /// Whether pair `m` was in service at its last look.
    pub fn serving(&self, m: &Member) -> Option<bool> {
        self.serving.get(m).copied()
    }

    /// The ramp of pair `m` at `now`, if it is ramping.
    pub fn ramp(&self, m: &Member, now: Instant) -> Option<Ramp> {
        self.ramps.get(m).map(|c| Ramp {
            elapsed: c.elapsed(now),
            over: c.over,
        })
    }

    /// The pairs whose ramp reached a new whole second since the last call
    /// (their weight may change); a ramp that has ended is listed one last
    /// time and forgotten.
    pub fn due(&mut self, now: Instant) -> Vec<Member> {
        let mut out = Vec::new();
        self.ramps.retain(|m, c| {
            let t = c.elapsed(now);
            if t != c.step {
                c.step = t;
                out.push(m.clone());
            }
            t < c.over
        });
        out
    }

    /// When the next ramp reaches its next whole second.
    pub fn next_step(&self) -> Option<Instant> {
        self.ramps
            .values()
            .map(|c| c.since + Duration::from_secs(u64::from(c.step) + 1))
            .min()
    }

    /// Whether it knows of no pair at all (nothing to forget).
    pub fn is_empty(&self) -> bool {
        self.serving.is_empty() && self.ramps.is_empty()
    }

    /// Forget pairs no longer configured (after a reload).
    pub fn retain(&mut self, keep: impl Fn(&Member) -> bool) {
        self.serving.retain(|m, _| keep(m));
        self.ramps.retain(|m, _| keep(m));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(last: u8) -> Member {
        Member {
            virtual_key: crate::config::VirtualKey::Addr {
                protocol: crate::config::Protocol::Tcp,
                addr: "192.0.2.1".parse().unwrap(),
                port: 80,
            },
            real_addr: format!("192.0.2.{last}").parse().unwrap(),
            real_port: 80,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn no_ramp_at_start_up_or_adoption() {
        let (mut s, t0) = (SlowStart::new(), Instant::now());
        // Unknown, then up: start-up.
        assert_eq!(s.observe(&m(1), None, 10, t0), None);
        assert_eq!(s.observe(&m(1), Some(true), 10, t0), None);
        // Adopted up at once.
        assert_eq!(s.observe(&m(2), Some(true), 10, t0), None);
        assert_eq!(s.next_step(), None);
    }

    #[test]
    fn a_real_that_comes_back_ramps_in_whole_seconds_with_a_fake_clock() {
        let (mut s, t0) = (SlowStart::new(), Instant::now());
        s.observe(&m(1), Some(true), 10, t0);
        s.observe(&m(1), Some(false), 10, t0 + secs(5));
        let back = t0 + secs(7);
        assert_eq!(
            s.observe(&m(1), Some(true), 10, back),
            Some(Ramp {
                elapsed: 0,
                over: 10
            })
        );
        assert_eq!(s.next_step(), Some(back + secs(1)));
        // Half a second later nothing is due; at one second it is.
        assert!(s.due(back + Duration::from_millis(500)).is_empty());
        assert_eq!(s.due(back + secs(1)), [m(1)]);
        assert!(s.due(back + Duration::from_millis(1900)).is_empty());
        assert_eq!(s.next_step(), Some(back + secs(2)));
        assert_eq!(
            s.ramp(&m(1), back + secs(4)),
            Some(Ramp {
                elapsed: 4,
                over: 10
            })
        );
        // A late wake-up skips steps, it never bursts.
        assert_eq!(s.due(back + secs(6)), [m(1)]);
        // The end: listed once more, then gone.
        assert_eq!(s.due(back + secs(10)), [m(1)]);
        assert_eq!(s.ramp(&m(1), back + secs(10)), None);
        assert!(s.due(back + secs(11)).is_empty());
        assert_eq!(s.next_step(), None);
    }

    #[test]
    fn a_real_that_fails_during_its_ramp_drops_and_ramps_again() {
        let (mut s, t0) = (SlowStart::new(), Instant::now());
        s.observe(&m(1), Some(false), 10, t0);
        s.observe(&m(1), Some(true), 10, t0 + secs(1));
        assert_eq!(s.observe(&m(1), Some(false), 10, t0 + secs(3)), None);
        assert_eq!(s.ramp(&m(1), t0 + secs(4)), None);
        let r = s.observe(&m(1), Some(true), 10, t0 + secs(20));
        assert_eq!(
            r,
            Some(Ramp {
                elapsed: 0,
                over: 10
            })
        );
    }

    #[test]
    fn slowstart_zero_and_reloads() {
        let (mut s, t0) = (SlowStart::new(), Instant::now());
        s.observe(&m(1), Some(false), 0, t0);
        assert_eq!(s.observe(&m(1), Some(true), 0, t0), None);
        // Mid-ramp, a reload turns it off, or changes its length.
        s.observe(&m(2), Some(false), 10, t0);
        s.observe(&m(2), Some(true), 10, t0);
        assert_eq!(
            s.observe(&m(2), Some(true), 20, t0 + secs(5)),
            Some(Ramp {
                elapsed: 5,
                over: 20
            })
        );
        assert_eq!(s.observe(&m(2), Some(true), 0, t0 + secs(6)), None);
        assert_eq!(s.next_step(), None);
        s.retain(|x| *x != m(1));
        assert_eq!(s.serving(&m(1)), None);
        assert_eq!(s.serving(&m(2)), Some(true));
    }
}
