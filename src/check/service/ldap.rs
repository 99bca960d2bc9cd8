//! The `ldap` and `ldaps` negotiate checks (upstream `check_ldap`,
//! Net::LDAP): connect (ldaps: implicit TLS, certificate not verified), bind
//! with `login`/`passwd` when both are set, else anonymously; search base =
//! `request` without its leading `/`, scope base, filter `(objectClass=*)`.
//! Up iff exactly one entry comes back and (`receive` is empty or the
//! entry's DN matches it). Uses `ldap3` (rustls with ring).
//!
//! Must not: read more than [`CAP`] bytes (ldap3 buffers whole messages,
//! so it talks through a capped relay), outlive its deadline, write to the
//! directory.

use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry, StdStream};

use super::common::{self, AbortOnDrop, Relay};
use crate::check::{CheckError, CheckResult, Target};
use crate::config::Service;

/// One base-scope entry with all its attributes; generous for photos and
/// certificates, small enough to be harmless.
const CAP: usize = 4 << 20;

/// The deadline: upstream runs the whole check under `alarm(checktimeout)`
/// and gives Net::LDAP `timeout => negotiatetimeout`; the shorter wins.
fn deadline(t: &Target) -> Duration {
    t.checktimeout.min(t.negotiatetimeout)
}

/// Run the ldap/ldaps check of `t`.
pub async fn check(t: &Target) -> CheckResult {
    common::within_for(deadline(t), run(t)).await
}

async fn run(t: &Target) -> CheckResult {
    let re = common::receive_regex(t)?;
    let addr = common::socket_addr(t)?;
    let mut relay = Relay::paired(addr, CAP).await?;
    let stream = relay
        .stream
        .take()
        .ok_or_else(|| CheckError::Io("relay without a client stream".into()))?;
    let scheme = if t.service == Service::Ldaps {
        "ldaps"
    } else {
        "ldap"
    };
    // The URL only picks the scheme here: the connection is the relay's
    // stream. Its host would be the TLS server name; an address means no
    // SNI, and the certificate is not verified anyway.
    let url = format!("{scheme}://127.0.0.1:{}", addr.port());
    let settings = LdapConnSettings::new()
        .set_std_stream(StdStream::Tcp(stream))
        .set_config(common::tls_config())
        .set_no_tls_verify(true);
    // COMPAT: upstream counts a failed connect or bind twice (its `return`
    // inside `eval` falls through to a second service_set(down)). Here a
    // failure is one result.
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &url)
        .await
        .map_err(|e| relay.explain(ldap_error(e)))?;
    let _driver = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.drive().await;
    }));
    let result: Result<String, CheckError> = async {
        if !t.login.is_empty() && !t.passwd.is_empty() {
            ldap.simple_bind(&t.login, &t.passwd)
                .await?
                .success()
                .map_err(|e| match ldap_error(e) {
                    CheckError::Status(s) => CheckError::Auth(s),
                    other => other,
                })?;
        } else {
            // Net::LDAP's bind() without arguments: an anonymous bind.
            ldap.simple_bind("", "").await?.success()?;
        }
        let base = t.request.strip_prefix('/').unwrap_or(&t.request);
        let (entries, _res) = ldap
            .search(base, Scope::Base, "(objectClass=*)", Vec::<&str>::new())
            .await?
            .success()?;
        if entries.len() != 1 {
            return Err(CheckError::Mismatch(format!(
                "{} entries for base {base:?}, want 1",
                entries.len()
            )));
        }
        let dn = SearchEntry::construct(entries.into_iter().next().expect("one entry")).dn;
        match &re {
            Some(re) if !re.is_match(dn.as_bytes()) => Err(CheckError::Mismatch(format!(
                "DN {dn:?} does not match {:?}",
                t.receive
            ))),
            _ => Ok(dn),
        }
    }
    .await
    .map_err(|e| relay.explain(e));
    let _ = ldap.unbind().await;
    result
}

impl From<LdapError> for CheckError {
    fn from(e: LdapError) -> Self {
        ldap_error(e)
    }
}

fn ldap_error(e: LdapError) -> CheckError {
    match e {
        LdapError::Io { source } => CheckError::from(source),
        LdapError::LdapResult { result } => {
            // 32: noSuchObject (wrong base DN), 49: invalidCredentials.
            CheckError::Status(format!("LDAP result {}: {}", result.rc, result.text))
        }
        other => CheckError::Protocol(other.to_string()),
    }
}
