"""Refused requests and events: each logged once, and counted per journey, day and reason.

A refusal is logged with its wire format, reason and tenant, and the message the client got;
never the body. The counts (``journey_refusal``) are what ``flask journey stats`` shows, so that
an operator sees what fire-and-forget clients (``sendBeacon``) never report.
"""

from __future__ import annotations

import logging

from peewee import EXCLUDED, Database, DatabaseError, InterfaceError

from .events import Tenant
from .models import RefusalCount, utcnow
from .outcomes import (
    BodyTooLarge,
    InsufficientScope,
    InvalidRequest,
    OriginRejected,
    RateLimited,
    Refusal,
    TenantNotFound,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("flask_journey.refusals")

#: The reason recorded for each outcome; ``invalid_event`` is one event of a batch refused.
REASONS: tuple[tuple[type[Refusal], str], ...] = (
    (BodyTooLarge, "too_large"),
    (InvalidRequest, "invalid"),
    (Unauthenticated, "unauthenticated"),
    (InsufficientScope, "scope"),
    (TenantNotFound, "not_found"),
    (OriginRejected, "origin"),
    (RateLimited, "rate_limit"),
    (Unavailable, "unavailable"),
)
INVALID_EVENT = "invalid_event"


def reason_of(outcome: Refusal) -> str:
    """The short name a refusal is logged and counted under."""
    if isinstance(outcome, RateLimited) and outcome.quota:
        return "quota"
    return next((reason for kind, reason in REASONS if isinstance(outcome, kind)), "refused")


def record(
    db: Database,
    tenant: Tenant | None,
    wire_format: str,
    reason: str,
    message: str,
    *,
    count: int = 1,
    exc_info: BaseException | None = None,
) -> None:
    """Log a refusal of ``count`` events (or of a request) and add it to its journey's counts.

    A refusal before the journey is known (a malformed body, an unknown key) is logged only.
    Counting never fails the request: a database error is logged instead.
    """
    where = f"{tenant.org.slug}/{tenant.journey.slug}" if tenant else "unknown"
    what = f"{count} event{'s' if count != 1 else ''}" if reason == INVALID_EVENT else "a request"
    log.warning(
        "flask-journey refused %s: format=%s reason=%s tenant=%s: %s",
        what,
        wire_format,
        reason,
        where,
        message,
        exc_info=exc_info,
    )
    if tenant is None or reason == "unavailable":
        return
    query = RefusalCount.insert(
        journey=tenant.journey.id,
        day=utcnow().strftime("%Y-%m-%d"),
        wire_format=wire_format,
        reason=reason,
        count=count,
    ).on_conflict(
        conflict_target=[
            RefusalCount.journey,
            RefusalCount.day,
            RefusalCount.wire_format,
            RefusalCount.reason,
        ],
        update={RefusalCount.count: RefusalCount.count + EXCLUDED.count},
    )
    try:
        with db.atomic():
            db.execute(query)
    except (DatabaseError, InterfaceError) as exc:
        log.warning("flask-journey could not count a refusal: %s", exc)
