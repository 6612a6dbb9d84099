//! The suite is built twice (`api` on the embedded storage, `api_pg` on PostgreSQL) from
//! two entry files; these tests keep the two in step and cargo quiet about them.

use std::collections::BTreeSet;
use std::path::Path;

/// The modules an entry file declares (`mod name;`), in any order.
fn modules(entry: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(entry);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().filter_map(|l| l.trim().strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)).collect()
}

#[test]
fn both_suites_run_the_same_modules() {
    let api = modules("tests/api/main.rs");
    let pg = modules("tests/api_pg/main.rs");
    assert!(api.len() > 20, "tests/api/main.rs names only {api:?}");
    assert_eq!(api, pg, "tests/api/main.rs and tests/api_pg/main.rs must list the same modules");
}

/// A newcomer's first `cargo run` printed "file tests/api/main.rs found to be present in
/// multiple build targets" while one file was the entry of both suites. Cargo reads the
/// manifest and names its warnings before it looks for the binary, so asking for one that
/// does not exist shows them without building anything.
#[test]
fn cargo_reads_the_manifest_without_a_warning() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["build", "--offline", "--bin", "no-such-binary-just-reading-the-manifest"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no bin target named"), "cargo did not get as far as the targets: {stderr}");
    assert!(!stderr.contains("warning"), "cargo warns about the manifest: {stderr}");
}
