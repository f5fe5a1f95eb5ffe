"""flask-journey: self-hosted, privacy-first journey analytics for Flask.

:class:`Journey` is the extension; :mod:`flask_journey.api` is the public Python API
(organizations, journeys, keys, events, reports), used inside an app context.
"""

from __future__ import annotations

from . import api
from .extension import Journey

__version__ = "0.1.0"

__all__ = ["Journey", "__version__", "api"]
