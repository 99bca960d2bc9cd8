//! Writing a conversion (`convert -o FILE`): each file atomically, so that
//! a reader (or ldirectord's autoreload) sees the old file or the whole new
//! one, never a part. The only file writes of the converter.
//!
//! How: a temporary file in the target's directory, created with
//! `O_CREAT|O_EXCL|O_NOFOLLOW` (never through a symlink, never over another
//! file) and its final mode, written and fsynced, then renamed over the
//! target (a symlink at the target is replaced, not followed).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::Conversion;

/// Write `text` to `path` with `mode`, atomically.
pub fn write_atomic(path: &Path, text: &str, mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
        .to_string_lossy()
        .into_owned();
    let pid = std::process::id();
    for attempt in 0..100 {
        let tmp = dir.join(format!(".{name}.{pid}.{attempt}.tmp"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp);
        let mut file = match file {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let written = (|| {
            // The umask must not decide the mode of a config file.
            file.set_permissions(fs::Permissions::from_mode(mode))?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        // The rename itself is durable once the directory is synced.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("no free temporary name for {}", path.display()),
    ))
}

/// Write the companions, then the ldirectord.cf at `cf_path` (last, so
/// that the scripts it names exist when it appears). Returns the paths
/// written, in that order.
pub fn write(conv: &Conversion, cf_path: &Path) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for c in &conv.companions {
        write_atomic(&c.path, &c.text, c.mode)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", c.path.display())))?;
        written.push(c.path.clone());
    }
    write_atomic(cf_path, &conv.cf, 0o644)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", cf_path.display())))?;
    written.push(cf_path.to_path_buf());
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("ldrs-piranha-files-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_with_mode_and_replaces_a_symlink_without_following_it() {
        let d = tmpdir("mode");
        let target = d.join("ldirectord.cf");
        let victim = d.join("victim");
        fs::write(&victim, "keep me").unwrap();
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write_atomic(&target, "x=1\n", 0o644).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
        let meta = fs::symlink_metadata(&target).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o644);
        assert_eq!(fs::read_to_string(&target).unwrap(), "x=1\n");
        write_atomic(&d.join("s.sh"), "#!/bin/sh\n", 0o755).unwrap();
        let mode = fs::metadata(d.join("s.sh")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        // No temporary file is left behind.
        let names: Vec<String> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let d = tmpdir("missing");
        let e = write_atomic(&d.join("no/such/dir/x.cf"), "", 0o644).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        fs::remove_dir_all(&d).unwrap();
    }
}
