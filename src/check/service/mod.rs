//! Negotiate checks, one file per service (upstream §c). Each is
//! `async fn check(t: &Target) -> CheckResult` and must honour
//! `t.negotiatetimeout` as a hard deadline itself (the pool also wraps every
//! probe in a deadline, as a backstop) and keep memory bounded whatever the
//! server sends.

use super::{CheckResult, Target};
use crate::config::Service;

/// Run the negotiate check of `t.service`.
pub async fn negotiate(t: &Target) -> CheckResult {
    match t.service {
        Service::None => Ok("no check".into()),
        other => Err(super::CheckError::Config(format!(
            "the {other} negotiate check is not implemented in this build"
        ))),
    }
}
