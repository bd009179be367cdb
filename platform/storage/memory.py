"""memory:// URLs: fsspec's in-process store (tests, scratch). Always reachable; nothing to pass to workers."""

from __future__ import annotations

import threading

from hephaestus.platform.storage.backend import Backend
from hephaestus.platform.storage.registry import register

_CREATE = threading.Lock()
"""fsspec's memory store checks for "x" at open and stores at close: one creator at a time makes it exclusive."""


@register
class MemoryBackend(Backend):
    schemes = ("memory",)
    label = "in-process memory"

    def storage_options(self, url: str) -> dict[str, object]:
        return {}

    def probe(self, url: str, role: str = "source", what: str = "") -> None:
        """Nothing to reach: the store lives in this process."""

    def create_exclusive(self, url: str, data: bytes) -> bool:
        with _CREATE:
            return super().create_exclusive(url, data)
