"""RFC 9162 Merkle trees over the log's records: hashes, proofs and their verification.

Pure functions, independent of Kafka and of any database, so that anyone can check a proof
offline with this file alone (and the standard library).

- A leaf is a record's exact bytes: `leaf_hash(d) = SHA-256(0x00 || d)`. A record with no
  value at all (a Kafka tombstone) is a leaf too, sealed as the empty string (`record_leaf`).
- An interior node: `SHA-256(0x01 || left || right)`.
- The tree over n leaves splits at k, the largest power of two smaller than n (section 2.1.1).
- Inclusion proofs (2.1.3) and consistency proofs (2.1.4) are lists of node hashes; the
  verifiers below follow sections 2.1.3.2 and 2.1.4.2 step by step. Leaf indexes count from 0.
  A malformed proof (wrong length, wrong hash size, wrong index or size) returns False; the
  verifiers never raise.
- Consistency between equal sizes is an empty proof and equal roots; from the empty tree
  (size 0, whose root is SHA-256 of nothing) it is an empty proof. RFC 9162 defines proofs for
  0 < size1 < size2 only; these two cases are the usual reading of the definition.

`Frontier` keeps the roots of the perfect subtrees along a growing tree's right edge, so that
appending a leaf costs O(log n) and gives every newly completed subtree's hash to store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

SubtreeHash = Callable[[int, int], bytes]
"""MTH(D[start:end]) of the tree being proved, for the ranges a proof needs."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def sealed_bytes(value: bytes | None) -> bytes:
    """The bytes a record's leaf is: its value, or the empty string for a record with none."""
    return b"" if value is None else value


def record_leaf(value: bytes | None) -> bytes:
    """The leaf hash of a record with this value (`sealed_bytes`)."""
    return leaf_hash(sealed_bytes(value))


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH over the leaves' raw data (not their hashes)."""
    if not leaves:
        return EMPTY_ROOT
    return _mth([leaf_hash(d) for d in leaves], 0, len(leaves))


def _mth(hashes: Sequence[bytes], start: int, end: int) -> bytes:
    if end - start == 1:
        return hashes[start]
    k = _split(end - start)
    return node_hash(_mth(hashes, start, start + k), _mth(hashes, start + k, end))


def subtree_of(leaf_hashes: Sequence[bytes]) -> SubtreeHash:
    """MTH of ranges of a tree given all its leaf hashes (for tests and small trees)."""
    return lambda start, end: _mth(leaf_hashes, start, end)


def inclusion_proof(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """PATH(index, D[size]) of section 2.1.3.1."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start += k
    proof.reverse()
    return proof


def consistency_proof(size1: int, size2: int, subtree: SubtreeHash) -> list[bytes]:
    """PROOF(size1, D[size2]) of section 2.1.4.1 (empty when size1 is 0 or equal to size2)."""
    if not 0 <= size1 <= size2:
        raise ValueError(f"no consistency proof from {size1} to {size2}")
    if size1 in (0, size2):
        return []
    proof: list[bytes] = []
    start, end, m, whole = 0, size2, size1, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        proof.append(subtree(start, end))
    proof.reverse()
    return proof


def _hashes(items: Sequence[bytes]) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in items)


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Section 2.1.3.2: does the proof put this leaf hash at index in the tree with root?"""
    try:
        if not _hashes([leaf_hash, root, *proof]) or not 0 <= index < tree_size:
            return False
        fn, sn, r = index, tree_size - 1, leaf_hash
        for p in proof:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                r = node_hash(p, r)
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
            else:
                r = node_hash(r, p)
            fn >>= 1
            sn >>= 1
        return sn == 0 and r == root
    except (TypeError, ValueError):
        return False


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    """Section 2.1.4.2: is the tree of size1 with root1 a prefix of the one with root2?"""
    try:
        if not _hashes([root1, root2, *proof]) or not 0 <= size1 <= size2:
            return False
        if size1 == 0:
            return not proof and root1 == EMPTY_ROOT
        if size1 == size2:
            return not proof and root1 == root2
        return bool(proof) and _consistent(size1, size2, list(proof), root1, root2)
    except (TypeError, ValueError):
        return False


def _consistent(size1: int, size2: int, path: list[bytes], root1: bytes, root2: bytes) -> bool:
    """Steps 2 to 7 of section 2.1.4.2, for 0 < size1 < size2 and a non-empty path."""
    if size1 & (size1 - 1) == 0:  # an exact power of two
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


class Frontier:
    """The right edge of a growing tree: one perfect subtree root per set bit of its size."""

    def __init__(self, size: int = 0, roots: Sequence[bytes] = ()) -> None:
        if len(roots) != bin(size).count("1"):
            raise ValueError("a frontier needs one root per set bit of its size")
        self.size = size
        # Largest subtree first, as the bits of size from the top.
        self.roots = list(roots)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; returns every subtree it completes as (level, index, hash),
        the leaf itself first (level 0)."""
        index = self.size
        done = [(0, index, leaf)]
        node, level = leaf, 0
        while (index >> level) & 1:
            node = node_hash(self.roots.pop(), node)
            level += 1
            done.append((level, index >> level, node))
        self.roots.append(node)
        self.size += 1
        return done

    def root(self) -> bytes:
        """MTH of the tree so far: the subtree roots folded from the right."""
        if not self.roots:
            return EMPTY_ROOT
        node = self.roots[-1]
        for left in reversed(self.roots[:-1]):
            node = node_hash(left, node)
        return node


def frontier_positions(size: int) -> list[tuple[int, int]]:
    """(level, index) of the perfect subtrees that make up the frontier of a tree of size."""
    found = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            found.append((level, start >> level))
            start += 1 << level
    return found


def range_hash(start: int, end: int, node: Callable[[int, int], bytes]) -> bytes:
    """MTH(D[start:end]) from stored perfect subtrees `node(level, index)`, for the ranges
    proofs ask about (each starts at a multiple of the largest power of two it spans)."""
    size = end - start
    if size & (size - 1) == 0 and start % size == 0:
        return node(size.bit_length() - 1, start // size)
    k = _split(size)
    return node_hash(range_hash(start, start + k, node), range_hash(start + k, end, node))
