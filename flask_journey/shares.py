"""Read-only share links of a journey's dashboard.

A link's token is ``<lookup>.<secret>``, signed in the URL with the dashboard's signing key
(:mod:`.signing`). Only the SHA-256 of the token is stored
(:class:`~flask_journey.models.ShareLink`), with the secret key of the sign-in that made it (if
any) and a fingerprint of the signing key: the links cannot be printed again, only listed and
revoked. Every link expires, at most ``JOURNEY_SHARE_MAX_DAYS`` after it is made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Collection, Sequence

from itsdangerous import BadSignature, Signer
from peewee import JOIN

from .models import ApiKey, Journey, Organization, ShareLink, utcnow
from .signing import fingerprint

_DURATION = re.compile(r"^(\d{1,5})([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


class ShareError(LookupError):
    """A share link that shows nothing; ``reason`` is ``invalid``, ``unverifiable`` (signed with
    a key the site no longer has), ``revoked`` or ``expired``."""

    def __init__(self, reason: str, expired_at: dt.datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expired_at = expired_at


def parse_duration(text: str, max_days: int) -> dt.timedelta:
    """``30d``, ``12h``, ``2w`` as a duration of at most ``max_days``. Raises ValueError."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(
            f"{text!r} is not a lifetime such as 30d, 12h or 2w "
            f"(share links expire, at most {max_days} days after they are made)"
        )
    duration = dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if duration > dt.timedelta(days=max_days):
        raise ValueError(
            f"{text!r} is longer than the {max_days} days a share link may last "
            "(JOURNEY_SHARE_MAX_DAYS)"
        )
    return duration


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _signer(keys: Sequence[bytes]) -> Signer:
    return Signer(list(keys), salt="flask-journey-share-link")


def create(
    journey: Journey,
    keys: Sequence[bytes],
    expires: dt.timedelta,
    *,
    made_with: ApiKey | int | None = None,
) -> str:
    """Create a share link of ``journey`` and return its token signed with the last of ``keys``
    (for the URL); ``made_with`` is the secret key of the sign-in that asked for it."""
    lookup = secrets.token_hex(6)
    token = f"{lookup}.{secrets.token_urlsafe(24)}"
    ShareLink.create(
        journey=journey,
        lookup=lookup,
        token_hash=_hash(token),
        expires_at=utcnow() + expires,
        api_key=made_with,
        key_fingerprint=fingerprint(keys[-1]),
    )
    return _signer(keys).sign(token).decode()


def _find(token: str) -> ShareLink | None:
    """The link whose token is ``token``, compared in constant time."""
    link = (
        ShareLink.select(ShareLink, Journey, Organization)
        .join(Journey)
        .join(Organization)
        .where(ShareLink.lookup == token.partition(".")[0])
        .first()
    )
    expected = link.token_hash if link else _hash("")
    if not hmac.compare_digest(expected, _hash(token)) or link is None:
        return None
    return link


def resolve(signed: str, keys: Sequence[bytes]) -> Journey:
    """The journey a signed token shows (with its organization); :class:`ShareError` if none."""
    try:
        token = _signer(keys).unsign(signed).decode()
    except BadSignature:
        # A genuine token, signed with a key the site no longer has: the key changed.
        link = _find(signed.rpartition(".")[0])
        current = {fingerprint(key) for key in keys}
        changed = link is not None and link.key_fingerprint not in (None, *current)
        raise ShareError("unverifiable" if changed else "invalid") from None
    link = _find(token)
    if link is None:
        raise ShareError("invalid")
    if link.revoked_at is not None:
        raise ShareError("revoked")
    if link.expires_at is not None and link.expires_at <= utcnow():
        raise ShareError("expired", link.expires_at)
    return link.journey


def links(journey: Journey) -> list[ShareLink]:
    """The journey's share links, newest first, revoked and expired ones included, each with
    the key that made it (``link.api_key``, None when no key did)."""
    return list(
        ShareLink.select(ShareLink, ApiKey)
        .join(ApiKey, on=ShareLink.api_key == ApiKey.id, join_type=JOIN.LEFT_OUTER)
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


def status(
    link: ShareLink, fingerprints: Collection[str] | None = None, now: dt.datetime | None = None
) -> str:
    """``active``, ``revoked``, ``expired``, or ``unverifiable``: signed with a key that is not
    among ``fingerprints`` (the site's signing keys), so it no longer opens."""
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at is not None and link.expires_at <= (now or utcnow()):
        return "expired"
    if (
        fingerprints is not None
        and link.key_fingerprint is not None
        and link.key_fingerprint not in fingerprints
    ):
        return "unverifiable"
    return "active"
