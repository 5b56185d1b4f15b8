"""Summary statistics the audit reports share."""

from __future__ import annotations

from collections.abc import Sequence


def nearest_rank(ordered: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of sorted, non-empty values: the ceil(share * n)-th."""
    rank = max(0, -(-int(share * 100) * len(ordered) // 100) - 1)
    return ordered[rank]
