"""`make cluster-test`: rehearse a multi-node deployment on this machine.

Starts a head (no CPUs, so every task must go to a worker) and two worker nodes as separate
`ray start` processes. Probes it as a driver with `--address` and as a Ray client found through
RAY_ADDRESS, then drives the platform through its public CLI against it, exactly as a user on a
real cluster would: synth -> ingest -> catalog build -> benchmark (smoke grid), with `--address`.
Checks what each step left behind and that every process Ray started listens on loopback only (the Ray
client's per-driver servers included), then stops only the nodes it started. Each step's full output
is kept in WORK/logs/; the work dir is kept when a step fails. The last stdout line is a JSON summary.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hephaestus.infra.local_cluster import (
    LocalCluster,
    LocalClusterConfig,
    cluster_env,
    exposed_listeners,
    local_cluster,
)
from hephaestus.platform.config import Config
from hephaestus.platform.errors import PlatformRuntimeError
from hephaestus.platform.ray_session import LOOPBACK, node_ip

# probe: a driver with --address; client: a Ray client driver (ray://) found through RAY_ADDRESS.
# (`ray job submit`, the RayJob path, needs ray[default]'s dashboard: in Ray's images, not in this venv.)
PROBES = ("probe", "client")
STEPS = (*PROBES, "synth", "ingest", "catalog", "benchmark")


class RehearsalError(PlatformRuntimeError):
    """A step failed or left the wrong outputs; the message names the step and what is wrong."""


class RehearsalConfig(Config):
    """Tiny data so the whole rehearsal fits a 2-core machine in a few minutes."""

    frames: int = 2
    pairs: int = 6
    height: int = 96  # the smoke grid crops 64 x 64
    width: int = 96
    seed: int = 0
    grid: str = "smoke"
    steps: tuple[str, ...] = STEPS
    step_timeout_s: float = 900.0
    cluster: LocalClusterConfig = LocalClusterConfig()


def hmc_command() -> list[str]:
    """The `hmc` entry point of this environment (the installed console script when there is one)."""
    beside = Path(sys.executable).with_name("hmc")
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-m", "hephaestus.cli.app"]


def run_step(name: str, cmd: list[str], timeout_s: float, log_dir: Path) -> float:
    """Run one CLI step as its own driver process; raise with its output tail when it fails."""
    print(f"[cluster-test] {name}: {' '.join(cmd)}", flush=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    start = time.monotonic()
    try:
        done = subprocess.run(cmd, env=cluster_env(), capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise RehearsalError(f"step {name!r} timed out after {timeout_s:.0f} s") from exc
    elapsed = time.monotonic() - start
    output = (done.stdout + done.stderr).strip()
    log.write_text(output + "\n")
    if done.returncode != 0:
        tail = "\n".join(output.splitlines()[-30:])
        raise RehearsalError(
            f"step {name!r} failed with exit code {done.returncode} (full output: {log}):\n{tail}"
        )
    for line in output.splitlines()[-3:]:
        print(f"    {line}", flush=True)
    return elapsed


def probe_report(stdout: str, step: str) -> dict[str, Any]:
    """The probe's JSON report (its last JSON line)."""
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{") and '"nodes"' in line:
            return json.loads(line)
    raise RehearsalError(f"{step}: no probe report in its output:\n{stdout[-2000:]}")


def check_probe(report: dict[str, Any], cluster: LocalCluster) -> None:
    expected = 1 + len(cluster.workers)
    if report["nodes"] != expected:
        raise RehearsalError(f"probe: expected {expected} alive nodes, the cluster reports {report['nodes']}")
    if report["tasks_on_head"]:
        raise RehearsalError("probe: tasks ran on the head, which has no CPUs")
    if report["task_nodes"] != len(cluster.workers):
        raise RehearsalError(
            f"probe: tasks pinned to the {len(cluster.workers)} workers ran on {report['task_nodes']} of them"
        )


def check_loopback(cluster: LocalCluster, step: str) -> None:
    """Nodes bound to loopback keep every process Ray started on it (the client's servers included)."""
    if node_ip() != LOOPBACK:
        return  # the operator chose another node address (HMC_RAY_NODE_IP)
    exposed = exposed_listeners(cluster)
    if exposed:
        named = ", ".join(f"{x.process} (pid {x.pid}) on {x.host}:{x.port}" for x in exposed)
        raise RehearsalError(f"{step}: Ray processes listen beyond loopback: {named}")


def check_outputs(step: str, work: Path, cfg: RehearsalConfig) -> dict[str, Any]:
    """What each step must have left behind (independent of how the step did it)."""
    store = work / "store"
    if step == "synth":
        frames = sorted(p.name for p in (work / "src" / "licsar").glob("*") if p.is_dir())
        if len(frames) != cfg.frames:
            raise RehearsalError(f"synth: expected {cfg.frames} frames under src/licsar, found {frames}")
        return {"frames": len(frames)}
    if step == "ingest":
        from hephaestus.platform.cube import open_cube, validate_cube

        cubes = sorted((store / "cubes").glob("*.zarr"))
        if len(cubes) != cfg.frames:
            raise RehearsalError(
                f"ingest: expected {cfg.frames} cubes in {store / 'cubes'}, found {len(cubes)}"
            )
        valid_pairs = 0
        for cube in cubes:
            ds = open_cube(str(cube))
            validate_cube(ds)
            valid_pairs += int(ds["valid_date_pair"].sum())
        if valid_pairs == 0:
            raise RehearsalError("ingest: the cubes hold no valid date pair")
        return {"cubes": len(cubes), "valid_pairs": valid_pairs}
    if step == "catalog":
        # Checked as a user would, through `hmc catalog query` (infra imports no stage).
        collection = store / "catalog" / "collection.json"
        if not collection.is_file():
            raise RehearsalError(f"catalog: {collection} was not written")
        sql = "SELECT count(*) AS n, count(*) FILTER (has_product) AS with_product FROM pairs"
        out = subprocess.run(
            [*hmc_command(), "catalog", "query", str(store), sql, "--format", "csv"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        header, values = csv.reader(out.stdout.strip().splitlines()[-2:])
        counts = dict(zip(header, map(int, values), strict=True))
        expected = cfg.frames * cfg.pairs  # one annotated pair per synthesized interferogram
        if counts["n"] != expected:
            raise RehearsalError(f"catalog: the pair index has {counts['n']} rows, expected {expected}")
        return {"pair_rows": counts["n"], "with_product": counts["with_product"]}
    if step == "benchmark":
        import pyarrow.parquet as pq

        results = work / "results" / "results.parquet"
        if not results.is_file():
            raise RehearsalError(f"benchmark: {results} was not written")
        runs = pq.read_table(results).num_rows
        if runs == 0:
            raise RehearsalError(f"benchmark: {results} holds no run")
        files = sum(1 for p in (work / "results").rglob("*") if p.is_file())
        return {"runs": runs, "result_files": files}
    return {}


def commands(step: str, work: Path, address: str, cfg: RehearsalConfig) -> list[str]:
    """The command line of one step; probes other than `probe` find the cluster without --address."""
    hmc = hmc_command()
    store, src = str(work / "store"), str(work / "src")
    if step == "synth":
        return [*hmc, "synth", src, "--frames", str(cfg.frames), "--pairs", str(cfg.pairs),
                "--size", str(cfg.height), str(cfg.width), "--seed", str(cfg.seed)]  # fmt: skip
    if step == "ingest":
        return [*hmc, "ingest", src, "--out", store, "--address", address]
    if step == "catalog":
        return [*hmc, "catalog", "build", store]
    if step == "benchmark":
        return [
            *hmc,
            "benchmark",
            store,
            "--grid",
            cfg.grid,
            "--out",
            str(work / "results"),
            "--address",
            address,
        ]
    probe = [sys.executable, "-m", "hephaestus.infra.cluster_probe"]
    if step == "probe":
        return [*probe, "--address", address]
    if step == "client":
        return probe  # RAY_ADDRESS=ray://... in its environment
    raise ValueError(f"unknown step {step!r}; choose from {STEPS}")


def rehearse(cfg: RehearsalConfig, work: Path) -> dict[str, Any]:
    """Run the steps against a fresh local multi-node cluster; the cluster is stopped on any exit."""
    summary: dict[str, Any] = {"steps": {}}
    with local_cluster(cfg.cluster) as cluster:
        summary["address"] = cluster.address
        print(
            f"[cluster-test] cluster up at {cluster.address}: head + {len(cluster.workers)} workers",
            flush=True,
        )
        for step in cfg.steps:
            cmd = commands(step, work, cluster.address, cfg)
            if step in PROBES:
                env = cluster_env()
                if step == "client":
                    env["RAY_ADDRESS"] = cluster.client_address
                print(f"[cluster-test] {step}: {' '.join(cmd)}", flush=True)
                start = time.monotonic()
                try:
                    done = subprocess.run(
                        cmd, env=env, capture_output=True, text=True, timeout=cfg.step_timeout_s
                    )
                except subprocess.TimeoutExpired as exc:
                    raise RehearsalError(f"step {step!r} timed out after {cfg.step_timeout_s:.0f} s") from exc
                if done.returncode != 0:
                    raise RehearsalError(f"{step} failed:\n{(done.stdout + done.stderr)[-3000:]}")
                report = probe_report(done.stdout, step)
                check_probe(report, cluster)
                check_loopback(cluster, step)
                summary["steps"][step] = {"seconds": round(time.monotonic() - start, 1), **report}
                continue
            elapsed = run_step(step, cmd, cfg.step_timeout_s, work / "logs")
            try:
                outputs = check_outputs(step, work, cfg)
            except RehearsalError:
                raise
            except Exception as exc:  # unreadable outputs are a failed step, not a crash
                raise RehearsalError(f"{step}: its outputs cannot be read: {exc!r}") from exc
            summary["steps"][step] = {"seconds": round(elapsed, 1), **outputs}
        steps = summary["steps"]
        if "ingest" in steps and "catalog" in steps:
            if steps["catalog"]["with_product"] != steps["ingest"]["valid_pairs"]:
                raise RehearsalError(
                    f"catalog lists {steps['catalog']['with_product']} pairs with a product, "
                    f"the cubes hold {steps['ingest']['valid_pairs']}"
                )
        summary["worker_node_logs"] = [len(w.worker_logs()) for w in cluster.workers]
        if "ingest" in cfg.steps and not all(summary["worker_node_logs"]):
            raise RehearsalError(f"not every worker node ran Ray workers: {summary['worker_node_logs']}")
        stopped_nodes = cluster.nodes
    left = [n.name for n in stopped_nodes if n.process.poll() is None]
    if left:
        raise RehearsalError(f"nodes still running after stop: {left}")
    summary["stopped"] = True
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="keep everything here (default: temp, removed)"
    )
    parser.add_argument(
        "--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}"
    )
    parser.add_argument("--frames", type=int, default=RehearsalConfig().frames)
    parser.add_argument("--pairs", type=int, default=RehearsalConfig().pairs)
    parser.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=None)
    parser.add_argument("--workers", type=int, default=LocalClusterConfig().workers)
    args = parser.parse_args(argv)
    size = {"height": args.size[0], "width": args.size[1]} if args.size else {}
    cfg = RehearsalConfig.build(
        source="cluster-test flags",
        frames=args.frames,
        pairs=args.pairs,
        steps=tuple(s.strip() for s in args.steps.split(",") if s.strip()),
        cluster=LocalClusterConfig(workers=args.workers),
        **size,
    )
    unknown = [s for s in cfg.steps if s not in STEPS]
    if unknown:
        parser.error(f"unknown steps {unknown}; choose from {STEPS}")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="hmcct.", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        summary = rehearse(cfg, work)
    except RehearsalError as exc:
        print(
            f"[cluster-test] FAILED: {exc}\n[cluster-test] kept {work} for inspection",
            file=sys.stderr,
            flush=True,
        )
        return 1
    if args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    print("[cluster-test] OK: cluster stopped", flush=True)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
