"""bench_whole_dataset --quick: the twin of two real frames through synth, ingest, catalog build, a smoke
classifier trained here and a first monitor cycle, each stage measured; the last stdout line is the JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from hephaestus.platform.shared_data import DEFAULT_ANNOTATIONS as ANNOTATIONS

pytestmark = pytest.mark.slow  # several minutes on 2 cores: five `hmc` processes, one of them training

HERE = Path(__file__).resolve().parent


def _annotated_pairs(frames: tuple[str, ...]) -> int:
    """Pairs of the frames counted from the real annotations (one JSON per pair), not from the platform."""
    n = 0
    with tarfile.open(ANNOTATIONS) as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".json"):
                n += json.load(tar.extractfile(member))["frameID"] in frames
    return n


def test_quick_run_measures_every_stage(tmp_path: Path) -> None:
    if not ANNOTATIONS.exists():
        pytest.skip(f"no real annotations at {ANNOTATIONS}")
    import bench_whole_dataset as bench

    done = subprocess.run(
        [sys.executable, str(HERE / "bench_whole_dataset.py"), "--quick", "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["pairs"] == _annotated_pairs(bench.QUICK_FRAMES) == 333
    assert result["checkpoint"] == "smoke (trained here)" and result["train_smoke"]["wall_s"] > 0
    assert list(result["stages"]) == ["synth", "ingest", "catalog", "monitor"]
    for name, s in result["stages"].items():
        assert s["wall_s"] > 0 and s["cpu_s"] > 0, name
        assert s["peak_rss_mb_tree"] > 50, name  # a Python process with numpy loaded, at least
        assert s["mb_on_disk"] > 0 or name == "monitor", name
    ingest = result["stages"]["ingest"]
    assert 0 < ingest["mb_on_disk"] < ingest["mb_content"]  # compressed, fill chunks not written
    assert 0 < result["stages"]["monitor"]["pairs_scored"] <= result["pairs"]
    assert result["work"] is None and not any(tmp_path.iterdir())  # sources and store removed
