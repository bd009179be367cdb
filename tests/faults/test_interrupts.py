"""Issue 27, item 4: interrupts are honest.

SIGINT and SIGTERM end `hmc benchmark` with exit 130 / 143, a summary counted from the results actually
recorded (never from what was planned or what Tune says it ran), Ray shut down on the way out, and a re-run
that plans only what is left. Each case runs `hmc` as a user does (tests/faults/harness.py) on a small store.
"""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import HMC, Outcome, environment, run_hmc

TESTS = Path(__file__).resolve().parents[1]
GRID = [
    "--grid",
    "smoke",
    "--models",
    "mobilenetv3_large_100",
    "--set",
    "series=[false]",
    "--set",
    "base.crop_size=32",
    "--max-concurrent",
    "1",
]
"""Two single-step classifier runs of the smoke grid (with and without atmosphere), one at a time."""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/train's small catalogued store (one factory cube per split)."""
    spec = importlib.util.spec_from_file_location("train_conftest", TESTS / "train" / "conftest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_split_store(tmp_path_factory.mktemp("interrupt-store"))


def signal_when(
    argv: list[str], ready: Callable[[], bool], sig: int, cwd: Path, timeout: float = 400
) -> Outcome:
    """Run `hmc ARGV`, send `sig` once `ready()` holds (a file the run writes), and wait for its end."""
    log = cwd / f"hmc-{sig}.log"
    with open(log, "w+") as out:
        proc = subprocess.Popen(
            [*HMC, *argv], cwd=cwd, env=environment(), stdout=out, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and proc.poll() is None and not ready():
                time.sleep(0.2)
            assert proc.poll() is None, f"ended before the signal: {log.read_text()[-2000:]}"
            proc.send_signal(sig)
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text(errors="replace")
    return Outcome(proc.returncode, text, text)


def _records(results: Path) -> set[str]:
    return {p.stem for p in (results / "runs").glob("*.json")}


def _counts(text: str) -> dict[str, int]:
    found = re.search(r"trained (\d+), skipped (\d+), failed (\d+)(?:, not run (\d+) \(interrupted\))?", text)
    assert found, text[-2000:]
    trained, skipped, failed, not_run = (int(g or 0) for g in found.groups())
    return {"trained": trained, "skipped": skipped, "failed": failed, "not_run": not_run}


def test_sigint_during_a_grid_exits_130_and_counts_only_recorded_runs(store: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    argv = ["benchmark", str(store), "--out", str(results), *GRID]
    outcome = signal_when(argv, lambda: bool(_records(results)), signal.SIGINT, tmp_path)
    assert outcome.rc == 130, outcome.stdout[-3000:]
    recorded = _records(results)
    counts = _counts(outcome.stdout)
    assert counts["trained"] == len(recorded) >= 1
    assert counts["trained"] + counts["failed"] + counts["not_run"] == 2 and counts["not_run"] >= 1
    assert "SIGINT" in outcome.error_lines[-1] and "Traceback" not in outcome.stdout
    # the re-run plans only what was not recorded
    plan = run_hmc(["benchmark", str(store), "--out", str(results), *GRID, "--dry-run", "--format", "json"])
    assert plan.rc == 0, plan.stderr[-2000:]
    status = {row["run_id"]: row["status"] for row in map(json.loads, plan.stdout.splitlines())}
    assert {run for run, s in status.items() if s == "done"} == recorded and len(status) == 2


def test_sigterm_exits_143_with_ray_shut_down(store: Path, tmp_path: Path) -> None:
    """SIGTERM once Ray runs (ray.init installs its own SIGTERM handler, exit 15 without a word)."""
    results = tmp_path / "results"
    argv = ["benchmark", str(store), "--out", str(results), *GRID]
    outcome = signal_when(argv, lambda: (results / "tune").exists(), signal.SIGTERM, tmp_path)
    assert outcome.rc == 143, outcome.stdout[-3000:]
    counts = _counts(outcome.stdout)
    assert counts["trained"] == len(_records(results)) and counts["not_run"] >= 1
    assert "SIGTERM" in outcome.error_lines[-1] and "Traceback" not in outcome.stdout
