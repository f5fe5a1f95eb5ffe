"""flask-journey: self-hosted, privacy-first journey analytics for Flask."""

from __future__ import annotations

from .extension import Journey

__version__ = "0.1.0"

__all__ = ["Journey", "__version__"]
