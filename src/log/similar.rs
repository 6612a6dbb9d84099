//! The similarity index: stamps by the Hamming distance of their ISCC Content-Codes.
//! Every node keeps it in memory, built at start from the backend's [`CodeStore`] and
//! brought up to date before each lookup from what any node appended since, so that it
//! is the same on every node of a shared database.
//!
//! Lookups are exact: every code within the distance asked for is found, none is missed.
//! Two ways, chosen per lookup by the distance:
//!
//! - **Multi-index hashing** (Norouzi et al.), for image codes and small distances. The
//!   first 192 bits of each code are cut into 12 chunks of 16 bits, and each chunk
//!   indexes the codes in a table of its own. Two codes within distance `r` differ in
//!   at most `r / 12` bits (rounded down) in at least one chunk (pigeonhole), so probing
//!   each chunk's table for the values within that many bits of the query's chunk finds
//!   every candidate; each candidate's full distance is then checked. With `r` up to 23,
//!   that is 17 probes a chunk.
//! - **A scan** of every code of the kind, for larger distances (the text threshold),
//!   where probing would touch more codes than it skips. Codes are contiguous words, so
//!   the scan runs at memory speed.
//!
//! Memory per code: 32 bytes of code, 8 bytes of leaf index, and for image codes 48 bytes
//! of tables (12 entries of 4 bytes): 88 bytes, so 10,000,000 image codes take 880 MB.
//! Codes appended after the tables were built wait in a short tail that every lookup
//! scans; the tables are rebuilt when it grows past a sixteenth of them.

use std::sync::{Arc, Mutex, RwLock};

use crate::fingerprint::{CodeKind, ContentCode};
use crate::log::store::CodeStore;
use crate::log::{LogIndex, StoreError};
use crate::memo::lock;

/// Chunks of 16 bits indexed per image code.
const CHUNKS: usize = 12;
/// Codes read from storage per request while catching up.
const PAGE: usize = 100_000;
/// Fewest codes in the tail before a rebuild is considered.
const MIN_TAIL: usize = 1 << 14;

/// A code found, and how far it is from the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Similar {
    pub index: LogIndex,
    pub code: ContentCode,
    pub distance: u32,
}

/// The codes of one kind.
#[derive(Default)]
struct Codes {
    indices: Vec<u64>,
    words: Vec<[u64; 4]>,
    /// Tables over the first `built` codes, when this kind is indexed by chunks.
    tables: Option<Vec<Table>>,
    built: usize,
}

/// One chunk's table: the ids of the built codes, grouped by the chunk's value.
struct Table {
    /// `ids[starts[v] .. starts[v + 1]]` have value `v` in this chunk.
    starts: Vec<u32>,
    ids: Vec<u32>,
}

fn chunk(words: &[u64; 4], c: usize) -> usize {
    ((words[c / 4] >> (48 - 16 * (c % 4))) & 0xffff) as usize
}

fn distance(a: &[u64; 4], b: &[u64; 4]) -> u32 {
    (a[0] ^ b[0]).count_ones() + (a[1] ^ b[1]).count_ones() + (a[2] ^ b[2]).count_ones() + (a[3] ^ b[3]).count_ones()
}

/// Every 16-bit value within `radius` bits of `value` (radius 0 or 1).
fn neighbours(value: usize, radius: u32) -> impl Iterator<Item = usize> {
    std::iter::once(value).chain((0..16).filter(move |_| radius >= 1).map(move |bit| value ^ (1 << bit)))
}

impl Codes {
    fn chunked() -> Self {
        Self { tables: Some(Vec::new()), ..Self::default() }
    }

    fn push(&mut self, index: u64, words: [u64; 4]) {
        // Grown by an eighth at a time, not doubled: at 10,000,000 codes a doubling would
        // leave up to 400 MB allocated and unused.
        if self.words.len() == self.words.capacity() {
            let more = (self.words.len() / 8).max(1024);
            self.words.reserve_exact(more);
            self.indices.reserve_exact(more);
        }
        self.indices.push(index);
        self.words.push(words);
    }

    /// Rebuilds the tables when the tail has grown past a sixteenth of them.
    fn maybe_rebuild(&mut self) {
        let Some(tables) = &mut self.tables else { return };
        let tail = self.words.len() - self.built;
        if tail < MIN_TAIL.max(self.built / 16) {
            return;
        }
        let n = self.words.len();
        // One table at a time, each replacing its old one: the old tables are freed as
        // the new ones are made, so a rebuild needs one table's memory more, not twice all.
        tables.truncate(CHUNKS);
        for c in 0..CHUNKS {
            let mut starts = vec![0u32; (1 << 16) + 1];
            for w in &self.words {
                starts[chunk(w, c) + 1] += 1;
            }
            for v in 0..1 << 16 {
                starts[v + 1] += starts[v];
            }
            let mut next = starts.clone();
            let mut ids = vec![0u32; n];
            for (id, w) in self.words.iter().enumerate() {
                let v = chunk(w, c);
                ids[next[v] as usize] = id as u32;
                next[v] += 1;
            }
            let table = Table { starts, ids };
            match tables.get_mut(c) {
                Some(old) => *old = table,
                None => tables.push(table),
            }
        }
        self.built = n;
    }

    fn find(&self, query: &[u64; 4], max_distance: u32, out: &mut Vec<(usize, u32)>) {
        let radius = max_distance / CHUNKS as u32;
        match &self.tables {
            Some(tables) if radius <= 1 && self.built > 0 => {
                let first = out.len();
                for (c, table) in tables.iter().enumerate() {
                    for v in neighbours(chunk(query, c), radius) {
                        let ids = &table.ids[table.starts[v] as usize..table.starts[v + 1] as usize];
                        for &id in ids {
                            let d = distance(query, &self.words[id as usize]);
                            if d <= max_distance {
                                out.push((id as usize, d));
                            }
                        }
                    }
                }
                // A code near the query in several chunks was met once per chunk.
                out[first..].sort_unstable();
                let mut kept = first;
                for i in first..out.len() {
                    if i == first || out[i] != out[kept - 1] {
                        out[kept] = out[i];
                        kept += 1;
                    }
                }
                out.truncate(kept);
                self.scan(self.built, query, max_distance, out);
            }
            _ => self.scan(0, query, max_distance, out),
        }
    }

    fn scan(&self, from: usize, query: &[u64; 4], max_distance: u32, out: &mut Vec<(usize, u32)>) {
        for (id, w) in self.words.iter().enumerate().skip(from) {
            let d = distance(query, w);
            if d <= max_distance {
                out.push((id, d));
            }
        }
    }
}

struct Indexed {
    /// Leaves `0..covered` are in the index.
    covered: u64,
    text: Codes,
    image: Codes,
}

impl Indexed {
    fn of(&mut self, kind: CodeKind) -> &mut Codes {
        match kind {
            CodeKind::Text => &mut self.text,
            CodeKind::Image => &mut self.image,
        }
    }

    fn get(&self, kind: CodeKind) -> &Codes {
        match kind {
            CodeKind::Text => &self.text,
            CodeKind::Image => &self.image,
        }
    }
}

/// The similarity index of a log.
pub struct SimilarityIndex {
    source: Arc<dyn CodeStore>,
    indexed: RwLock<Indexed>,
    /// One catch-up at a time; lookups go on meanwhile.
    catching_up: Mutex<()>,
}

impl SimilarityIndex {
    pub(crate) fn new(source: Arc<dyn CodeStore>) -> Self {
        Self {
            source,
            indexed: RwLock::new(Indexed { covered: 0, text: Codes::default(), image: Codes::chunked() }),
            catching_up: Mutex::new(()),
        }
    }

    /// An index of `codes` (leaf index and code, in index order) held in memory alone:
    /// for tools that measure lookups without a log (the load tool).
    pub fn from_codes(codes: Vec<(LogIndex, ContentCode)>) -> Self {
        let size = codes.last().map_or(0, |(i, _)| i.0 + 1);
        let source = Arc::new(InMemory(Mutex::new(codes)));
        let index = Self::new(source.clone());
        index.catch_up(size).expect("memory does not fail");
        // Indexed now: the index keeps its own copy, in its own form.
        *lock(&source.0) = Vec::new();
        index
    }

    /// How many codes of each kind are indexed.
    pub fn len(&self, kind: CodeKind) -> usize {
        self.indexed.read().unwrap_or_else(|e| e.into_inner()).get(kind).words.len()
    }

    /// Reads the codes of leaves below `size` that are not indexed yet (at start, all of
    /// them, a page at a time).
    ///
    /// # Errors
    /// On storage failure; what was read before it stays indexed.
    pub(crate) fn catch_up(&self, size: u64) -> Result<(), StoreError> {
        if self.covered() >= size {
            return Ok(());
        }
        let _one = lock(&self.catching_up);
        loop {
            let from = self.covered();
            if from >= size {
                // Once, when caught up: at start, after the last page, not after each.
                let mut indexed = self.indexed.write().unwrap_or_else(|e| e.into_inner());
                for kind in CodeKind::ALL {
                    indexed.of(kind).maybe_rebuild();
                }
                return Ok(());
            }
            let page = self.source.codes(LogIndex(from), size, PAGE)?;
            let full = page.len() == PAGE;
            let mut indexed = self.indexed.write().unwrap_or_else(|e| e.into_inner());
            for (index, code) in &page {
                indexed.of(code.kind()).push(index.0, code.words());
            }
            indexed.covered = if full { page.last().map_or(size, |(i, _)| i.0 + 1) } else { size };
        }
    }

    fn covered(&self) -> u64 {
        self.indexed.read().unwrap_or_else(|e| e.into_inner()).covered
    }

    /// The codes of `query`'s kind within `max_distance` of it, among leaves below
    /// `size`: nearest first, then newest, at most `limit`.
    pub fn find(&self, query: &ContentCode, max_distance: u32, size: u64, limit: usize) -> Vec<Similar> {
        let indexed = self.indexed.read().unwrap_or_else(|e| e.into_inner());
        let codes = indexed.get(query.kind());
        let mut found = Vec::new();
        codes.find(&query.words(), max_distance, &mut found);
        let mut similar: Vec<Similar> = found
            .into_iter()
            .filter(|(id, _)| codes.indices[*id] < size)
            .map(|(id, d)| Similar {
                index: LogIndex(codes.indices[id]),
                code: ContentCode::from_words(query.kind(), codes.words[id]),
                distance: d,
            })
            .collect();
        similar.sort_by(|a, b| a.distance.cmp(&b.distance).then(b.index.cmp(&a.index)));
        similar.truncate(limit);
        similar
    }
}

/// Codes handed over whole ([`SimilarityIndex::from_codes`]).
struct InMemory(Mutex<Vec<(LogIndex, ContentCode)>>);

impl CodeStore for InMemory {
    fn codes(&self, from: LogIndex, below: u64, limit: usize) -> Result<Vec<(LogIndex, ContentCode)>, StoreError> {
        let codes = lock(&self.0);
        let start = codes.partition_point(|(i, _)| *i < from);
        Ok(codes[start..].iter().take_while(|(i, _)| i.0 < below).take(limit).copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes in memory, as a backend would hand them over.
    struct Stored(Mutex<Vec<(LogIndex, ContentCode)>>);

    impl CodeStore for Stored {
        fn codes(&self, from: LogIndex, below: u64, limit: usize) -> Result<Vec<(LogIndex, ContentCode)>, StoreError> {
            Ok(lock(&self.0).iter().filter(|(i, _)| *i >= from && i.0 < below).take(limit).copied().collect())
        }
    }

    /// A deterministic stream of pseudo-random words.
    fn words(seed: &mut u64) -> [u64; 4] {
        std::array::from_fn(|_| {
            *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            *seed ^ (*seed >> 29)
        })
    }

    fn flip(mut w: [u64; 4], bits: &[u32]) -> [u64; 4] {
        for &b in bits {
            w[(b / 64) as usize] ^= 1 << (b % 64);
        }
        w
    }

    #[test]
    fn lookups_find_exactly_the_codes_within_the_distance() {
        let mut seed = 7;
        let mut all = Vec::new();
        let bases: Vec<[u64; 4]> = (0..50).map(|_| words(&mut seed)).collect();
        // Unrelated codes, and near copies of the bases at every distance up to 40, with
        // the flipped bits spread over all chunks or packed into one.
        for i in 0..40_000u64 {
            all.push((LogIndex(i * 2), ContentCode::from_words(CodeKind::Image, words(&mut seed))));
        }
        for (b, base) in bases.iter().enumerate() {
            for d in 0..=40u32 {
                let bits: Vec<u32> = if b % 2 == 0 { (0..d).map(|k| k * 6).collect() } else { (0..d).collect() };
                all.push((
                    LogIndex(100_000 + (b as u64) * 64 + d as u64),
                    ContentCode::from_words(CodeKind::Image, flip(*base, &bits)),
                ));
            }
        }
        let source = Arc::new(Stored(Mutex::new(all.clone())));
        let index = SimilarityIndex::new(source.clone());
        index.catch_up(200_000).unwrap();
        assert_eq!(index.len(CodeKind::Image), all.len());
        for base in &bases {
            let query = ContentCode::from_words(CodeKind::Image, *base);
            for max in [0, 5, 11, 12, 23, 24, 40] {
                let found = index.find(&query, max, u64::MAX, usize::MAX);
                let mut expected: Vec<(u32, LogIndex)> =
                    all.iter().map(|(i, c)| (c.distance(&query), *i)).filter(|(d, _)| *d <= max).collect();
                expected.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
                let got: Vec<(u32, LogIndex)> = found.iter().map(|s| (s.distance, s.index)).collect();
                assert_eq!(got, expected, "max {max}");
            }
        }
        // Appended later: found through the tail, then through rebuilt tables.
        let query = ContentCode::from_words(CodeKind::Image, bases[0]);
        lock(&source.0).push((LogIndex(200_000), ContentCode::from_words(CodeKind::Image, flip(bases[0], &[3, 77]))));
        index.catch_up(200_001).unwrap();
        assert_eq!(index.find(&query, 2, u64::MAX, 100).iter().filter(|s| s.index == LogIndex(200_000)).count(), 1);
        // Leaves past the size asked for are not returned; kinds are never mixed.
        assert!(index.find(&query, 2, 200_000, 100).iter().all(|s| s.index.0 < 200_000));
        assert!(index.find(&ContentCode::from_words(CodeKind::Text, bases[0]), 40, u64::MAX, 100).is_empty());
    }
}
