"""Training: the paper's models on Ray Train, the benchmark grid on Ray Tune, prediction on cubes.

Public API (imported lazily so that `hephaestus.train.data` stays light):
`RunConfig`, `GridConfig`, `train_run`, `RunResult`, `run_benchmark`, `BenchmarkSummary`, `build_model`;
prediction is `hephaestus.train.predict.predict`.
"""

from __future__ import annotations

from typing import Any

_WHERE = {
    "RunConfig": "config",
    "GridConfig": "config",
    "grid_preset": "config",
    "train_run": "trainer",
    "RunResult": "trainer",
    "run_benchmark": "benchmark",
    "BenchmarkSummary": "benchmark",
    "build_model": "models",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
