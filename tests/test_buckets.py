"""Medians and percentiles read from log-scale buckets (docs/reports.md, "Which numbers are
exact"): exact for a bucket of one or two durations, never further than a bucket's width from
the exact value, and within 1 % once a median's bucket holds many durations."""

from __future__ import annotations

import math
import random
import statistics

from hypothesis import given
from hypothesis import strategies as st

from flask_journey.reports.rollup import BOUND, Histogram


def _histogram(values: list[float]) -> Histogram:
    found = Histogram()
    for value in values:
        found.add_value(value)
    return found


def _nearest_rank(values: list[float], p: int) -> float:
    return sorted(values)[max(math.ceil(p * len(values) / 100), 1) - 1]


def test_one_or_two_durations_in_a_bucket_are_read_back_exactly() -> None:
    assert _histogram([7.25]).median() == 7.25
    assert _histogram([7.25, 7.9]).percentile(25) == 7.25
    assert _histogram([7.25, 7.9]).percentile(90) == 7.9
    assert _histogram([3.0, 7.25, 7.9]).median() == 7.25


@given(
    st.lists(
        st.floats(min_value=0.001, max_value=10**6, allow_nan=False), min_size=1, max_size=200
    ),
    st.sampled_from([10, 25, 50, 90, 99]),
)
def test_never_further_than_a_bucket_from_the_exact_value(values: list[float], p: int) -> None:
    histogram = _histogram(values)
    for found, exact in (
        (histogram.median(), statistics.median(values)),
        (histogram.percentile(p), _nearest_rank(values, p)),
    ):
        assert found is not None
        assert abs(found - exact) <= BOUND * exact + 0.001


def test_within_one_percent_of_the_exact_median_at_3000_durations() -> None:
    shapes = {
        "lognormal": lambda r: math.exp(r.gauss(3, 1)),
        "one field": lambda r: r.uniform(0.5, 12) + r.uniform(0.2, 3),
        "a step of five fields": lambda r: sum(r.uniform(0.7, 19) for _ in range(5)),
        "a form of sixty fields": lambda r: sum(r.uniform(0.7, 19) for _ in range(60)),
    }
    for name, draw in shapes.items():
        for seed in range(20):
            generator = random.Random(seed)
            values = [round(draw(generator), 3) for _ in range(3000)]
            histogram = _histogram(values)
            for found, exact in (
                (histogram.median(), statistics.median(values)),
                (histogram.percentile(90), _nearest_rank(values, 90)),
            ):
                assert found is not None
                assert abs(found - exact) <= 0.01 * exact, (name, seed)
