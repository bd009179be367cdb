"""GPU utilisation through NVML (the `nvidia-ml-py` package, imported as `pynvml`), sampled in a thread.

Why NVML in-process: spawning `nvidia-smi` ten times a second costs a process (and a CPU core's worth
of time) per sample on the very machine whose loader is being measured; an NVML query is a library
call of microseconds. Without NVML (no package, no driver, no GPU) every reader says so and returns
None: callers report "no GPU" and carry on.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType
from typing import Any


def load_nvml() -> ModuleType | None:
    """The initialised `pynvml` module, or None where NVML is absent (no package, driver or device)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml
    except Exception:  # noqa: BLE001 - any NVML failure means: no GPU to ask
        return None


def device_handle(nvml: ModuleType, index: int = 0) -> Any:
    """NVML's handle of CUDA device `index` as this process sees it: through CUDA_VISIBLE_DEVICES (a
    list of indices or GPU UUIDs, as Ray sets it) where set, NVML counting every GPU of the machine."""
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    if index < len(visible):
        name = visible[index]
        if name.isdigit():
            return nvml.nvmlDeviceGetHandleByIndex(int(name))
        return nvml.nvmlDeviceGetHandleByUUID(name)
    return nvml.nvmlDeviceGetHandleByIndex(index)


def inventory(nvml: ModuleType | None = None) -> dict[str, Any]:
    """What NVML sees: {"nvml": True, "driver", "gpus": [{"name", "memory_gib", "busy_percent"}]}, or
    {"nvml": False} where it is absent."""
    nvml = nvml or load_nvml()
    if nvml is None:
        return {"nvml": False, "gpus": []}
    gpus = []
    for i in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        name = nvml.nvmlDeviceGetName(handle)
        gpus.append(
            {
                "name": name.decode() if isinstance(name, bytes) else str(name),
                "memory_gib": round(nvml.nvmlDeviceGetMemoryInfo(handle).total / 2**30, 1),
                "busy_percent": float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu),
            }
        )
    driver = nvml.nvmlSystemGetDriverVersion()
    return {
        "nvml": True,
        "driver": driver.decode() if isinstance(driver, bytes) else str(driver),
        "gpus": gpus,
    }


class GpuBusy:
    """Samples one GPU's utilisation (% of time a kernel ran, NVML) every `interval` s in a daemon thread
    while the block runs. `mean` is None where NVML is absent (`available` False) or nothing was sampled.
    `nvml`: the module to ask (default: `load_nvml()`; tests pass a stand-in)."""

    def __init__(self, index: int = 0, interval: float = 0.1, nvml: ModuleType | None = None) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._nvml = nvml if nvml is not None else load_nvml()
        self._handle = None
        if self._nvml is not None:
            try:
                self._handle = device_handle(self._nvml, index)
            except Exception:  # noqa: BLE001 - no such device: nothing to sample
                self._handle = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def available(self) -> bool:
        return self._handle is not None

    def read(self) -> float | None:
        """The GPU's utilisation now (%), None without NVML."""
        if self._handle is None:
            return None
        try:
            return float(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - a transient NVML error loses one sample
            return None

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self.read()
            if value is not None:
                self.samples.append(value)
            self._stop.wait(self.interval)

    def __enter__(self) -> GpuBusy:
        self.samples = []
        if self.available:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="gpu-busy", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def mean(self) -> float | None:
        return round(sum(self.samples) / len(self.samples), 1) if self.samples else None
