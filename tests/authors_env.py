"""A cached virtual environment pinned to the versions the dataset's authors run (their requirements.txt).

Used to check that cubes written here read right with zarr 2.18.3, a reader nobody here wrote. Built
once with pip into ~/.cache/hephaestus (or $HEPHAESTUS_CACHE) and reused by later runs; the test is
skipped with a reason when it cannot be built (no package index).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

AUTHORS_PINS: tuple[str, ...] = (
    "zarr==2.18.3",
    "numcodecs==0.13.1",
    "numpy==1.26.4",
    "xarray==2025.1.2",
    "pandas==2.2.1",
)
"""From Orion-AI-Lab/Hephaestus-minicubes requirements.txt (numpy < 2: zarr 2.18 and numcodecs 0.13)."""


AUTHORS_BENCH_PINS: tuple[str, ...] = (
    "webdataset==0.2.86",
    "albumentations==1.3.0",
    "opencv-python-headless==4.9.0.80",
    "scikit-image==0.22.0",
    "scipy==1.12.0",
    "einops==0.7.0",
    "tqdm==4.66.2",
    "matplotlib==3.8.3",
    "seaborn==0.13.2",
)
"""What the authors' training read path and dataset module import besides AUTHORS_PINS (same
requirements.txt): benchmark-only, never project dependencies. torch comes from AUTHORS_TORCH."""

AUTHORS_TORCH = os.environ.get("HEPHAESTUS_AUTHORS_TORCH", "torch==2.13.0+cpu")
"""Their pin is torch 1.13.1, which has no wheels for this Python; a CPU build (from pip's find-links
where the machine has one) stands in. Override with $HEPHAESTUS_AUTHORS_TORCH."""


def _cached_venv(prefix: str, pins: tuple[str, ...]) -> Path:
    """The python of a venv holding `pins`, built once under the cache and reused (skip if pip fails)."""
    cache = Path(os.environ.get("HEPHAESTUS_CACHE", Path.home() / ".cache" / "hephaestus"))
    key = hashlib.sha256(f"{sys.version_info[:2]} {pins}".encode()).hexdigest()[:12]
    venv = cache / f"{prefix}-{key}"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".building-{uuid.uuid4().hex}"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(tmp)], check=True, capture_output=True)
        done = subprocess.run(
            [str(tmp / "bin" / "python"), "-m", "pip", "install", "--quiet", *pins],
            capture_output=True,
            text=True,
            timeout=1200,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot build the authors' environment: {done.stderr.strip()[-300:]}")
        try:
            tmp.rename(venv)  # atomic: a concurrent builder that lost the race keeps the winner's
        except OSError:
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return python


def _too_new() -> None:
    if sys.version_info >= (3, 13):
        pytest.skip("numpy 1.26 (the authors' pin) has no wheels for Python >= 3.13")


def authors_python() -> Path:
    """The python of the cached authors' environment, built on first use."""
    _too_new()
    return _cached_venv("authors-zarr2", AUTHORS_PINS)


def authors_bench_python() -> Path:
    """The python of the authors' environment plus what their training read path imports (webdataset,
    albumentations 1.3 on OpenCV, torch): the benchmark's reference, built on first use."""
    _too_new()
    return _cached_venv("authors-bench", (*AUTHORS_PINS, *AUTHORS_BENCH_PINS, AUTHORS_TORCH))


READ_SCRIPT = """
import json, sys
import numpy as np
import xarray as xr
import zarr

cube, out = sys.argv[1], sys.argv[2]
arrays = {}
for attempt in range(2):  # garbage from missing chunks would differ between reads
    ds = xr.open_zarr(cube)
    for name in ds.variables:
        values = np.asarray(ds[name].values)
        if values.dtype.kind == "M":
            values = values.astype("datetime64[D]").astype("int64")
        arrays[f"{attempt}/{name}"] = values
np.savez(out, **arrays)
print(json.dumps({"zarr": zarr.__version__, "xarray": xr.__version__, "numpy": np.__version__}))
"""


def read_with_authors_stack(cube: Path, out: Path) -> tuple[dict[str, object], dict[str, object]]:
    """Every variable of `cube` as xarray + zarr 2.18.3 read it (twice), and the versions used."""
    import json

    import numpy as np

    python = authors_python()
    done = subprocess.run(
        [str(python), "-c", READ_SCRIPT, str(cube), str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    versions = json.loads(done.stdout.strip().splitlines()[-1])
    with np.load(out) as npz:
        return {k: npz[k] for k in npz.files}, versions
