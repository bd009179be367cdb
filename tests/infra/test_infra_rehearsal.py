"""The local multi-node rehearsal (`make cluster-test`): its plan fast, the real thing under -m slow."""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import REPO

from hephaestus.infra.cluster_probe import probe
from hephaestus.infra.local_cluster import (
    ClusterStartError,
    LocalClusterConfig,
    alive_processes,
    cluster_env,
    local_cluster,
)
from hephaestus.infra.rehearsal import STEPS, RehearsalConfig, commands, hmc_command, main


def test_each_step_is_the_documented_cli_call(tmp_path: Path, pyproject: dict) -> None:
    cfg = RehearsalConfig(frames=2, pairs=3, height=48, width=40, seed=7)
    address = "127.0.0.1:6380"
    got = {step: commands(step, tmp_path, address, cfg) for step in STEPS}
    hmc = len(hmc_command())
    assert Path(hmc_command()[0]).name in {*pyproject["project"]["scripts"], "python", "python3"}
    src, store = str(tmp_path / "src"), str(tmp_path / "store")
    assert got["synth"][hmc:] == [
        "synth",
        src,
        "--frames",
        "2",
        "--pairs",
        "3",
        "--size",
        "48",
        "40",
        "--seed",
        "7",
    ]
    assert got["ingest"][hmc:] == ["ingest", src, "--out", store, "--address", address]
    assert got["catalog"][hmc:] == ["catalog", "build", store]
    results = str(tmp_path / "results")
    assert got["benchmark"][hmc:] == [
        "benchmark",
        store,
        "--grid",
        "smoke",
        "--out",
        results,
        "--address",
        address,
    ]
    assert got["probe"][-2:] == ["--address", address]
    assert got["client"] == got["probe"][:-2], "the client probe finds the cluster through RAY_ADDRESS"


def test_node_processes_never_inherit_a_cluster_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    env = cluster_env()
    assert "RAY_ADDRESS" not in env
    assert env["RAY_USAGE_STATS_ENABLED"] == "0" and env["RAY_AUTH_MODE"] == "disabled"


def test_unknown_steps_are_refused() -> None:
    with pytest.raises(SystemExit):
        main(["--steps", "probe,deploy"])


def test_makefile_target_runs_the_rehearsal() -> None:
    text = (REPO / "Makefile").read_text()
    target = text.split("\ncluster-test:", 1)[1].split("\n\n", 1)[0]
    recipe = [shlex.split(line.strip()) for line in target.splitlines()[1:] if line.startswith("\t")]
    assert recipe[0][:3] == ["$(BIN)/python", "-m", "hephaestus.infra.rehearsal"]


@pytest.mark.slow
def test_three_node_cluster_starts_answers_on_address_and_stops() -> None:
    with local_cluster(LocalClusterConfig(workers=2)) as cluster:
        report = probe(cluster.address, tasks=4)
        nodes = cluster.nodes
        assert cluster.address.startswith("127.0.0.1:") and cluster.client_address.startswith("ray://127.")
        assert all(alive_processes(n) for n in nodes)
    assert report["nodes"] == 3
    assert report["addresses"] == ["127.0.0.1"]  # no node advertises the host's network address
    assert report["cpus"] == 2.0  # head 0 + two workers of 1
    assert report["tasks_on_head"] == 0 and report["task_nodes"] == 2
    assert [n.process.poll() is not None for n in nodes] == [True, True, True]
    assert [alive_processes(n) for n in nodes] == [[], [], []]


@pytest.mark.slow
def test_make_cluster_test_end_to_end(tmp_path: Path) -> None:
    canary = f"canary{secrets.token_hex(12)}"
    env = {**os.environ, "AWS_SECRET_ACCESS_KEY": canary, "RAY_AUTH_MODE": "disabled"}
    done = subprocess.run(
        # -o: never remake the venv stamp from a test (that would pip install).
        [
            "make",
            "--no-print-directory",
            "-o",
            ".venv/bin/.installed",
            "cluster-test",
            f"CLUSTER_TEST_ARGS=--work-dir {tmp_path}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert list(summary["steps"]) == list(STEPS)
    for probe_step in ("probe", "client"):
        assert summary["steps"][probe_step]["nodes"] == 3
        assert summary["steps"][probe_step]["task_nodes"] == 2
    assert summary["stopped"] is True
    assert all(n > 0 for n in summary["worker_node_logs"])
    assert summary["steps"]["benchmark"]["runs"] > 0
    assert canary not in done.stdout + done.stderr
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        assert canary.encode() not in path.read_bytes(), path


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        # Ray refuses an object store under 75 MiB once its GCS is up: the head exits.
        (LocalClusterConfig(object_store_bytes=1000), "head exited with code 1"),
        # A head still starting when the wait ends must be killed, not left behind.
        (LocalClusterConfig(start_timeout_s=0.5), "head not ready after"),
    ],
)
def test_a_node_that_cannot_start_is_reported_and_leaves_nothing_running(
    cfg: LocalClusterConfig, expected: str
) -> None:
    root = Path(tempfile.mkdtemp(prefix="hct.", dir="/tmp"))
    try:
        with pytest.raises(ClusterStartError, match=expected):
            with local_cluster(cfg, root=root):
                pass
        assert _processes_mentioning(str(root)) == []
    finally:
        shutil.rmtree(root, ignore_errors=True)
