//! What `cargo deb` takes from the repository and lintian or dpkg would only
//! catch after a release build: the Debian changelog names the version being
//! packaged, the crate's description is a valid package synopsis, and every
//! example a user reads is packed. The package itself is built and installed
//! in `tests/vm/deb-install.sh`.

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn changelog_names_the_crate_version() {
    let changelog = std::fs::read_to_string(format!("{ROOT}/debian/changelog")).unwrap();
    let first = changelog.lines().next().unwrap_or_default();
    let want = format!("ldirectord-rs ({}-1) ", env!("CARGO_PKG_VERSION"));
    assert!(
        first.starts_with(&want),
        "debian/changelog starts with {first:?}; a new version needs a new entry \
         starting with {want:?} (cargo-deb's revision is 1)"
    );
}

#[test]
fn description_is_a_synopsis() {
    // Debian policy 3.4.1: one line, under 80 characters; lintian also flags
    // a leading article. cargo-deb wraps a longer one into the long
    // description.
    let d = env!("CARGO_PKG_DESCRIPTION");
    assert!(d.len() < 80, "{} characters: {d:?}", d.len());
    for article in ["A ", "An ", "The "] {
        assert!(!d.starts_with(article), "{d:?} starts with an article");
    }
}

/// `examples/PREFIX*SUFFIX` matches `name` (the only glob form the assets use).
fn glob_matches(pattern: &str, name: &str) -> bool {
    let Some(rest) = pattern.strip_prefix("examples/") else {
        return false;
    };
    match rest.split_once('*') {
        Some((pre, suf)) => {
            name.len() >= pre.len() + suf.len() && name.starts_with(pre) && name.ends_with(suf)
        }
        None => rest == name,
    }
}

#[test]
fn every_example_is_packed() {
    // The assets as cargo-deb reads them: [package.metadata.deb] through
    // `cargo metadata`.
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(ROOT)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let assets = meta["packages"][0]["metadata"]["deb"]["assets"]
        .as_array()
        .expect("[package.metadata.deb] assets")
        .iter()
        .filter_map(|a| a[0].as_str())
        .collect::<Vec<_>>();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(format!("{ROOT}/examples")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        // Rust examples (`cargo run --example`) are for developers.
        if name.ends_with(".rs") {
            continue;
        }
        if !assets.iter().any(|p| glob_matches(p, &name)) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "examples/ not in the package's assets (Cargo.toml, [package.metadata.deb]): {missing:?}"
    );
}
