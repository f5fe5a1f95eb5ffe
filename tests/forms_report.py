"""The numbers of real forms (issue 19: exits, transitions, optional steps, applications, error
outcomes, completion times, significance) with answers written out, laid over the report of the
known journey (tests/known_journey.py), so that the dashboard's sections are tested against
numbers whose answers are known whatever the report computes itself.

:func:`serve` monkeypatches the report function the dashboard calls so that every journey
report it draws (page, JSON and CSV) carries them. Steps ``start`` (31 sessions), ``details``
(18, optional here) and ``done`` (14):

- the most exits are at ``details``: 9 of its 18 sessions (50.0%), against 7 of 31 at
  ``start``; its exit rate rose from 20.0% to 50.0%, a significant change (p = 0.004);
- the error with the most excess abandons is ``typeMismatch`` on ``email``: 5 sessions, all
  of them left, 3.2 more than the field's error-free sessions predict (the ``patternMismatch``
  on ``phone`` is seen most, 15 sessions, but costs 1.5);
- the completion rate fell from 70.0% to 45.2%, a significant change (p < 0.001);
- ``email`` differs significantly between abandoners and completers, ``phone`` does not;
- 25 applications started, 14 completed, 6 saved, 5 abandoned; 14 completed sessions took a
  quarter within 40 s, half within 95 s, 90% within 30 min.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flask_journey import reports

STEPS: dict[str, dict[str, Any]] = {
    "start": {
        "exits": 7,
        "exitRate": 7 / 31,
        "optional": False,
        "transitions": [
            {"to": "details", "sessions": 18},
            {"to": "(exit)", "sessions": 7},
            {"to": "(other)", "sessions": 6},
        ],
        "exitRateChange": {
            "previous": 0.25,
            "current": 7 / 31,
            "pValue": 0.7,
            "significant": False,
        },
    },
    "details": {
        "exits": 9,
        "exitRate": 0.5,
        "optional": True,
        "transitions": [{"to": "done", "sessions": 9}, {"to": "(exit)", "sessions": 9}],
        "exitRateChange": {"previous": 0.2, "current": 0.5, "pValue": 0.004, "significant": True},
    },
    "done": {
        "exits": 0,
        "exitRate": 0.0,
        "optional": False,
        "transitions": [{"to": "(completed)", "sessions": 14}],
        "exitRateChange": {"previous": 0.0, "current": 0.0, "pValue": 1.0, "significant": False},
    },
}
BEHAVIOUR = {
    "email": {
        "returnRate": {"abandoners": 0.6, "completers": 0.1, "pValue": 0.001},
        "significant": True,
    },
    "phone": {
        "returnRate": {"abandoners": 0.3, "completers": 0.25, "pValue": 0.6},
        "significant": False,
    },
}
#: Not in the order of their excess abandons: the page puts the worst first.
ERROR_OUTCOMES = [
    {
        "fieldKey": "phone",
        "stepKey": "details",
        "errorType": "patternMismatch",
        "sessions": 15,
        "recovered": 11,
        "abandonedAfter": 4,
        "excessAbandons": 1.5,
        "medianSecondsToFix": 21.0,
    },
    {
        "fieldKey": "name",
        "stepKey": "start",
        "errorType": "valueMissing",
        "sessions": 12,
        "recovered": 12,
        "abandonedAfter": 0,
        "excessAbandons": 0,
        "medianSecondsToFix": 8.0,
    },
    {
        "fieldKey": "email",
        "stepKey": "start",
        "errorType": "typeMismatch",
        "sessions": 5,
        "recovered": 0,
        "abandonedAfter": 5,
        "excessAbandons": 3.2,
        "medianSecondsToFix": None,
    },
]
REPORT: dict[str, Any] = {
    "applications": {
        "started": 25,
        "completed": 14,
        "saved": 6,
        "abandoned": 5,
        "completionRate": 0.56,
        "sessionsPerCompletion": 1.4,
        "daysToComplete": {"p50": 1.5, "p90": 6.0},
    },
    "errorOutcomes": ERROR_OUTCOMES,
    "completionTime": {
        "sessions": {
            "p25": 40.0,
            "p50": 95.0,
            "p90": 1800.0,
            "histogram": [
                {"upTo": 30, "count": 0},
                {"upTo": 60, "count": 3},
                {"upTo": 120, "count": 5},
                {"upTo": 300, "count": 4},
                {"upTo": 600, "count": 1},
                {"upTo": 1800, "count": 0},
                {"upTo": 3600, "count": 1},
                {"upTo": None, "count": 0},
            ],
        },
        "applications": {
            "p25": 3600.0,
            "p50": 129600.0,
            "p90": 518400.0,
            "histogram": [
                {"upTo": 3600, "count": 4},
                {"upTo": 86400, "count": 3},
                {"upTo": 604800, "count": 7},
                {"upTo": None, "count": 0},
            ],
        },
    },
    "significance": {
        "completionRate": {
            "previous": 0.7,
            "current": 0.452,
            "pValue": 0.0004,
            "significant": True,
        },
        "startRate": {"previous": 0.9, "current": 0.95, "pValue": 0.4, "significant": False},
    },
}


def augment(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` with the numbers above (a copy; steps and fields by their keys)."""
    out = copy.deepcopy(report)
    for step in out["steps"]:
        step.update(copy.deepcopy(STEPS.get(step["stepKey"], {})))
    for field in out["fields"]:
        field["behaviour"] = copy.deepcopy(BEHAVIOUR.get(field["fieldKey"], {"significant": False}))
    out.update(copy.deepcopy(REPORT))
    return out


def serve(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every journey report the dashboard draws carry the numbers above."""
    computed = reports.report

    def report(*args: Any, **options: Any) -> dict[str, Any]:
        return augment(computed(*args, **options))

    monkeypatch.setattr(reports, "report", report)
