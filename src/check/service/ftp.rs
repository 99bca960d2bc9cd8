//! The `ftp` negotiate check (upstream `check_ftp`, Net::FTP): connect,
//! login, `CWD /`, `TYPE I`, passive mode, `RETR <request>` (the request
//! keeps its leading `/`), QUIT. Up iff the file content matches `receive`.
//! Uses `suppaftp` (tokio), which bounds every control reply to 256 KiB; the
//! file itself is read here, at most [`FILE_CAP`] bytes.
//!
//! Must not: write to the server, read more than [`FILE_CAP`] bytes of the
//! file, outlive `negotiatetimeout`, or open a data connection to any
//! address but the real's.

use suppaftp::tokio::AsyncFtpStream;
use suppaftp::types::FileType;
use suppaftp::{FtpError, Mode};
use tokio::io::AsyncReadExt;

use super::common;
use crate::check::{CheckError, CheckResult, Target};

/// The part of the file that is matched against `receive`: a health file
/// is small; a big one is matched on its beginning, not read to the end.
const FILE_CAP: usize = 1 << 20;

/// Run the ftp check of `t`.
pub async fn check(t: &Target) -> CheckResult {
    common::within(t, run(t)).await
}

async fn run(t: &Target) -> CheckResult {
    // COMPAT: empty receive — upstream matches the file against Perl's
    // empty pattern, which re-uses the last successful regex of the process
    // (unpredictable). We treat an empty receive as "any content".
    let bytes_re = common::receive_regex(t)?;
    let addr = common::socket_addr(t)?;
    let tcp = common::connect(addr).await?;
    let mut ftp = AsyncFtpStream::connect_with_stream(tcp)
        .await
        .map_err(ftp_error)?;
    // COMPAT: with service=ftp derived from port 21, upstream logs in with
    // an empty user and password (the anonymous defaults are only set by an
    // explicit service=ftp). We use anonymous / ldirectord@<hostname> then.
    let (user, pass) = if t.login.is_empty() {
        (
            "anonymous".to_string(),
            format!("ldirectord@{}", common::hostname()),
        )
    } else {
        (t.login.clone(), t.passwd.clone())
    };
    // COMPAT: upstream ignores the errors of every step and matches whatever
    // was downloaded (so a failed login with a receive that matches the
    // empty string is UP). We require each step to succeed.
    ftp.login(&user, &pass)
        .await
        .map_err(|e| match ftp_error(e) {
            CheckError::Status(s) => CheckError::Auth(s),
            other => other,
        })?;
    ftp.cwd("/").await.map_err(ftp_error)?;
    ftp.transfer_type(FileType::Binary)
        .await
        .map_err(ftp_error)?;
    // PASV like Net::FTP; EPSV for IPv6 reals, where PASV cannot work.
    ftp.set_mode(if addr.is_ipv6() {
        Mode::ExtendedPassive
    } else {
        Mode::Passive
    });
    // Connect the data channel to the real's address with the PASV port,
    // never to an address the server names (no FTP bounce through us; a
    // NATed real answers with its inside address, which is wrong anyway).
    ftp.set_passive_nat_workaround(true);
    let mut data = ftp.retr_as_stream(&t.request).await.map_err(ftp_error)?;
    let mut content = Vec::new();
    (&mut data)
        .take(FILE_CAP as u64 + 1)
        .read_to_end(&mut content)
        .await?;
    if content.len() > FILE_CAP {
        // Don't wait for the rest: match the beginning, drop the transfer.
        content.truncate(FILE_CAP);
        drop(data);
    } else {
        data.finish().await.map_err(ftp_error)?;
        // Upstream does not look at how QUIT goes.
        let _ = ftp.quit().await;
    }
    let detail = format!("{} bytes of {}", content.len(), t.request);
    match bytes_re {
        None => Ok(detail),
        Some(re) if re.is_match(&content) => Ok(detail),
        Some(_) => Err(CheckError::Mismatch(format!(
            "{} does not match {:?} (first line: {:?})",
            t.request,
            t.receive,
            common::first_line(&content)
        ))),
    }
}

fn ftp_error(e: FtpError) -> CheckError {
    match e {
        FtpError::ConnectionError(io) => CheckError::from(io),
        FtpError::UnexpectedResponse(r) => CheckError::Status(format!(
            "{} {}",
            r.status.code(),
            common::first_line(&r.body)
        )),
        other => CheckError::Protocol(other.to_string()),
    }
}
