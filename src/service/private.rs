//! File modes of the directories the service keeps: who may read its data and its keys.
//!
//! The `aiprov` commands set the umask to 077, so what they create is private from the
//! start (sled's later files too). What was there before (an older version, another umask)
//! is mended at start. The data directory is the service's alone, so all of it is; the
//! keys directory is the directory itself and the files a keyring writes, not other files
//! it may hold: `./keys` of a checkout carries the repository's `README.md` and
//! `.gitignore`, whose modes are git's business (changing them shows as a change in
//! `git status` when `core.fileMode` is on). The directory being 0700 already keeps them
//! from other users.

use std::path::Path;

use crate::keys::is_keyring_file;

/// Makes `dir` and everything under it private to this user: directories 0700, files
/// 0600 (links are left alone).
///
/// # Errors
/// When a mode cannot be changed; files that vanish meanwhile (sled's) are skipped.
pub(crate) fn make_private(dir: &Path) -> std::io::Result<()> {
    restrict_tree(dir, &|_| true)
}

/// Makes the keys directory `dir` 0700 and the keyring's own files in it 0600
/// ([`is_keyring_file`]); anything else there keeps its mode.
///
/// # Errors
/// When a mode cannot be changed.
pub(crate) fn make_keys_private(dir: &Path) -> std::io::Result<()> {
    restrict_tree(dir, &|name| is_keyring_file(name))
}

/// Directories 0700, and the files whose name `ours` accepts 0600, from `dir` down.
fn restrict_tree(dir: &Path, ours: &dyn Fn(&str) -> bool) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let restrict = |path: &Path, mode: u32| match std::fs::metadata(path) {
            Ok(m) if m.permissions().mode() & 0o777 == mode => Ok(()),
            Ok(_) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        };
        let mut dirs = vec![dir.to_owned()];
        while let Some(d) = dirs.pop() {
            restrict(&d, 0o700)?;
            for entry in std::fs::read_dir(&d)? {
                let entry = entry?;
                match entry.file_type() {
                    Ok(t) if t.is_dir() => dirs.push(entry.path()),
                    Ok(t) if t.is_file() && ours(&entry.file_name().to_string_lossy()) => {
                        restrict(&entry.path(), 0o600)?
                    }
                    _ => {}
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (dir, ours);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_keys_directory_keeps_the_checkouts_own_files_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        fs::create_dir(&keys).unwrap();
        fs::set_permissions(&keys, fs::Permissions::from_mode(0o755)).unwrap();
        for (name, _) in FILES {
            fs::write(keys.join(name), "x").unwrap();
            fs::set_permissions(keys.join(name), fs::Permissions::from_mode(0o644)).unwrap();
        }
        make_keys_private(&keys).unwrap();
        assert_eq!(mode(&keys), 0o700);
        for (name, expected) in FILES {
            assert_eq!(mode(&keys.join(name)), expected, "{name}");
        }
    }

    /// Each file of a keys directory and the mode `serve` leaves it with, from 0644.
    const FILES: [(&str, u32); 11] = [
        ("keyring.json", 0o600),
        ("logs.json", 0o600),
        (".create.lock", 0o600),
        ("keyring.json.tmp", 0o600),
        ("0123456789abcdef.key", 0o600),
        ("c2pa-root.key", 0o600),
        ("c2pa-root.pem", 0o600),
        ("c2pa-0123456789abcdef.pem", 0o600),
        (".lock", 0o600),
        ("README.md", 0o644),
        (".gitignore", 0o644),
    ];

    #[test]
    fn the_data_directory_is_all_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(data.join("tiles")).unwrap();
        fs::write(data.join("tiles/x"), "x").unwrap();
        fs::write(data.join("README.md"), "x").unwrap();
        fs::set_permissions(data.join("README.md"), fs::Permissions::from_mode(0o644)).unwrap();
        make_private(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("tiles")), 0o700);
        assert_eq!(mode(&data.join("tiles/x")), 0o600);
        assert_eq!(mode(&data.join("README.md")), 0o600);
    }
}
