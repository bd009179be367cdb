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
    try:
        parts = urlsplit(str(url))
    except ValueError:  # an unparsable netloc (say, a bad IPv6 literal): keep no part of it
        return _USERINFO.sub("", str(url)).split("?", 1)[0]
    if not parts.scheme or len(parts.scheme) <= 1:
        return str(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]  # host[:port] as written, without user info
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()\[\]{},;]+")
_USERINFO = re.compile(r"(?<=://)[^/@\s'\"]*@")


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted (see `redact`): what error messages and logs may show."""

    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        bare = url.rstrip(".:!?")  # sentence punctuation after a URL is not part of it
        return redact(bare) + url[len(bare) :]

    return _URL_IN_TEXT.sub(one, str(text))
