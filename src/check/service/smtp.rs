//! The `smtp` and `submission` negotiate checks (upstream `check_smtp`):
//! what `Net::SMTP->new` does — read the greeting (2xx), EHLO (falling back
//! to HELO like Net::SMTP) — then QUIT. Up iff greeting and hello succeed.
//! Uses `mail-send`'s SMTP client over our capped stream.
//!
//! Must not: send mail, use TLS or AUTH (upstream doesn't), read more than
//! [`CAP`] bytes, outlive `negotiatetimeout`.

use mail_send::SmtpClient;
use tokio::io::AsyncWriteExt;

use super::common::{self, Capped};
use crate::check::{CheckError, CheckResult, Target};

/// Greeting plus EHLO reply are a few hundred bytes; more is hostile.
const CAP: usize = 64 * 1024;

/// Net::SMTP's default hello domain when none is configured.
const HELLO: &str = "localhost.localdomain";

/// Run the smtp/submission check of `t`.
pub async fn check(t: &Target) -> CheckResult {
    common::within(t, run(t)).await
}

async fn run(t: &Target) -> CheckResult {
    let addr = common::socket_addr(t)?;
    let tcp = common::connect(addr).await?;
    let mut client = SmtpClient {
        stream: Capped::new(tcp, CAP),
        // Per command; the whole probe is bounded by `within` anyway.
        timeout: t.negotiatetimeout,
    };
    let greeting = client.read().await.map_err(smtp_error)?;
    if !greeting.is_positive_completion() {
        return Err(CheckError::Status(format!(
            "greeting: {} {}",
            greeting.code(),
            greeting.message()
        )));
    }
    let detail =
        common::first_line(format!("{} {}", greeting.code(), greeting.message()).as_bytes());
    match client.ehlo(HELLO).await {
        Ok(_) => {}
        // EHLO refused with a reply: try HELO, as Net::SMTP's hello() does.
        Err(mail_send::Error::UnexpectedReply(_)) => {
            let r = client
                .cmd(format!("HELO {HELLO}\r\n"))
                .await
                .map_err(smtp_error)?;
            if !r.is_positive_completion() {
                return Err(CheckError::Status(format!(
                    "HELO: {} {}",
                    r.code(),
                    r.message()
                )));
            }
        }
        Err(e) => return Err(smtp_error(e)),
    }
    // Upstream ignores how QUIT goes; say it and leave without waiting.
    let _ = client.stream.write_all(b"QUIT\r\n").await;
    let _ = client.stream.shutdown().await;
    Ok(detail)
}

fn smtp_error(e: mail_send::Error) -> CheckError {
    match e {
        mail_send::Error::Io(io) => CheckError::from(io),
        mail_send::Error::Timeout => CheckError::Timeout,
        mail_send::Error::UnexpectedReply(r) => {
            CheckError::Status(format!("{} {}", r.code(), r.message()))
        }
        other => CheckError::Protocol(other.to_string()),
    }
}
