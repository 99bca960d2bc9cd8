//! Polling with a bound, for integration tests that wait on a daemon.
//!
//! Include it with `#[path = "support/wait.rs"] mod wait;`.

use std::time::{Duration, Instant};

/// Poll `f` every 200 ms until it holds or `limit` has passed (then once
/// more); whether it held.
pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    f()
}
