"""Backends by URL scheme: `backend_for(url)`, and what the platform collects from all of them.

The backends of this package register themselves when their module is imported; `load_backends`
imports every module of the package once, so a new scheme is a new module here and nothing else.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from pathlib import Path
from typing import TypeVar

from hephaestus.platform.storage.backend import Backend, StorageURLError
from hephaestus.platform.storage.urls import redact, scheme_of

B = TypeVar("B", bound=type[Backend])

_BACKENDS: dict[str, Backend] = {}
_LOADED = False


def register(cls: B) -> B:
    """Class decorator: serve the schemes of `cls` with one instance of it (a later one replaces an earlier)."""
    backend = cls()
    for scheme in cls.schemes:
        _BACKENDS[scheme] = backend
    return cls


def unregister(cls: type[Backend]) -> None:
    """Stop serving the schemes of `cls` (a test's toy backend)."""
    for scheme in cls.schemes:
        if isinstance(_BACKENDS.get(scheme), cls):
            del _BACKENDS[scheme]


def load_backends() -> None:
    """Import every module of this package once: each backend module registers its class."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    package = __name__.rsplit(".", 1)[0]
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        importlib.import_module(f"{package}.{info.name}")


def backends() -> tuple[Backend, ...]:
    """Every registered backend, once each."""
    load_backends()
    return tuple(dict.fromkeys(_BACKENDS.values()))


def schemes() -> tuple[str, ...]:
    """Every URL scheme served."""
    load_backends()
    return tuple(_BACKENDS)


def backend_for(url: str | os.PathLike[str]) -> Backend:
    """The backend of a URL's scheme; a one-line StorageURLError for a scheme none serves."""
    load_backends()
    text = os.fspath(url)
    scheme = scheme_of(text)
    try:
        return _BACKENDS[scheme]
    except KeyError:
        remote = ", ".join(f"{s}://" for s, b in _BACKENDS.items() if not b.is_local)
        raise StorageURLError(
            f"{redact(text)}: unknown storage scheme {scheme!r} (use a local path or {remote})"
        ) from None


def protocol_of(url: str) -> str:
    """The fsspec protocol of a URL (the backend's, so aliases such as gcs:// answer gs); the scheme as
    written when no backend serves it."""
    load_backends()
    scheme = scheme_of(str(url))
    backend = _BACKENDS.get(scheme)
    return backend.protocol if backend else scheme


def is_local(url: str) -> bool:
    """A path on this machine (a backend with `is_local`)."""
    load_backends()
    backend = _BACKENDS.get(scheme_of(str(url)))
    return bool(backend and backend.is_local)


def normalize(url: str | os.PathLike[str]) -> str:
    """Absolute path for local URLs, unchanged remote URLs, no trailing slash."""
    text = os.fspath(url)
    if is_local(text):
        text = text.removeprefix("file://")
        return str(Path(text).expanduser().resolve())
    return text.rstrip("/")


def join(url: str, *parts: str) -> str:
    """Join path parts onto a URL ('/' on object stores, os rules locally)."""
    base = normalize(url)
    if is_local(base):
        return str(Path(base, *parts))
    clean = [p.strip("/") for p in parts if p]
    return "/".join([base, *clean])


def worker_env_names() -> tuple[str, ...]:
    """The non-secret variables Ray workers need, of every backend (no secret among them)."""
    secret = set(secret_env_names())
    names = (n for b in backends() for n in (*b.worker_env_names, *b.worker_env_defaults))
    return tuple(n for n in dict.fromkeys(names) if n not in secret)


def worker_env_defaults() -> dict[str, str]:
    """Values every platform process and worker gets when its environment names none, of every backend."""
    return {k: v for b in backends() for k, v in b.worker_env_defaults.items()}


def secret_env_names() -> tuple[str, ...]:
    """The credential variables of every backend: stripped from anything Ray logs."""
    return tuple(dict.fromkeys(n for b in backends() for n in b.secret_env_names))
