//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): the log as hash tiles and entry
//! bundles, the objects a later stage stores and serves. Pure maths and encodings: paths,
//! entry bundles, which tiles a tree has and which a batch of appends rewrites, building
//! them from leaf hashes, and reading any Merkle node back from them. No storage, no I/O.
//!
//! A tile at tile level `L` and index `N` stores one row of the Merkle tree and nothing
//! else: the hashes of the perfect nodes ([`NodeId`]) at Merkle level `8·L`, indices
//! `256·N ..`, concatenated. The seven Merkle levels above that row are not stored: they are
//! rebuilt by hashing the row, so one tile stands for a whole subtree 8 levels high, and
//! the row of a level `L + 1` tile holds the roots of 256 full level `L` tiles. A full tile
//! has 256 hashes and never changes again. The right edge of the tree is held by partial
//! tiles (1 to 255 hashes), which grow as the log grows, each a prefix of the full tile it
//! becomes; a batch of appends rewrites only those and the tiles it completes.
//!
//! Entry bundles hold the leaves themselves, 256 to a bundle, in the same positions as
//! the leaf hashes of the level 0 tile with the same index.
//!
//! Tile levels stop at [`MAX_TILE_LEVEL`] (7), although paths may name levels up to 63:
//! a level 8 tile would hold nodes of Merkle level 64, each covering 2^64 leaves, which no
//! tree whose size is a `u64` ever has. For the same reason the largest index at each
//! level is bounded; [`TileId`] refuses tiles that cannot exist.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use crate::log::merkle::{self, NodeId, NodeSource};
use crate::Sha256Digest;

/// Merkle levels one tile spans: its row and the seven levels rebuilt from it.
pub(crate) const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile, and leaves in a full entry bundle (`2^TILE_HEIGHT`).
pub(crate) const TILE_WIDTH: usize = 1 << TILE_HEIGHT;
/// Longest leaf an entry bundle can hold: its length is written as a big-endian `u16`.
pub(crate) const MAX_ENTRY_LEN: usize = u16::MAX as usize;
/// Highest tile level a tree of `u64` size can have (see the module documentation).
pub(crate) const MAX_TILE_LEVEL: u8 = 7;

const HASH_LEN: usize = Sha256Digest::LEN;
/// Bytes in a full tile.
const FULL_TILE_LEN: usize = TILE_WIDTH * HASH_LEN;
/// Highest tile level a path may name, per the spec (`<L>` is 0 to 63).
const MAX_PATH_LEVEL: u64 = 63;
/// `<N>` is written in groups of 3 decimal digits.
const GROUP: u64 = 1000;

/// Whether tile `(level, index)` holds at least `width` hashes in some tree of `u64` size:
/// its last hash, node `(8·level, 256·index + width − 1)`, must cover leaves that end at
/// or below `u64::MAX`, i.e. `(256·index + width) << 8·level <= u64::MAX`.
fn fits(level: u8, index: u64, width: u16) -> bool {
    if level > MAX_TILE_LEVEL {
        return false;
    }
    // In u128 so that neither the multiplication nor the comparison can overflow;
    // `x << s <= M` is the same as `x <= M >> s` for integers.
    let end = u128::from(index) * TILE_WIDTH as u128 + u128::from(width);
    end <= u128::from(u64::MAX >> (TILE_HEIGHT * level))
}

/// A hash tile: tile level `level`, index `index` within that level.
// INVARIANT: the tile exists in some tree of `u64` size (`fits(level, index, 1)`): so
// `level <= MAX_TILE_LEVEL`, and `index << (8 * (level + 1))` does not overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    level: u8,
    index: u64,
}

impl TileId {
    /// The tile, unless no tree of `u64` size has it.
    pub fn new(level: u8, index: u64) -> Option<TileId> {
        fits(level, index, 1).then_some(TileId { level, index })
    }

    pub fn level(self) -> u8 {
        self.level
    }

    pub fn index(self) -> u64 {
        self.index
    }

    /// The Merkle level of the nodes in this tile's row: `8·level`.
    pub fn row_level(self) -> u8 {
        self.level * TILE_HEIGHT
    }

    /// The tile whose row covers the perfect node `node`, and which hashes of that row
    /// (positions, not bytes) the node is built from.
    pub(crate) fn covering(node: NodeId) -> Option<(TileId, Range<usize>)> {
        let level = node.level / TILE_HEIGHT;
        let height = node.level % TILE_HEIGHT;
        // The node's leftmost descendant in the row, at Merkle level 8·level.
        let first = node.index.checked_mul(1 << height)?;
        let tile = TileId::new(level, first >> TILE_HEIGHT)?;
        // `first` is a multiple of 2^height and 2^height divides 256, so the node's
        // 2^height row hashes never cross into the next tile.
        let offset = (first % TILE_WIDTH as u64) as usize;
        Some((tile, offset..offset + (1 << height)))
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tile level {} index {}", self.level, self.index)
    }
}

/// An entry bundle: leaves `256·index ..`, beside the level 0 tile of the same index.
// INVARIANT: the bundle exists in some tree of `u64` size, as its level 0 tile does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BundleId(u64);

impl BundleId {
    /// The bundle, unless no tree of `u64` size has it.
    pub fn new(index: u64) -> Option<BundleId> {
        fits(0, index, 1).then_some(BundleId(index))
    }

    pub fn index(self) -> u64 {
        self.0
    }

    /// The bundle holding leaf `leaf`, and the leaf's position in it.
    pub fn containing(leaf: u64) -> (BundleId, usize) {
        // Every u64 leaf index lies in a bundle below 2^56, which `fits`.
        (BundleId(leaf >> TILE_HEIGHT), (leaf % TILE_WIDTH as u64) as usize)
    }

    /// The level 0 tile with the hashes of this bundle's leaves.
    pub fn hash_tile(self) -> TileId {
        TileId { level: 0, index: self.0 }
    }
}

/// How many hashes a tile holds, or leaves a bundle: 256 when full, 1 to 255 when partial.
// INVARIANT: 1 <= self.0 <= 256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileWidth(u16);

impl TileWidth {
    pub const FULL: TileWidth = TileWidth(TILE_WIDTH as u16);

    /// The width, unless it is 0 or above 256 (empty tiles do not exist).
    pub const fn new(width: u16) -> Option<TileWidth> {
        if width >= 1 && width as usize <= TILE_WIDTH {
            Some(TileWidth(width))
        } else {
            None
        }
    }

    pub const fn get(self) -> u16 {
        self.0
    }

    pub const fn is_full(self) -> bool {
        self.0 as usize == TILE_WIDTH
    }

    /// Bytes in a hash tile of this width.
    pub const fn byte_len(self) -> usize {
        self.0 as usize * HASH_LEN
    }

    /// The width of a tile holding `count` hashes (`count % 256` of a partial edge).
    fn of_count(count: u64) -> Option<TileWidth> {
        u16::try_from(count).ok().and_then(TileWidth::new)
    }
}

/// A C2SP tlog-tiles resource path (without the log's URL prefix):
/// `tile/<L>/<N>[.p/<W>]` for a hash tile, `tile/entries/<N>[.p/<W>]` for an entry
/// bundle. `<N>` is written in 3-digit groups, all but the last prefixed `x`
/// (1234067 is `x001/x234/067`); `.p/<W>` is there only for a partial one.
///
/// Parsing is strict: only the one spelling [`fmt::Display`] writes is accepted, so that
/// a resource has one name (and one cache key, one file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TilePath {
    Hashes { tile: TileId, width: TileWidth },
    Entries { bundle: BundleId, width: TileWidth },
}

/// Why a string is not a tile or bundle path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("not a tile path: it must be tile/<level>/<index> or tile/entries/<index>")]
    NotATilePath,
    #[error("a tile level is a decimal from 0 to 63 without leading zeros")]
    BadLevel,
    #[error("a tile index is 3-digit groups, all but the last prefixed `x`, without a leading 000 group")]
    BadIndex,
    #[error("a partial width is a decimal from 1 to 255 without leading zeros")]
    BadWidth,
    #[error("no tree of at most 2^64 - 1 leaves has this tile")]
    OutOfRange,
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (index, width) = match *self {
            TilePath::Hashes { tile, width } => {
                write!(f, "tile/{}/", tile.level)?;
                (tile.index, width)
            }
            TilePath::Entries { bundle, width } => {
                f.write_str("tile/entries/")?;
                (bundle.0, width)
            }
        };
        write_index(f, index)?;
        if !width.is_full() {
            write!(f, ".p/{}", width.0)?;
        }
        Ok(())
    }
}

/// Writes `index` as 3-digit groups, most significant first, all but the last with `x`.
fn write_index(f: &mut fmt::Formatter<'_>, mut index: u64) -> fmt::Result {
    // u64::MAX has 20 digits: 7 groups.
    let mut groups = [0u64; 7];
    let mut count = 0;
    loop {
        groups[count] = index % GROUP;
        count += 1;
        index /= GROUP;
        if index == 0 {
            break;
        }
    }
    for (i, group) in groups[..count].iter().rev().enumerate() {
        if i + 1 < count {
            write!(f, "x{group:03}/")?;
        } else {
            write!(f, "{group:03}")?;
        }
    }
    Ok(())
}

impl FromStr for TilePath {
    type Err = PathError;

    fn from_str(path: &str) -> Result<TilePath, PathError> {
        let rest = path.strip_prefix("tile/").ok_or(PathError::NotATilePath)?;
        let (kind, rest) = rest.split_once('/').ok_or(PathError::NotATilePath)?;
        let (index, width) = match rest.split_once(".p/") {
            Some((index, width)) => {
                let width = parse_decimal(width).ok_or(PathError::BadWidth)?;
                // `.p/256` would be a second name for the full tile.
                let width = u16::try_from(width)
                    .ok()
                    .and_then(TileWidth::new)
                    .filter(|w| !w.is_full())
                    .ok_or(PathError::BadWidth)?;
                (index, width)
            }
            None => (rest, TileWidth::FULL),
        };
        let index = parse_index(index)?;
        if kind == "entries" {
            return if fits(0, index, width.0) {
                Ok(TilePath::Entries { bundle: BundleId(index), width })
            } else {
                Err(PathError::OutOfRange)
            };
        }
        let level = parse_decimal(kind).filter(|&l| l <= MAX_PATH_LEVEL).ok_or(PathError::BadLevel)?;
        // A level the spec allows but no u64 tree reaches is out of range, not malformed.
        let level = u8::try_from(level).map_err(|_| PathError::BadLevel)?;
        if fits(level, index, width.0) {
            Ok(TilePath::Hashes { tile: TileId { level, index }, width })
        } else {
            Err(PathError::OutOfRange)
        }
    }
}

/// A decimal without sign or leading zeros (`str::parse` would accept `+7` and `007`).
fn parse_decimal(s: &str) -> Option<u64> {
    let canonical = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

/// `x001/x234/067` -> 1234067. Exactly 3 digits per group, `x` on all but the last, and
/// no leading `x000` group (it would give the same number a second spelling).
///
/// # Errors
/// [`PathError::BadIndex`] for any other spelling; [`PathError::OutOfRange`] past `u64`.
fn parse_index(s: &str) -> Result<u64, PathError> {
    let mut groups = s.split('/').peekable();
    let mut index: u64 = 0;
    let mut first = true;
    while let Some(group) = groups.next() {
        let digits = if groups.peek().is_some() { group.strip_prefix('x') } else { Some(group) };
        let digits =
            digits.filter(|d| d.len() == 3 && d.bytes().all(|b| b.is_ascii_digit())).ok_or(PathError::BadIndex)?;
        let value = u64::from(digits.bytes().fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0')));
        if first && value == 0 && groups.peek().is_some() {
            return Err(PathError::BadIndex);
        }
        first = false;
        index = index.checked_mul(GROUP).and_then(|i| i.checked_add(value)).ok_or(PathError::OutOfRange)?;
    }
    Ok(index)
}

/// Why leaves cannot be made into an entry bundle, or bytes are not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("an entry bundle holds 1 to 256 entries, not {0}")]
    BadCount(usize),
    #[error("entry {position} is {len} bytes; a bundle entry holds at most 65535")]
    EntryTooLong { position: usize, len: usize },
    #[error("the bundle ends inside entry {position}")]
    Truncated { position: usize },
}

/// An entry bundle: each entry as a big-endian `u16` length, then its bytes.
///
/// # Errors
/// [`BundleError::EntryTooLong`] for an entry over [`MAX_ENTRY_LEN`] bytes (its length
/// would not fit the prefix); [`BundleError::BadCount`] unless there are 1 to 256 entries
/// (empty bundles do not exist, and a bundle holds the leaves of one tile).
pub(crate) fn encode_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, BundleError> {
    if entries.is_empty() || entries.len() > TILE_WIDTH {
        return Err(BundleError::BadCount(entries.len()));
    }
    let total: usize = entries.iter().map(|e| 2 + e.as_ref().len()).sum();
    let mut out = Vec::with_capacity(total);
    for (position, entry) in entries.iter().enumerate() {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len()).map_err(|_| BundleError::EntryTooLong { position, len: entry.len() })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Consecutive entries of one entry bundle, encoded as in the bundle (a big-endian `u16`
/// length, then the bytes, per entry), starting at position `start` of the bundle. A
/// bundle is the concatenation of its pieces in order of `start`, so a backend that
/// stores bundles writes only the entries a batch adds, never the ones before it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BundlePiece {
    pub bundle: BundleId,
    pub start: u16,
    /// Number of entries in `bytes`.
    pub count: u16,
    pub bytes: Vec<u8>,
}

impl BundlePiece {
    /// Leaves `size_before..` as pieces of the bundles they go into, in order.
    ///
    /// # Errors
    /// When a leaf is too long for a bundle entry.
    pub(crate) fn split<E: AsRef<[u8]>>(size_before: u64, leaves: &[E]) -> Result<Vec<BundlePiece>, BundleError> {
        let mut pieces = Vec::new();
        let mut done = 0usize;
        while done < leaves.len() {
            let (bundle, start) = BundleId::containing(size_before + done as u64);
            let count = (TILE_WIDTH - start).min(leaves.len() - done);
            let bytes = encode_bundle(&leaves[done..done + count])?;
            // start < 256 and 1 <= count <= 256 by construction.
            pieces.push(BundlePiece { bundle, start: start as u16, count: count as u16, bytes });
            done += count;
        }
        Ok(pieces)
    }
}

/// The entries of an entry bundle, borrowed from `bundle`.
///
/// # Errors
/// [`BundleError::Truncated`] when the bytes end inside a length or an entry (a torn
/// write or a cut download must not pass for a shorter bundle);
/// [`BundleError::BadCount`] for no entries or more than 256.
pub fn decode_bundle(bundle: &[u8]) -> Result<Vec<&[u8]>, BundleError> {
    let mut entries = Vec::new();
    let mut rest = bundle;
    while !rest.is_empty() {
        let position = entries.len();
        if position == TILE_WIDTH {
            // Counted before reading on, so hostile input cannot make us collect more.
            return Err(BundleError::BadCount(position + 1));
        }
        let (len, tail) = rest.split_first_chunk::<2>().ok_or(BundleError::Truncated { position })?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(BundleError::Truncated { position });
        }
        let (entry, tail) = tail.split_at(len);
        entries.push(entry);
        rest = tail;
    }
    if entries.is_empty() {
        return Err(BundleError::BadCount(0));
    }
    Ok(entries)
}

/// Where each entry of an encoded bundle starts (its length prefix), then where the last
/// one ends: `entries + 1` offsets, so entry `i` is `bundle[offsets[i] + 2 .. offsets[i + 1]]`.
///
/// # Errors
/// As [`decode_bundle`].
pub(crate) fn entry_offsets(bundle: &[u8]) -> Result<Vec<u32>, BundleError> {
    let entries = decode_bundle(bundle)?;
    let mut offsets = Vec::with_capacity(entries.len() + 1);
    let mut at = 0u32;
    for entry in &entries {
        offsets.push(at);
        // At most 256 entries of at most 65,537 bytes each: far below u32::MAX.
        at += 2 + entry.len() as u32;
    }
    offsets.push(at);
    Ok(offsets)
}

/// The first `count` entries of an encoded bundle, still encoded: the bundle of a
/// smaller tree, since bundles only grow at the end.
///
/// # Errors
/// [`BundleError::Truncated`] when the bytes end first; [`BundleError::BadCount`] for a
/// count of 0 or above 256.
pub(crate) fn bundle_prefix(bundle: &[u8], count: usize) -> Result<&[u8], BundleError> {
    if count == 0 || count > TILE_WIDTH {
        return Err(BundleError::BadCount(count));
    }
    let mut at = 0usize;
    for position in 0..count {
        let len = bundle.get(at..at + 2).ok_or(BundleError::Truncated { position })?;
        let end = at + 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
        if end > bundle.len() {
            return Err(BundleError::Truncated { position });
        }
        at = end;
    }
    Ok(&bundle[..at])
}

/// The tiles of one tile level in a tree of some size: `full` full tiles (indices
/// `0..full`), then at most one partial tile at index `full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelTiles {
    level: u8,
    full: u64,
    partial: Option<TileWidth>,
}

impl LevelTiles {
    pub fn level(self) -> u8 {
        self.level
    }

    /// Number of full tiles: indices `0..full_tiles()`.
    pub fn full_tiles(self) -> u64 {
        self.full
    }

    /// The width of the partial tile at index `full_tiles()`, if there is one.
    pub fn partial(self) -> Option<TileWidth> {
        self.partial
    }

    /// Every tile of the level, left to right, with its width.
    pub fn tiles(self) -> impl Iterator<Item = (TileId, TileWidth)> {
        let level = self.level;
        let full = (0..self.full).map(move |index| (TileId { level, index }, TileWidth::FULL));
        let partial = self.partial.map(|width| (TileId { level, index: self.full }, width));
        full.chain(partial)
    }
}

/// Nodes of Merkle level `8·level` in a tree of `size` leaves: the hashes in that row.
fn row_len(level: u8, size: u64) -> u64 {
    size >> (TILE_HEIGHT * level)
}

/// The tiles of a tree of `size` leaves, level by level from 0, levels without tiles
/// left out (the empty tree has none). Each level's row has `size >> 8·L` hashes: that
/// many over 256 full tiles, and the remainder in a partial tile (the spec's
/// `floor(s / 256**l) mod 256`). A partial tile is never hashed into the level above.
pub fn tiles_for_size(size: u64) -> Vec<LevelTiles> {
    (0..=MAX_TILE_LEVEL)
        .map(|level| {
            let row = row_len(level, size);
            LevelTiles { level, full: row >> TILE_HEIGHT, partial: TileWidth::of_count(row % TILE_WIDTH as u64) }
        })
        .take_while(|l| l.full > 0 || l.partial.is_some())
        .collect()
}

/// The width of `tile` in a tree of `size` leaves, or `None` when the tree has no such tile.
pub fn tile_for_size(tile: TileId, size: u64) -> Option<TileWidth> {
    let row = row_len(tile.level, size);
    let full = row >> TILE_HEIGHT;
    match tile.index.cmp(&full) {
        std::cmp::Ordering::Less => Some(TileWidth::FULL),
        std::cmp::Ordering::Equal => TileWidth::of_count(row % TILE_WIDTH as u64),
        std::cmp::Ordering::Greater => None,
    }
}

/// Why a growth of the tree is not one.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a tree cannot shrink from {old_size} to {new_size} leaves")]
pub(crate) struct Shrinks {
    pub old_size: u64,
    pub new_size: u64,
}

// The specification `build_tiles` is tested against: which tiles and bundles a growth
// rewrites.
#[cfg(test)]
/// The tiles to (re)write when the tree grows from `old_size` to `new_size` leaves, with
/// their widths at `new_size`, by level then index: the tiles whose width differs
/// between the two sizes. Per level that is the tiles the new row hashes complete and
/// the new right-edge tile, so a batch rewrites O(levels + (new − old) / 256) tiles and
/// never a tile that was full already.
///
/// # Errors
/// [`Shrinks`] when `new_size < old_size`.
pub(crate) fn changed_tiles(old_size: u64, new_size: u64) -> Result<Vec<(TileId, TileWidth)>, Shrinks> {
    if new_size < old_size {
        return Err(Shrinks { old_size, new_size });
    }
    let mut out = Vec::new();
    for level in 0..=MAX_TILE_LEVEL {
        let (old_row, new_row) = (row_len(level, old_size), row_len(level, new_size));
        if old_row == new_row {
            // No new node at this Merkle level, so none above it either.
            break;
        }
        // From the tile the old row ends in (partial, or the next one when it ended on a
        // tile boundary) to the one the new row ends in.
        for index in old_row >> TILE_HEIGHT..new_row >> TILE_HEIGHT {
            out.push((TileId { level, index }, TileWidth::FULL));
        }
        if let Some(width) = TileWidth::of_count(new_row % TILE_WIDTH as u64) {
            out.push((TileId { level, index: new_row >> TILE_HEIGHT }, width));
        }
    }
    Ok(out)
}

#[cfg(test)]
/// The entry bundles to (re)write when the tree grows from `old_size` to `new_size`:
/// the twins of the level 0 tiles [`changed_tiles`] lists, with the same widths.
///
/// # Errors
/// [`Shrinks`] when `new_size < old_size`.
pub(crate) fn changed_bundles(old_size: u64, new_size: u64) -> Result<Vec<(BundleId, TileWidth)>, Shrinks> {
    Ok(changed_tiles(old_size, new_size)?
        .into_iter()
        .take_while(|(tile, _)| tile.level == 0)
        .map(|(tile, width)| (BundleId(tile.index), width))
        .collect())
}

/// A hash tile's contents: its row of hashes, concatenated.
// INVARIANT: hashes.len() == width.byte_len().
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    id: TileId,
    width: TileWidth,
    hashes: Vec<u8>,
}

impl Tile {
    pub fn id(&self) -> TileId {
        self.id
    }

    pub fn width(&self) -> TileWidth {
        self.width
    }

    /// Where the tile is served.
    pub fn path(&self) -> TilePath {
        TilePath::Hashes { tile: self.id, width: self.width }
    }

    /// The row: `width` hashes of 32 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.hashes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.hashes
    }
}

/// Why the tiles of a growth could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError<E: std::error::Error + 'static> {
    #[error("the tree is full: the new leaves take it past 2^64 - 1")]
    TreeFull,
    #[error("{0} is at the right edge of the tree but is not stored")]
    MissingTile(TileId),
    #[error("{tile} holds {len} bytes, not at least {needed} in whole 32-byte hashes")]
    ShortTile { tile: TileId, len: usize, needed: usize },
    #[error(transparent)]
    Read(E),
}

/// The new contents of every tile that changes when `new_leaves` (leaf hashes) are
/// appended to a tree of `old_size` leaves: exactly the tiles [`changed_tiles`] lists, in
/// that order.
///
/// `read` returns the stored row of a tile (`None` when there is none). It is asked only
/// for the partial right-edge tile of each level at `old_size`, whose hashes the new ones
/// extend: at most one read per level. The tiles below a new full tile are never read,
/// since the same growth completed them and their rows are at hand. A stored row may be
/// wider than `old_size` needs (left by a batch that was written but never committed):
/// only its first hashes are used, and those are the same in every tree that extends
/// `old_size`, because tiles only grow at the right.
///
/// # Errors
/// [`BuildError::TreeFull`] past `u64::MAX` leaves; [`BuildError::MissingTile`] or
/// [`BuildError::ShortTile`] when a right-edge tile is absent or shorter than `old_size`
/// needs (the store does not match `old_size`); [`BuildError::Read`] from `read`.
pub fn build_tiles<E, F>(old_size: u64, new_leaves: &[Sha256Digest], mut read: F) -> Result<Vec<Tile>, BuildError<E>>
where
    E: std::error::Error + 'static,
    F: FnMut(TileId) -> Result<Option<Vec<u8>>, E>,
{
    let added = u64::try_from(new_leaves.len()).map_err(|_| BuildError::TreeFull)?;
    old_size.checked_add(added).ok_or(BuildError::TreeFull)?;
    let mut tiles = Vec::new();
    // The nodes of Merkle level 8·level the growth adds, left to right: the leaf hashes at
    // level 0, then the roots of the tiles completed one tile level down. A level with no
    // new node has none above it either.
    let mut new_row: Vec<Sha256Digest> = new_leaves.to_vec();
    for level in 0..=MAX_TILE_LEVEL {
        if new_row.is_empty() {
            break;
        }
        let old_row = row_len(level, old_size);
        let mut index = old_row >> TILE_HEIGHT;
        // Hashes the right-edge tile already holds; the new ones go after them.
        let kept = (old_row % TILE_WIDTH as u64) as usize;
        let mut current = Vec::with_capacity(FULL_TILE_LEN);
        if kept > 0 {
            let tile = TileId { level, index };
            let stored = read(tile).map_err(BuildError::Read)?.ok_or(BuildError::MissingTile(tile))?;
            let needed = kept * HASH_LEN;
            if stored.len() < needed || stored.len() % HASH_LEN != 0 {
                return Err(BuildError::ShortTile { tile, len: stored.len(), needed });
            }
            current.extend_from_slice(&stored[..needed]);
        }
        let mut completed = Vec::with_capacity(new_row.len() / TILE_WIDTH + 1);
        for hash in &new_row {
            current.extend_from_slice(hash.as_bytes());
            if current.len() == FULL_TILE_LEN {
                // The root of a full tile is the node of Merkle level 8·(level + 1) it stands for.
                completed.push(row_root(&current));
                let hashes = std::mem::replace(&mut current, Vec::with_capacity(FULL_TILE_LEN));
                tiles.push(Tile { id: TileId { level, index }, width: TileWidth::FULL, hashes });
                index += 1;
            }
        }
        if let Some(width) = TileWidth::of_count((current.len() / HASH_LEN) as u64) {
            tiles.push(Tile { id: TileId { level, index }, width, hashes: current });
        }
        new_row = completed;
    }
    Ok(tiles)
}

/// The perfect-subtree hash over a row slice of 2^k hashes (RFC 6962 node hashes, pairwise).
fn row_root(row: &[u8]) -> Sha256Digest {
    debug_assert!((row.len() / HASH_LEN).is_power_of_two() && row.len().is_multiple_of(HASH_LEN));
    let mut hashes: Vec<Sha256Digest> = row
        .chunks_exact(HASH_LEN)
        .map(|chunk| {
            let mut bytes = [0u8; HASH_LEN];
            bytes.copy_from_slice(chunk);
            Sha256Digest::from_bytes(bytes)
        })
        .collect();
    while hashes.len() > 1 {
        for i in 0..hashes.len() / 2 {
            hashes[i] = merkle::node_hash(&hashes[2 * i], &hashes[2 * i + 1]);
        }
        hashes.truncate(hashes.len() / 2);
    }
    hashes.first().copied().unwrap_or_else(merkle::empty_root)
}

/// Read access to stored hash tiles.
pub trait TileReader {
    type Error: std::error::Error + Send + Sync + 'static;

    /// The stored row of `tile`: its widest version, as a right-edge tile grows in place
    /// (any prefix of it is the same tile at a smaller tree size); `None` when not stored.
    ///
    /// # Errors
    /// When the store cannot be read.
    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, Self::Error>;
}

impl<R: TileReader + ?Sized> TileReader for &R {
    type Error = R::Error;
    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, R::Error> {
        (**self).read_tile(tile)
    }
}

/// An in-memory tile store, as tests and tools keep one.
impl TileReader for HashMap<TileId, Vec<u8>> {
    type Error = std::convert::Infallible;
    fn read_tile(&self, tile: TileId) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.get(&tile).cloned())
    }
}

/// Why a Merkle node could not be read from tiles.
#[derive(Debug, thiserror::Error)]
pub enum TileNodeError<E: std::error::Error + 'static> {
    #[error("node {0:?} is not in the stored tiles")]
    Missing(NodeId),
    #[error("{tile} holds {len} bytes, not whole 32-byte hashes")]
    Malformed { tile: TileId, len: usize },
    #[error(transparent)]
    Read(E),
}

/// Perfect Merkle nodes read from hash tiles, so that [`merkle::root`],
/// [`merkle::inclusion_proof`] and [`merkle::consistency_proof`] work on tiles unchanged.
///
/// Node `(l, i)` lies in a tile of level `l / 8`: it is the hash of the `2^(l % 8)` row
/// hashes below it, all in one tile. A node is there once its tile's row holds all of
/// them, whether that tile is full or partial.
#[derive(Debug, Clone)]
pub struct TileNodes<R>(pub R);

impl<R: TileReader> NodeSource for TileNodes<R> {
    type Error = TileNodeError<R::Error>;

    fn node(&self, id: NodeId) -> Result<Sha256Digest, Self::Error> {
        let (tile, span) = TileId::covering(id).ok_or(TileNodeError::Missing(id))?;
        let row = self.0.read_tile(tile).map_err(TileNodeError::Read)?.ok_or(TileNodeError::Missing(id))?;
        if row.len() % HASH_LEN != 0 || row.len() > FULL_TILE_LEN {
            return Err(TileNodeError::Malformed { tile, len: row.len() });
        }
        let hashes = row.get(span.start * HASH_LEN..span.end * HASH_LEN).ok_or(TileNodeError::Missing(id))?;
        Ok(row_root(hashes))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;
    use crate::log::merkle::{consistency_proof, inclusion_proof, leaf_hash, MemoryTree};
    use proptest::prelude::*;

    fn tile(level: u8, index: u64) -> TileId {
        TileId::new(level, index).unwrap()
    }

    fn width(w: u16) -> TileWidth {
        TileWidth::new(w).unwrap()
    }

    fn parse(path: &str) -> TilePath {
        path.parse().unwrap()
    }

    #[test]
    fn paths_known_answers() {
        // The first case is the spec's own example (c2sp.org/tlog-tiles, "Merkle Tree").
        let cases = [
            (TilePath::Hashes { tile: tile(0, 1_234_067), width: TileWidth::FULL }, "tile/0/x001/x234/067"),
            (TilePath::Hashes { tile: tile(0, 0), width: TileWidth::FULL }, "tile/0/000"),
            (TilePath::Hashes { tile: tile(1, 999), width: width(1) }, "tile/1/999.p/1"),
            (TilePath::Hashes { tile: tile(2, 1000), width: width(255) }, "tile/2/x001/000.p/255"),
            (TilePath::Hashes { tile: tile(3, 1_000_000), width: width(17) }, "tile/3/x001/x000/000.p/17"),
            (TilePath::Hashes { tile: tile(7, 0), width: width(255) }, "tile/7/000.p/255"),
            (
                TilePath::Entries { bundle: BundleId::new(1_234_067).unwrap(), width: width(5) },
                "tile/entries/x001/x234/067.p/5",
            ),
            (TilePath::Entries { bundle: BundleId::new(42).unwrap(), width: TileWidth::FULL }, "tile/entries/042"),
            // The largest index of level 0 (2^56 - 1): only a partial tile of it fits in u64.
            (
                TilePath::Hashes { tile: tile(0, (1 << 56) - 1), width: width(255) },
                "tile/0/x072/x057/x594/x037/x927/935.p/255",
            ),
        ];
        for (path, text) in cases {
            assert_eq!(path.to_string(), text);
            assert_eq!(text.parse::<TilePath>(), Ok(path), "{text}");
        }
    }

    #[test]
    fn non_canonical_paths_are_refused() {
        use PathError::*;
        let cases = [
            ("tiles/0/000", NotATilePath),
            ("/tile/0/000", NotATilePath),
            ("tile/0", NotATilePath),
            ("tile/entries", NotATilePath),
            ("tile//000", BadLevel),
            ("tile/00/000", BadLevel),
            ("tile/01/000", BadLevel),
            ("tile/+1/000", BadLevel),
            ("tile/-1/000", BadLevel),
            ("tile/data/000", BadLevel),
            ("tile/64/000", BadLevel),
            ("tile/99999999999999999999999/000", BadLevel),
            ("tile/0/", BadIndex),
            ("tile/0/0", BadIndex),
            ("tile/0/00", BadIndex),
            ("tile/0/0000", BadIndex),
            ("tile/0/+01", BadIndex),
            ("tile/0/x000/123", BadIndex),
            ("tile/0/x000/x001/000", BadIndex),
            ("tile/0/001/234", BadIndex),
            ("tile/0/X001/234", BadIndex),
            ("tile/0/x1/234", BadIndex),
            ("tile/0/x001/x234", BadIndex),
            ("tile/0/x001//234", BadIndex),
            ("tile/0/000/", BadIndex),
            ("tile/0/٠٠٠", BadIndex),
            ("tile/0/000.p.p/5", BadIndex),
            ("tile/0/000.p/0", BadWidth),
            ("tile/0/000.p/256", BadWidth),
            ("tile/0/000.p/01", BadWidth),
            ("tile/0/000.p/+5", BadWidth),
            ("tile/0/000.p/", BadWidth),
            ("tile/0/000.p/5/6", BadWidth),
            ("tile/entries/000.p/256", BadWidth),
            ("tile/entries/000.p/0", BadWidth),
            // Allowed by the spec's grammar, but no tree of u64 size has these tiles.
            ("tile/8/000.p/1", OutOfRange),
            ("tile/63/000", OutOfRange),
            ("tile/7/000", OutOfRange),
            ("tile/7/001.p/1", OutOfRange),
            ("tile/5/x065/536.p/1", OutOfRange),
            ("tile/6/256.p/1", OutOfRange),
            ("tile/6/255", OutOfRange),
            ("tile/0/x072/x057/x594/x037/x927/935", OutOfRange),
            ("tile/0/x072/x057/x594/x037/x927/936.p/1", OutOfRange),
            ("tile/entries/x072/x057/x594/x037/x927/936.p/1", OutOfRange),
            ("tile/0/x018/x446/x744/x073/x709/x551/616.p/1", OutOfRange),
            ("tile/0/x999/x999/x999/x999/x999/x999/x999/999", OutOfRange),
        ];
        for (text, error) in cases {
            assert_eq!(text.parse::<TilePath>(), Err(error), "{text}");
        }
        // The edges that do exist.
        assert!("tile/5/x065/535.p/255".parse::<TilePath>().is_ok());
        assert!("tile/6/255.p/255".parse::<TilePath>().is_ok());
        assert!("tile/6/254".parse::<TilePath>().is_ok());
        assert!("tile/entries/x072/x057/x594/x037/x927/935.p/255".parse::<TilePath>().is_ok());
    }

    #[test]
    fn ids_refuse_tiles_no_tree_has() {
        assert_eq!(TileId::new(8, 0), None);
        assert_eq!(TileId::new(7, 1), None);
        assert!(TileId::new(7, 0).is_some());
        assert_eq!(TileId::new(0, 1 << 56), None);
        assert!(TileId::new(0, (1 << 56) - 1).is_some());
        assert_eq!(BundleId::new(1 << 56), None);
        assert_eq!(BundleId::containing(u64::MAX), (BundleId::new((1 << 56) - 1).unwrap(), 255));
        assert_eq!(BundleId::containing(513).0.hash_tile(), tile(0, 2));
        assert_eq!(TileWidth::new(0), None);
        assert_eq!(TileWidth::new(257), None);
        assert!(TileWidth::new(256).unwrap().is_full());
    }

    fn any_tile_path() -> impl Strategy<Value = TilePath> {
        let hash_tile = (0..=MAX_TILE_LEVEL, any::<u64>(), 1..=256u16).prop_filter_map(
            "no u64 tree has this tile",
            |(level, index, w)| {
                // Spread indices over every group count, not just the huge ones.
                let index = index >> (index % 64);
                fits(level, index, w).then(|| TilePath::Hashes { tile: TileId { level, index }, width: width(w) })
            },
        );
        let bundle = (any::<u64>(), 1..=256u16).prop_filter_map("no u64 tree has this bundle", |(index, w)| {
            let index = index >> (index % 64);
            fits(0, index, w).then(|| TilePath::Entries { bundle: BundleId(index), width: width(w) })
        });
        prop_oneof![hash_tile, bundle]
    }

    fn any_entries() -> impl Strategy<Value = Vec<Vec<u8>>> {
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..=TILE_WIDTH)
    }

    proptest! {
        #[test]
        fn paths_round_trip(path in any_tile_path()) {
            let text = path.to_string();
            prop_assert_eq!(text.parse::<TilePath>(), Ok(path));
        }

        #[test]
        fn only_canonical_paths_are_accepted(text in "tile/(entries|0|[0-9]{1,2})(/x?[0-9]{1,3}){1,3}(\\.p/[0-9]{1,3})?") {
            // Near misses of the grammar: whatever parses must be the one spelling of its
            // resource, written back exactly.
            if let Ok(path) = text.parse::<TilePath>() {
                prop_assert_eq!(path.to_string(), text);
            }
        }

        #[test]
        fn any_bytes_decode_or_fail_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(entries) = decode_bundle(&bytes) {
                prop_assert_eq!(encode_bundle(&entries).unwrap(), bytes);
            }
        }

        #[test]
        fn bundles_round_trip(entries in any_entries()) {
            let bundle = encode_bundle(&entries).unwrap();
            let decoded = decode_bundle(&bundle).unwrap();
            prop_assert_eq!(decoded, entries.iter().map(Vec::as_slice).collect::<Vec<_>>());
        }

        #[test]
        fn cut_bundles_are_refused_or_shorter(entries in any_entries(), cut in any::<prop::sample::Index>()) {
            let bundle = encode_bundle(&entries).unwrap();
            let cut = cut.index(bundle.len());
            // Cutting between two entries leaves a valid shorter bundle (the width in the
            // path says how many there must be); cutting anywhere else must be noticed.
            let boundaries: Vec<usize> =
                entries.iter().scan(0, |end, e| { *end += 2 + e.len(); Some(*end) }).collect();
            match decode_bundle(&bundle[..cut]) {
                Ok(shorter) => {
                    prop_assert!(boundaries.contains(&cut));
                    prop_assert_eq!(shorter.len(), boundaries.iter().position(|&b| b == cut).unwrap() + 1);
                }
                Err(e) => {
                    let expected = matches!(e, BundleError::Truncated { .. } | BundleError::BadCount(0));
                    prop_assert!(expected, "{:?}", e);
                }
            }
        }
    }

    #[test]
    fn bundles_known_answer_and_limits() {
        let entries: [&[u8]; 3] = [b"", b"ab", &[0xff; 3]];
        let bundle = encode_bundle(&entries).unwrap();
        assert_eq!(bundle, [0, 0, 0, 2, b'a', b'b', 0, 3, 0xff, 0xff, 0xff]);
        assert_eq!(decode_bundle(&bundle).unwrap(), entries);

        let longest = vec![7u8; MAX_ENTRY_LEN];
        let bundle = encode_bundle(&[&longest[..]]).unwrap();
        assert_eq!(&bundle[..2], &[0xff, 0xff]);
        assert_eq!(decode_bundle(&bundle).unwrap(), [&longest[..]]);
        let too_long = vec![7u8; MAX_ENTRY_LEN + 1];
        assert_eq!(
            encode_bundle(&[&b"ok"[..], &too_long[..]]),
            Err(BundleError::EntryTooLong { position: 1, len: MAX_ENTRY_LEN + 1 })
        );

        let none: [&[u8]; 0] = [];
        assert_eq!(encode_bundle(&none), Err(BundleError::BadCount(0)));
        assert_eq!(encode_bundle(&[b"x"; 257]), Err(BundleError::BadCount(257)));
        assert!(encode_bundle(&[b"x"; 256]).is_ok());
        assert_eq!(decode_bundle(&[]), Err(BundleError::BadCount(0)));
        assert_eq!(decode_bundle(&[0, 0].repeat(257)), Err(BundleError::BadCount(257)));
        assert_eq!(decode_bundle(&[0]), Err(BundleError::Truncated { position: 0 }));
        assert_eq!(decode_bundle(&[0, 0, 0, 2, 1]), Err(BundleError::Truncated { position: 1 }));
    }

    fn level(level: u8, full: u64, partial: Option<u16>) -> LevelTiles {
        LevelTiles { level, full, partial: partial.map(width) }
    }

    #[test]
    fn tiles_of_the_spec_examples() {
        // c2sp.org/tlog-tiles, "Partial Tiles": "a tree of size 70,000 will be represented by
        // 273 full level 0 tiles, one partial level 0 tile of width 112, one full level 1
        // tile, one partial level 1 tile of width 17, and one partial level 2 tile of width 1".
        assert_eq!(tiles_for_size(70_000), [level(0, 273, Some(112)), level(1, 1, Some(17)), level(2, 0, Some(1))]);
        // "a tree of size 256 will be represented by a full level 0 tile and a partial level
        // 1 tile of width 1".
        assert_eq!(tiles_for_size(256), [level(0, 1, None), level(1, 0, Some(1))]);
        assert_eq!(tiles_for_size(0), []);
        assert_eq!(tiles_for_size(1), [level(0, 0, Some(1))]);
        assert_eq!(tile_for_size(tile(0, 273), 70_000), Some(width(112)));
        assert_eq!(tile_for_size(tile(0, 272), 70_000), Some(TileWidth::FULL));
        assert_eq!(tile_for_size(tile(0, 274), 70_000), None);
        assert_eq!(tile_for_size(tile(2, 0), 70_000), Some(width(1)));
        assert_eq!(tile_for_size(tile(3, 0), 70_000), None);
        assert_eq!(tile_for_size(tile(1, 0), 256), Some(width(1)));
        // The largest tree: every level has tiles, level 7 only a partial one.
        let largest = tiles_for_size(u64::MAX);
        assert_eq!(largest.len(), 8);
        assert_eq!(largest[7], level(7, 0, Some(255)));
        assert_eq!(largest[0], level(0, (1 << 56) - 1, Some(255)));
    }

    proptest! {
        #[test]
        fn tile_for_size_agrees_with_tiles_for_size(size in any::<u64>(), shift in 0u32..64) {
            let size = size >> shift;
            let levels = tiles_for_size(size);
            for l in &levels {
                if l.full_tiles() > 0 {
                    prop_assert_eq!(tile_for_size(tile(l.level(), 0), size), Some(TileWidth::FULL));
                    prop_assert_eq!(tile_for_size(tile(l.level(), l.full_tiles() - 1), size), Some(TileWidth::FULL));
                }
                let next = TileId::new(l.level(), l.full_tiles());
                prop_assert_eq!(next.and_then(|t| tile_for_size(t, size)), l.partial());
                if let Some(after) = TileId::new(l.level(), l.full_tiles() + 1) {
                    prop_assert_eq!(tile_for_size(after, size), None);
                }
            }
            let above = levels.len() as u8;
            if let Some(t) = TileId::new(above, 0) {
                prop_assert_eq!(tile_for_size(t, size), None);
            }
        }

        #[test]
        fn changed_tiles_are_those_whose_width_changed(old in 0u64..140_000, grow in 0u64..70_000) {
            let new = old + grow;
            let changed = changed_tiles(old, new).unwrap();
            let expected: Vec<_> = tiles_for_size(new)
                .into_iter()
                .flat_map(LevelTiles::tiles)
                .filter(|&(t, w)| tile_for_size(t, old) != Some(w))
                .collect();
            prop_assert_eq!(&changed, &expected);
            let bundles: Vec<_> = changed.iter().filter(|(t, _)| t.level() == 0).map(|&(t, w)| (BundleId(t.index()), w)).collect();
            prop_assert_eq!(changed_bundles(old, new).unwrap(), bundles);
        }

        #[test]
        fn a_batch_rewrites_only_the_right_edge(old in any::<u64>(), grow in 0u64..100_000, shift in 0u32..64) {
            let old = (old >> shift).min(u64::MAX - grow);
            let new = old + grow;
            let changed = changed_tiles(old, new).unwrap();
            // At most the tiles the new hashes complete plus one partial tile per level,
            // and all 8 levels: O(levels + (new - old) / 256).
            let bound = 2 * (usize::from(MAX_TILE_LEVEL) + 1) + (grow / 255) as usize;
            prop_assert!(changed.len() <= bound, "{} tiles for {} -> {}", changed.len(), old, new);
            for (t, w) in &changed {
                prop_assert_eq!(tile_for_size(*t, new), Some(*w));
                prop_assert_ne!(tile_for_size(*t, old), Some(TileWidth::FULL), "full tiles never change");
            }
        }
    }

    #[test]
    fn shrinking_is_refused() {
        assert_eq!(changed_tiles(5, 4), Err(Shrinks { old_size: 5, new_size: 4 }));
        assert_eq!(changed_bundles(5, 4), Err(Shrinks { old_size: 5, new_size: 4 }));
        assert_eq!(changed_tiles(7, 7), Ok(vec![]));
    }

    fn leaves(from: u64, count: usize, seed: u64) -> Vec<Sha256Digest> {
        (from..from + count as u64).map(|i| leaf_hash(format!("{seed}-{i}").as_bytes())).collect()
    }

    /// Appends through `changed_tiles` + `build_tiles` into `store`, checking that each
    /// rewritten tile only grows.
    fn append(store: &mut HashMap<TileId, Vec<u8>>, old_size: u64, new: &[Sha256Digest]) -> Result<(), TestCaseError> {
        let built = build_tiles(old_size, new, |t| store.read_tile(t)).unwrap();
        let shape: Vec<_> = built.iter().map(|t| (t.id(), t.width())).collect();
        prop_assert_eq!(shape, changed_tiles(old_size, old_size + new.len() as u64).unwrap());
        for t in built {
            prop_assert_eq!(t.as_bytes().len(), t.width().byte_len());
            if let Some(before) = store.get(&t.id()) {
                prop_assert!(t.as_bytes().starts_with(before), "{} is not an extension of the stored tile", t.id());
            }
            store.insert(t.id(), t.into_bytes());
        }
        Ok(())
    }

    /// Every stored tile has the width `tile_for_size` gives, and every tile the tree
    /// should have is stored.
    fn check_shape(store: &HashMap<TileId, Vec<u8>>, size: u64) -> Result<(), TestCaseError> {
        for (t, row) in store {
            prop_assert_eq!(tile_for_size(*t, size).map(TileWidth::byte_len), Some(row.len()), "{}", t);
        }
        let expected: usize = tiles_for_size(size).into_iter().map(|l| l.tiles().count()).sum();
        prop_assert_eq!(store.len(), expected);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn tiles_agree_with_the_memory_tree(
            batches in prop::collection::vec(1usize..600, 1..6),
            seed in any::<u64>(),
            picks in prop::collection::vec(any::<u64>(), 6),
        ) {
            let mut store = HashMap::new();
            let mut tree = MemoryTree::new();
            let mut sizes = vec![0u64];
            for count in batches {
                let old = tree.size();
                let new = leaves(old, count, seed);
                append(&mut store, old, &new)?;
                for h in new {
                    tree.push(h);
                }
                let size = tree.size();
                check_shape(&store, size)?;

                let nodes = TileNodes(&store);
                prop_assert_eq!(merkle::root(&nodes, size).unwrap(), tree.root());
                for (k, &pick) in picks.iter().enumerate() {
                    // Half against the current size, half against an earlier one: older
                    // checkpoints are proved from the same, since grown, tiles.
                    let at = if k % 2 == 0 { size } else { sizes[pick as usize % sizes.len()].max(1) };
                    let i = pick % at;
                    prop_assert_eq!(
                        inclusion_proof(&nodes, i, at).unwrap(),
                        inclusion_proof(&tree, i, at).unwrap(),
                        "leaf {} of {}", i, at
                    );
                }
                for &first in &sizes {
                    prop_assert_eq!(
                        consistency_proof(&nodes, first, size).unwrap(),
                        consistency_proof(&tree, first, size).unwrap(),
                        "{} -> {}", first, size
                    );
                    prop_assert_eq!(merkle::root(&nodes, first).unwrap(), merkle::root(&tree, first).unwrap());
                }
                sizes.push(size);
            }
        }
    }

    #[test]
    fn the_spec_example_tree_of_70000_leaves() {
        // Large enough for a level 2 tile and Merkle nodes above level 16; the batches
        // end just before and on tile boundaries of both lower levels.
        let mut store = HashMap::new();
        let mut tree = MemoryTree::new();
        for end in [255u64, 256, 65_535, 65_536, 65_537, 70_000] {
            let old = tree.size();
            let new = leaves(old, (end - old) as usize, 70);
            append(&mut store, old, &new).unwrap();
            for h in new {
                tree.push(h);
            }
            check_shape(&store, end).unwrap();
            let nodes = TileNodes(&store);
            assert_eq!(merkle::root(&nodes, end).unwrap(), tree.root(), "size {end}");
        }
        let paths: Vec<String> = tiles_for_size(70_000)
            .into_iter()
            .flat_map(LevelTiles::tiles)
            .filter(|(t, _)| t.level() > 0 || t.index() >= 272)
            .map(|(t, w)| TilePath::Hashes { tile: t, width: w }.to_string())
            .collect();
        assert_eq!(paths, ["tile/0/272", "tile/0/273.p/112", "tile/1/000", "tile/1/001.p/17", "tile/2/000.p/1"]);
        let nodes = TileNodes(&store);
        for (i, size) in [(0, 70_000), (65_535, 70_000), (69_999, 70_000), (12_345, 65_537)] {
            assert_eq!(inclusion_proof(&nodes, i, size).unwrap(), inclusion_proof(&tree, i, size).unwrap());
        }
        for (first, second) in [(1, 70_000), (256, 65_536), (65_536, 70_000), (300, 65_537)] {
            assert_eq!(
                consistency_proof(&nodes, first, second).unwrap(),
                consistency_proof(&tree, first, second).unwrap()
            );
        }
        // The node over all of level 2's one hash is the root of the first 2^16 leaves.
        assert_eq!(nodes.node(NodeId { level: 16, index: 0 }).unwrap(), merkle::root(&tree, 65_536).unwrap());
        assert!(matches!(nodes.node(NodeId { level: 16, index: 1 }), Err(TileNodeError::Missing(_))));
    }

    #[test]
    fn one_batch_equals_many() {
        let all = leaves(0, 1000, 3);
        let mut one = HashMap::new();
        append(&mut one, 0, &all).unwrap();
        let mut many = HashMap::new();
        let mut size = 0;
        for chunk in all.chunks(97) {
            append(&mut many, size, chunk).unwrap();
            size += chunk.len() as u64;
        }
        assert_eq!(one, many);
    }

    #[test]
    fn build_refuses_a_store_that_does_not_match_the_size() {
        let mut store = HashMap::new();
        append(&mut store, 0, &leaves(0, 300, 1)).unwrap();
        let next = leaves(300, 10, 1);
        let none = |_| Ok::<_, Infallible>(None);
        assert!(matches!(build_tiles(300, &next, none), Err(BuildError::MissingTile(t)) if t == tile(0, 1)));
        // The store says 300 leaves (44 in tile 0/1); growing from 310 needs 54.
        assert!(matches!(
            build_tiles(310, &next, |t| store.read_tile(t)),
            Err(BuildError::ShortTile { len: 1408, needed: 1728, .. })
        ));
        let torn = |_| Ok::<_, Infallible>(Some(vec![0u8; 44 * 32 + 5]));
        assert!(matches!(build_tiles(300, &next, torn), Err(BuildError::ShortTile { .. })));
        #[derive(Debug, thiserror::Error)]
        #[error("disk on fire")]
        struct Fire;
        assert!(matches!(build_tiles(300, &next, |_| Err(Fire)), Err(BuildError::Read(Fire))));
        assert!(matches!(build_tiles(u64::MAX, &next, none), Err(BuildError::TreeFull)));
        // Nothing to add: nothing read, nothing written.
        assert!(build_tiles(300, &[], |_| Err(Fire)).unwrap().is_empty());
        // From an empty tree nothing is read either.
        assert_eq!(build_tiles(0, &next, |_| Err(Fire)).unwrap().len(), 1);
        // A wider row than the size needs (an uncommitted batch) is used only up to it.
        let mut ahead = store.clone();
        append(&mut ahead, 300, &leaves(300, 50, 9)).unwrap();
        let from_ahead = build_tiles(300, &next, |t| ahead.read_tile(t)).unwrap();
        assert_eq!(from_ahead, build_tiles(300, &next, |t| store.read_tile(t)).unwrap());
    }

    #[test]
    fn nodes_from_damaged_or_missing_tiles_are_errors() {
        let mut store = HashMap::new();
        append(&mut store, 0, &leaves(0, 5, 1)).unwrap();
        let nodes = TileNodes(&store);
        assert!(nodes.node(NodeId { level: 0, index: 4 }).is_ok());
        assert!(nodes.node(NodeId { level: 2, index: 0 }).is_ok());
        assert!(matches!(nodes.node(NodeId { level: 0, index: 5 }), Err(TileNodeError::Missing(_))));
        // Node (1, 2) needs leaves 4 and 5; the row has only 5 leaves.
        assert!(matches!(nodes.node(NodeId { level: 1, index: 2 }), Err(TileNodeError::Missing(_))));
        assert!(matches!(nodes.node(NodeId { level: 8, index: 0 }), Err(TileNodeError::Missing(_))));
        assert!(matches!(nodes.node(NodeId { level: 63, index: u64::MAX }), Err(TileNodeError::Missing(_))));
        assert!(matches!(nodes.node(NodeId { level: 200, index: 0 }), Err(TileNodeError::Missing(_))));
        store.insert(tile(0, 0), vec![0u8; 33]);
        let nodes = TileNodes(&store);
        assert!(matches!(nodes.node(NodeId { level: 0, index: 0 }), Err(TileNodeError::Malformed { len: 33, .. })));
    }

    #[test]
    fn built_tiles_know_their_paths() {
        let built = build_tiles(0, &leaves(0, 257, 1), |_| Ok::<_, Infallible>(None)).unwrap();
        let paths: Vec<String> = built.iter().map(|t| t.path().to_string()).collect();
        assert_eq!(paths, ["tile/0/000", "tile/0/001.p/1", "tile/1/000.p/1"]);
        // The level 1 tile's one hash is the root of the first full level 0 tile.
        assert_eq!(built[2].as_bytes(), row_root(built[0].as_bytes()).as_bytes());
        assert_eq!(parse("tile/1/000.p/1"), built[2].path());
    }

    #[test]
    fn entry_offsets_frame_each_entry() {
        let bundle = encode_bundle(&[&b"a"[..], b"", b"bcd"]).unwrap();
        let offsets = entry_offsets(&bundle).unwrap();
        assert_eq!(offsets, vec![0, 3, 5, 10]);
        assert_eq!(&bundle[offsets[2] as usize + 2..offsets[3] as usize], b"bcd");
        assert_eq!(entry_offsets(&bundle[..9]), Err(BundleError::Truncated { position: 2 }));
    }
}
