"""The dashboard: a journey's report in the browser, mounted at ``JOURNEY_DASHBOARD_URL``.

- :mod:`.views`: the blueprint and its pages, module-level views reaching the app's state
  through ``current_app.extensions["journey"]``;
- :mod:`.access`: who may see an organization (the host's hook, a sign-in with a secret key);
- :mod:`.shares`: read-only share links;
- :mod:`.signing`: the keys its cookies, forms and share links are signed with;
- :mod:`.options`: what a page shows, read from its URL;
- :mod:`.charts`: the inline SVG charts' geometry.

``docs/dashboard.md`` describes it.
"""

from __future__ import annotations

from .views import blueprint

__all__ = ["blueprint"]
