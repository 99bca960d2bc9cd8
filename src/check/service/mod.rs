//! Negotiate checks, one file per service (upstream §c). Each is
//! `async fn check(t: &Target) -> CheckResult` and must honour
//! `t.negotiatetimeout` as a hard deadline itself (the pool also wraps every
//! probe in a deadline, as a backstop) and keep memory bounded whatever the
//! server sends.

pub mod dns;
pub mod http;

use super::{CheckResult, Target};
use crate::config::Service;

mod common;
pub mod ftp;
pub mod imap;
pub mod ldap;
pub mod nntp;
pub mod pop;
pub mod radius;
pub mod simpletcp;
pub mod sip;
pub mod smtp;
pub mod sql;

/// Run the negotiate check of `t.service`.
pub async fn negotiate(t: &Target) -> CheckResult {
    match t.service {
        Service::None => Ok("no check".into()),
        Service::Ftp => ftp::check(t).await,
        Service::Smtp | Service::Submission => smtp::check(t).await,
        Service::Pop | Service::Pops => pop::check(t).await,
        Service::Imap | Service::Imaps => imap::check(t).await,
        Service::Ldap | Service::Ldaps => ldap::check(t).await,
        Service::Mysql | Service::Pgsql => sql::check(t).await,
        Service::Radius => radius::check(t).await,
        Service::Sip => sip::check(t).await,
        Service::SimpleTcp => simpletcp::check(t).await,
        Service::Nntp => nntp::check(t).await,
        Service::Http | Service::Https | Service::HttpProxy => http::check(t).await,
        Service::Dns => dns::check(t).await,
        // The other services' arms are added by the protocol work
        // (ftp, smtp, pop, imap, ldap, sql, radius, sip, simpletcp, nntp).
        other => Err(super::CheckError::Config(format!(
            "the {other} negotiate check is not implemented in this build"
        ))),
    }
}
