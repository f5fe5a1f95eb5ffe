"""What may be kept of a request: URL scrubbing, sensitive keys and values, user-agent reduction.

Pure functions without Flask globals; ``docs/privacy.md`` describes the same rules.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ua_parser import parse as parse_user_agent

#: Substrings of a folded key name (lowercase, letters and digits only) that mark it sensitive.
SENSITIVE_KEY_PARTS = (
    "password",
    "passwd",
    "passcode",
    "secret",
    "token",
    "apikey",
    "authorization",
    "creditcard",
    "cardnumber",
    "cardholder",
    "securitycode",
    "ccnum",
    "iban",
    "accountnumber",
    "routingnumber",
    "socialsecurity",
    "taxid",
    "passport",
)
#: Whole words of a key name (``user_ssn``, ``cardCvv``) that mark it sensitive.
SENSITIVE_KEY_WORDS = frozenset({"pin", "ssn", "cvv", "cvc", "pwd", "sin", "auth", "otp"})

_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


def is_sensitive_key(key: str) -> bool:
    """True for keys such as ``password``, ``credit_card``, ``user_ssn`` or ``cardNumber``."""
    words = [w.lower() for w in _WORDS.findall(key)]
    folded = "".join(words)
    return any(part in folded for part in SENSITIVE_KEY_PARTS) or any(
        w in SENSITIVE_KEY_WORDS for w in words
    )


#: Substrings of a folded key name that mark it as naming or locating a person.
PERSONAL_KEY_PARTS = (
    "email",
    "phone",
    "mobilenumber",
    "address",
    "street",
    "postcode",
    "postalcode",
    "zipcode",
    "birth",
    "fullname",
    "firstname",
    "lastname",
    "surname",
    "givenname",
    "familyname",
    "maidenname",
    "middlename",
    "username",
    "displayname",
    "nickname",
)
#: Whole words of a key name (``e_mail``, ``client_ip``) that mark it personal.
PERSONAL_KEY_WORDS = frozenset({"mail", "tel", "zip", "dob", "ip"})


def is_personal_key(key: str) -> bool:
    """True for keys such as ``name``, ``email``, ``phoneNumber``, ``shipping_address``.

    ``name`` alone is personal; a qualified name (``plan_name``, ``companyName``) is not.
    """
    words = [w.lower() for w in _WORDS.findall(key)]
    folded = "".join(words)
    return (
        folded == "name"
        or any(part in folded for part in PERSONAL_KEY_PARTS)
        or any(w in PERSONAL_KEY_WORDS for w in words)
    )


def strip_personal(value: Any) -> Any:
    """``value`` without sensitive or personal keys, in nested objects and arrays too."""
    if isinstance(value, dict):
        return {
            k: strip_personal(v)
            for k, v in value.items()
            if not (is_sensitive_key(k) or is_personal_key(k))
        }
    if isinstance(value, list):
        return [strip_personal(v) for v in value]
    return value


def _scrub_query(query: str, keep_values: bool) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [
        (k, v if keep_values or k.lower().startswith("utm_") else "")
        for k, v in pairs
        if not is_sensitive_key(k)
    ]
    return urlencode(kept)


def scrub_url(url: str | None, keep_query_values: bool = False) -> str | None:
    """Drop credentials and query-string values (``utm_*`` values are kept) from a URL.

    A fragment that carries ``key=value`` pairs (OAuth tokens, say) is scrubbed the same way;
    a route-like fragment (``#/step-2``) is kept.
    """
    if not url:
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
    except ValueError:
        return None
    query = _scrub_query(parts.query, keep_query_values) if parts.query else ""
    fragment = parts.fragment
    if "=" in fragment:
        route, sep, frag_query = fragment.partition("?")
        if not sep:
            route, frag_query = "", fragment
        scrubbed = _scrub_query(frag_query, keep_query_values)
        fragment = f"{route}?{scrubbed}" if route and scrubbed else route or scrubbed
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def url_path(url: str | None) -> str | None:
    """The path of a URL, ``/`` when it has none."""
    if not url:
        return None
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return None


#: The port an origin leaves out when it is its scheme's own.
DEFAULT_PORTS = {"http": 80, "https": 443}


def url_origin(url: str | None) -> str | None:
    """The origin of a URL as a browser writes it, or None when it has none.

    ``scheme://host[:port]``: scheme and host in lower case, no user info, and no port when
    it is the scheme's default (``https://Shop.Example:443/cart`` is ``https://shop.example``).
    """
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if not parts.scheme or not host:
        return None
    scheme = parts.scheme.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def is_origin(value: str) -> bool:
    """Whether ``value`` is exactly an origin as :func:`url_origin` writes it.

    ``Origin`` headers are compared as written: a path, user info, a trailing slash, upper
    case or a default port make a value that is no origin.
    """
    return url_origin(value) == value


#: What an IP address can be made of, checked before asking :mod:`ipaddress`.
_IP_LIKE = re.compile(r"\s*\[?[0-9A-Fa-f:.]+(%[\w.-]+)?\]?(:[0-9]+)?\s*")


def is_ip_address(value: str) -> bool:
    """True for an IPv4 or IPv6 address, bracketed or with a port too (``[::1]:80``)."""
    if not (value.count(".") >= 3 or value.count(":") >= 2) or not _IP_LIKE.fullmatch(value):
        return False
    text = value.strip()
    host, colon, port = text.rpartition(":")
    candidates = [text, text.strip("[]")]
    if colon and port.isdigit():
        candidates.append(host.strip("[]"))
    for candidate in candidates:
        try:
            ipaddress.ip_address(candidate)
        except ValueError:
            continue
        return True
    return False


_USER_AGENT = re.compile(r"Mozilla/\d|[A-Za-z][\w.!+-]*/[\w.+-]+ \(")


def looks_like_user_agent(value: str) -> bool:
    """True for a browser's or an HTTP client's user-agent string: it begins ``Mozilla/5.0``
    or with ``product/version (comment)`` (``Dalvik/2.1.0 (Linux; U; Android 11)``)."""
    return "/" in value and bool(_USER_AGENT.match(value.strip()))


def is_user_agent_key(key: str) -> bool:
    """True for ``userAgent``, ``user_agent``, ``http_user_agent`` or ``ua``."""
    folded = "".join(w.lower() for w in _WORDS.findall(key))
    return folded == "ua" or "useragent" in folded


@lru_cache(maxsize=4096)
def _dropped_key(key: str) -> bool:
    return is_sensitive_key(key) or is_user_agent_key(key)


def _is_url(value: str) -> bool:
    if "://" not in value:
        return False
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return bool(parts.scheme and parts.netloc)


_DROPPED = object()


def _scrub_value(value: Any, keep_query_values: bool) -> Any:
    if isinstance(value, str):
        if is_ip_address(value):
            return _DROPPED
        if _is_url(value):  # before the email test: user info looks like one
            scrubbed = scrub_url(value.strip(), keep_query_values)
            return _DROPPED if scrubbed is None else scrubbed
        if ("@" in value and looks_like_email(value.strip())) or looks_like_user_agent(value):
            return _DROPPED
        return value
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            if _dropped_key(key):
                continue
            item = _scrub_value(item, keep_query_values)
            if item is not _DROPPED:
                kept[key] = item
        return kept
    if isinstance(value, list):
        items = (_scrub_value(item, keep_query_values) for item in value)
        return [item for item in items if item is not _DROPPED]
    return value


def scrub_properties(
    properties: dict[str, Any] | None, keep_query_values: bool = False
) -> dict[str, Any] | None:
    """What is kept of an event's free-form properties, at any depth: None if nothing.

    Keys that are sensitive (:func:`is_sensitive_key`) or name a user agent are removed with
    their values; of the other values, whatever their key, an IP address, an email address and
    a user-agent string are removed, and a URL is scrubbed as :func:`scrub_url` does
    (``keep_query_values`` as there).
    """
    if not properties:
        return None
    return _scrub_value(properties, keep_query_values) or None


@dataclass(frozen=True)
class Device:
    """What is kept of a user agent: never the string itself."""

    device_class: str | None
    browser: str | None
    os: str | None


_TABLETS = ("ipad", "tablet", "kindle", "silk", "playbook")


@lru_cache(maxsize=4096)
def describe_user_agent(user_agent: str | None) -> Device:
    """Reduce a user-agent string to device class (desktop, mobile, tablet, bot), browser, OS."""
    if not user_agent:
        return Device(None, None, None)
    parsed = parse_user_agent(user_agent[:512])
    browser = parsed.user_agent.family if parsed.user_agent else None
    os_family = parsed.os.family if parsed.os else None
    device = parsed.device.family if parsed.device else ""
    lowered = user_agent.lower()
    if device == "Spider" or "bot" in lowered or "spider" in lowered or "crawl" in lowered:
        device_class = "bot"
    elif any(t in lowered for t in _TABLETS) or (
        os_family == "Android" and "mobile" not in lowered
    ):
        device_class = "tablet"
    elif os_family in ("iOS", "Android", "Windows Phone", "BlackBerry OS") or "mobile" in lowered:
        device_class = "mobile"
    else:
        device_class = "desktop"
    return Device(device_class, browser, os_family)


#: What is kept of an email address sent as a user's identity (``JOURNEY_IDENTITY``).
IDENTITY_MODES = ("hash", "drop", "keep")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class IdentityNotConfigured(RuntimeError):
    """Emails are to be hashed, but the site has neither an identity secret nor a SECRET_KEY."""


def looks_like_email(value: str) -> bool:
    """True for ``local@domain`` strings."""
    return bool(_EMAIL.match(value))


@dataclass(frozen=True)
class IdentityPolicy:
    """What is stored of a user's identity: a site's user id, or an email address.

    ``hash`` (the default) stores an email as ``eh_`` and its HMAC-SHA256 under the site's
    secret: the same address always gives the same value, which cannot be reversed without the
    secret. ``drop`` stores nothing of it; ``keep`` stores the address, lowercased. Without a
    ``secret``, ``secret_source()`` gives it when the first email arrives (the installation's
    own secret, kept in its database).
    """

    mode: str = "hash"
    secret: bytes | None = field(default=None, repr=False)
    secret_source: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)

    def email(self, email: str | None) -> str | None:
        """The stored form of an email address, or None when nothing of it is kept."""
        if not email or self.mode == "drop":
            return None
        normal = email.strip().lower()
        if self.mode == "keep":
            return normal
        secret = self.secret or (self.secret_source() if self.secret_source else None)
        if not secret:
            raise IdentityNotConfigured(
                "an email address arrived but JOURNEY_IDENTITY is 'hash' and neither "
                "JOURNEY_IDENTITY_SECRET nor SECRET_KEY is set"
            )
        return "eh_" + hmac.new(secret, normal.encode(), hashlib.sha256).hexdigest()

    def user_id(self, user_id: str | None) -> str | None:
        """The stored form of a site's user id; one that is an email address counts as one."""
        if user_id and looks_like_email(user_id):
            return self.email(user_id)
        return user_id or None
