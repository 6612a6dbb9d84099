//! Real photographs: the CC0 and public-domain samples bundled in scikit-image's wheel,
//! which `tests/reference/iscc_images.py` fetches from PyPI (never imported) into
//! `target/iscc-reference/images`, beside its generated test images (`gen_*`).

use std::path::PathBuf;

/// The photographs, by file name, fetched on first use. Empty when they cannot be had
/// here (no Python, no package index): callers say what that means for them.
pub fn photographs() -> Vec<(String, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from).join("iscc-reference");
    let images = dir.join("images");
    if !images.join("astronaut.png").exists() {
        let status = std::process::Command::new("python3")
            .arg(root.join("tests/reference/iscc_images.py"))
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            return Vec::new();
        }
    }
    let mut photos: Vec<(String, Vec<u8>)> = std::fs::read_dir(&images)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| !name.starts_with("gen_"))
                .filter_map(|name| std::fs::read(images.join(&name)).ok().map(|bytes| (name, bytes)))
                .collect()
        })
        .unwrap_or_default();
    photos.sort();
    photos
}
