"""Values an installation generates once and keeps in its database (``journey_installation``).

The identity secret keys the email hash when the site sets neither ``JOURNEY_IDENTITY_SECRET``
nor ``SECRET_KEY``: emails are hashed out of the box, and the same address gives the same
hash in every process and after a restart. It is as secret as the database that holds it.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable

from peewee import Database

from .migrations import create_if_empty
from .models import Installation

IDENTITY_SECRET = "identity_secret"


def get_or_create(db: Database, name: str, make: Callable[[], str]) -> str:
    """The value kept under ``name``; ``make()`` it and keep it if there is none yet.

    Processes that ask at the same time all get the value the first of them kept.
    """
    with db.bind_ctx([Installation]):
        create_if_empty(db)
        with db.atomic():
            db.execute(
                Installation.insert(name=name, value=make()).on_conflict_ignore()
            )
        return Installation.select(Installation.value).where(Installation.name == name).scalar()


def identity_secret_of(db: Database) -> Callable[[], bytes]:
    """A function returning the installation's identity secret, read once and then kept."""
    kept: list[bytes] = []
    lock = threading.Lock()

    def secret() -> bytes:
        if not kept:
            with lock:
                if not kept:
                    value = get_or_create(db, IDENTITY_SECRET, lambda: secrets.token_hex(32))
                    kept.append(value.encode())
        return kept[0]

    return secret
