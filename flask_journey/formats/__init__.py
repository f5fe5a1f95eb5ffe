"""One module per wire format; each a thin :class:`~._base.WireFormat` over the shared pipeline."""

from __future__ import annotations

from ._base import WireFormat
from .journey import JourneyFormat

#: Format classes by their ``JOURNEY_FORMATS`` name.
FORMATS: dict[str, type[WireFormat]] = {
    cls.name: cls for cls in (JourneyFormat,)
}
