"""What a journey's allowed origin may be: ``scheme://host[:port]``, and nothing else.

An allowed origin is compared with browsers' ``Origin`` headers and written into the
dashboard's ``Content-Security-Policy`` (``frame-ancestors``). A value that is not exactly an
origin would be a hole in either: ``https://a.example;script-src *`` adds a directive to the
header, ``http://*`` lets any site frame the dashboard. :func:`allowed_origin` accepts only an
``http`` or ``https`` origin with a valid host (a DNS name, IDNA allowed, or an IP address) and
an optional port, and writes it as browsers send it. Pure, without Flask globals.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from .privacy import DEFAULT_PORTS

#: ``scheme://host[:port]``, optionally with a trailing ``/``; the host checked on its own.
_ORIGIN = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|[^/?#@:\[\]\\]+)"
    r"(?::(?P<port>[0-9]{1,5}))?/?"
)
#: A DNS label: letters, digits and inner hyphens, 1 to 63 characters.
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MAX_HOST = 253


def _host(host: str) -> str:
    """``host`` as an origin writes it (IDNA in ASCII, lower case); ValueError if invalid."""
    try:
        if host.startswith("["):
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        if re.fullmatch(r"[0-9.]+", host):
            return str(ipaddress.IPv4Address(host))
    except ValueError:
        raise ValueError("its host is not a valid IP address") from None
    try:
        name = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("its host is not a valid domain name") from None
    if len(name) > _MAX_HOST or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise ValueError("its host is not a valid domain name")
    return name


def allowed_origin(value: object) -> str:
    """``value`` as an allowed origin: ``http(s)://host[:port]`` as a browser sends it.

    Scheme and host are written in lower case, an internationalised host in its ASCII (IDNA)
    form, a default port left out (``HTTPS://Shop.Example:443/`` is ``https://shop.example``).
    Raises :class:`ValueError` saying why for anything else: another scheme, a path, query,
    fragment or user info, a wildcard, spaces or punctuation in the host, a port outside
    1-65535.
    """
    if not isinstance(value, str):
        raise ValueError("it is not a string")
    found = _ORIGIN.fullmatch(value)
    if not found:
        raise ValueError("it is not scheme://host[:port]")
    scheme = found["scheme"].lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError("its scheme is not http or https")
    host = _host(found["host"])
    port = int(found["port"]) if found["port"] else None
    if port is not None and not 0 < port < 65536:
        raise ValueError("its port is not between 1 and 65535")
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def valid_origins(values: Iterable[object]) -> list[str]:
    """The values that are allowed origins, as :func:`allowed_origin` writes them, each once;
    the others left out."""
    kept: list[str] = []
    for value in values:
        try:
            origin = allowed_origin(value)
        except ValueError:
            continue
        if origin not in kept:
            kept.append(origin)
    return kept
