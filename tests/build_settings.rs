//! What `Cargo.toml` promises a user who builds from source: the release
//! binary carries no debug info (README, Install), and `rust-version` is the
//! oldest Rust every locked dependency accepts (README, Prerequisites).

use std::path::Path;
use std::process::Command;

fn manifest() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap()
}

/// `key = value` lines of one `[section]` of the manifest.
fn section(text: &str, name: &str) -> Vec<(String, String)> {
    let header = format!("[{name}]");
    text.lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// A `1.89` / `1.89.0` version as (major, minor, patch).
fn version(v: &str) -> (u32, u32, u32) {
    let mut parts = v.trim_matches('"').split('.').map(|p| p.parse().unwrap());
    (
        parts.next().unwrap(),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

#[test]
fn the_release_binary_carries_no_debug_info() {
    let release = section(&manifest(), "profile.release");
    let get = |k: &str| release.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    assert!(
        matches!(
            get("strip").map(String::as_str),
            Some("\"debuginfo\"" | "\"symbols\"" | "true")
        ),
        "[profile.release] must strip debug info: {release:?}"
    );
    // Debug info that is built and then stripped only costs build time.
    assert!(
        matches!(
            get("debug").map(String::as_str),
            None | Some("0" | "false" | "\"none\"")
        ),
        "[profile.release] builds debug info: {release:?}"
    );
}

#[test]
fn rust_version_is_what_the_locked_dependencies_need() {
    let ours = section(&manifest(), "package")
        .into_iter()
        .find(|(k, _)| k == "rust-version")
        .map(|(_, v)| version(&v))
        .expect("Cargo.toml sets rust-version");
    // The packages this platform builds (dev-dependencies included), as
    // locked, and the oldest Rust each declares.
    let out = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--offline",
            "--filter-platform",
            "x86_64-unknown-linux-gnu",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let declared: Vec<(String, (u32, u32, u32))> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] != env!("CARGO_PKG_NAME"))
        .filter_map(|p| {
            let v = p["rust_version"].as_str()?;
            let name = format!("{} {}", p["name"].as_str()?, p["version"].as_str()?);
            Some((name, version(v)))
        })
        .collect();
    assert!(
        declared.len() > 100,
        "only {} packages declare one",
        declared.len()
    );
    let needed = declared.iter().map(|(_, v)| *v).max().unwrap();
    let needing: Vec<&str> = declared
        .iter()
        .filter(|(_, v)| *v == needed)
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(
        ours, needed,
        "rust-version is {ours:?}; the locked dependencies need {needed:?} ({needing:?})"
    );
}
