"""The tests of significance the reports use, written out (no SciPy needed).

Pure functions of counts and values: a two-proportion z-test, Fisher's exact test (where an
expected count is under 5), the Mann-Whitney U test (normal approximation with the tie
correction) and the Benjamini-Hochberg procedure. Every p-value is two-sided.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

#: The false discovery rate Benjamini-Hochberg holds, and the fewest sessions each group needs
#: before a difference may be called significant.
Q = 0.05
MIN_GROUP = 30


def _normal_two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> float:
    """The p-value of the difference between ``x1/n1`` and ``x2/n2`` (pooled z-test)."""
    pooled = (x1 + x2) / (n1 + n2)
    spread = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if spread == 0:
        return 1.0
    return _normal_two_sided((x1 / n1 - x2 / n2) / math.sqrt(spread))


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """The two-sided p-value of Fisher's exact test of the table ``[[a, b], [c, d]]``: the
    probability of every table with the same margins no more likely than this one."""
    row, column, total = a + b, a + c, a + b + c + d

    def log_p(x: int) -> float:
        return (
            math.lgamma(row + 1)
            + math.lgamma(total - row + 1)
            + math.lgamma(column + 1)
            + math.lgamma(total - column + 1)
            - math.lgamma(total + 1)
            - math.lgamma(x + 1)
            - math.lgamma(row - x + 1)
            - math.lgamma(column - x + 1)
            - math.lgamma(total - row - column + x + 1)
        )

    observed = log_p(a)
    low, high = max(0, row + column - total), min(row, column)
    p = sum(math.exp(log_p(x)) for x in range(low, high + 1) if log_p(x) <= observed + 1e-7)
    return min(1.0, p)


def proportions(x1: int, n1: int, x2: int, n2: int) -> tuple[float, str]:
    """The p-value of a difference of two proportions and the test that gave it: Fisher's
    exact test where an expected count is under 5, else the z-test."""
    pooled = (x1 + x2) / (n1 + n2)
    expected = (n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled))
    if min(expected) < 5:
        return fisher_exact(x1, n1 - x1, x2, n2 - x2), "fisher"
    return two_proportion_z(x1, n1, x2, n2), "z"


def mann_whitney(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The p-value of the Mann-Whitney U test that ``xs`` and ``ys`` come from one
    distribution (normal approximation, ties corrected); 1.0 when either is empty."""
    return mann_whitney_counts(Counter(xs), Counter(ys))


def mann_whitney_counts(xs: Mapping[Any, int], ys: Mapping[Any, int]) -> float:
    """:func:`mann_whitney` of two samples given as ``{value: how many times}`` (values of
    durations' buckets are ties)."""
    n1, n2 = sum(xs.values()), sum(ys.values())
    if not n1 or not n2:
        return 1.0
    below = 0
    u = ties = 0.0
    for value in sorted(set(xs) | set(ys)):
        size = xs.get(value, 0) + ys.get(value, 0)
        u += xs.get(value, 0) * (below + (size + 1) / 2)
        ties += size**3 - size
        below += size
    u -= n1 * (n1 + 1) / 2
    total = n1 + n2
    variance = n1 * n2 / 12 * ((total + 1) - ties / (total * (total - 1)))
    if variance <= 0:
        return 1.0
    return _normal_two_sided((u - n1 * n2 / 2) / math.sqrt(variance))


def benjamini_hochberg(p_values: Sequence[float], q: float = Q) -> list[bool]:
    """Which of ``p_values`` are discoveries at false discovery rate ``q``."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    count = len(p_values)
    cutoff = 0
    for rank, index in enumerate(order, 1):
        if p_values[index] <= q * rank / count:
            cutoff = rank
    found = [False] * count
    for index in order[:cutoff]:
        found[index] = True
    return found
