//! RFC 6962 (RFC 9162 section 2.1) Merkle tree hashing: leaf = SHA-256(0x00 || data), node =
//! SHA-256(0x01 || left || right), the root of n leaves split at the largest power of two
//! below n; inclusion and consistency proofs, and their checks.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The right edge of a tree: the roots of its full subtrees, largest (leftmost) first, one per
/// bit set in its size. Enough to append a leaf and to compute the root, in O(log n).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn append(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self.nodes.pop().expect("one node per bit set in the size");
            hash = node_hash(&left, &hash);
            size >>= 1;
        }
        self.nodes.push(hash);
        self.size += 1;
    }

    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else {
            return empty_root();
        };
        nodes.fold(*last, |right, left| node_hash(left, &right))
    }

    /// The size (8 bytes, big-endian) and the nodes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.size.to_be_bytes().to_vec();
        for n in &self.nodes {
            out.extend_from_slice(n);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Frontier> {
        let (size, rest) = bytes.split_first_chunk::<8>()?;
        let size = u64::from_be_bytes(*size);
        if rest.len() != 32 * size.count_ones() as usize {
            return None;
        }
        let nodes = rest
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32 bytes"))
            .collect();
        Some(Frontier { size, nodes })
    }
}

/// A whole tree in memory: every full subtree's hash, level by level, so any subtree root and
/// any proof costs O(log n) lookups. Built from the leaves in O(n).
pub struct Tree {
    /// `levels[k][i]`: the root of leaves `i * 2^k .. (i + 1) * 2^k`.
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    pub fn new(leaves: Vec<Hash>) -> Tree {
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().expect("a level");
            let up = below
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
            levels.push(up);
        }
        Tree { levels }
    }

    pub fn size(&self) -> u64 {
        self.levels[0].len() as u64
    }

    pub fn leaf(&self, index: u64) -> Option<&Hash> {
        self.levels[0].get(index as usize)
    }

    /// The root of the first `size` leaves.
    pub fn root(&self, size: u64) -> Hash {
        if size == 0 {
            empty_root()
        } else {
            self.range(0, size)
        }
    }

    /// MTH of leaves `start .. start + len`, where `start` is a multiple of the largest power
    /// of two below `len` (as every range of the RFC's recursion is).
    fn range(&self, start: u64, len: u64) -> Hash {
        if len.is_power_of_two() {
            let level = len.trailing_zeros() as usize;
            return self.levels[level][(start >> level) as usize];
        }
        let k = split(len);
        node_hash(&self.range(start, k), &self.range(start + k, len - k))
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves (RFC 6962 2.1.1).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Vec<Hash> {
        assert!(index < size && size <= self.size());
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        proof
    }

    fn path(&self, m: u64, start: u64, n: u64, out: &mut Vec<Hash>) {
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            self.path(m, start, k, out);
            out.push(self.range(start + k, n - k));
        } else {
            self.path(m - k, start + k, n - k, out);
            out.push(self.range(start, k));
        }
    }

    /// The proof that the tree of the first `old` leaves is a prefix of the tree of the first
    /// `new` leaves (RFC 6962 2.1.2).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Vec<Hash> {
        assert!(old <= new && new <= self.size());
        let mut proof = Vec::new();
        if old > 0 && old < new {
            self.subproof(old, 0, new, true, &mut proof);
        }
        proof
    }

    fn subproof(&self, m: u64, start: u64, n: u64, whole: bool, out: &mut Vec<Hash>) {
        if m == n {
            if !whole {
                out.push(self.range(start, n));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, start, k, whole, out);
            out.push(self.range(start + k, n - k));
        } else {
            self.subproof(m - k, start + k, n - k, false, out);
            out.push(self.range(start, k));
        }
    }
}

/// The largest power of two smaller than `n` (n > 1).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Checks an inclusion proof (RFC 9162 2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// Checks a consistency proof between two tree heads (RFC 9162 2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old_size.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == *old_root && sr == *new_root && snode == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The root by the RFC's definition, straight from the leaves.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn the_empty_tree_and_one_leaf_hash_as_the_rfc_says() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // RFC 6962's leaf of the empty string: SHA-256(0x00).
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn frontier_tree_and_definition_agree_for_every_size_to_70() {
        let all = leaves(70);
        let tree = Tree::new(all.clone());
        let mut f = Frontier::default();
        assert_eq!(f.root(), empty_root());
        for n in 1..=70 {
            f.append(all[n - 1]);
            assert_eq!(f.root(), mth(&all[..n]), "size {n}");
            assert_eq!(tree.root(n as u64), f.root(), "size {n}");
            assert_eq!(Frontier::from_bytes(&f.to_bytes()).unwrap(), f);
        }
    }

    #[test]
    fn every_inclusion_and_consistency_proof_to_40_checks_and_a_wrong_one_fails() {
        let all = leaves(40);
        let tree = Tree::new(all.clone());
        for n in 1..=40u64 {
            let root = tree.root(n);
            for m in 0..n {
                let proof = tree.inclusion_proof(m, n);
                assert!(
                    verify_inclusion(m, n, &all[m as usize], &proof, &root),
                    "{m} in {n}"
                );
                assert!(!verify_inclusion(m, n, &leaf_hash(b"x"), &proof, &root));
            }
            for m in 0..=n {
                let proof = tree.consistency_proof(m, n);
                assert!(
                    verify_consistency(m, n, &tree.root(m), &root, &proof),
                    "{m} -> {n}"
                );
                if m > 0 && m < n {
                    assert!(!verify_consistency(m, n, &leaf_hash(b"x"), &root, &proof));
                }
            }
        }
    }
}
