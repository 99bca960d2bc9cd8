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

/// Run the negotiate check of `t.service`. Each arm is boxed: unboxed,
/// every check in flight held the state of the largest of them (47 KB, the
/// SQL and LDAP clients), whatever its service; boxed, a check holds what
/// its own protocol needs.
pub async fn negotiate(t: &Target) -> CheckResult {
    match t.service {
        Service::None => Ok("no check".into()),
        Service::Ftp => Box::pin(ftp::check(t)).await,
        Service::Smtp | Service::Submission => Box::pin(smtp::check(t)).await,
        Service::Pop | Service::Pops => Box::pin(pop::check(t)).await,
        Service::Imap | Service::Imaps => Box::pin(imap::check(t)).await,
        Service::Ldap | Service::Ldaps => Box::pin(ldap::check(t)).await,
        Service::Mysql | Service::Pgsql => Box::pin(sql::check(t)).await,
        Service::Radius => Box::pin(radius::check(t)).await,
        Service::Sip => Box::pin(sip::check(t)).await,
        Service::SimpleTcp => Box::pin(simpletcp::check(t)).await,
        Service::Nntp => Box::pin(nntp::check(t)).await,
        Service::Http | Service::Https | Service::HttpProxy => Box::pin(http::check(t)).await,
        Service::Dns => Box::pin(dns::check(t)).await,
        // The other services' arms are added by the protocol work
        // (ftp, smtp, pop, imap, ldap, sql, radius, sip, simpletcp, nntp).
        other => Err(super::CheckError::Config(format!(
            "the {other} negotiate check is not implemented in this build"
        ))),
    }
}
