"""The Merkle functions against a naive reference written from RFC 9162's definitions, for
every tree size from 1 to 300 and every index; and every kind of bad proof refused."""

from __future__ import annotations

import functools
import hashlib
import random

import pytest

from ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    frontier_positions,
    inclusion_proof,
    leaf_hash,
    range_hash,
    record_leaf,
    root_hash,
    sealed_bytes,
    subtree_of,
    verify_consistency,
    verify_inclusion,
)

SIZES = range(1, 301)
DATA = [f"record-{i}".encode() * (i % 5 + 1) for i in range(300)]


# The reference: the definitions of section 2.1, literally, over D[a:b] of DATA (memoised).
def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.cache
def mth(a: int, b: int) -> bytes:
    if a == b:
        return hashlib.sha256().digest()
    if b - a == 1:
        return hashlib.sha256(b"\x00" + DATA[a]).digest()
    k = split(b - a)
    return hashlib.sha256(b"\x01" + mth(a, a + k) + mth(a + k, b)).digest()


def path(m: int, a: int, b: int) -> list[bytes]:
    if b - a == 1:
        return []
    k = split(b - a)
    if m < k:
        return [*path(m, a, a + k), mth(a + k, b)]
    return [*path(m - k, a + k, b), mth(a, a + k)]


def subproof(m: int, a: int, b: int, whole: bool) -> list[bytes]:
    if m == b - a:
        return [] if whole else [mth(a, b)]
    k = split(b - a)
    if m <= k:
        return [*subproof(m, a, a + k, whole), mth(a + k, b)]
    return [*subproof(m - k, a + k, b, False), mth(a, a + k)]


def inclusion_shape(index: int, size: int, length: int) -> list[str] | None:
    """The sides on which section 2.1.3.2 combines each proof element for this index and
    size, or None where it fails on the index and size alone. Two (index, size) pairs with
    the same shape compute the same root from the same proof: no verifier can tell them
    apart, and a signed checkpoint binds the size to its root."""
    if not 0 <= index < size:
        return None
    fn, sn, sides = index, size - 1, []
    for _ in range(length):
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            sides.append("left")
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sides.append("right")
        fn >>= 1
        sn >>= 1
    return sides if sn == 0 else None


def consistency_shape(size1: int, size2: int, length: int) -> list[str] | None:
    """As inclusion_shape, for section 2.1.4.2 (0 < size1 < size2)."""
    if not 0 < size1 < size2 or length == 0:
        return None
    power = size1 & (size1 - 1) == 0
    fn, sn, sides = size1 - 1, size2 - 1, ["power" if power else "first"]
    while fn & 1:
        fn >>= 1
        sn >>= 1
    for _ in range(length - (0 if power else 1)):
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            sides.append("both")
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sides.append("second")
        fn >>= 1
        sn >>= 1
    return sides if sn == 0 else None


LEAVES = [leaf_hash(d) for d in DATA]
ROOTS = {n: mth(0, n) for n in range(0, 301)}


def flipped(proof: list[bytes], rng: random.Random) -> list[bytes]:
    i = rng.randrange(len(proof))
    bit = 1 << rng.randrange(8)
    changed = bytes([proof[i][0] ^ bit]) + proof[i][1:]
    return [*proof[:i], changed, *proof[i + 1 :]]


def test_root_hash_and_leaf_hash_follow_the_definitions() -> None:
    assert root_hash([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    for n in SIZES:
        assert root_hash(DATA[:n]) == ROOTS[n], n


@pytest.mark.parametrize("block", range(6))
def test_inclusion_for_every_size_and_index(block: int) -> None:
    rng = random.Random(block)
    for n in range(1 + block * 50, 51 + block * 50):
        subtree = mth  # MTH(D[a:b]), memoised
        root = ROOTS[n]
        other_root = ROOTS[n - 1] if n > 1 else ROOTS[n + 1]
        for m in range(n):
            proof = inclusion_proof(m, n, subtree)
            assert proof == path(m, 0, n), (m, n)
            assert verify_inclusion(LEAVES[m], m, n, proof, root), (m, n)
            assert not verify_inclusion(LEAVES[m], m, n, proof, other_root)
            assert not verify_inclusion(leaf_hash(b"other"), m, n, proof, root)
            shape = inclusion_shape(m, n, len(proof))
            assert shape is not None
            for index in (m - 1, m + 1, n, -1):
                same = inclusion_shape(index, n, len(proof)) == shape
                assert verify_inclusion(LEAVES[m], index, n, proof, root) == same, (index, n)
            for size in (n - 1, n + 1, 2 * n, 0):
                same = inclusion_shape(m, size, len(proof)) == shape
                assert verify_inclusion(LEAVES[m], m, size, proof, root) == same, (size, n)
            if proof:
                assert not verify_inclusion(LEAVES[m], m, n, proof[:-1], root)
                assert not verify_inclusion(LEAVES[m], m, n, flipped(proof, rng), root)
            assert not verify_inclusion(
                LEAVES[m], m, n, [*proof, proof[0] if proof else root], root
            )
            assert not verify_inclusion(LEAVES[m], m, n, [root, *proof], root)


@pytest.mark.parametrize("block", range(6))
def test_consistency_for_every_pair_of_sizes(block: int) -> None:
    rng = random.Random(block)
    for n in range(1 + block * 50, 51 + block * 50):
        subtree = mth  # MTH(D[a:b]), memoised
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, subtree)
            assert proof == (subproof(m, 0, n, True) if m < n else []), (m, n)
            assert verify_consistency(m, n, proof, ROOTS[m], ROOTS[n]), (m, n)
            assert not verify_consistency(m, n, proof, ROOTS[m - 1], ROOTS[n]) or m == 1 == n
            assert not verify_consistency(
                m, n, proof, ROOTS[m], ROOTS[n - 1] if n > 1 else EMPTY_ROOT
            )
            if m == n:
                assert not verify_consistency(m, n, [ROOTS[m]], ROOTS[m], ROOTS[n])
                continue
            shape = consistency_shape(m, n, len(proof))
            assert shape is not None
            for size1, size2 in ((m - 1, n), (m + 1, n), (m, n - 1), (m, n + 1), (n, m)):
                if size1 > 0 and size1 != size2:
                    same = consistency_shape(size1, size2, len(proof)) == shape
                    found = verify_consistency(size1, size2, proof, ROOTS[m], ROOTS[n])
                    assert found == same, (size1, size2, m, n)
            assert not verify_consistency(m, n, proof[:-1], ROOTS[m], ROOTS[n])
            assert not verify_consistency(m, n, [*proof, proof[-1]], ROOTS[m], ROOTS[n])
            assert not verify_consistency(m, n, flipped(proof, rng), ROOTS[m], ROOTS[n])


def test_from_the_empty_tree_and_malformed_input() -> None:
    assert verify_consistency(0, 5, [], EMPTY_ROOT, ROOTS[5])
    assert not verify_consistency(0, 5, [ROOTS[5]], EMPTY_ROOT, ROOTS[5])
    assert not verify_consistency(0, 5, [], ROOTS[1], ROOTS[5])
    assert not verify_consistency(3, 2, [], ROOTS[3], ROOTS[2])
    proof = inclusion_proof(3, 10, subtree_of(LEAVES[:10]))
    assert not verify_inclusion(LEAVES[3], 3, 10, [*proof[:-1], b"short"], ROOTS[10])
    assert not verify_inclusion(LEAVES[3], 3, 10, [*proof[:-1], "text"], ROOTS[10])  # type: ignore[list-item]
    assert not verify_inclusion(b"", 3, 10, proof, ROOTS[10])
    assert not verify_consistency(3, 10, [None], ROOTS[3], ROOTS[10])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_proof(10, 10, subtree_of(LEAVES[:10]))


def test_a_frontier_grows_one_leaf_at_a_time_and_stores_every_subtree() -> None:
    frontier = Frontier()
    nodes: dict[tuple[int, int], bytes] = {}
    for n in SIZES:
        for level, index, node in frontier.append(LEAVES[n - 1]):
            nodes[level, index] = node
        assert frontier.root() == ROOTS[n], n
        assert [nodes[p] for p in frontier_positions(n)] == frontier.roots
        again = Frontier(n, [nodes[p] for p in frontier_positions(n)])
        assert again.root() == ROOTS[n]
    stored = lambda start, end: range_hash(start, end, lambda lv, i: nodes[lv, i])  # noqa: E731
    for n in (1, 7, 64, 100, 255, 300):
        for m in range(0, n, 7):
            assert inclusion_proof(m, n, stored) == path(m, 0, n)
        for m in range(1, n, 5):
            assert consistency_proof(m, n, stored) == subproof(m, 0, n, True)
    # Each perfect aligned subtree once: 300 leaves, 150 pairs, 75 fours...
    assert len(nodes) == sum(300 >> level for level in range(9))


def test_a_record_with_no_value_is_sealed_as_the_empty_string() -> None:
    """A tombstone is a leaf like any record: the leaf of the empty string."""
    assert sealed_bytes(None) == b"" and sealed_bytes(b"x") == b"x"
    assert record_leaf(None) == leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert record_leaf(b"{}") == leaf_hash(b"{}")
