//! The control socket's daemon end: `<run dir>/ldirectord.<cfgname>.sock`,
//! a Unix stream socket of mode 0600 served on the daemon's runtime, one
//! request and one reply per connection ([`crate::control::protocol`]).
//!
//! Who may talk: root and the uid the daemon runs as, by the peer
//! credentials of each connection (`SO_PEERCRED`); anyone else is refused
//! and logged. Changes are the director's ([`Message::Control`]), which
//! logs each one with the peer; `connections` is read from the latest
//! published snapshot (asking makes the director read the kernel's counters
//! every second for a few seconds, [`Message::Watch`]); `plan` parses the
//! file as a reload would and asks the director for the operations
//! ([`Message::Plan`]). It keeps no state of its own.
//!
//! Bounded: connections at once ([`MAX_CONNECTIONS`], more are closed as
//! they come), the request's size and time, the wait for the director, the
//! time to write the reply. Shutdown is a value passed in.
//!
//! The path is only taken over when it is ours to take: nothing there, or
//! a socket owned by the daemon's uid (left by a daemon that died; the pid
//! file says no other daemon of this configuration runs). A regular file,
//! a link, a directory or someone else's socket is left alone, logged, and
//! the daemon runs without a control socket.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::io::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinHandle;

use crate::config;
use crate::control::protocol::{
    self, PairConnections, Reply, Request, MAX_REQUEST, REQUEST_TIMEOUT,
};
use crate::control::Peer;
use crate::status::Subscriber;

use super::director::Message;
use super::log::Logger;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 8;
/// How long a change waits for the director.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a plan waits for the director (it reads the kernel table).
const PLAN_TIMEOUT: Duration = Duration::from_secs(110);
/// How long the reply may take to write.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the counters are read every second after a `connections`.
const WATCH_FOR: Duration = Duration::from_secs(5);

/// What the server talks to.
#[derive(Clone)]
pub struct Served {
    pub director: std_mpsc::Sender<Message>,
    pub snapshots: Subscriber,
    /// The configuration file and how a reload reads it (for `plan`).
    pub config_path: PathBuf,
    pub options: config::Options,
    pub log: Arc<Logger>,
}

/// The running server.
pub struct ControlServer {
    path: PathBuf,
    /// The socket file's identity, so that only ours is removed at stop.
    id: (u64, u64),
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Make the socket at `path` (mode 0600), taking the path over only when
/// it is ours to take (see the module doc).
pub fn bind(path: &Path) -> Result<std::os::unix::net::UnixListener, String> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot look at {shown}: {e}")),
        Ok(m) => {
            let ft = m.file_type();
            // SAFETY: geteuid cannot fail.
            let me = unsafe { libc::geteuid() };
            let what = if ft.is_symlink() {
                "a symbolic link".to_string()
            } else if ft.is_file() {
                "a regular file".to_string()
            } else if ft.is_dir() {
                "a directory".to_string()
            } else if !ft.is_socket() {
                "not a socket".to_string()
            } else if m.uid() != me {
                format!("a socket owned by uid {}", m.uid())
            } else {
                // Ours, left behind: the pid file says we are the daemon.
                std::fs::remove_file(path).map_err(|e| format!("cannot remove {shown}: {e}"))?;
                String::new()
            };
            if !what.is_empty() {
                return Err(format!("{shown} exists and is {what}: not ours to replace"));
            }
        }
    }
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{shown}: a path with a NUL byte"))?;
    // SAFETY: a zeroed sockaddr_un filled with a path that fits (checked).
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = c_path.as_bytes_with_nul();
    if bytes.len() > addr.sun_path.len() {
        return Err(format!("{shown}: the path is too long for a Unix socket"));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let err = |what: &str| format!("cannot {what} {shown}: {}", std::io::Error::last_os_error());
    // SAFETY: plain socket calls on a descriptor we own; it is closed on
    // every error path (OwnedFd), and handed to the listener on success.
    unsafe {
        let fd = libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        );
        if fd < 0 {
            return Err(err("create"));
        }
        let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
        // The mode of the socket's inode is the mode the file gets at bind
        // (less the umask): 0600 from the first instant, no chmod race.
        if libc::fchmod(fd, 0o600) != 0 {
            return Err(err("set the mode of"));
        }
        let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len();
        if libc::bind(
            fd,
            &addr as *const libc::sockaddr_un as *const libc::sockaddr,
            len as libc::socklen_t,
        ) != 0
        {
            return Err(err("bind"));
        }
        if libc::listen(fd, 16) != 0 {
            let e = err("listen on");
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        // Whatever the umask did, 0600.
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        Ok(std::os::unix::net::UnixListener::from(owned))
    }
}

/// Serve the control socket at `path` until [`stop`]. `None` (logged):
/// it could not be made, and the daemon runs without it.
pub fn start(path: &Path, served: Served) -> Option<ControlServer> {
    let listener = match bind(path).and_then(|l| {
        UnixListener::from_std(l).map_err(|e| format!("cannot serve {}: {e}", path.display()))
    }) {
        Ok(l) => l,
        Err(e) => {
            served
                .log
                .log(&format!("Error: {e}; running without a control socket"));
            return None;
        }
    };
    let id = std::fs::symlink_metadata(path).map_or((0, 0), |m| (m.dev(), m.ino()));
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(serve(listener, served, stopped));
    Some(ControlServer {
        path: path.to_path_buf(),
        id,
        stop,
        task,
    })
}

/// Stop serving and remove the socket (if it is still ours).
pub async fn stop(server: Option<ControlServer>) {
    let Some(s) = server else {
        return;
    };
    let _ = s.stop.send(true);
    let _ = s.task.await;
    if std::fs::symlink_metadata(&s.path).is_ok_and(|m| (m.dev(), m.ino()) == s.id) {
        let _ = std::fs::remove_file(&s.path);
    }
}

async fn serve(listener: UnixListener, served: Served, mut stopped: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                // Over the bound: closed at once.
                let Ok(slot) = slots.clone().try_acquire_owned() else { continue };
                let served = served.clone();
                tasks.spawn(async move {
                    connection(stream, &served).await;
                    drop(slot);
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// One connection: who, one request, one reply.
async fn connection(stream: UnixStream, served: &Served) {
    let cred = match stream.peer_cred() {
        Ok(c) => c,
        Err(_) => return,
    };
    let peer = Peer {
        uid: cred.uid(),
        pid: cred.pid().and_then(|p| u32::try_from(p).ok()),
    };
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    let (read, mut write) = stream.into_split();
    let reply = if peer.uid != 0 && peer.uid != me {
        served.log.log(&format!(
            "Control socket: refused a request by {peer} (only root and uid {me} may)"
        ));
        Reply::error(format!("permission denied: only root and uid {me} may"))
    } else {
        match read_request(read).await {
            Ok(request) => answer(request, peer, served).await,
            Err(e) => Reply::error(e),
        }
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        write.write_all(&protocol::to_line(&reply)).await?;
        write.shutdown().await
    })
    .await;
}

/// One request line, bounded in size and time.
async fn read_request(read: tokio::net::unix::OwnedReadHalf) -> Result<Request, String> {
    let mut line = Vec::new();
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST as u64 + 1));
    match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_until(b'\n', &mut line)).await {
        Err(_) => return Err(format!("no request within {} s", REQUEST_TIMEOUT.as_secs())),
        Ok(Err(e)) => return Err(format!("reading the request: {e}")),
        Ok(Ok(_)) => {}
    }
    if line.len() > MAX_REQUEST {
        return Err(format!("a request is at most {MAX_REQUEST} bytes"));
    }
    protocol::from_line(&line).map_err(|e| format!("not a request: {e}"))
}

async fn answer(request: Request, peer: Peer, served: &Served) -> Reply {
    match request {
        Request::Connections(t) => connections(&t, served),
        Request::Plan => {
            served
                .log
                .log(&format!("Control socket: plan asked by {peer}"));
            plan(served).await
        }
        change => {
            let (tx, rx) = oneshot::channel();
            let msg = Message::Control {
                request: change,
                peer,
                reply: tx,
            };
            ask(served, msg, rx, CHANGE_TIMEOUT).await
        }
    }
}

/// Send `msg` to the director and wait (bounded) for its reply.
async fn ask(
    served: &Served,
    msg: Message,
    rx: oneshot::Receiver<Reply>,
    limit: Duration,
) -> Reply {
    if served.director.send(msg).is_err() {
        return Reply::error("the director is stopping");
    }
    match tokio::time::timeout(limit, rx).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(_)) => Reply::error("the director is stopping"),
        Err(_) => Reply::error(format!(
            "the director did not answer within {} s",
            limit.as_secs()
        )),
    }
}

/// The kernel's connection counts of the pairs `t` names, from the
/// latest snapshot; the director reads them every second for a while.
fn connections(t: &protocol::Target, served: &Served) -> Reply {
    let _ = served
        .director
        .send(Message::Watch(Instant::now() + WATCH_FOR));
    let snapshot = served.snapshots.borrow().clone();
    let wanted = |id: &str, service: &str| {
        t.virtual_service
            .as_deref()
            .is_none_or(|s| s == id || s == service)
    };
    let found: Vec<PairConnections> = snapshot
        .reals()
        .filter(|(v, r)| r.real == t.real && wanted(&v.id, &v.service))
        .map(|(v, r)| PairConnections {
            virtual_id: v.id.clone(),
            real: r.real.clone(),
            active: r.ipvs.as_ref().and_then(|x| x.active_connections),
            inactive: r.ipvs.as_ref().and_then(|x| x.inactive_connections),
        })
        .collect();
    if found.is_empty() {
        let reals: Vec<&str> = snapshot.reals().map(|(_, r)| r.real.as_str()).collect();
        return Reply {
            matches: protocol::close_matches(&t.real, reals),
            ..Reply::error(format!(
                "no real server {} in the running configuration",
                t.real
            ))
        };
    }
    Reply {
        ok: true,
        ipvs_read: snapshot.daemon.ipvs_read,
        connections: found,
        ..Reply::default()
    }
}

/// Read the file as a reload would, and ask the director what the reload
/// would do.
async fn plan(served: &Served) -> Reply {
    let (path, options) = (served.config_path.clone(), served.options.clone());
    let loaded = tokio::task::spawn_blocking(move || {
        config::load_file(&path, &options).map_err(|e| e.to_string())
    })
    .await;
    let config = match loaded {
        Ok(Ok(l)) => Arc::new(l.config),
        Ok(Err(e)) => return Reply::error(format!("the configuration has errors:\n{e}")),
        Err(e) => return Reply::error(format!("reading the configuration: {e}")),
    };
    let (tx, rx) = oneshot::channel();
    ask(served, Message::Plan(config, tx), rx, PLAN_TIMEOUT).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_taken_only_when_it_is_ours() {
        let d = std::env::temp_dir().join(format!("ldrs-ctl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("x.sock");
        // A regular file is left alone.
        std::fs::write(&p, "precious").unwrap();
        let e = bind(&p).unwrap_err();
        assert!(e.contains("exists and is a regular file: not ours"), "{e}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "precious");
        std::fs::remove_file(&p).unwrap();
        // A link too.
        std::os::unix::fs::symlink("/nonexistent", &p).unwrap();
        assert!(bind(&p).unwrap_err().contains("a symbolic link"));
        std::fs::remove_file(&p).unwrap();
        // Fresh: mode 0600; a leftover socket of ours is replaced.
        let l = bind(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        drop(l);
        assert!(bind(&p).is_ok());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
