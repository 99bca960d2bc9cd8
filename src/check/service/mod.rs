//! Negotiate checks, one file per service (upstream §c). Each is
//! `async fn check(t: &Target) -> CheckResult` and must honour
//! `t.negotiatetimeout` as a hard deadline itself (the pool also wraps every
//! probe in a deadline, as a backstop) and keep memory bounded whatever the
//! server sends.

pub mod dns;
pub mod http;

use super::{CheckResult, Target};
use crate::config::Service;

/// Run the negotiate check of `t.service`.
pub async fn negotiate(t: &Target) -> CheckResult {
    match t.service {
        Service::None => Ok("no check".into()),
        Service::Http | Service::Https | Service::HttpProxy => http::check(t).await,
        Service::Dns => dns::check(t).await,
        // The other services' arms are added by the protocol work
        // (ftp, smtp, pop, imap, ldap, sql, radius, sip, simpletcp, nntp).
        other => Err(super::CheckError::Config(format!(
            "the {other} negotiate check is not implemented in this build"
        ))),
    }
}
