"""One person, one identity: what an identify event links, and which person an event is of.

Seed 001's identify names a person by a site's user id, an email address, or both, from a
visitor (its client id). Each is kept in the form ``JOURNEY_IDENTITY`` stores (an email as its
``eh_`` hash), so the links hold nothing the events do not. An identify links them all to one
user key in :class:`flask_journey.models.IdentityLink`, written in the transaction that stores
the event (:func:`link`):

- the user key of a person is the one an earlier identify gave any of the user id and email
  named (the user id's first), else the user id, else the email;
- an identify naming two people known apart (an email linked to one user key, a user id to
  another) shows they are one: the second is merged into the first;
- a visitor is linked to the first person identified from it; a later identify from the same
  browser naming someone else does not move it.

Events are resolved when reports are read (:data:`RESOLVE_SQL`), not when stored: an event is
the person its user column is linked to, else the user it names itself, else the person its
visitor is linked to. So events stored before the identify that links them are resolved as well
as those after it, and the events keep what they said.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from peewee import Database

from .events import CanonicalEvent
from .models import IdentityLink, utcnow

#: The kinds of identity a link holds.
USER, EMAIL, VISITOR = "user", "email", "visitor"

_HASHED_EMAIL = re.compile(r"^eh_[0-9a-f]{64}$")


def kind_of(stored: str) -> str:
    """Whether a stored user identity is an email's form (its hash, or the address kept as
    ``JOURNEY_IDENTITY = "keep"`` keeps it) or a site's user id.

    A user id that is an email address is stored as an email (:class:`IdentityPolicy`), and
    counts as one.
    """
    return EMAIL if _HASHED_EMAIL.match(stored) or "@" in stored else USER


@dataclass(frozen=True)
class Identify:
    """What one identify event links: the identities it names, from which visitor, when."""

    occurred_at: dt.datetime
    #: ``(kind, stored identity)`` of its user id and email: one or two.
    names: tuple[tuple[str, str], ...]
    visitor: str | None

    @property
    def signed_up(self) -> bool:
        """Whether it names a site's user id (the ``signed_up`` stage)."""
        return any(kind == USER for kind, _ in self.names)


def identify_of(event: CanonicalEvent) -> Identify | None:
    """What a canonical event links, when it is an identify that names someone."""
    if event.type != "identify":
        return None
    names: list[tuple[str, str]] = []
    user = event.user_id
    if user:
        names.append((kind_of(user), user))
    email = (event.properties or {}).get("email")
    if isinstance(email, str) and email and email != user:
        names.append((EMAIL, email))
    if not names:
        return None
    return Identify(event.occurred_at, tuple(names), event.client_id)


def link(db: Database, journey_id: int, identify: Identify) -> None:
    """Record what ``identify`` links in ``journey_id``, in the caller's transaction on ``db``."""
    now = utcnow()
    names = identify.names
    known = _linked(db, journey_id, names)
    keys = _keys(known, names)
    for name in names:
        if name not in known:
            key = keys[0] if keys else names[0][1]
            _insert(db, journey_id, *name, key, identify.occurred_at, now)
    # A transaction committed meanwhile may have linked one of the names (the insert then
    # waited for it and did nothing): read them again, and merge what they show is one.
    known = _linked(db, journey_id, names)
    keys = _keys(known, names)
    user_key = keys[0]
    if len(keys) > 1:
        IdentityLink.update(user_key=user_key).where(
            IdentityLink.journey == journey_id, IdentityLink.user_key.in_(keys[1:])
        ).execute(db)
    earlier = [row.id for row in known.values() if identify.occurred_at < row.linked_at]
    if earlier:
        IdentityLink.update(linked_at=identify.occurred_at).where(
            IdentityLink.id.in_(earlier)
        ).execute(db)
    if identify.visitor:
        _insert(db, journey_id, VISITOR, identify.visitor, user_key, identify.occurred_at, now)
        names += ((VISITOR, identify.visitor),)
    IdentityLink.update(seen_at=now).where(
        IdentityLink.journey == journey_id, _names_clause(names)
    ).execute(db)


def _linked(
    db: Database, journey_id: int, names: tuple[tuple[str, str], ...]
) -> dict[tuple[str, str], Any]:
    """The links of ``names`` there are, by name."""
    query = IdentityLink.select().where(IdentityLink.journey == journey_id, _names_clause(names))
    return {(row.kind, row.alias): row for row in query.execute(db)}


def _keys(known: dict[tuple[str, str], Any], names: tuple[tuple[str, str], ...]) -> list[str]:
    """The user keys ``names`` are linked to, in the order of the names (the user id's first)."""
    return list(dict.fromkeys(known[name].user_key for name in names if name in known))


def forget_before(db: Database, before: dt.datetime, journeys: Any = None) -> int:
    """Delete the links no identify stored since ``before`` names (of ``journeys``, a query of
    journey ids, when given); return how many."""
    old = IdentityLink.delete().where(IdentityLink.seen_at < before)
    if journeys is not None:
        old = old.where(IdentityLink.journey.in_(journeys))
    return old.execute(db)


def _names_clause(names: tuple[tuple[str, str], ...]) -> Any:
    clause = None
    for kind, alias in names:
        one = (IdentityLink.kind == kind) & (IdentityLink.alias == alias)
        clause = one if clause is None else clause | one
    return clause


def _insert(
    db: Database,
    journey_id: int,
    kind: str,
    alias: str,
    user_key: str,
    at: dt.datetime,
    now: dt.datetime,
) -> None:
    """Link ``alias`` unless it is linked already (a visitor's first person stays)."""
    IdentityLink.insert(
        journey=journey_id, kind=kind, alias=alias, user_key=user_key, linked_at=at, seen_at=now
    ).on_conflict_ignore().execute(db)


#: The person an event ``e`` is of, as SQL: :data:`RESOLVE_SQL` is its user key (NULL for
#: nobody known) given the joins :data:`RESOLVE_JOINS` (``{links}``: :data:`LINKS_TABLE`).
RESOLVE_JOINS = (
    " LEFT JOIN {links} lu ON lu.journey_id = e.journey_id AND lu.kind IN ('user', 'email')"
    " AND lu.alias = e.user_id"
    " LEFT JOIN {links} lv ON lv.journey_id = e.journey_id AND lv.kind = 'visitor'"
    " AND lv.alias = e.client_id"
)
RESOLVE_SQL = "COALESCE(lu.user_key, e.user_id, lv.user_key)"
LINKS_TABLE = IdentityLink._meta.table_name
