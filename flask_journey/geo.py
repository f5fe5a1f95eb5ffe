"""The country of a visitor's address: looked up in memory at ingest, only its code is kept.

:func:`country` takes an address and a lookup and returns an ISO 3166-1 alpha-2 code (``US``)
or None; the address is neither kept nor logged, and only a public one is looked up. The
lookup is the ``iptocc`` package's (the Regional Internet Registries' data, in the wheel: no
file, no network) or, with ``JOURNEY_GEOIP_DATABASE``, a country MMDB file (DB-IP Lite,
GeoLite2) read with ``maxminddb`` (``pip install flask-journey[geoip]``), whose licence asks
for the :class:`Attribution` the dashboard then shows. Which address is the visitor's is the
wire formats' business (``docs/privacy.md``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import iptocc

#: A lookup: a public address, as text, to its country's code (any case) or None.
Lookup = Callable[[str], Any]


@dataclass(frozen=True)
class Attribution:
    """What a geolocation database's licence asks to show, and where it links."""

    text: str
    url: str


#: The attributions of the free databases, by a word their MMDB ``database_type`` contains.
ATTRIBUTIONS: tuple[tuple[str, Attribution], ...] = (
    ("dbip", Attribution("IP geolocation by DB-IP", "https://db-ip.com")),
    (
        "geolite2",
        Attribution(
            "This product includes GeoLite2 data created by MaxMind, available from "
            "https://www.maxmind.com",
            "https://www.maxmind.com",
        ),
    ),
)


def country(address: str | None, lookup: Lookup | None) -> str | None:
    """The ISO 3166-1 alpha-2 code of the country of ``address``, or None.

    None when there is no lookup or address, when ``address`` is no IP address or not a public
    one (a private, loopback or reserved address has no country), and when the lookup knows
    none or fails. An IPv4 address mapped into IPv6 (``::ffff:8.8.8.8``) is looked up as IPv4.
    """
    if lookup is None or not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global:
        return None
    try:
        code = lookup(str(ip))
    except (ValueError, RuntimeError, OSError):
        # A damaged database file costs the event its country, never the event.
        return None
    if not isinstance(code, str) or len(code) != 2 or not code.isascii() or not code.isalpha():
        return None
    return code.upper()


def registry_lookup(address: str) -> str | None:
    """The country ``iptocc`` gives an address (the Regional Internet Registries' data)."""
    return iptocc.country_code(address)


class MmdbLookup:
    """Countries from a country MMDB file (DB-IP Lite, GeoLite2 or a commercial one).

    Opening it raises ``ValueError`` with what is wrong: ``maxminddb`` not installed, or a
    file that cannot be read as an MMDB.
    """

    def __init__(self, path: str) -> None:
        try:
            import maxminddb
        except ImportError:
            raise ValueError(
                "needs the maxminddb package: pip install 'flask-journey[geoip]'"
            ) from None
        try:
            self._reader = maxminddb.open_database(path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise ValueError(f"cannot read {path} as an MMDB file: {exc}") from None
        #: The file's own ``database_type`` (``DBIP-Country-Lite``, ``GeoLite2-Country``).
        self.database_type: str = self._reader.metadata().database_type

    def __call__(self, address: str) -> str | None:
        record = self._reader.get(address)
        if not isinstance(record, dict):
            return None
        for key in ("country", "registered_country"):
            place = record.get(key)
            code = place.get("iso_code") if isinstance(place, dict) else None
            if isinstance(code, str):
                return code
        return None

    @property
    def attribution(self) -> Attribution | None:
        """What the database's licence asks to show, when it is a free one this module knows."""
        kind = self.database_type.lower().replace("-", "")
        return next((found for word, found in ATTRIBUTIONS if word in kind), None)


@dataclass(frozen=True)
class Geo:
    """An app's country lookup (None: off) and the attribution its database needs, if any."""

    lookup: Lookup | None = None
    attribution: Attribution | None = None

    def country(self, address: str | None) -> str | None:
        """:func:`country` with this app's lookup."""
        return country(address, self.lookup)


#: No lookup: every event's country is None.
NOWHERE = Geo()


def geo(enabled: bool, database: str | None) -> Geo:
    """The lookup ``JOURNEY_GEOIP`` and ``JOURNEY_GEOIP_DATABASE`` ask for.

    Raises ``ValueError`` (see :class:`MmdbLookup`) when the database cannot be used.
    """
    if not enabled:
        return NOWHERE
    if database is None:
        return Geo(registry_lookup)
    lookup = MmdbLookup(database)
    return Geo(lookup, lookup.attribution)
