//! Which files of a folder a batch stamps, and which it leaves out and why, so that
//! nothing is skipped without a word.
//!
//! Hidden entries (a name starting with `.`: `.git`, `.DS_Store`, editor swap files)
//! are left out unless asked for: they are rarely content. Symbolic links are never
//! followed: a link inside the folder usually points at a file that is stamped under
//! its own path already (two stamps of one asset), a link out of the folder would stamp
//! what the user did not name, and a link to a parent folder would loop. A link named
//! as the root itself is followed: the user named it.

use std::path::{Path, PathBuf};

/// Why an entry of the folder was not stamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Its name starts with `.` (a hidden directory is skipped whole).
    Hidden,
    /// A symbolic link, not followed.
    Symlink,
    /// Neither a regular file nor a directory (a socket, a pipe, a device).
    Special,
}

/// An entry left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: SkipReason,
    pub is_dir: bool,
}

/// The outcome of walking a folder.
#[derive(Debug, Default)]
pub struct Walk {
    /// Every regular file to stamp, sorted.
    pub files: Vec<PathBuf>,
    /// Everything left out, sorted by path.
    pub skipped: Vec<Skipped>,
}

/// Every regular file under `root` (or `root` itself when it is a file), sorted, and
/// the entries left out (see the module documentation).
///
/// # Errors
/// When a directory cannot be read.
pub fn walk(root: &Path, include_hidden: bool) -> std::io::Result<Walk> {
    let mut out = Walk::default();
    if root.is_file() {
        out.files.push(root.to_owned());
        return Ok(out);
    }
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            // `file_type` does not follow links: a link is seen as a link.
            let ty = entry.file_type()?;
            let skip = |reason| Skipped { path: entry.path(), reason, is_dir: ty.is_dir() };
            if !include_hidden && entry.file_name().to_string_lossy().starts_with('.') {
                out.skipped.push(skip(SkipReason::Hidden));
            } else if ty.is_dir() {
                dirs.push(entry.path());
            } else if ty.is_file() {
                out.files.push(entry.path());
            } else if ty.is_symlink() {
                out.skipped.push(skip(SkipReason::Symlink));
            } else {
                out.skipped.push(skip(SkipReason::Special));
            }
        }
    }
    out.files.sort();
    out.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

impl Walk {
    /// One sentence per kind of entry left out, naming the first few: what a user
    /// needs to see that nothing went missing silently.
    pub fn skipped_report(&self) -> Vec<String> {
        let of = |reason| -> Vec<String> {
            self.skipped
                .iter()
                .filter(|s| s.reason == reason)
                .map(|s| format!("{}{}", s.path.display(), if s.is_dir { "/" } else { "" }))
                .collect()
        };
        let mut lines = Vec::new();
        for (reason, one, many, why) in [
            (SkipReason::Hidden, "hidden entry", "hidden entries", "--include-hidden stamps them"),
            (
                SkipReason::Symlink,
                "symbolic link",
                "symbolic links",
                "links are not followed; name the target to stamp it",
            ),
            (SkipReason::Special, "entry", "entries", "not regular files"),
        ] {
            let names = of(reason);
            if !names.is_empty() {
                let what = if names.len() == 1 { one } else { many };
                lines.push(format!("skipped {} {what} ({why}): {}", names.len(), first_few(&names, 5)));
            }
        }
        lines
    }
}

/// `a, b, c and 4 more`: the first `shown` items of a list, then how many are left.
pub fn first_few(items: &[String], shown: usize) -> String {
    let head = items.iter().take(shown).map(String::as_str).collect::<Vec<_>>().join(", ");
    match items.len().saturating_sub(shown) {
        0 => head,
        rest => format!("{head} and {rest} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub/.git")).unwrap();
        std::fs::write(dir.path().join("x.txt"), "1").unwrap();
        std::fs::write(dir.path().join("sub/y.txt"), "2").unwrap();
        std::fs::write(dir.path().join(".hidden"), "3").unwrap();
        std::fs::write(dir.path().join("sub/.git/config"), "4").unwrap();
        std::os::unix::fs::symlink(dir.path().join("x.txt"), dir.path().join("link.txt")).unwrap();
        // A loop: followed, it would never end.
        std::os::unix::fs::symlink(dir.path(), dir.path().join("sub/up")).unwrap();
        dir
    }

    #[test]
    fn collects_regular_files_and_names_what_it_skips() {
        let dir = folder();
        let walk = walk(dir.path(), false).unwrap();
        assert_eq!(walk.files, vec![dir.path().join("sub/y.txt"), dir.path().join("x.txt")]);
        let skipped: Vec<_> =
            walk.skipped.iter().map(|s| (s.path.strip_prefix(dir.path()).unwrap(), s.reason)).collect();
        assert_eq!(
            skipped,
            vec![
                (Path::new(".hidden"), SkipReason::Hidden),
                (Path::new("link.txt"), SkipReason::Symlink),
                (Path::new("sub/.git"), SkipReason::Hidden),
                (Path::new("sub/up"), SkipReason::Symlink),
            ]
        );
        let report = walk.skipped_report();
        assert_eq!(report.len(), 2, "{report:?}");
        assert!(report[0].starts_with("skipped 2 hidden entries (--include-hidden stamps them): "), "{report:?}");
        assert!(report[0].ends_with("sub/.git/"), "a directory is shown as one: {report:?}");
        assert!(report[1].starts_with("skipped 2 symbolic links"), "{report:?}");
    }

    #[test]
    fn hidden_entries_on_request_but_never_links() {
        let dir = folder();
        let walk = walk(dir.path(), true).unwrap();
        assert_eq!(walk.files.len(), 4, "{:?}", walk.files);
        assert!(walk.skipped.iter().all(|s| s.reason == SkipReason::Symlink));
    }

    #[test]
    fn a_named_file_is_stamped_whatever_its_name() {
        let dir = folder();
        let walk = walk(&dir.path().join(".hidden"), false).unwrap();
        assert_eq!(walk.files, vec![dir.path().join(".hidden")]);
    }

    #[test]
    fn long_lists_are_cut() {
        let items: Vec<String> = (1..=8).map(|i| i.to_string()).collect();
        assert_eq!(first_few(&items, 3), "1, 2, 3 and 5 more");
        assert_eq!(first_few(&items[..2], 3), "1, 2");
    }
}
