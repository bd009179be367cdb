"""The README's short tour runs as written (relative paths included), so the README cannot drift from the CLI.

The ```bash block under "## A short tour" is read from README.md and run line by line in a fresh folder,
with only the frame size made smaller and the smoke grid cut to its segmentation model (4 runs instead of 8:
each run costs ~35 s of Ray Train start-up on 2 cores; `hmc predict` needs that model's checkpoint, and the
classification runs are trained by tests/train). Every command must succeed, and nothing from Ray's internals
(worker prefixes, core_worker/raylet lines, Train's report dumps, Tune's TensorBoard hints) may reach
the terminal: those go to the log file the commands name.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
TINY = {"--size 256 256": "--size 96 96", "--grid smoke ": "--grid smoke --models unet "}
RAY_INTERNALS = (
    "(RayTrainWorker",
    "(TrainController",
    "(PlacementGroupCleaner",
    "(ImplicitFunc",
    "(raylet)",
    "core_worker.cc",
    "PreemptionWatcher",
    "Reporting training result",
    "TrainingReport(",
    "tensorboard --logdir",
    "View detailed results here",
    "Trial status",
)


def tour_commands(readme: Path = README) -> list[str]:
    """The shell lines of the tour's bash block, comments stripped, in order."""
    text = readme.read_text(encoding="utf-8")
    section = text.split("## A short tour", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README: no ```bash block under '## A short tour'"
    lines = []
    for raw in block.group(1).splitlines():
        line = raw.split("  #", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def ray_internal_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if any(marker in line for marker in RAY_INTERNALS)]


def test_tour_block_is_found_and_uses_the_cli() -> None:
    commands = tour_commands()
    assert commands[0] == "source .venv/bin/activate"
    assert all(line.startswith("hmc ") for line in commands[1:])
    assert any(line.startswith("hmc benchmark ") for line in commands)


def test_ray_internal_lines_are_recognised() -> None:
    """The markers catch the lines the issue quotes (so the tour check below can fail)."""
    quoted = (
        "\x1b[36m(PlacementGroupCleaner pid=27410)\x1b[0m Exception in thread PlacementGroupCleanerMonitor:\n"
        "[2026-11-27 18:30:05,001 E 123 456] core_worker.cc:2465: Actor with class name: 'PreemptionWatcher'\n"
        "(RayTrainWorker pid=1) Reporting training result 1: TrainingReport(checkpoint=None)\n"
        "grid demo: 4 runs, 0 already done, 4 to train\n"
    )
    assert len(ray_internal_lines(quoted)) == 3


@pytest.mark.slow  # ~140 s of the default run's 15-minute budget; `make test-slow` runs it
@pytest.mark.timeout(1800)  # four smoke runs; minutes on an idle 2-core machine, more under load
def test_readme_tour_runs_as_written(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("HMC_VERBOSE", None)
    env.pop("RAY_ADDRESS", None)
    for line in tour_commands():
        if line.startswith("source "):
            continue  # the venv's bin is on PATH already
        for before, after in TINY.items():
            line = line.replace(before, after)
        result = subprocess.run(
            shlex.split(line), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{line}\n{output[-3000:]}"
        assert not ray_internal_lines(output), f"{line}: Ray internals on the terminal:\n" + "\n".join(
            ray_internal_lines(output)[:10]
        )
    assert (tmp_path / "tour" / "results" / "results.parquet").is_file()
    runs = pq.read_table(tmp_path / "tour" / "results" / "results.parquet").column("model").to_pylist()
    assert runs == ["unet"] * 4  # single/series x with/without atmosphere
    assert (tmp_path / "mask.tif").is_file()
    assert (tmp_path / "tour" / "results" / "logs" / "ray.log").is_file() or any(
        (tmp_path / "tour").rglob("ray.log")
    )
