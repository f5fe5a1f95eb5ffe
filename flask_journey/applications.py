"""Applications that take several visits: the key a site names an application by.

A site names the application a page belongs to (``journey_embed(..., application=some_id)``,
:func:`flask_journey.api.application_key`); what reaches the browser and the database is only
``ak_`` and an HMAC-SHA256 of the id, keyed by the installation's application secret
(:mod:`flask_journey.installation`): the same id always gives the same key, which cannot be
turned back into the id without the secret. Ingest stores a key only in that shape.
"""

from __future__ import annotations

import hashlib
import hmac
import re

#: What an application key looks like: ``ak_`` and 32 hex digits.
KEY = re.compile(r"ak_[0-9a-f]{32}\Z")


def application_key(secret: bytes, application: object) -> str:
    """The key of the application named ``application`` (any value, as text)."""
    digest = hmac.new(secret, str(application).encode(), hashlib.sha256).hexdigest()
    return "ak_" + digest[:32]
