//! RFC 6962 / RFC 9162 Merkle tree maths over a pluggable store of node hashes.
//!
//! The store holds the hash of every *perfect* subtree: [`NodeId`] `{level, index}` is the
//! hash of leaves `[index << level, (index + 1) << level)`; level 0 holds leaf hashes.
//! Each append writes at most 64 nodes and every root or proof is built from O(log n)
//! perfect nodes (O(log² n) reads in the worst case of a proof), so nothing here ever
//! walks the whole log. The storage itself (sled, memory) is someone else's job.

use sha2::{Digest, Sha256};

use crate::Sha256Digest;

/// RFC 6962 §2.1 domain separation: a leaf hash is `SHA-256(0x00 || leaf)`.
pub(crate) const LEAF_PREFIX: u8 = 0x00;
/// RFC 6962 §2.1 domain separation: an interior hash is `SHA-256(0x01 || left || right)`.
pub(crate) const NODE_PREFIX: u8 = 0x01;

pub fn leaf_hash(leaf: &[u8]) -> Sha256Digest {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(leaf);
    Sha256Digest::from_hasher(h)
}

pub(crate) fn node_hash(left: &Sha256Digest, right: &Sha256Digest) -> Sha256Digest {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left.as_bytes());
    h.update(right.as_bytes());
    Sha256Digest::from_hasher(h)
}

/// The root of the empty tree: `SHA-256("")`.
pub(crate) fn empty_root() -> Sha256Digest {
    Sha256Digest::of(b"")
}

/// A perfect subtree: leaves `[index << level, (index + 1) << level)`.
// INVARIANT: level < 64, so `1 << level` never overflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    /// Storage key: level byte, then index big-endian, so keys sort by level then index.
    pub fn to_key(&self) -> [u8; 9] {
        let mut k = [0u8; 9];
        k[0] = self.level;
        k[1..].copy_from_slice(&self.index.to_be_bytes());
        k
    }

    pub fn from_key(key: &[u8]) -> Option<NodeId> {
        let (&level, rest) = key.split_first()?;
        let index = u64::from_be_bytes(rest.try_into().ok()?);
        (level < 64).then_some(NodeId { level, index })
    }
}

/// Read access to perfect-subtree hashes.
pub trait NodeSource {
    type Error: std::error::Error + Send + Sync + 'static;
    fn node(&self, id: NodeId) -> Result<Sha256Digest, Self::Error>;
}

/// Why a tree operation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum TreeError<E: std::error::Error + 'static> {
    #[error("index {index} is out of range for a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree sizes {first} and {second} are not in order")]
    BadSizes { first: u64, second: u64 },
    #[error("the tree is full")]
    Full,
    #[error(transparent)]
    Source(E),
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexBeyondSize { index: u64, size: u64 },
    #[error("the first tree size {first} is larger than the second {second}")]
    SizesOutOfOrder { first: u64, second: u64 },
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    #[error("the proof leads to a different root hash")]
    RootMismatch,
}

/// Largest power of two strictly below `n`. Requires `n >= 2`.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The perfect node covering `[start, end)`, if that range is one.
fn perfect(start: u64, end: u64) -> Option<NodeId> {
    let size = end - start;
    (size.is_power_of_two() && start.is_multiple_of(size))
        .then(|| NodeId { level: size.trailing_zeros() as u8, index: start >> size.trailing_zeros() })
}

/// The perfect nodes completed when a leaf with hash `leaf` is appended to a tree of
/// `size_before` leaves: the leaf itself at `(0, size_before)`, then each parent it
/// completes (reading the left siblings, which are stored already).
///
/// # Errors
/// [`TreeError::Full`] at `u64::MAX` leaves; source errors.
pub(crate) fn nodes_completed_by_append<S: NodeSource>(
    src: &S,
    size_before: u64,
    leaf: Sha256Digest,
) -> Result<Vec<(NodeId, Sha256Digest)>, TreeError<S::Error>> {
    if size_before == u64::MAX {
        return Err(TreeError::Full);
    }
    let mut out = vec![(NodeId { level: 0, index: size_before }, leaf)];
    let (mut level, mut index, mut hash) = (0u8, size_before, leaf);
    // A right child (odd index) completes its parent.
    while index & 1 == 1 {
        let left = src.node(NodeId { level, index: index - 1 }).map_err(TreeError::Source)?;
        hash = node_hash(&left, &hash);
        level += 1;
        index >>= 1;
        out.push((NodeId { level, index }, hash));
    }
    Ok(out)
}

/// Hash of the leaf range `[start, end)` as RFC 6962's recursion defines it (MTH of
/// that range), built from perfect nodes. Valid for every range the RFC's recursion
/// produces (ranges whose left parts are aligned), which is all this module asks for.
///
/// # Errors
/// [`TreeError::IndexOutOfRange`] for an empty range; source errors.
pub(crate) fn subtree_hash<S: NodeSource>(src: &S, start: u64, end: u64) -> Result<Sha256Digest, TreeError<S::Error>> {
    if end <= start {
        return Err(TreeError::IndexOutOfRange { index: start, size: end });
    }
    if let Some(id) = perfect(start, end) {
        return src.node(id).map_err(TreeError::Source);
    }
    let k = split_point(end - start);
    let left = subtree_hash(src, start, start + k)?;
    let right = subtree_hash(src, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// Root hash of the first `size` leaves.
///
/// # Errors
/// Source errors (a missing node means the store is damaged or `size` is too big).
pub fn root<S: NodeSource>(src: &S, size: u64) -> Result<Sha256Digest, TreeError<S::Error>> {
    if size == 0 {
        return Ok(empty_root());
    }
    subtree_hash(src, 0, size)
}

/// RFC 9162 §2.1.3.1 inclusion proof (PATH) of leaf `index` in the tree of `size` leaves.
///
/// # Errors
/// [`TreeError::IndexOutOfRange`] unless `index < size`; source errors.
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Sha256Digest>, TreeError<S::Error>> {
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(src, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Sha256Digest>,
) -> Result<(), TreeError<S::Error>> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(src, m, start, start + k, out)?;
        out.push(subtree_hash(src, start + k, end)?);
    } else {
        path(src, m - k, start + k, end, out)?;
        out.push(subtree_hash(src, start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.1 consistency proof between the trees of `first` and `second` leaves.
/// Empty when `first == second` or `first == 0` (an empty tree is a prefix of any tree).
///
/// # Errors
/// [`TreeError::BadSizes`] when `first > second`; source errors.
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    first: u64,
    second: u64,
) -> Result<Vec<Sha256Digest>, TreeError<S::Error>> {
    if first > second {
        return Err(TreeError::BadSizes { first, second });
    }
    let mut proof = Vec::new();
    if first > 0 && first < second {
        subproof(src, first, 0, second, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof<S: NodeSource>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Sha256Digest>,
) -> Result<(), TreeError<S::Error>> {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(subtree_hash(src, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(src, m, start, start + k, whole, out)?;
        out.push(subtree_hash(src, start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, out)?;
        out.push(subtree_hash(src, start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.3.2: verifies that `leaf` is at `index` in the tree of `size` leaves
/// with root `root`. Never panics, whatever the proof.
///
/// # Errors
/// Which way the proof fails.
pub fn verify_inclusion(
    leaf: &Sha256Digest,
    index: u64,
    size: u64,
    proof: &[Sha256Digest],
    root: &Sha256Digest,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: verifies that the tree of `first` leaves with root `first_root`
/// is a prefix of the tree of `second` leaves with root `second_root`. Never panics.
///
/// # Errors
/// Which way the proof fails.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Sha256Digest,
    second_root: &Sha256Digest,
    proof: &[Sha256Digest],
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if first_root == second_root { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    if first == 0 {
        // The empty tree is a prefix of every tree.
        return if proof.is_empty() { Ok(()) } else { Err(ProofError::WrongLength) };
    }
    let mut path: Vec<Sha256Digest> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((c0, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*c0, *c0);
    for c in rest {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *first_root || sr != *second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The right edge of a tree: the roots of the perfect subtrees its leaves split into,
/// largest first (at most 64). Enough to append leaves and to compute the root without
/// reading anything, which is what the log writer needs per batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Frontier {
    size: u64,
    nodes: Vec<Sha256Digest>,
}

impl Frontier {
    /// The frontier of the tree of `size` leaves in `src`: one node read per set bit of `size`.
    ///
    /// # Errors
    /// Source errors.
    pub(crate) fn load<S: NodeSource>(src: &S, size: u64) -> Result<Self, TreeError<S::Error>> {
        let mut nodes = Vec::new();
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            if size & (1 << level) != 0 {
                nodes.push(src.node(NodeId { level, index: start >> level }).map_err(TreeError::Source)?);
                start += 1 << level;
            }
        }
        Ok(Self { size, nodes })
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash.
    ///
    /// # Errors
    /// [`TreeError::Full`] at `u64::MAX` leaves.
    pub(crate) fn push<E: std::error::Error + 'static>(&mut self, leaf: Sha256Digest) -> Result<(), TreeError<E>> {
        if self.size == u64::MAX {
            return Err(TreeError::Full);
        }
        let mut hash = leaf;
        // Each trailing one bit of the old size is a perfect subtree the new leaf completes.
        let mut size = self.size;
        while size & 1 == 1 {
            let Some(left) = self.nodes.pop() else { break };
            hash = node_hash(&left, &hash);
            size >>= 1;
        }
        self.nodes.push(hash);
        self.size += 1;
        Ok(())
    }

    /// The root hash (RFC 6962 MTH) of the tree.
    pub(crate) fn root(&self) -> Sha256Digest {
        let mut nodes = self.nodes.iter().rev();
        let Some(mut acc) = nodes.next().copied() else { return empty_root() };
        for left in nodes {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

/// A node that a [`MemoryTree`] does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("node {0:?} is not in the tree")]
pub struct MissingNode(pub NodeId);

/// An in-memory tree of perfect nodes: `audit` recomputes a log with it, tests use it.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    // levels[l][i] = NodeId { level: l, index: i }
    levels: Vec<Vec<Sha256Digest>>,
}

impl MemoryTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf *hash*.
    pub fn push(&mut self, leaf: Sha256Digest) {
        let size = self.size();
        // Siblings are always present, and a tree in memory never reaches 2^64 leaves.
        let Ok(nodes) = nodes_completed_by_append(self, size, leaf) else {
            return;
        };
        for (id, hash) in nodes {
            let level = id.level as usize;
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(hash);
        }
    }

    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    pub fn root(&self) -> Sha256Digest {
        // Every node a root needs is present by construction.
        root(self, self.size()).unwrap_or_else(|_| empty_root())
    }
}

impl NodeSource for MemoryTree {
    type Error = MissingNode;
    fn node(&self, id: NodeId) -> Result<Sha256Digest, MissingNode> {
        self.levels
            .get(id.level as usize)
            .and_then(|l| l.get(usize::try_from(id.index).ok()?))
            .copied()
            .ok_or(MissingNode(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(hex: &str) -> Sha256Digest {
        Sha256Digest::from_hex(hex).unwrap()
    }

    // The RFC 6962 reference vectors used by Certificate Transparency implementations:
    // google/certificate-transparency python/ct/crypto/merkle_test.py (leaves and roots)
    // and google/certificate-transparency-go merkle/log_verifier_test.go (proofs).
    const LEAVES: [&str; 8] =
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn reference_tree(n: usize) -> MemoryTree {
        let mut t = MemoryTree::new();
        for leaf in &LEAVES[..n] {
            t.push(leaf_hash(&hex::decode(leaf).unwrap()));
        }
        t
    }

    #[test]
    fn reference_roots() {
        assert_eq!(
            MemoryTree::new().root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        for n in 1..=8 {
            assert_eq!(reference_tree(n).root(), h(ROOTS[n - 1]), "size {n}");
        }
    }

    #[test]
    fn reference_inclusion_proofs() {
        let t = reference_tree(8);
        let cases: [(u64, u64, &[&str]); 4] = [
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (index, size, expected) in cases {
            let proof = inclusion_proof(&t, index, size).unwrap();
            let expected: Vec<_> = expected.iter().map(|e| h(e)).collect();
            assert_eq!(proof, expected, "leaf {index} of {size}");
            let leaf = leaf_hash(&hex::decode(LEAVES[index as usize]).unwrap());
            verify_inclusion(&leaf, index, size, &proof, &h(ROOTS[size as usize - 1])).unwrap();
        }
    }

    #[test]
    fn reference_consistency_proofs() {
        let t = reference_tree(8);
        let cases: [(u64, u64, &[&str]); 4] = [
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
            (
                3,
                8,
                &[
                    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
                    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
                    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
        ];
        for (first, second, expected) in cases {
            let proof = consistency_proof(&t, first, second).unwrap();
            let expected: Vec<_> = expected.iter().map(|e| h(e)).collect();
            assert_eq!(proof, expected, "{first} -> {second}");
            verify_consistency(first, second, &h(ROOTS[first as usize - 1]), &h(ROOTS[second as usize - 1]), &proof)
                .unwrap();
        }
    }

    /// MTH straight from the RFC 6962 definition, for comparison.
    fn naive_root(leaves: &[Sha256Digest]) -> Sha256Digest {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    fn leaves(n: usize, seed: u64) -> Vec<Sha256Digest> {
        (0..n).map(|i| leaf_hash(format!("{seed}-{i}").as_bytes())).collect()
    }

    fn tree_of(hashes: &[Sha256Digest]) -> MemoryTree {
        let mut t = MemoryTree::new();
        for l in hashes {
            t.push(*l);
        }
        t
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn every_inclusion_proof_verifies_and_tampering_fails(n in 1usize..300, seed in any::<u64>(), flip in any::<(usize, u8)>()) {
            let ls = leaves(n, seed);
            let t = tree_of(&ls);
            let root = t.root();
            prop_assert_eq!(root, naive_root(&ls));
            for size in [n as u64, (n as u64).div_ceil(2)] {
                let r = root_of_prefix(&t, size);
                for i in 0..size {
                    let proof = inclusion_proof(&t, i, size).unwrap();
                    prop_assert!(verify_inclusion(&ls[i as usize], i, size, &proof, &r).is_ok());
                }
            }
            let i = (flip.0 % n) as u64;
            let mut proof = inclusion_proof(&t, i, n as u64).unwrap();
            if !proof.is_empty() {
                let j = flip.0 % proof.len();
                let mut bytes = *proof[j].as_bytes();
                bytes[usize::from(flip.1) % 32] ^= 1 << (flip.1 % 8);
                proof[j] = Sha256Digest::from_bytes(bytes);
                prop_assert!(verify_inclusion(&ls[i as usize], i, n as u64, &proof, &root).is_err());
                let good = inclusion_proof(&t, i, n as u64).unwrap();
                if n > 1 {
                    let other = (i + 1) % n as u64;
                    prop_assert!(verify_inclusion(&ls[i as usize], other, n as u64, &good, &root).is_err());
                }
                // No claim about a wrong *size*: RFC 9162 paths for sizes 3 and 4 can coincide
                // (leaf 0); the size is bound by the signed checkpoint, not by the proof.
            }
        }

        #[test]
        fn consistency_between_any_two_sizes(n in 1usize..120, seed in any::<u64>()) {
            let ls = leaves(n, seed);
            let t = tree_of(&ls);
            for second in 1..=n as u64 {
                let r2 = root_of_prefix(&t, second);
                for first in 0..=second {
                    let r1 = root_of_prefix(&t, first);
                    let proof = consistency_proof(&t, first, second).unwrap();
                    prop_assert!(verify_consistency(first, second, &r1, &r2, &proof).is_ok(), "{} -> {}", first, second);
                    if first > 0 && first < second {
                        let wrong = leaf_hash(b"not the root");
                        prop_assert!(verify_consistency(first, second, &wrong, &r2, &proof).is_err());
                        prop_assert!(verify_consistency(first, second, &r1, &wrong, &proof).is_err());
                    }
                }
            }
        }
    }

    fn root_of_prefix(t: &MemoryTree, size: u64) -> Sha256Digest {
        root(t, size).unwrap()
    }

    #[test]
    fn appends_write_the_same_nodes_as_the_memory_tree() {
        use std::collections::HashMap;
        struct Map(HashMap<NodeId, Sha256Digest>);
        impl NodeSource for Map {
            type Error = MissingNode;
            fn node(&self, id: NodeId) -> Result<Sha256Digest, MissingNode> {
                self.0.get(&id).copied().ok_or(MissingNode(id))
            }
        }
        let ls = leaves(77, 9);
        let mut map = Map(HashMap::new());
        for (i, l) in ls.iter().enumerate() {
            for (id, hash) in nodes_completed_by_append(&map, i as u64, *l).unwrap() {
                map.0.insert(id, hash);
            }
        }
        let t = tree_of(&ls);
        for (id, hash) in &map.0 {
            assert_eq!(t.node(*id).unwrap(), *hash);
        }
        assert_eq!(root(&map, 77).unwrap(), t.root());
    }

    #[test]
    fn hostile_inputs_never_panic() {
        let t = tree_of(&leaves(5, 1));
        let r = t.root();
        let some = [r; 70];
        for (i, s) in [(u64::MAX, u64::MAX), (u64::MAX - 1, u64::MAX), (0, u64::MAX), (0, 0), (3, 2)] {
            let _ = verify_inclusion(&r, i, s, &some, &r);
            let _ = verify_inclusion(&r, i, s, &[], &r);
            let _ = verify_consistency(i, s, &r, &r, &some);
            let _ = verify_consistency(s, i, &r, &r, &[]);
            let _ = inclusion_proof(&t, i, s);
            let _ = consistency_proof(&t, i, s.min(5));
        }
        assert!(matches!(inclusion_proof(&t, 5, 5), Err(TreeError::IndexOutOfRange { .. })));
        assert!(matches!(consistency_proof(&t, 4, 3), Err(TreeError::BadSizes { .. })));
        assert!(matches!(inclusion_proof(&t, 0, 6), Err(TreeError::Source(_))));
        assert_eq!(verify_consistency(3, 3, &r, &r, &[]), Ok(()));
        assert!(verify_consistency(0, 5, &r, &r, &[]).is_ok());
    }

    #[test]
    fn node_keys_round_trip_and_sort() {
        let a = NodeId { level: 0, index: 300 };
        let b = NodeId { level: 1, index: 2 };
        assert_eq!(NodeId::from_key(&a.to_key()), Some(a));
        assert!(a.to_key() < b.to_key());
        assert_eq!(NodeId::from_key(&[70, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(NodeId::from_key(&[0, 1]), None);
    }

    #[test]
    fn a_frontier_matches_the_tree_it_is_the_edge_of() {
        let mut tree = MemoryTree::new();
        let mut frontier = Frontier::default();
        for i in 0u32..300 {
            assert_eq!(frontier.root(), tree.root(), "size {i}");
            assert_eq!(Frontier::load(&tree, tree.size()).unwrap(), frontier, "loaded at size {i}");
            let leaf = leaf_hash(&i.to_be_bytes());
            tree.push(leaf);
            frontier.push::<MissingNode>(leaf).unwrap();
        }
    }
}
