"""The tests of significance (flask_journey.reports.stats) and the report's ``behaviour``:
known values, and seeded simulations of many fields (pure statistics, no database)."""

from __future__ import annotations

import random

import pytest

from flask_journey.reports import stats
from flask_journey.reports.forms import Group, behaviour_rows


def test_fishers_exact_test_gives_the_textbook_values():
    assert stats.fisher_exact(3, 1, 1, 3) == pytest.approx(0.4857142857, abs=1e-9)
    assert stats.fisher_exact(8, 2, 1, 5) == pytest.approx(0.0349650350, abs=1e-9)


def test_the_z_test_and_the_rank_test_give_their_known_values():
    # 30 % against 20 % of 100: z = 0.1 / sqrt(0.25 * 0.75 * 2 / 100) = 1.633.
    assert stats.two_proportion_z(30, 100, 20, 100) == pytest.approx(0.1024704349, abs=1e-9)
    xs, ys = [1, 2, 3, 4, 5, 5, 6, 7], [3, 5, 6, 8, 9, 9, 10, 12, 13]
    assert stats.mann_whitney(xs, ys) == pytest.approx(0.0119827580, abs=1e-9)


def test_fisher_is_used_where_an_expected_count_is_under_5():
    assert stats.proportions(3, 40, 0, 40)[1] == "fisher"
    assert stats.proportions(30, 100, 20, 100)[1] == "z"


def test_benjamini_hochberg_keeps_the_false_discovery_rate():
    # Ranked: 0.01 <= 0.05 * 1/4; 0.03 > 0.05 * 2/4; 0.04 > 0.05 * 3/4.
    assert stats.benjamini_hochberg([0.01, 0.04, 0.03, 0.5]) == [True, False, False, False]
    assert stats.benjamini_hochberg([0.01, 0.02, 0.03, 0.04]) == [True] * 4


def _binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


def _fields(rng: random.Random, gap: float) -> dict[tuple[str, str], tuple[Group, Group]]:
    """30 fields of 2,000 sessions: 600 abandoners and 1,400 completers, 20 % of whom return
    and 10 % of whom see an error; the abandoners of the last field return ``gap`` more often."""
    found = {}
    for n in range(30):
        extra = gap if n == 29 else 0.0
        left = Group(600, _binomial(rng, 600, 0.2 + extra), 60)
        done = Group(1400, _binomial(rng, 1400, 0.2), 140)
        found[("details", f"field-{n:02d}")] = (left, done)
    return found


def test_a_planted_10_point_gap_is_flagged_in_90_of_100_runs_and_no_gap_in_5():
    rng = random.Random(19)
    planted = unplanted = 0
    for _ in range(100):
        rows = behaviour_rows(_fields(rng, 0.10))
        planted += rows[29]["returnRate"]["significant"]
        unplanted += rows[0]["returnRate"]["significant"]

    assert planted >= 90
    assert unplanted <= 5


def test_a_group_under_30_sessions_is_never_significant():
    rows = behaviour_rows({("", "email"): (Group(29, 29, 0), Group(1000, 0, 0))})

    assert rows[0]["returnRate"]["pValue"] < 1e-9
    assert rows[0]["returnRate"]["significant"] is False
    assert (rows[0]["stepKey"], rows[0]["abandoners"], rows[0]["completers"]) == (None, 29, 1000)
