"""Values an installation generates once and keeps in its database (``journey_installation``).

The identity secret keys the email hash when the site sets neither ``JOURNEY_IDENTITY_SECRET``
nor ``SECRET_KEY``: emails are hashed out of the box, and the same address gives the same
hash in every process and after a restart. It is as secret as the database that holds it. The
client salt keys the hash of a client's address that the per-client rate limit counts under.
The dashboard secret signs the dashboard's sign-in cookies, CSRF tokens and share links when the
app has no ``SECRET_KEY``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable

from peewee import Database

from .migrations import create_if_empty
from .models import Installation

IDENTITY_SECRET = "identity_secret"
CLIENT_SALT = "ratelimit_client_salt"
DASHBOARD_SECRET = "dashboard_secret"
APPLICATION_SECRET = "application_secret"


def get_or_create(db: Database, name: str, make: Callable[[], str]) -> str:
    """The value kept under ``name``; ``make()`` it and keep it if there is none yet.

    Processes that ask at the same time all get the value the first of them kept.
    """
    create_if_empty(db)
    with db.atomic():
        Installation.insert(name=name, value=make()).on_conflict_ignore().execute(db)
    return Installation.select(Installation.value).where(Installation.name == name).scalar(db)


def kept(db: Database, name: str) -> Callable[[], bytes]:
    """A function returning the random value kept under ``name``, read once and then kept."""
    value: list[bytes] = []
    lock = threading.Lock()

    def read() -> bytes:
        if not value:
            with lock:
                if not value:
                    value.append(get_or_create(db, name, lambda: secrets.token_hex(32)).encode())
        return value[0]

    return read


def identity_secret_of(db: Database) -> Callable[[], bytes]:
    """The installation's identity secret, as a function (see :func:`kept`)."""
    return kept(db, IDENTITY_SECRET)


def client_salt_of(db: Database) -> Callable[[], bytes]:
    """The salt of the client-address hash the per-client rate limit counts under."""
    return kept(db, CLIENT_SALT)


def application_secret_of(db: Database) -> Callable[[], bytes]:
    """The secret that keys the HMAC of the application ids a site names
    (:mod:`flask_journey.applications`)."""
    return kept(db, APPLICATION_SECRET)


def dashboard_secret_of(db: Database) -> Callable[[], bytes]:
    """The secret the dashboard signs with when the app has no ``SECRET_KEY``."""
    return kept(db, DASHBOARD_SECRET)
