//! The `nntp` negotiate check (upstream `check_nntp`): connect over tcp,
//! wait for the greeting and read at most 64 bytes of it (one read, as
//! upstream's `sysread`); up iff it starts with `2` (200/201: ready). No
//! crate: one read is all there is.
//!
//! Must not: send anything, read more than 64 bytes, outlive
//! `negotiatetimeout`.

use tokio::io::AsyncReadExt;

use super::common;
use crate::check::{CheckError, CheckResult, Target};

/// Upstream reads this much of the greeting.
const GREETING: usize = 64;

/// Run the nntp check of `t`.
pub async fn check(t: &Target) -> CheckResult {
    // COMPAT: upstream's connect has no timeout (IO::Socket::INET6's
    // `Timeout` option is misspelt `TimeOut`), only the wait for data has.
    // Here connect and read share negotiatetimeout.
    common::within(t, run(t)).await
}

async fn run(t: &Target) -> CheckResult {
    let addr = common::socket_addr(t)?;
    let mut s = common::connect(addr).await?;
    let mut buf = [0u8; GREETING];
    let n = s.read(&mut buf).await?;
    let greeting = &buf[..n];
    match greeting.first() {
        None => Err(CheckError::Protocol(
            "connection closed without a greeting".into(),
        )),
        Some(b'2') => Ok(common::first_line(greeting)),
        Some(_) => Err(CheckError::Status(common::first_line(greeting))),
    }
}
