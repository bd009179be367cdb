"""URL text alone: schemes, path components and redaction, without asking any backend."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from hephaestus.platform.errors import InputError

_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

LOCAL_SCHEME = "file"
"""The scheme of plain paths (and of file:// URLs)."""


class UnsafePathComponentError(InputError):
    """An id read from an input file would escape or corrupt a storage path."""


def safe_component(value: object, what: str = "id") -> str:
    """Return `value` as a path component, or refuse it (ids from input files never become paths unchecked)."""
    text = str(value)
    if not _SAFE_COMPONENT.match(text) or text in (".", "..") or ".." in text:
        raise UnsafePathComponentError(
            f"{what} {text!r} is not a safe path component (letters, digits, '.', '_', '-'; max 128; no '..')"
        )
    return text


def scheme_of(url: str) -> str:
    """The URL's scheme as written, lower case; `LOCAL_SCHEME` for plain paths (and Windows drive letters)."""
    scheme = urlsplit(str(url)).scheme.lower()
    return LOCAL_SCHEME if len(scheme) <= 1 else scheme


def redact(url: str) -> str:
    """A URL fit for logs: user info and query strings (signatures, tokens) removed."""
    parts = urlsplit(str(url))
    if not parts.scheme or len(parts.scheme) <= 1:
        return str(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
