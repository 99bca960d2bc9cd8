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
