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
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import HMC, Outcome, environment, run_hmc

from hephaestus.platform import signals
from hephaestus.platform.errors import signal_of

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


@pytest.mark.slow  # a smoke grid interrupted mid-way: ~45 s on 2 cores
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


TRAIN = ["--model", "mobilenetv3_large_100", "--weights", "random", "--crop-size", "32", "--batch-size", "4"]
"""One small classifier run of `hmc train` (a few seconds an epoch once Ray is up)."""
RUN_ID = "mobilenetv3_large_100-single-atm-s0-random"


def _ray_processes(results: Path) -> dict[int, float]:
    """The processes of the Ray session this run's command started (its GCS, raylet, agents and every
    worker below them), by pid with their start time; the session is the one the run's log names."""
    import psutil

    found = re.search(
        r"Ray session logs \(workers, raylet, GCS\): (\S+)", _text(results / "logs" / "ray.log")
    )
    if not found:
        return {}
    session = Path(found.group(1)).parent.name
    procs = set()
    for proc in psutil.process_iter(["cmdline"]):
        if any(session in part for part in proc.info["cmdline"] or ()):
            procs.add(proc)
            procs.update(_descendants(proc))
    return {p.pid: p.create_time() for p in procs if _alive(p)}


def _descendants(proc: object) -> list:
    import psutil

    try:
        return proc.children(recursive=True)  # type: ignore[attr-defined]
    except psutil.Error:
        return []


def _alive(proc: object) -> bool:
    import psutil

    try:
        return proc.status() != psutil.STATUS_ZOMBIE  # type: ignore[attr-defined]
    except psutil.Error:
        return False


def _left(processes: dict[int, float], wait: float = 15) -> list[int]:
    """Those of `processes` (pid and start time) still running after at most `wait` seconds."""
    import psutil

    deadline = time.monotonic() + wait
    while True:
        left = []
        for pid, started in processes.items():
            try:
                proc = psutil.Process(pid)
                if proc.create_time() == started and _alive(proc):
                    left.append(pid)
            except psutil.Error:
                pass
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _history(results: Path) -> list[dict]:
    """Every epoch record of the run's history file, in the order written (a resumed run appends)."""
    lines = _text(results / "history" / f"{RUN_ID}.jsonl").splitlines()
    return [r for r in map(json.loads, lines) if not r.get("done")]


@pytest.mark.slow  # two `hmc train` processes: minutes on 2 cores
def test_sigint_during_train_exits_130_says_where_the_checkpoints_are_and_resumes(
    store: Path, tmp_path: Path
) -> None:
    """Ray Train's `fit` puts its own SIGINT handler in place (it aborts the run, then exits 0 or 1 with
    nothing said); the command still exits 130 with one line naming the run and its checkpoints, Ray's
    processes gone, and the same command picks the run up after the checkpoint it had saved."""
    results = tmp_path / "results"
    checkpoints = results / "checkpoints" / RUN_ID
    argv = ["train", str(store), "--out", str(results), *TRAIN]
    ray: dict[int, float] = {}

    def trained_an_epoch() -> bool:  # Ray Train recorded a checkpoint: note Ray's processes, then signal
        if not (checkpoints / "checkpoint_manager_snapshot.json").exists():
            return False
        ray.update(_ray_processes(results))
        return True

    outcome = signal_when([*argv, "--epochs", "50"], trained_an_epoch, signal.SIGINT, tmp_path)
    assert outcome.rc == 130, outcome.stdout[-3000:]
    lines = outcome.error_lines
    assert "SIGINT" in lines[-1] and "Traceback" not in outcome.stdout, outcome.stdout[-3000:]
    said = next((line for line in lines if "interrupted with" in line), "")
    assert RUN_ID in said and str(checkpoints) in said and " of 50 epochs" in said, lines[-3:]
    assert ray, "no Ray process of the run was seen"
    assert not _left(ray), f"Ray processes left running: {_left(ray)}"
    trained = len(_history(results))
    assert trained >= 1 and any(checkpoints.glob("checkpoint_*"))
    # the same command, one epoch further than the history reached: it resumes after a saved epoch
    again = run_hmc([*argv, "--epochs", str(trained + 1)])
    assert again.rc == 0, again.stderr[-2000:]
    resumed = _history(results)[trained:]
    assert resumed and 1 <= resumed[0]["start_epoch"] <= trained, resumed
    assert resumed[0]["epoch"] == resumed[0]["start_epoch"] and resumed[-1]["epoch"] == trained


def test_a_signal_that_another_handler_swallows_still_ends_the_block_as_an_interrupt() -> None:
    """`signals.noticed` (what `train_run` wraps Ray Train's `fit` in): a SIGINT taken by a handler that
    exits 0 (Ray Train's) or by one that just returns still ends the block as the interrupt; a block
    without a signal keeps its own ending; the wakeup descriptor is given back."""
    before = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(KeyboardInterrupt) as stop:
            with signals.noticed():
                signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(0))
                signal.raise_signal(signal.SIGINT)
        assert signal_of(stop.value) == signal.SIGINT and isinstance(stop.value.__cause__, SystemExit)
        with pytest.raises(KeyboardInterrupt) as stop:
            with signals.noticed():
                signal.signal(signal.SIGINT, lambda signum, frame: None)
                signal.raise_signal(signal.SIGINT)
        assert signal_of(stop.value) == signal.SIGINT
        with pytest.raises(ValueError, match="its own"):
            with signals.noticed():
                raise ValueError("its own")
        with signals.noticed():
            pass
        assert signal.set_wakeup_fd(-1) == -1
    finally:
        signal.signal(signal.SIGINT, before)
