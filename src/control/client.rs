//! The client end of the control socket, for the command line: check that
//! the path is the daemon's socket before talking to it, send one request,
//! read one reply, all bounded in size and time.
//!
//! "The daemon's socket": a socket (not a link, not a regular file) owned
//! by root or by the user the daemon runs as, and, once connected, served
//! by the daemon's own process (its peer credentials). Anything else is
//! refused with a message that says what the path is; nothing is sent to
//! it and nothing is removed.

use std::io::{BufRead, BufReader, Read as _, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::protocol::{self, Reply, Request, MAX_REPLY};

/// The uid a process runs as (the owner of `/proc/<pid>`).
pub fn uid_of_process(pid: u32) -> Option<u32> {
    std::fs::metadata(format!("/proc/{pid}"))
        .ok()
        .map(|m| m.uid())
}

/// Whether `path` looks like the control socket of a daemon running as
/// `daemon_uid`: `Err` says what it is instead.
pub fn check_socket(path: &Path, daemon_uid: Option<u32>) -> Result<(), String> {
    let shown = path.display();
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("there is no control socket {shown}"))
        }
        Err(e) => return Err(format!("cannot look at {shown}: {e}")),
    };
    let ft = meta.file_type();
    let what = if ft.is_symlink() {
        Some("a symbolic link")
    } else if ft.is_file() {
        Some("a regular file")
    } else if ft.is_dir() {
        Some("a directory")
    } else if !ft.is_socket() {
        Some("not a socket")
    } else {
        None
    };
    if let Some(what) = what {
        return Err(format!(
            "{shown} is {what}, not the daemon's control socket: not talking to it"
        ));
    }
    let owner = meta.uid();
    if owner != 0 && Some(owner) != daemon_uid {
        return Err(format!(
            "{shown} is owned by uid {owner}, not by root{}: not talking to it",
            daemon_uid
                .filter(|u| *u != 0)
                .map_or(String::new(), |u| format!(" or the daemon's uid {u}"))
        ));
    }
    Ok(())
}

/// The uid and pid at the other end of a Unix socket (`SO_PEERCRED`).
pub fn peer_of(stream: &UnixStream) -> std::io::Result<(u32, u32)> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt fills at most `len` bytes of `cred`, a ucred.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut libc::ucred as *mut libc::c_void,
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((cred.uid, cred.pid as u32))
}

/// Send `request` to the daemon `daemon_pid` through its socket `path`
/// and read its reply, waiting at most `timeout` for it.
pub fn call(
    path: &Path,
    daemon_pid: u32,
    request: &Request,
    timeout: Duration,
) -> Result<Reply, String> {
    let daemon_uid = uid_of_process(daemon_pid);
    check_socket(path, daemon_uid)?;
    let shown = path.display();
    let stream = UnixStream::connect(path).map_err(|e| {
        format!("cannot connect to {shown}: {e} (is the daemon, pid {daemon_pid}, serving it? see its log)")
    })?;
    // Bound every step: the daemon answers within its own limits, a
    // stranger might never.
    let io = |e: std::io::Error| format!("talking to {shown}: {e}");
    stream
        .set_write_timeout(Some(protocol::REQUEST_TIMEOUT))
        .map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    let (uid, pid) = peer_of(&stream).map_err(io)?;
    if pid != daemon_pid || (uid != 0 && Some(uid) != daemon_uid) {
        return Err(format!(
            "{shown} is served by pid {pid} (uid {uid}), not by the daemon (pid {daemon_pid}): \
             not talking to it"
        ));
    }
    (&stream)
        .write_all(&protocol::to_line(request))
        .map_err(io)?;
    let mut line = Vec::new();
    let mut reader = BufReader::new(&stream).take(MAX_REPLY as u64 + 1);
    reader.read_until(b'\n', &mut line).map_err(io)?;
    if line.len() > MAX_REPLY {
        return Err(format!(
            "{shown}: the reply is larger than {MAX_REPLY} bytes"
        ));
    }
    if line.is_empty() {
        return Err(format!(
            "{shown}: the daemon closed the connection without a reply"
        ));
    }
    protocol::from_line(&line).map_err(|e| format!("{shown}: a reply that is not ours: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_socket_of_root_or_the_daemon_is_talked_to() {
        let d = std::env::temp_dir().join(format!("ldrs-client-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let me = unsafe { libc::geteuid() };
        let sock = d.join("s.sock");
        assert!(check_socket(&sock, Some(me))
            .unwrap_err()
            .contains("no control socket"));
        std::fs::write(&sock, "x").unwrap();
        assert!(check_socket(&sock, Some(me))
            .unwrap_err()
            .contains("is a regular file, not the daemon's control socket"));
        std::fs::remove_file(&sock).unwrap();
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert!(check_socket(&sock, Some(me)).is_ok());
        if me != 0 {
            // Ours, but the daemon runs as someone else (and not root).
            let e = check_socket(&sock, Some(me + 1)).unwrap_err();
            assert!(e.contains(&format!("owned by uid {me}")), "{e}");
        }
        let link = d.join("l.sock");
        std::os::unix::fs::symlink(&sock, &link).unwrap();
        assert!(check_socket(&link, Some(me))
            .unwrap_err()
            .contains("symbolic link"));
        // A socket served by another process than the daemon: refused
        // after connecting, before anything is sent.
        let e = call(&sock, 1, &Request::Plan, Duration::from_secs(1)).unwrap_err();
        assert!(
            e.contains("not by the daemon (pid 1)") || e.contains("owned by uid"),
            "{e}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
