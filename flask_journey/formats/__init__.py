"""One pure adapter per wire format, each a :class:`~._base.WireFormat` subclass in its module.

Adapters map an :class:`~._base.Incoming` request to canonical events and word their replies;
they touch no Flask global. The flow that runs them, and their Flask routes, are
:mod:`flask_journey.ingest`; storage is :mod:`flask_journey.store`.
"""

from __future__ import annotations

from ._base import WireFormat
from .collect import CollectFormat
from .events_api import EventsApiFormat
from .journey import JourneyFormat
from .project import ProjectFormat
from .typed import TypedFormat

#: Format classes by their ``JOURNEY_FORMATS`` name.
FORMATS: dict[str, type[WireFormat]] = {
    cls.name: cls
    for cls in (JourneyFormat, TypedFormat, CollectFormat, EventsApiFormat, ProjectFormat)
}
