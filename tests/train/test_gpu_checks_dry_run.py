"""The prepared GPU check script (tests/benchmarks/gpu_checks.py) runs its whole plumbing on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_checks_dry_run_writes_every_step(tmp_path: Path) -> None:
    env = {**os.environ, "OUT": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "tests/benchmarks/gpu_checks.py", "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["ok"], summary
    assert summary["steps"]["nvml"]["torch_cuda"] in (True, False)
    assert set(summary["steps"]) == {"nvml", "single", "channels", "sweep"}
    assert summary["steps"]["channels"]["result"]["channels_last"] is True
    sweep = summary["steps"]["sweep"]["result"]["sweep"]
    assert [p["workers"] for p in sweep["points"]] == [0, 1]
    assert all(p["samples_per_s"] > 0 for p in sweep["points"])
    on_disk = json.loads((tmp_path / "gpu_checks.json").read_text())
    assert on_disk["steps"].keys() == summary["steps"].keys()
