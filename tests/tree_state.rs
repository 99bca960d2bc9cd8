//! `tests/tree-state.sh`, CI's check that a run leaves the tracked files as
//! it found them (tests/run-all.sh snapshots first and compares at its end).

use std::path::Path;
use std::process::{Command, Output};

#[path = "support/tempdir.rs"]
mod tempdir;
use tempdir::TempDir;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.test"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

fn tree_state(dir: &Path, cmd: &str, snapshot: &Path) -> Output {
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tree-state.sh"))
        .current_dir(dir)
        .args([cmd, snapshot.to_str().unwrap()])
        .output()
        .unwrap()
}

/// A repository with two committed files, one of them already edited.
fn repo(t: &TempDir) -> std::path::PathBuf {
    let dir = t.0.join("repo");
    std::fs::create_dir(&dir).unwrap();
    git(&dir, &["init", "-q"]);
    std::fs::write(dir.join("Cargo.lock"), "old\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "a\n").unwrap();
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "one"]);
    // A developer's edit from before the run: not the run's doing.
    std::fs::write(dir.join("notes.txt"), "a\nb\n").unwrap();
    dir
}

#[test]
fn a_run_that_rewrites_a_tracked_file_fails_and_names_it() {
    let t = TempDir::new("tree-state-dirty");
    let dir = repo(&t);
    let snap = t.0.join("snap");
    assert!(tree_state(&dir, "snapshot", &snap).status.success());
    // The run: a lock file brought up to date, a build output (untracked).
    std::fs::write(dir.join("Cargo.lock"), "old\nnew\n").unwrap();
    std::fs::write(dir.join("output.bin"), "x").unwrap();
    let out = tree_state(&dir, "compare", &snap);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("changed 1 tracked file(s)"), "{err}");
    assert!(err.contains(" Cargo.lock | 1 +"), "{err}");
    assert!(!err.contains("notes.txt"), "{err}");
    assert!(!err.contains("output.bin"), "{err}");
}

#[test]
fn a_file_edited_before_the_run_counts_only_if_the_run_changes_it_again() {
    let t = TempDir::new("tree-state-again");
    let dir = repo(&t);
    let snap = t.0.join("snap");
    assert!(tree_state(&dir, "snapshot", &snap).status.success());
    let out = tree_state(&dir, "compare", &snap);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    std::fs::write(dir.join("notes.txt"), "a\nb\nc\n").unwrap();
    let out = tree_state(&dir, "compare", &snap);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("notes.txt"));
    // A deleted tracked file is a change too.
    std::fs::write(dir.join("notes.txt"), "a\nb\n").unwrap();
    std::fs::remove_file(dir.join("Cargo.lock")).unwrap();
    let out = tree_state(&dir, "compare", &snap);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Cargo.lock"));
}
