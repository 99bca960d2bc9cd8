//! `maintenancedir`: a file named after a real server takes it down
//! (upstream §a): `<dir>/<RIP>:<RPORT>`, `<dir>/<RIP>`, and the same with
//! the real's reverse-DNS name and its short name. IPv6 addresses are
//! written in brackets (`[2001:db8::1]:80`).
//!
//! Reverse lookups are only made when the directory holds a name that is
//! not an address form, so a directory of `RIP:RPORT` files costs one
//! `stat` per name form per check.

use std::net::IpAddr;
use std::path::Path;

use crate::config::bracketed;

/// Whether a maintenance file for `addr:port` exists in `dir`.
pub fn in_maintenance(dir: &Path, addr: &IpAddr, port: u16) -> bool {
    let a = bracketed(addr);
    if dir.join(format!("{a}:{port}")).exists() || dir.join(&a).exists() {
        return true;
    }
    if !has_name_entries(dir) {
        return false;
    }
    let Some(name) = reverse_name(addr) else {
        return false;
    };
    let short = name.split('.').next().unwrap_or(&name).to_string();
    [
        format!("{name}:{port}"),
        name.clone(),
        format!("{short}:{port}"),
        short,
    ]
    .iter()
    .any(|f| dir.join(f).exists())
}

/// Whether the directory has an entry that is not an address form.
fn has_name_entries(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let n = e.file_name().to_string_lossy().into_owned();
        let host = n.rsplit_once(':').map_or(n.as_str(), |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.parse::<IpAddr>().is_err()
    })
}

fn reverse_name(addr: &IpAddr) -> Option<String> {
    let sa: std::net::SocketAddr = (*addr, 0).into();
    let (storage, len) = match sa {
        std::net::SocketAddr::V4(v4) => {
            // SAFETY: a zeroed sockaddr_in filled field by field.
            let mut s: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            s.sin_family = libc::AF_INET as libc::sa_family_t;
            s.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
            let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            // SAFETY: sockaddr_storage is large enough for sockaddr_in.
            unsafe { std::ptr::write(&mut st as *mut _ as *mut libc::sockaddr_in, s) };
            (st, std::mem::size_of::<libc::sockaddr_in>())
        }
        std::net::SocketAddr::V6(v6) => {
            // SAFETY: as above, for sockaddr_in6.
            let mut s: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            s.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            s.sin6_addr.s6_addr = v6.ip().octets();
            let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            unsafe { std::ptr::write(&mut st as *mut _ as *mut libc::sockaddr_in6, s) };
            (st, std::mem::size_of::<libc::sockaddr_in6>())
        }
    };
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: buffers sized as getnameinfo requires; NI_NAMEREQD fails
    // instead of returning the numeric form.
    let rc = unsafe {
        libc::getnameinfo(
            &storage as *const _ as *const libc::sockaddr,
            len as libc::socklen_t,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: getnameinfo NUL-terminates on success.
    Some(
        unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_forms() {
        let d = std::env::temp_dir().join(format!("ldrs-maint-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let a: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(!in_maintenance(&d, &a, 80));
        std::fs::write(d.join("192.0.2.7:80"), "").unwrap();
        assert!(in_maintenance(&d, &a, 80));
        assert!(!in_maintenance(&d, &a, 81));
        std::fs::write(d.join("192.0.2.7"), "").unwrap();
        assert!(in_maintenance(&d, &a, 81));
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        std::fs::write(d.join("[2001:db8::1]:443"), "").unwrap();
        assert!(in_maintenance(&d, &b, 443));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
