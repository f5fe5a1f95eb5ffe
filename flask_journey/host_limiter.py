"""Living beside a host app's own flask-limiter.

flask-journey counts its limits itself (:mod:`flask_journey.guard`), so a host limiter's limits
that apply to every route (``default_limits``, application limits) would count the journey's
routes a second time: an embed's beacons as page views. :func:`exempt_blueprints` exempts the
journey's blueprints from every ``Limiter`` of the app, whether the host made it before or
after ``init_app``. flask-limiter is not imported: a ``Limiter`` is whatever flask-limiter
keeps in ``app.extensions["limiter"]``, and its public ``exempt(blueprint)`` does the rest.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Flask


def limiters(app: Flask) -> list[Any]:
    """The flask-limiter ``Limiter`` objects ``init_app`` has registered on ``app``.

    flask-limiter keeps a set of them under ``"limiter"``; anything there without an
    ``exempt`` method is not one.
    """
    found = app.extensions.get("limiter") or ()
    if not isinstance(found, (set, frozenset, list, tuple)):
        found = (found,)
    return [limiter for limiter in found if callable(getattr(limiter, "exempt", None))]


def exempt_blueprints(app: Flask, blueprints: Iterable[Blueprint]) -> None:
    """Exempt ``blueprints`` from the host's limiters: those there now, and any made later.

    A limiter made after ``init_app`` checks its limits in a ``before_request`` hook registered
    after this one, so exempting it in this one, on its first request, comes first.
    """
    blueprints = tuple(blueprints)
    exempted: weakref.WeakSet[Any] = weakref.WeakSet()

    def exempt_new_limiters() -> None:
        for limiter in limiters(app):
            if limiter not in exempted:
                for blueprint in blueprints:
                    limiter.exempt(blueprint)
                exempted.add(limiter)

    exempt_new_limiters()
    app.before_request(exempt_new_limiters)
