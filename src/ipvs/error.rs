//! Errors of the IPVS module.
//!
//! Owns: the mapping from kernel errnos to typed variants, with the IPVS
//! meaning of each (ESRCH = no such *service*, ENOENT = no such *dest* or
//! scheduler/PE: `ip_vs_ctl.c ip_vs_genl_set_cmd`), and the helpers a
//! reconciler needs to make apply idempotent (`is_exists`, `is_not_found`,
//! keepalived `ipvs_talk` semantics). Every kernel-errno variant keeps the
//! request it answered and names the errno in its Display, e.g.
//! `del service TCP 192.0.2.1:80: No such process (ESRCH): no such service`.
//! Must not: decide policy (whether EEXIST is fine is the caller's call).

use std::fmt;
use std::io;

/// A kernel errno (positive), with its symbolic name and meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// The symbolic name, e.g. "ESRCH", or "errno 1234" for unknown values.
    pub fn name(self) -> String {
        match errno_table(self.0) {
            Some((name, _)) => name.to_owned(),
            None => format!("errno {}", self.0),
        }
    }

    /// The C library message, e.g. "No such process".
    pub fn meaning(self) -> String {
        match errno_table(self.0) {
            Some((_, msg)) => msg.to_owned(),
            None => {
                // Fall back to strerror via std; strip its " (os error N)".
                let s = io::Error::from_raw_os_error(self.0).to_string();
                match s.rfind(" (os error") {
                    Some(i) => s[..i].to_owned(),
                    None => s,
                }
            }
        }
    }
}

impl fmt::Display for Errno {
    /// `No such process (ESRCH)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.meaning(), self.name())
    }
}

impl std::error::Error for Errno {}

/// glibc's names and messages for the errnos netlink and IPVS produce.
fn errno_table(e: i32) -> Option<(&'static str, &'static str)> {
    Some(match e {
        libc::EPERM => ("EPERM", "Operation not permitted"),
        libc::ENOENT => ("ENOENT", "No such file or directory"),
        libc::ESRCH => ("ESRCH", "No such process"),
        libc::EINTR => ("EINTR", "Interrupted system call"),
        libc::EIO => ("EIO", "Input/output error"),
        libc::E2BIG => ("E2BIG", "Argument list too long"),
        libc::EBADF => ("EBADF", "Bad file descriptor"),
        libc::EAGAIN => ("EAGAIN", "Resource temporarily unavailable"),
        libc::ENOMEM => ("ENOMEM", "Cannot allocate memory"),
        libc::EACCES => ("EACCES", "Permission denied"),
        libc::EFAULT => ("EFAULT", "Bad address"),
        libc::EBUSY => ("EBUSY", "Device or resource busy"),
        libc::EEXIST => ("EEXIST", "File exists"),
        libc::ENODEV => ("ENODEV", "No such device"),
        libc::EINVAL => ("EINVAL", "Invalid argument"),
        libc::ENOSPC => ("ENOSPC", "No space left on device"),
        libc::ERANGE => ("ERANGE", "Numerical result out of range"),
        libc::EMSGSIZE => ("EMSGSIZE", "Message too long"),
        libc::ENOPROTOOPT => ("ENOPROTOOPT", "Protocol not available"),
        libc::EPROTONOSUPPORT => ("EPROTONOSUPPORT", "Protocol not supported"),
        libc::EOPNOTSUPP => ("EOPNOTSUPP", "Operation not supported"),
        libc::EAFNOSUPPORT => ("EAFNOSUPPORT", "Address family not supported by protocol"),
        libc::EADDRNOTAVAIL => ("EADDRNOTAVAIL", "Cannot assign requested address"),
        libc::ENOBUFS => ("ENOBUFS", "No buffer space available"),
        libc::ETIMEDOUT => ("ETIMEDOUT", "Connection timed out"),
        libc::ECONNREFUSED => ("ECONNREFUSED", "Connection refused"),
        _ => return None,
    })
}

/// What an IPVS operation can fail with.
///
/// The kernel variants carry `request`, a short description of what was
/// sent (e.g. `add dest 192.0.2.11:80 to TCP 192.0.2.1:80`), and the errno
/// as their `source`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// EEXIST: the service or destination (or sync daemon) already exists.
    #[error("{request}: {errno}: already exists")]
    Exists {
        /// what was sent
        request: String,
        /// always EEXIST
        #[source]
        errno: Errno,
    },

    /// ESRCH: no such service.
    #[error("{request}: {errno}: no such service")]
    NoSuchService {
        /// what was sent
        request: String,
        /// always ESRCH
        #[source]
        errno: Errno,
    },

    /// ESRCH to a sync-daemon request: no daemon of that role runs.
    #[error("{request}: {errno}: no sync daemon of that role runs")]
    NotRunning {
        /// what was sent
        request: String,
        /// always ESRCH
        #[source]
        errno: Errno,
    },

    /// ENOENT: no such destination, or unknown scheduler / persistence
    /// engine (or its module cannot be loaded).
    #[error("{request}: {errno}: no such destination, scheduler or persistence engine")]
    NotFound {
        /// what was sent
        request: String,
        /// always ENOENT
        #[source]
        errno: Errno,
    },

    /// EPERM: every IPVS op, dumps included, is `GENL_ADMIN_PERM`.
    #[error("{request}: {errno}: needs CAP_NET_ADMIN in the initial user namespace")]
    Permission {
        /// what was sent
        request: String,
        /// always EPERM
        #[source]
        errno: Errno,
    },

    /// EINVAL: the kernel rejected a field (missing attribute, v6 netmask
    /// outside 1..128, non-unicast dest, family mismatch without tunnel,
    /// GUE without port, …). The kernel gives no extack message, so
    /// `request` spells out what was sent.
    #[error("{request}: {errno}")]
    InvalidArgument {
        /// what was sent, with all its fields
        request: String,
        /// always EINVAL
        #[source]
        errno: Errno,
    },

    /// The kernel has no IPVS: the genl family `IPVS` does not resolve even
    /// after `modprobe ip_vs`.
    #[error("kernel has no IPVS support (ip_vs module not available)")]
    NoIpvs {
        /// the nlctrl lookup's errno (normally ENOENT)
        #[source]
        errno: Errno,
    },

    /// Any other errno (ERANGE for weight/thresholds, EAFNOSUPPORT,
    /// EOPNOTSUPP, ENOBUFS …).
    #[error("{request}: {errno}")]
    Kernel {
        /// what was sent
        request: String,
        /// the errno
        #[source]
        errno: Errno,
    },

    /// Refused before sending: the value cannot be encoded (e.g. a
    /// scheduler name longer than 15 bytes).
    #[error("{request}: invalid value: {reason}")]
    Invalid {
        /// what was to be sent
        request: String,
        /// why it was refused
        reason: String,
    },

    /// The socket failed (send/recv/poll).
    #[error("netlink {context}: {source}")]
    Io {
        /// which step
        context: String,
        /// the OS error
        #[source]
        source: io::Error,
    },

    /// No reply within the deadline.
    #[error("{request}: no reply from the kernel within {millis} ms")]
    Timeout {
        /// what was sent
        request: String,
        /// the deadline
        millis: u128,
    },

    /// A reply could not be decoded.
    #[error("cannot decode netlink reply: {0}")]
    Decode(String),
}

impl Error {
    /// Maps a kernel errno (positive) for `request` to its variant.
    pub fn from_errno(errno: i32, request: impl Into<String>) -> Error {
        let request = request.into();
        let errno_v = Errno(errno);
        match errno {
            libc::EEXIST => Error::Exists {
                request,
                errno: errno_v,
            },
            libc::ESRCH => Error::NoSuchService {
                request,
                errno: errno_v,
            },
            libc::ENOENT => Error::NotFound {
                request,
                errno: errno_v,
            },
            libc::EPERM => Error::Permission {
                request,
                errno: errno_v,
            },
            libc::EINVAL => Error::InvalidArgument {
                request,
                errno: errno_v,
            },
            _ => Error::Kernel {
                request,
                errno: errno_v,
            },
        }
    }

    /// The kernel errno behind this error, if any.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Exists { errno, .. }
            | Error::NoSuchService { errno, .. }
            | Error::NotRunning { errno, .. }
            | Error::NotFound { errno, .. }
            | Error::Permission { errno, .. }
            | Error::InvalidArgument { errno, .. }
            | Error::NoIpvs { errno }
            | Error::Kernel { errno, .. } => Some(errno.0),
            Error::Io { source, .. } => source.raw_os_error(),
            Error::Invalid { .. } | Error::Timeout { .. } | Error::Decode(_) => None,
        }
    }

    /// EEXIST: an add found the object already there.
    pub fn is_exists(&self) -> bool {
        matches!(self, Error::Exists { .. })
    }

    /// ESRCH or ENOENT: the service, dest, scheduler, PE or sync daemon is
    /// not there. A delete that fails this way has nothing left to do.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Error::NoSuchService { .. } | Error::NotFound { .. } | Error::NotRunning { .. }
        )
    }

    /// The error of a sync-daemon request: there, ESRCH means that no
    /// daemon of the role runs, not that a service is missing.
    pub(crate) fn of_daemon_request(self) -> Error {
        match self {
            Error::NoSuchService { request, errno } => Error::NotRunning { request, errno },
            e => e,
        }
    }
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_errno_meaning() {
        let e = Error::from_errno(libc::ESRCH, "del service TCP 192.0.2.1:80");
        assert_eq!(
            e.to_string(),
            "del service TCP 192.0.2.1:80: No such process (ESRCH): no such service"
        );
        assert!(e.is_not_found() && !e.is_exists());

        let e = Error::from_errno(libc::EPERM, "dump services");
        assert!(e.to_string().contains("Operation not permitted (EPERM)"));
        assert!(e.to_string().contains("needs CAP_NET_ADMIN"));

        let e = Error::from_errno(libc::EEXIST, "add service");
        assert!(e.is_exists());
        assert_eq!(
            e.to_string(),
            "add service: File exists (EEXIST): already exists"
        );

        let e = Error::from_errno(libc::ENOENT, "x");
        assert!(e.is_not_found());
        assert!(e.to_string().contains("No such file or directory (ENOENT)"));

        let e = Error::from_errno(libc::ERANGE, "x");
        assert_eq!(e.to_string(), "x: Numerical result out of range (ERANGE)");
        assert_eq!(e.errno(), Some(libc::ERANGE));

        let e = Error::from_errno(libc::EINVAL, "add service sched=wlc");
        assert!(matches!(e, Error::InvalidArgument { .. }));
        assert!(e.to_string().contains("Invalid argument (EINVAL)"));

        let e = Error::NoIpvs {
            errno: Errno(libc::ENOENT),
        };
        assert_eq!(
            e.to_string(),
            "kernel has no IPVS support (ip_vs module not available)"
        );
        // The cause is kept.
        let src = std::error::Error::source(&e).unwrap().to_string();
        assert_eq!(src, "No such file or directory (ENOENT)");
    }

    #[test]
    fn unknown_errno_uses_strerror() {
        let e = Errno(libc::EXDEV);
        assert_eq!(e.name(), format!("errno {}", libc::EXDEV));
        assert_eq!(e.meaning(), "Invalid cross-device link");
    }
}
