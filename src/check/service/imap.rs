//! The `imap` and `imaps` negotiate checks (upstream `check_imap` /
//! `check_imaps`, Net::IMAP::Simple[::SSL]): connect (imaps: implicit TLS,
//! certificate not verified), read an `* OK` (or `* PREAUTH`) greeting;
//! when `login` is set, LOGIN must succeed; then LOGOUT. Uses `async-imap`
//! over our capped stream.
//!
//! Must not: open mailboxes, read more than [`CAP`] bytes, outlive
//! `negotiatetimeout`.

use std::fmt::Debug;

use async_imap::imap_proto::{Response, Status};
use tokio::io::{AsyncRead, AsyncWrite};

use super::common::{self, Capped};
use crate::check::{CheckError, CheckResult, Target};
use crate::config::Service;

/// Greeting, capabilities and the LOGIN reply are small; more is hostile.
const CAP: usize = 64 * 1024;

/// Run the imap/imaps check of `t`.
pub async fn check(t: &Target) -> CheckResult {
    common::within(t, run(t)).await
}

async fn run(t: &Target) -> CheckResult {
    let addr = common::socket_addr(t)?;
    let tcp = common::connect(addr).await?;
    if t.service == Service::Imaps {
        let tls = common::tls_connect(tcp, addr.ip()).await?;
        session(t, Capped::new(tls, CAP)).await
    } else {
        session(t, Capped::new(tcp, CAP)).await
    }
}

async fn session<S>(t: &Target, stream: S) -> CheckResult
where
    S: AsyncRead + AsyncWrite + Unpin + Send + Debug,
{
    let mut client = async_imap::Client::new(stream);
    let greeting = client
        .read_response()
        .await
        .map_err(CheckError::from)?
        .ok_or_else(|| CheckError::Protocol("connection closed before the greeting".into()))?;
    let detail = match greeting.parsed() {
        Response::Data {
            status: status @ (Status::Ok | Status::PreAuth),
            outcome,
            ..
        } => format!(
            "* {} {}",
            if *status == Status::Ok {
                "OK"
            } else {
                "PREAUTH"
            },
            outcome.information.as_deref().unwrap_or("")
        ),
        Response::Data {
            status, outcome, ..
        } => {
            return Err(CheckError::Status(format!(
                "greeting: {status:?} {}",
                outcome.information.as_deref().unwrap_or("")
            )))
        }
        other => {
            return Err(CheckError::Protocol(format!(
                "unexpected greeting: {}",
                common::first_line(format!("{other:?}").as_bytes())
            )))
        }
    };
    let detail = common::first_line(detail.trim_end().as_bytes());
    if t.login.is_empty() {
        // Upstream just drops the connection; say goodbye politely.
        let _ = client.run_command_and_check_ok("LOGOUT", None).await;
        return Ok(detail);
    }
    match client.login(&t.login, &t.passwd).await {
        Ok(mut session) => {
            let _ = session.logout().await;
            Ok(detail)
        }
        Err((e, _client)) => Err(match e {
            async_imap::error::Error::No(s) | async_imap::error::Error::Bad(s) => {
                CheckError::Auth(s)
            }
            other => imap_error(other),
        }),
    }
}

fn imap_error(e: async_imap::error::Error) -> CheckError {
    match e {
        async_imap::error::Error::Io(io) => CheckError::from(io),
        other => CheckError::Protocol(other.to_string()),
    }
}
