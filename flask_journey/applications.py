"""Applications that take several visits: the key a site names an application by.

A site names the application a page belongs to (``journey_embed(..., application=some_id)``,
:func:`flask_journey.api.application_key`); what reaches the browser and the database is only
``ak_`` and an HMAC-SHA256 of the id, keyed by the installation's application secret
(:mod:`flask_journey.installation`): the same id always gives the same key, which cannot be
turned back into the id without the secret. Ingest stores a key only in that shape.

A session that names no application but whose events carry an instance id (the seed-002
``instance_id`` of a form instance) belongs to that instance's application: ``ak_`` and a
SHA-256 of the id (:func:`instance_key`; the instance id is stored with its events already).
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


def instance_key(instance_id: str) -> str:
    """The key of the application an instance id stands for."""
    return "ak_" + hashlib.sha256(b"instance\0" + instance_id.encode()).hexdigest()[:32]
