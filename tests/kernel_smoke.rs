//! Smoke test for the real-kernel harness (`tests/vm/kernel-tests.sh`).
//!
//! Runs only with `--features kernel-tests`, as root, inside the qemu guest
//! that `tests/vm/run.sh` boots (Debian's cloud kernel, with IPVS as modules).
//! It proves the things later kernel tests rely on:
//!
//! * a test can move a dedicated thread into a fresh network namespace with
//!   `unshare(CLONE_NEWNET)` (so tests can run in parallel without seeing each
//!   other's IPVS tables),
//! * `modprobe ip_vs` works and `/proc/net/ip_vs` appears in that namespace,
//! * the generic-netlink family `IPVS` resolves from that namespace.
//!
//! Only std and libc are used, on purpose: it must not depend on the crate's
//! own netlink code, which it is meant to help test.
#![cfg(feature = "kernel-tests")]

use std::fs;
use std::io;
use std::mem::size_of;
use std::process::Command;
use std::thread;

/// Runs `f` on a new thread that first moves itself into a fresh network
/// namespace. Only that thread (and processes it spawns) sees the namespace;
/// the thread ends with `f`, so the namespace goes away with it.
fn in_fresh_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    thread::spawn(move || {
        // SAFETY: unshare only changes this thread's namespace membership.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNET): {}",
            io::Error::last_os_error()
        );
        f()
    })
    .join()
    .expect("netns thread panicked")
}

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "kernel tests need root in a disposable kernel: run them with tests/vm/kernel-tests.sh"
    );
}

fn netns_inode(path: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {path}: {e}"))
        .ino()
}

/// Interface names in the calling thread's network namespace.
fn thread_netdevs() -> Vec<String> {
    fs::read_to_string("/proc/thread-self/net/dev")
        .expect("read /proc/thread-self/net/dev")
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(|n| n.trim().to_string()))
        .collect()
}

// ---- a minimal generic-netlink CTRL_CMD_GETFAMILY client (std + libc) -------

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const NLMSG_ERROR: u16 = 2;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Resolves a generic-netlink family name to its id, in the calling thread's
/// network namespace. `Ok(None)` means the kernel does not know the name.
fn genl_family_id(name: &str) -> io::Result<Option<u16>> {
    // SAFETY: plain socket(2) call; the fd is closed below on every path.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_GENERIC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let result = genl_family_id_on(fd, name);
    // SAFETY: fd is ours and still open.
    unsafe { libc::close(fd) };
    result
}

fn genl_family_id_on(fd: libc::c_int, name: &str) -> io::Result<Option<u16>> {
    // nlmsghdr (16) + genlmsghdr (4) + attribute FAMILY_NAME (4 + name + NUL)
    let mut attr_payload = name.as_bytes().to_vec();
    attr_payload.push(0);
    let attr_len = 4 + attr_payload.len();
    let total = 16 + 4 + align4(attr_len);
    let mut msg = Vec::with_capacity(total);
    msg.extend_from_slice(&(total as u32).to_ne_bytes()); // nlmsg_len
    msg.extend_from_slice(&GENL_ID_CTRL.to_ne_bytes()); // nlmsg_type
    msg.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // nlmsg_seq
    msg.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: kernel assigns
    msg.extend_from_slice(&[CTRL_CMD_GETFAMILY, 1, 0, 0]); // cmd, version, reserved
    msg.extend_from_slice(&(attr_len as u16).to_ne_bytes());
    msg.extend_from_slice(&CTRL_ATTR_FAMILY_NAME.to_ne_bytes());
    msg.extend_from_slice(&attr_payload);
    msg.resize(total, 0);

    // SAFETY: a zeroed sockaddr_nl addressed to the kernel (pid 0).
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: msg and kernel outlive the call; lengths are theirs.
    let sent = unsafe {
        libc::sendto(
            fd,
            msg.as_ptr().cast(),
            msg.len(),
            0,
            (&kernel as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }

    let mut family_id = None;
    let mut buf = vec![0u8; 16384];
    loop {
        // SAFETY: buf is writable for its whole length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut off = 0;
        let n = n as usize;
        while off + 16 <= n {
            let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
            let typ = u16::from_ne_bytes(buf[off + 4..off + 6].try_into().unwrap());
            if len < 16 || off + len > n {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "bad netlink message length",
                ));
            }
            let body = &buf[off + 16..off + len];
            if typ == NLMSG_ERROR {
                let errno = -i32::from_ne_bytes(body[0..4].try_into().unwrap());
                return match errno {
                    0 => Ok(family_id), // the ACK ends the exchange
                    // an unknown name: ENOENT on newer kernels, EINVAL on 6.1
                    libc::ENOENT | libc::EINVAL => Ok(None),
                    e => Err(io::Error::from_raw_os_error(e)),
                };
            }
            if typ == GENL_ID_CTRL {
                // skip genlmsghdr, walk the attributes
                let mut a = 4;
                while a + 4 <= body.len() {
                    let alen = u16::from_ne_bytes(body[a..a + 2].try_into().unwrap()) as usize;
                    let atyp = u16::from_ne_bytes(body[a + 2..a + 4].try_into().unwrap()) & 0x3fff;
                    if alen < 4 || a + alen > body.len() {
                        break;
                    }
                    if atyp == CTRL_ATTR_FAMILY_ID && alen >= 6 {
                        family_id =
                            Some(u16::from_ne_bytes(body[a + 4..a + 6].try_into().unwrap()));
                    }
                    a += align4(alen);
                }
            }
            off += align4(len);
        }
    }
}

// ---- the test ------------------------------------------------------------------

#[test]
fn ip_vs_is_available_in_a_fresh_netns() {
    require_root();
    let outer_ns = netns_inode("/proc/self/ns/net");

    let (inner_ns, devs, status, has_proc, family) = in_fresh_netns(|| {
        let inner_ns = netns_inode("/proc/thread-self/ns/net");
        let devs = thread_netdevs();
        // The child inherits this thread's namespaces; modprobe is not
        // namespace-bound anyway, but this proves spawning from here works.
        let status = Command::new("modprobe")
            .arg("ip_vs")
            .status()
            .expect("spawn modprobe");
        // /proc/net is /proc/self/net, which shows the main thread's namespace;
        // thread-self shows ours.
        let has_proc = fs::metadata("/proc/thread-self/net/ip_vs").is_ok();
        let family = genl_family_id("IPVS");
        (inner_ns, devs, status, has_proc, family)
    });

    assert_ne!(
        inner_ns, outer_ns,
        "the thread did not get its own network namespace"
    );
    assert_eq!(devs, vec!["lo".to_string()], "a fresh netns has only lo");
    assert!(status.success(), "modprobe ip_vs failed: {status}");
    assert!(
        has_proc,
        "/proc/net/ip_vs missing in the new netns after modprobe ip_vs"
    );
    let id = family
        .expect("CTRL_CMD_GETFAMILY IPVS")
        .expect("generic-netlink family IPVS not found");
    assert!(id >= 0x10, "implausible IPVS family id {id:#x}");
    eprintln!("IPVS generic-netlink family id {id:#x} (netns inode {inner_ns})");
}

#[test]
fn unknown_genl_family_is_not_found() {
    require_root();
    let r = in_fresh_netns(|| genl_family_id("NO_SUCH_FAMILY_X"));
    assert_eq!(r.expect("netlink exchange"), None);
}
