//! What `cargo deb` takes from the repository and lintian or dpkg would only
//! catch after a release build: the Debian changelog names the version being
//! packaged, and the crate's description is a valid package synopsis. The
//! package itself is built and installed in `tests/vm/deb-install.sh`.

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
