//! Why a probe failed. Every variant reads as the reason a real server is
//! down (`ldirectord check`, logs, monitorfile).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckError {
    /// The probe did not finish within its deadline (upstream's message).
    Timeout,
    /// The real refused the connection (or answered ICMP unreachable).
    Refused,
    /// Any other socket error.
    Io(String),
    /// The server answered, but not what `receive` asks for.
    Mismatch(String),
    /// The server answered with a failure status (HTTP 5xx, SQL error, …).
    Status(String),
    /// The server spoke something else than the protocol expects.
    Protocol(String),
    /// Login or other authentication failed.
    Auth(String),
    /// The check cannot run with this configuration (e.g. sql without a
    /// login or request, as upstream says).
    Config(String),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Timeout => f.write_str("Connection timed out"),
            CheckError::Refused => f.write_str("Connection refused"),
            CheckError::Io(e) => write!(f, "{e}"),
            CheckError::Mismatch(e) => write!(f, "Response mismatch: {e}"),
            CheckError::Status(e) => write!(f, "{e}"),
            CheckError::Protocol(e) => write!(f, "protocol error: {e}"),
            CheckError::Auth(e) => write!(f, "authentication failed: {e}"),
            CheckError::Config(e) => write!(f, "{e}"),
        }
    }
}

impl CheckError {
    /// Why a check that took `took` failed, for the log line that goes
    /// with a real server's removal: the text above, with the time a
    /// timeout waited (`Connection timed out after 5 s`).
    pub fn reason(&self, took: std::time::Duration) -> String {
        match self {
            CheckError::Timeout => {
                let ms = took.as_millis();
                if ms < 1000 {
                    format!("{self} after {ms} ms")
                } else {
                    format!("{self} after {} s", (ms + 500) / 1000)
                }
            }
            _ => self.to_string(),
        }
    }
}

impl std::error::Error for CheckError {}

impl From<std::io::Error> for CheckError {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::ConnectionRefused => CheckError::Refused,
            std::io::ErrorKind::TimedOut => CheckError::Timeout,
            _ => CheckError::Io(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_reason_says_how_long_a_timeout_waited() {
        let t = CheckError::Timeout;
        assert_eq!(
            t.reason(Duration::from_millis(10_020)),
            "Connection timed out after 10 s"
        );
        assert_eq!(
            t.reason(Duration::from_millis(250)),
            "Connection timed out after 250 ms"
        );
        assert_eq!(
            CheckError::Refused.reason(Duration::ZERO),
            "Connection refused"
        );
        assert_eq!(
            CheckError::Status("HTTP/1.1 404 Not Found".into()).reason(Duration::ZERO),
            "HTTP/1.1 404 Not Found"
        );
    }
}
