//! Hash tiles and entry bundles as files, laid out as C2SP tlog-tiles names them:
//! `<data>/tiles/tile/<L>/<N>` and `<data>/tiles/tile/entries/<N>`, `N` in 3-digit groups
//! (`x001/x234/067`), so a directory holds at most 1,000 of them. One file per tile or
//! bundle, full or partial: a partial one grows in place until it is full.
//!
//! Why files and not database values: a bundle is up to a few hundred KiB that is written
//! once and read often. Kept as sled values, they cost their size several times over in
//! memory and on disk (sled is log-structured and rewrites what it moves); as files they
//! cost their size once, sit in the kernel's page cache, and a static web server could
//! serve the tree as it is. Tessera's POSIX storage does the same.
//!
//! Crash safety comes from the order of writes, not from the files: a batch writes its
//! tiles and bundle entries here first, and only the database record of the new size,
//! written after [`TileFiles::sync`], makes them part of the log. A crash before that
//! leaves bytes past the committed size, which readers never ask for (they read what a
//! checkpoint covers) and the next batch overwrites. Bytes a checkpoint covers are never
//! rewritten with other bytes: tiles only grow at their end, and entries are written
//! after the ones before them.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::log::tiles::BundlePiece;
use crate::log::tiles::{self, BundleId, Tile, TileId, TilePath, TileWidth};
use crate::log::{io_error as io, StoreError};
use crate::memo::lock;

const DIR: &str = "tiles";

/// Where the right-edge bundle's written entries end: spares reading the bundle back to
/// find where the next batch's entries go.
#[derive(Debug, Clone, Copy)]
struct Edge {
    bundle: BundleId,
    entries: u16,
    bytes: u64,
}

pub(super) struct TileFiles {
    root: PathBuf,
    /// Files written since the last sync, and directories whose entries changed since
    /// then (a file or directory was created in them).
    dirty: Mutex<(BTreeSet<PathBuf>, BTreeSet<PathBuf>)>,
    edge: Mutex<Option<Edge>>,
}

impl TileFiles {
    /// The tile files of data directory `data_dir`.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub(super) fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let root = data_dir.join(DIR);
        fs::create_dir_all(&root).map_err(io(&root))?;
        Ok(Self { root, dirty: Mutex::new(Default::default()), edge: Mutex::new(None) })
    }

    fn tile_path(&self, tile: TileId) -> PathBuf {
        self.root.join(TilePath::Hashes { tile, width: TileWidth::FULL }.to_string())
    }

    fn bundle_path(&self, bundle: BundleId) -> PathBuf {
        self.root.join(TilePath::Entries { bundle, width: TileWidth::FULL }.to_string())
    }

    /// Opens `path` for writing, creating it and its directories.
    fn open_for_write(&self, path: &Path) -> Result<File, StoreError> {
        if let Some(parent) = path.parent() {
            if !parent.exists() {
                fs::create_dir_all(parent).map_err(io(parent))?;
                // The new directories' entries must be synced too, up to the root.
                let mut dirty = lock(&self.dirty);
                let mut dir = parent;
                while let Some(up) = dir.parent() {
                    dirty.1.insert(up.to_owned());
                    if up == self.root {
                        break;
                    }
                    dir = up;
                }
            }
        }
        let (file, created) = match OpenOptions::new().write(true).open(path) {
            Ok(file) => (file, false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let file = OpenOptions::new().create(true).write(true).truncate(false).open(path).map_err(io(path))?;
                (file, true)
            }
            Err(e) => return Err(io(path)(e)),
        };
        let mut dirty = lock(&self.dirty);
        dirty.0.insert(path.to_owned());
        if created {
            if let Some(parent) = path.parent() {
                dirty.1.insert(parent.to_owned());
            }
        }
        Ok(file)
    }

    /// Writes a tile's row whole (at most 8 KiB), cutting whatever an unfinished batch
    /// left past it. Its committed prefix is rewritten with the same bytes.
    pub(super) fn write_tile(&self, tile: &Tile) -> Result<(), StoreError> {
        let path = self.tile_path(tile.id());
        let file = self.open_for_write(&path)?;
        file.write_all_at(tile.as_bytes(), 0).map_err(io(&path))?;
        file.set_len(tile.as_bytes().len() as u64).map_err(io(&path))
    }

    /// Writes a piece of a bundle after the entries before it, cutting whatever an
    /// unfinished batch left past it.
    pub(super) fn write_piece(&self, piece: &BundlePiece) -> Result<(), StoreError> {
        let path = self.bundle_path(piece.bundle);
        let offset = match *lock(&self.edge) {
            Some(e) if e.bundle == piece.bundle && e.entries == piece.start => e.bytes,
            _ if piece.start == 0 => 0,
            _ => {
                let bytes = fs::read(&path).map_err(io(&path))?;
                let before = tiles::bundle_prefix(&bytes, usize::from(piece.start))
                    .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
                before.len() as u64
            }
        };
        let file = self.open_for_write(&path)?;
        file.write_all_at(&piece.bytes, offset).map_err(io(&path))?;
        let end = offset + piece.bytes.len() as u64;
        file.set_len(end).map_err(io(&path))?;
        *lock(&self.edge) = Some(Edge { bundle: piece.bundle, entries: piece.start + piece.count, bytes: end });
        Ok(())
    }

    /// Makes every file written since the last sync durable, and the directory entries
    /// of new files and directories.
    pub(super) fn sync(&self) -> Result<(), StoreError> {
        let (files, dirs) = std::mem::take(&mut *lock(&self.dirty));
        for path in &files {
            File::open(path).and_then(|f| f.sync_data()).map_err(io(path))?;
        }
        // Only where entries were added: a file that grew needs no directory sync.
        for dir in &dirs {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
        }
        Ok(())
    }

    fn read(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
        match fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(path)(e)),
        }
    }

    pub(super) fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, StoreError> {
        // While the writer extends a right-edge tile, a read can catch its new hashes half
        // written. They lie past the committed size, which no reader asks for; cut the
        // torn one so the row stays whole hashes.
        Ok(Self::read(&self.tile_path(tile))?.map(|mut row| {
            row.truncate(row.len() - row.len() % 32);
            row
        }))
    }

    pub(super) fn read_bundle(&self, bundle: BundleId) -> Result<Option<Vec<u8>>, StoreError> {
        Self::read(&self.bundle_path(bundle))
    }

    /// `len` bytes of a bundle file from `start`; `None` when it is missing or shorter.
    pub(super) fn read_bundle_range(
        &self,
        bundle: BundleId,
        start: u64,
        len: usize,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.bundle_path(bundle);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let mut bytes = vec![0u8; len];
        match file.read_exact_at(&mut bytes, start) {
            Ok(()) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Copies the tiles and bundles of the tree of `size` leaves into `to`, each cut to
    /// its width at that size.
    pub(super) fn backup(&self, to: &TileFiles, size: u64) -> Result<(), StoreError> {
        for level in tiles::tiles_for_size(size) {
            for (tile, width) in level.tiles() {
                let row = self.read_tile(tile)?.ok_or_else(|| StoreError::Corrupt(format!("{tile} is missing")))?;
                let row = row.get(..width.byte_len()).ok_or_else(|| StoreError::Corrupt(format!("{tile} is short")))?;
                let path = to.tile_path(tile);
                to.open_for_write(&path)?.write_all_at(row, 0).map_err(io(&path))?;
                if tile.level() == 0 {
                    let bundle =
                        BundleId::new(tile.index()).ok_or_else(|| StoreError::Corrupt("bundle index".into()))?;
                    let bytes = self
                        .read_bundle(bundle)?
                        .ok_or_else(|| StoreError::Corrupt(format!("{bundle:?} is missing")))?;
                    let cut = tiles::bundle_prefix(&bytes, usize::from(width.get()))
                        .map_err(|e| StoreError::Corrupt(format!("{bundle:?}: {e}")))?;
                    let path = to.bundle_path(bundle);
                    to.open_for_write(&path)?.write_all_at(cut, 0).map_err(io(&path))?;
                }
            }
        }
        to.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::merkle::leaf_hash;

    #[test]
    fn pieces_and_tiles_grow_in_place_and_leftovers_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let files = TileFiles::open(dir.path()).unwrap();
        let leaves: Vec<Vec<u8>> = (0..300u32).map(|i| format!("leaf {i}").into_bytes()).collect();
        let refs: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
        for piece in BundlePiece::split(0, &refs[..100]).unwrap() {
            files.write_piece(&piece).unwrap();
        }
        // A batch that never committed wrote entries 100..150 ...
        for piece in BundlePiece::split(100, &refs[100..150]).unwrap() {
            files.write_piece(&piece).unwrap();
        }
        // ... and the next one writes 100..300 again, from a fresh process.
        let files = TileFiles::open(dir.path()).unwrap();
        for piece in BundlePiece::split(100, &refs[100..300]).unwrap() {
            files.write_piece(&piece).unwrap();
        }
        files.sync().unwrap();
        let first = files.read_bundle(BundleId::new(0).unwrap()).unwrap().unwrap();
        assert_eq!(tiles::decode_bundle(&first).unwrap(), refs[..256].to_vec());
        let second = files.read_bundle(BundleId::new(1).unwrap()).unwrap().unwrap();
        assert_eq!(tiles::decode_bundle(&second).unwrap(), refs[256..].to_vec());

        let hashes: Vec<_> = leaves.iter().map(|l| leaf_hash(l)).collect();
        let wide = tiles::build_tiles::<std::convert::Infallible, _>(0, &hashes, |_| Ok(None)).unwrap();
        wide.iter().for_each(|t| files.write_tile(t).unwrap());
        let narrow = tiles::build_tiles::<std::convert::Infallible, _>(0, &hashes[..260], |_| Ok(None)).unwrap();
        narrow.iter().for_each(|t| files.write_tile(t).unwrap());
        let edge = TileId::new(0, 1).unwrap();
        assert_eq!(files.read_tile(edge).unwrap().unwrap().len(), 4 * 32, "a rewritten tile is cut to its row");
        assert_eq!(files.read_tile(TileId::new(0, 9).unwrap()).unwrap(), None);
    }
}
