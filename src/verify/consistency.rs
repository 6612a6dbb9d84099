//! `consistency`: a receipt's checkpoint, signed with a log's key, held against that log
//! as it stands now (docs/contract.md §10). A log's key signing two trees of one size,
//! or a tree larger than the log now holds, shows a fork or a rollback that no receipt
//! alone can: each tree is sound by itself. The service compares with the tree it holds
//! (`POST /v1/verify`), `aiprov verify --key URL` with the one the service serves; both
//! say what they found through [`Consistency::check`], so the words are the same.

use super::Check;
use crate::log::checkpoint::Checkpoint;
use crate::log::merkle;
use crate::Sha256Digest;

/// How a receipt's checkpoint stands against the log whose key signed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Consistency {
    /// The log holds the receipt's tree: the same root at that size, or a larger tree
    /// that extends it.
    Consistent,
    /// The log holds another tree of that size (another root, or another leaf at the
    /// receipt's index): two trees were published under one identity.
    Equivocation,
    /// The log holds fewer leaves than the receipt's tree: it went back.
    Rollback {
        /// How many leaves the log holds now.
        log_size: u64,
    },
}

impl Consistency {
    /// Compares the receipt's checkpoint `theirs` with the log's own `ours`, both
    /// opened with the log's key, through `proof`, the log's consistency proof from
    /// `theirs.size` to `ours.size` (RFC 9162 §2.1.4). A proof that does not verify is
    /// an equivocation: the log's key signed `ours`, and nothing links it to `theirs`.
    pub(crate) fn judge(theirs: &Checkpoint, ours: &Checkpoint, proof: &[Sha256Digest]) -> Self {
        if theirs.size > ours.size {
            return Self::Rollback { log_size: ours.size };
        }
        match merkle::verify_consistency(theirs.size, ours.size, &theirs.root, &ours.root, proof) {
            Ok(()) => Self::Consistent,
            Err(_) => Self::Equivocation,
        }
    }

    /// The `consistency` check saying so, for the receipt's checkpoint `theirs`.
    pub(crate) fn check(self, theirs: &Checkpoint) -> Check {
        let (origin, size) = (&theirs.origin, theirs.size);
        match self {
            Self::Consistent => Check::new(
                "consistency",
                true,
                "log.consistent",
                format!(
                    "The receipt's checkpoint is of this log: its tree of {size} leaves is the one this log holds."
                ),
            ),
            Self::Equivocation => Check::new(
                "consistency",
                false,
                "log.equivocation",
                format!(
                    "The log has forked: this receipt's checkpoint, signed with the key of the log {origin}, gives the \
                     tree of {size} leaves another root than the one this log holds. Two different trees were \
                     published under one identity; report it to the operator and to the log's witnesses."
                ),
            ),
            Self::Rollback { log_size } => Check::new(
                "consistency",
                false,
                "log.rollback",
                format!(
                    "This receipt's checkpoint, signed with the key of the log {origin}, is of a tree of {size} \
                     leaves, but the log now holds only {log_size}: the log went back (restored from an older \
                     backup), so the receipt's stamp may no longer be in it."
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::merkle::{consistency_proof, MemoryTree};

    fn tree(leaves: &[u8]) -> MemoryTree {
        let mut tree = MemoryTree::new();
        for leaf in leaves {
            tree.push(merkle::leaf_hash(&[*leaf]));
        }
        tree
    }

    fn checkpoint(tree: &MemoryTree) -> Checkpoint {
        Checkpoint { origin: "test.example/log".into(), size: tree.size(), root: tree.root(), extensions: vec![] }
    }

    #[test]
    fn a_prefix_is_consistent_another_tree_is_a_fork_and_a_larger_one_a_rollback() {
        let log = tree(&[0, 1, 2, 3, 4]);
        let ours = checkpoint(&log);
        let prefix = checkpoint(&tree(&[0, 1, 2]));
        let proof = consistency_proof(&log, 3, 5).unwrap();
        assert_eq!(Consistency::judge(&prefix, &ours, &proof), Consistency::Consistent);
        assert_eq!(Consistency::judge(&ours, &ours, &[]), Consistency::Consistent);

        // The same size, another leaf: no proof links the two.
        let forked = checkpoint(&tree(&[0, 1, 9]));
        assert_eq!(Consistency::judge(&forked, &ours, &proof), Consistency::Equivocation);
        assert_eq!(Consistency::judge(&checkpoint(&tree(&[0, 1, 2, 3, 9])), &ours, &[]), Consistency::Equivocation);
        // A proof that is not one, as a log that lies answers it.
        assert_eq!(Consistency::judge(&prefix, &ours, &proof[1..]), Consistency::Equivocation);

        let larger = checkpoint(&tree(&[0, 1, 2, 3, 4, 5]));
        assert_eq!(Consistency::judge(&larger, &ours, &[]), Consistency::Rollback { log_size: 5 });
    }

    #[test]
    fn each_outcome_has_its_code_and_says_what_it_found() {
        let theirs = checkpoint(&tree(&[0, 1]));
        let check = Consistency::Consistent.check(&theirs);
        assert_eq!((check.name.as_str(), check.code.as_str(), check.passed), ("consistency", "log.consistent", true));
        let check = Consistency::Equivocation.check(&theirs);
        assert_eq!((check.code.as_str(), check.passed), ("log.equivocation", false));
        assert!(check.message.starts_with("The log has forked") && check.message.contains("test.example/log"));
        let check = Consistency::Rollback { log_size: 1 }.check(&theirs);
        assert_eq!((check.code.as_str(), check.passed), ("log.rollback", false));
        assert!(check.message.contains("tree of 2 leaves, but the log now holds only 1"), "{}", check.message);
    }
}
