//! The `pop` and `pops` negotiate checks (upstream `check_pop`, which uses
//! Mail::POP3Client): connect (pops: implicit TLS, certificate not
//! verified), read a `+OK` greeting; when `login` is set, USER/PASS must
//! succeed; then QUIT. Uses the `async-pop` client over our capped stream.
//!
//! Must not: read mail, read more than [`CAP`] bytes, outlive
//! `negotiatetimeout`.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};

use super::common::{self, Capped};
use crate::check::{CheckError, CheckResult, Target};
use crate::config::Service;

/// Greeting, CAPA and the login replies are small; more is hostile.
const CAP: usize = 64 * 1024;

/// Run the pop/pops check of `t`.
pub async fn check(t: &Target) -> CheckResult {
    common::within(t, run(t)).await
}

async fn run(t: &Target) -> CheckResult {
    let addr: SocketAddr = common::socket_addr(t)?;
    let tcp = common::connect(addr).await?;
    if t.service == Service::Pops {
        let tls = common::tls_connect(tcp, addr.ip()).await?;
        session(t, Capped::new(tls, CAP)).await
    } else {
        session(t, Capped::new(tcp, CAP)).await
    }
}

async fn session<S>(t: &Target, stream: S) -> CheckResult
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    // COMPAT: upstream with an empty login is always UP, even when the
    // server is down (Mail::POP3Client's constructor never fails and the
    // connection is not looked at). We require at least a `+OK` greeting.
    let mut client = async_pop::new(stream).await.map_err(pop_error)?;
    let detail = client
        .greeting()
        .map(|g| format!("+OK {}", common::first_line(g.as_ref())))
        .unwrap_or_else(|| "+OK".into());
    if !t.login.is_empty() {
        client
            .login(&t.login, &t.passwd)
            .await
            .map_err(|e| match pop_error(e) {
                CheckError::Status(s) => CheckError::Auth(s),
                other => other,
            })?;
    }
    // Upstream closes without caring how QUIT goes.
    let _ = client.quit().await;
    Ok(detail)
}

fn pop_error(e: async_pop::error::Error) -> CheckError {
    use async_pop::error::ErrorKind;
    match e.kind() {
        ErrorKind::Io(io) => CheckError::Io(format!("{}: {io}", e.message())),
        ErrorKind::ServerError(s) => CheckError::Status(format!("-ERR {s}")),
        _ => CheckError::Protocol(e.message().to_string()),
    }
}
