"""The numbers of real forms (issue 19: exits, transitions, optional steps, applications, error
outcomes, completion times, behaviour, changes), under the report's own keys, with answers
written out, laid over the report of the known journey (tests/known_journey.py), so that the
dashboard's sections are tested against numbers whose answers are known whatever the report
computes itself.

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
    },
    "details": {
        "exits": 9,
        "exitRate": 0.5,
        "optional": True,
        "transitions": [{"to": "done", "sessions": 9}, {"to": "(exit)", "sessions": 9}],
    },
    "done": {
        "exits": 0,
        "exitRate": 0.0,
        "optional": False,
        "transitions": [{"to": "(completed)", "sessions": 14}],
    },
}


def _compared(abandoners: Any, completers: Any, p_value: Any, significant: bool) -> dict:
    difference = None if None in (abandoners, completers) else round(abandoners - completers, 4)
    return {
        "abandoners": abandoners,
        "completers": completers,
        "difference": difference,
        "pValue": p_value,
        "test": "z",
        "significant": significant,
    }


#: ``behaviour`` by field key (each row also gets the field's step and the group sizes).
BEHAVIOUR = {
    "email": {
        "returnRate": _compared(0.6, 0.1, 0.001, True),
        "errorRate": _compared(0.4, 0.3, 0.5, False),
        "timeInField": _compared(30.0, 12.0, 0.2, False),
    },
    "phone": {
        "returnRate": _compared(0.3, 0.25, 0.6, False),
        "errorRate": _compared(0.5, 0.4, 0.7, False),
        "timeInField": _compared(20.0, 18.0, 0.9, False),
    },
}


def _change(before: float, now: float, p_value: float, significant: bool, **named: Any) -> dict:
    return {
        **named,
        "now": now,
        "before": before,
        "difference": round(now - before, 4),
        "pValue": p_value,
        "test": "z",
        "significant": significant,
    }


CHANGES = {
    "completionRate": _change(0.7, 0.452, 0.0004, True),
    "exitRates": [
        _change(0.25, 7 / 31, 0.7, False, stepKey="start"),
        _change(0.2, 0.5, 0.004, True, stepKey="details"),
        _change(0.0, 0.0, 1.0, False, stepKey="done"),
    ],
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
                {"upToSeconds": 30, "count": 0},
                {"upToSeconds": 60, "count": 3},
                {"upToSeconds": 120, "count": 5},
                {"upToSeconds": 300, "count": 4},
                {"upToSeconds": 600, "count": 1},
                {"upToSeconds": 1800, "count": 0},
                {"upToSeconds": 3600, "count": 1},
                {"upToSeconds": None, "count": 0},
            ],
        },
        "applications": {
            "p25": 3600.0,
            "p50": 129600.0,
            "p90": 518400.0,
            "histogram": [
                {"upToSeconds": 3600, "count": 4},
                {"upToSeconds": 86400, "count": 3},
                {"upToSeconds": 604800, "count": 7},
                {"upToSeconds": None, "count": 0},
            ],
        },
    },
    "changes": CHANGES,
}


def augment(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` with the numbers above (a copy; steps and fields by their keys)."""
    out = copy.deepcopy(report)
    for step in out["steps"]:
        step.update(copy.deepcopy(STEPS.get(step["stepKey"], {})))
    out.update(copy.deepcopy(REPORT))
    out["behaviour"] = [
        {
            "stepKey": field["stepKey"],
            "fieldKey": field["fieldKey"],
            "abandoners": 12,
            "completers": 14,
            **copy.deepcopy(BEHAVIOUR[field["fieldKey"]]),
        }
        for field in out["fields"]
        if field["fieldKey"] in BEHAVIOUR
    ]
    return out


def serve(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every journey report the dashboard draws carry the numbers above."""
    computed = reports.report

    def report(*args: Any, **options: Any) -> dict[str, Any]:
        return augment(computed(*args, **options))

    monkeypatch.setattr(reports, "report", report)
