"""The Ray the platform starts for itself: loopback addresses only, and no credential in anything Ray writes.

Ray writes every runtime_env in plain text to its agent logs (kept under the session folder after the run),
so credentials must reach workers only through their inherited environment. The keys here are canaries;
every file of the Ray session folder the run used, the store and the results are searched for them.
"""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path

import pytest

from hephaestus.ingest import IngestConfig, run_ingest
from hephaestus.ingest.synthetic import SynthConfig, generate
from hephaestus.platform.ray_session import SECRET_ENV, ray_session, worker_env


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    values = [f"canary{secrets.token_hex(12)}" for _ in SECRET_ENV]
    for name, value in zip(SECRET_ENV, values, strict=True):
        monkeypatch.setenv(name, value)
    return values


def _files_holding(roots: list[Path], needles: list[str]) -> list[str]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                found += [f"{path}: {n[:10]}..." for n in needles if n.encode() in data]
    return found


def _session_dir() -> Path:
    import ray

    return Path(ray._private.worker._global_node.get_session_dir_path())


def _assert_loopback_only() -> None:
    import ray

    node = ray._private.worker._global_node
    addresses = {n["NodeManagerAddress"] for n in ray.nodes()}
    addresses |= {node.gcs_address.rsplit(":", 1)[0], node.node_ip_address}
    assert all(ipaddress.ip_address(a).is_loopback for a in addresses), addresses


def test_worker_env_never_carries_credentials(canaries: list[str]) -> None:
    assert not set(canaries) & set(worker_env().values())


def test_local_ingest_binds_loopback_and_logs_no_credentials(canaries: list[str], tmp_path: Path) -> None:
    import ray

    assert not ray.is_initialized()
    generate(SynthConfig(frames=1, pairs=3, height=32, width=32, seed=1), tmp_path / "src")
    with ray_session(num_cpus=1):
        _assert_loopback_only()
        session = _session_dir()
        summary = run_ingest(IngestConfig(sources=str(tmp_path / "src"), out=str(tmp_path / "store")))
        assert summary.ok and summary.pairs_written == 3
    assert (session / "logs").is_dir() and any((session / "logs").iterdir())
    assert _files_holding([session, tmp_path / "store"], canaries) == []


@pytest.mark.slow  # a training run: about a minute on 2 cores
def test_benchmark_logs_and_results_hold_no_credentials(canaries: list[str], tmp_path: Path) -> None:
    from hephaestus.catalog import build_catalog
    from hephaestus.train.benchmark import run_benchmark
    from hephaestus.train.config import GridConfig, RunConfig

    generate(SynthConfig(frames=2, pairs=30, height=96, width=96, seed=0), tmp_path / "src")
    grid = GridConfig(
        name="creds",
        models=("mobilenetv3_large_100",),
        series=(False,),
        atmosphere=(False,),
        seeds=(0,),
        base=RunConfig(epochs=1, crop_size=32, batch_size=4, workers=1, weights="random", augment=False),
    )
    with ray_session(num_cpus=2):
        _assert_loopback_only()
        session = _session_dir()
        run_ingest(IngestConfig(sources=str(tmp_path / "src"), out=str(tmp_path / "store"), workers=2))
        build_catalog(tmp_path / "store")
        summary = run_benchmark(str(tmp_path / "store"), grid, str(tmp_path / "results"))
        assert summary.failed == {} and summary.trained
    assert _files_holding([session, tmp_path / "store", tmp_path / "results"], canaries) == []


@pytest.mark.slow  # a driver, its Ray runtime and a 30 s grace period
def test_ray_processes_do_not_outlive_a_killed_driver(tmp_path: Path) -> None:
    """`hmc` killed with SIGKILL: every process of the Ray it started (raylet, GCS, agents, workers) goes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    script = (
        "import time, ray\n"
        "from hephaestus.platform.ray_session import ray_session\n"
        "with ray_session(num_cpus=1):\n"
        "    ray.get(ray.remote(lambda: 1).remote())\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(600)\n"
    )
    driver = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert driver.stdout is not None and driver.stdout.readline().strip() == "ready"
        family = psutil.Process(driver.pid).children(recursive=True)
        assert len(family) >= 3  # GCS, raylet, agents, a worker
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(10)
        deadline = time.monotonic() + 30
        alive = family
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
            time.sleep(0.5)
        assert not alive, [(p.pid, p.name()) for p in alive]
    finally:
        if driver.poll() is None:
            driver.kill()
