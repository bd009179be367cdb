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


def authors_python() -> Path:
    """The python of the cached authors' environment, built on first use."""
    if sys.version_info >= (3, 13):
        pytest.skip("numpy 1.26 (the authors' pin) has no wheels for Python >= 3.13")
    cache = Path(os.environ.get("HEPHAESTUS_CACHE", Path.home() / ".cache" / "hephaestus"))
    key = hashlib.sha256(f"{sys.version_info[:2]} {AUTHORS_PINS}".encode()).hexdigest()[:12]
    venv = cache / f"authors-zarr2-{key}"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".building-{uuid.uuid4().hex}"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(tmp)], check=True, capture_output=True)
        done = subprocess.run(
            [str(tmp / "bin" / "python"), "-m", "pip", "install", "--quiet", *AUTHORS_PINS],
            capture_output=True,
            text=True,
            timeout=600,
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
