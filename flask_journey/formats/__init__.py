"""One module per wire format; each a thin :class:`~._base.WireFormat` over the shared pipeline."""

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
