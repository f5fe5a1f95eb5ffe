"""Read-only share links of a journey's dashboard.

A link's token is ``<lookup>.<secret>``, signed with the app's ``SECRET_KEY`` in the URL; only
the SHA-256 of the token is stored (:class:`~flask_journey.models.ShareLink`), so the links
cannot be printed again, only listed and revoked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from itsdangerous import BadSignature, Signer

from ..models import Journey, Organization, ShareLink, utcnow

_DURATION = re.compile(r"^(\d{1,5})([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


class ShareError(LookupError):
    """A share link that shows nothing; ``reason`` is ``invalid``, ``revoked`` or ``expired``."""

    def __init__(self, reason: str, expired_at: dt.datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expired_at = expired_at


def parse_duration(text: str) -> dt.timedelta | None:
    """``30d``, ``12h``, ``2w`` as a duration; ``never`` as None. Raises ValueError."""
    if text == "never":
        return None
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration such as 30d, 12h, 2w or never")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _signer(secret_key: str | bytes) -> Signer:
    return Signer(secret_key, salt="flask-journey-share-link")


def create(journey: Journey, secret_key: str | bytes, expires: dt.timedelta | None) -> str:
    """Create a share link of ``journey`` and return its signed token (for the URL)."""
    lookup = secrets.token_hex(6)
    token = f"{lookup}.{secrets.token_urlsafe(24)}"
    ShareLink.create(
        journey=journey,
        lookup=lookup,
        token_hash=_hash(token),
        expires_at=utcnow() + expires if expires else None,
    )
    return _signer(secret_key).sign(token).decode()


def resolve(signed: str, secret_key: str | bytes) -> Journey:
    """The journey a signed token shows (with its organization); :class:`ShareError` if none."""
    try:
        token = _signer(secret_key).unsign(signed).decode()
    except BadSignature:
        raise ShareError("invalid") from None
    lookup = token.partition(".")[0]
    link = (
        ShareLink.select(ShareLink, Journey, Organization)
        .join(Journey)
        .join(Organization)
        .where(ShareLink.lookup == lookup)
        .first()
    )
    expected = link.token_hash if link else _hash("")
    if not hmac.compare_digest(expected, _hash(token)) or link is None:
        raise ShareError("invalid")
    if link.revoked_at is not None:
        raise ShareError("revoked")
    if link.expires_at is not None and link.expires_at <= utcnow():
        raise ShareError("expired", link.expires_at)
    return link.journey


def links(journey: Journey) -> list[ShareLink]:
    """The journey's share links, newest first, revoked and expired ones included."""
    return list(
        ShareLink.select()
        .where(ShareLink.journey == journey)
        .order_by(ShareLink.created_at.desc(), ShareLink.id.desc())
    )


def revoke(journey: Journey, lookup: str) -> bool:
    """Revoke a share link by its lookup; False when the journey has no such active link."""
    return bool(
        ShareLink.update(revoked_at=utcnow())
        .where(
            ShareLink.journey == journey, ShareLink.lookup == lookup, ShareLink.revoked_at.is_null()
        )
        .execute()
    )


def status(link: ShareLink, now: dt.datetime | None = None) -> str:
    """``active``, ``revoked`` or ``expired``."""
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at is not None and link.expires_at <= (now or utcnow()):
        return "expired"
    return "active"
