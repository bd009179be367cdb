"""gs:// (and gcs://) URLs through gcsfs: exclusive creates by a generation precondition (ifGenerationMatch=0).

Credentials come from GOOGLE_APPLICATION_CREDENTIALS or workload identity, read by gcsfs itself; a local
emulator is named by STORAGE_EMULATOR_HOST.
"""

from __future__ import annotations

import os

from hephaestus.platform.storage.backend import ObjectStoreBackend
from hephaestus.platform.storage.registry import register

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
HNS_ENV = "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"
"""gcsfs probes a gRPC/TLS endpoint at import unless told not to; that stalls about 60 s offline."""

os.environ.setdefault(HNS_ENV, "false")  # before gcsfs is imported (fsspec imports it on first gs:// use)


@register
class GCSBackend(ObjectStoreBackend):
    """gcsfs answers a failed generation precondition (HTTP 412) with FileExistsError itself, which the
    default `create_exclusive` takes: no other failure needs recognising."""

    schemes = ("gs", "gcs")
    label = "Google Cloud Storage"
    worker_env_names = (EMULATOR_ENV,)
    worker_env_defaults = {HNS_ENV: "false"}
    secret_env_names = ("GOOGLE_APPLICATION_CREDENTIALS",)

    def storage_options(self, url: str) -> dict[str, object]:
        opts: dict[str, object] = {}
        emulator = os.environ.get(EMULATOR_ENV)
        if emulator:
            opts["endpoint_url"] = emulator if emulator.startswith("http") else f"http://{emulator}"
            opts["token"] = "anon"
        return opts

    def probe_options(self, url: str, timeout: float) -> dict[str, object]:
        return {**super().probe_options(url, timeout), "timeout": timeout}

    def access_denied(self, exc: BaseException) -> bool:
        """gcsfs answers HTTP 403 with a plain OSError("Forbidden: PATH ...") and 401 with an HttpError
        whose `code` is 401 (the base class reads the code)."""
        return super().access_denied(exc) or (type(exc) is OSError and str(exc).startswith("Forbidden"))
