"""The whole dataset once, end to end: the twin of all 38 frames (19,919 pairs) through `hmc synth --twin`,
`hmc ingest`, `hmc catalog build` and a first `hmc monitor` cycle (which scores the store's whole history),
each stage its own `hmc` process, with per stage the wall time, the CPU time of the stage's processes
(user + sys of the children, from getrusage(RUSAGE_CHILDREN) deltas: Ray's workers are the raylet's children
and are counted when it reaps them; a sampled sum over the process tree beside it, for any orphan), the peak
memory (the largest single process, and the sampled peak of the whole tree's RSS: ingest's and monitor's Ray
workers run side by side), pairs per CPU second and the MB each stage leaves on disk.

The monitor needs a classifier: `--checkpoint` names one (a checkpoint folder or a run folder); without it a
smoke MobileNetV3 is trained first on the store (`hmc train`, one epoch of a few batches; its time is reported
as its own stage, `train_smoke`, outside the four).

Figures from this script feed docs/whole-dataset.md, where the plan for the published 1.7 TB is derived
from them. `--quick`: two frames (54 + 279 pairs), scale 0.02, for the test.

Usage: .venv/bin/python tests/benchmarks/bench_whole_dataset.py [--scale 0.03] [--frames all|F1,F2]
       [--workers 2] [--checkpoint PATH] [--work DIR] [--keep] [--quick]
The LAST stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from hephaestus.platform.shared_data import DEFAULT_ANNOTATIONS as ANNOTATIONS

QUICK_FRAMES = ("155D_02484_191814", "012D_07075_080504")
SAMPLE_EVERY_S = 0.5


def _hmc() -> list[str]:
    """`hmc` of this interpreter's environment (the console script, else `python -m hephaestus.cli`)."""
    script = Path(sys.executable).with_name("hmc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hephaestus.cli"]


class _TreeSampler(threading.Thread):
    """Samples a process and its descendants: the peak of their summed RSS, and each process's last CPU
    times (so that a worker orphaned before its parent reaped it is still counted)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peak_tree_mb = 0.0
        self.cpu: dict[int, float] = {}
        self.processes = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            rss = 0
            for p in procs:
                try:
                    with p.oneshot():
                        rss += p.memory_info().rss
                        t = p.cpu_times()
                        self.cpu[p.pid] = t.user + t.system  # own time only: no double count
                except psutil.Error:
                    continue
            self.processes = max(self.processes, len(procs))
            self.peak_tree_mb = max(self.peak_tree_mb, rss / 1e6)
            self.done.wait(SAMPLE_EVERY_S)


def _children_usage() -> tuple[float, float, float]:
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime, u.ru_stime, u.ru_maxrss / 1024.0  # Linux: kB


def run_stage(name: str, argv: list[str], log: Path) -> dict:
    """Run one `hmc` command as a child process and measure it; a failure stops the benchmark with its log."""
    user0, sys0, _ = _children_usage()
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        sampler = _TreeSampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        sampler.done.set()
        sampler.join()
    wall = time.perf_counter() - t0
    user1, sys1, maxrss = _children_usage()
    if rc != 0:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"stage {name} failed (exit {rc}): {' '.join(argv)}\n{tail}")
    reaped = (user1 - user0) + (sys1 - sys0)
    sampled = sum(sampler.cpu.values())
    return {
        "wall_s": round(wall, 2),
        # Ray's workers outlive the reaping that getrusage counts; the sampled own times of every process
        # seen (missing at most the last half second of each) count them: the larger of the two
        "cpu_s": round(max(reaped, sampled), 2),
        "cpu_user_s": round(user1 - user0, 2),
        "cpu_sys_s": round(sys1 - sys0, 2),
        "cpu_s_reaped": round(reaped, 2),
        "cpu_s_sampled": round(sampled, 2),
        # ru_maxrss of RUSAGE_CHILDREN is the largest child ever: stages run in order of growing need,
        # and the sampled per-stage tree peak beside it is the stage's own
        "peak_rss_mb_largest_process": round(maxrss, 1),
        "peak_rss_mb_tree": round(sampler.peak_tree_mb, 1),
        "processes": sampler.processes,
    }


def _mb(path: Path) -> float:
    if not path.exists():
        return 0.0
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6, 1)


def _mb_content(ingest_log: Path) -> float | None:
    """MB of cube content `hmc ingest` wrote (uncompressed bytes of the pairs' arrays), from its summary
    table; the cubes' dense primary x secondary grids are far larger and mostly never written."""
    for line in ingest_log.read_text().splitlines():
        if "MB written (uncompressed)" in line:
            return float(line.strip(" │|").split("│")[-1].strip(" |"))
    return None


def _count_pairs(store: Path) -> int:
    import pyarrow.parquet as pq

    path = store / "monitor" / "scores.parquet"
    return pq.read_metadata(path).num_rows if path.exists() else 0


def smoke_crop(scale: float) -> int:
    """The smoke classifier's crop edge: 32 px, or less where the twin's smallest frame (the published sample's
    shorter side times `scale`) is smaller, in steps of 8 (training refuses a crop larger than every frame)."""
    from hephaestus.ingest.synthetic.twin import SAMPLE_SHAPE

    return max(8, min(32, 8 * (round(min(SAMPLE_SHAPE) * scale) // 8)))


def _find_checkpoint(results: Path) -> str:
    found = sorted(p for p in results.glob("checkpoints/*/checkpoint_*") if p.is_dir())
    if not found:
        raise SystemExit(f"no checkpoint under {results}/checkpoints/")
    return str(found[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=None, help="twin grid factor (default 0.03; --quick 0.02)")
    ap.add_argument("--frames", default="all")
    ap.add_argument("--workers", type=int, default=2, help="ingest and monitor: local Ray CPUs")
    ap.add_argument(
        "--checkpoint", default=None, help="classifier for the monitor (else a smoke one is trained)"
    )
    ap.add_argument("--work", default=None, help="folder for sources, store and logs (default: temporary)")
    ap.add_argument("--keep", action="store_true", help="keep the sources and the store under --work")
    ap.add_argument("--quick", action="store_true", help="two frames (333 pairs)")
    args = ap.parse_args()
    frames = ",".join(QUICK_FRAMES) if args.quick else args.frames
    scale = args.scale if args.scale is not None else (0.02 if args.quick else 0.03)
    hmc = _hmc()
    if args.work:
        Path(args.work).mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="whole-", dir=args.work)
    work = Path(tmp)
    sources, store, logs = work / "sources", work / "store", work / "logs"
    logs.mkdir()
    workers = str(args.workers)
    stages: dict[str, dict] = {}

    def stage(name: str, argv: list[str]) -> None:
        stages[name] = run_stage(name, hmc + argv, logs / f"{name}.log")
        s = stages[name]
        (logs / "stages.json").write_text(json.dumps(stages))
        print(
            f"{name:12s} wall {s['wall_s']:8.1f} s  cpu {s['cpu_s']:8.1f} s  "
            f"peak {s['peak_rss_mb_tree']:7.0f} MB (tree) {s['peak_rss_mb_largest_process']:7.0f} MB (one)",
            flush=True,
        )

    stage(
        "synth",
        ["synth", str(sources), "--twin", str(ANNOTATIONS), "--frames", frames, "--scale", str(scale)],
    )
    stages["synth"]["mb_on_disk"] = _mb(sources)
    stage("ingest", ["ingest", str(sources), "--out", str(store), "--workers", workers])
    stages["ingest"]["mb_on_disk"] = _mb(store / "cubes")
    stages["ingest"]["mb_content"] = _mb_content(logs / "ingest.log")
    stage("catalog", ["catalog", "build", str(store)])
    stages["catalog"]["mb_on_disk"] = _mb(store / "catalog")
    train = None
    checkpoint = args.checkpoint
    if checkpoint is None:
        results = work / "smoke-run"
        # the smallest run that leaves a classifier checkpoint with a calibrated threshold; its figures are
        # reported apart (train_smoke) and are not part of the end-to-end path
        train = run_stage(
            "train_smoke",
            hmc
            + ["train", str(store), "--out", str(results), "--model", "mobilenetv3_large_100", "--single"]
            + ["--no-atmosphere", "--epochs", "1", "--batch-size", "8", "--crop-size", str(smoke_crop(scale))]
            + ["--weights", "random", "--workers", "1", "--set", "max_train_batches=3"]
            + ["--set", "max_eval_batches=2", "--set", "augment=false", "--set", "max_offset=8"],
            logs / "train_smoke.log",
        )
        checkpoint = _find_checkpoint(results)
    stage("monitor", ["monitor", str(sources), str(store), "--checkpoint", checkpoint, "--workers", workers])
    stages["monitor"]["mb_on_disk"] = _mb(store / "monitor")
    stages["monitor"]["pairs_scored"] = _count_pairs(store)
    (logs / "stages.json").write_text(json.dumps(stages))

    manifest_pairs = _pairs_of(store)
    for s in stages.values():
        s["pairs_per_cpu_s"] = round(manifest_pairs / s["cpu_s"], 2) if s["cpu_s"] else None
        s["pairs_per_s"] = round(manifest_pairs / s["wall_s"], 2)
    result = {
        "benchmark": "whole_dataset",
        "quick": args.quick,
        "frames": frames,
        "scale": scale,
        "workers": args.workers,
        "pairs": manifest_pairs,
        "cpus": os.cpu_count(),
        "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
        "checkpoint": "given" if args.checkpoint else "smoke (trained here)",
        "stages": stages,
        "train_smoke": train,
        "total_wall_s": round(sum(s["wall_s"] for s in stages.values()), 1),
        "total_cpu_s": round(sum(s["cpu_s"] for s in stages.values()), 1),
        "work": str(work) if args.keep else None,
    }
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


def _pairs_of(store: Path) -> int:
    """Pairs in the catalog the run built (every pair with or without a product)."""
    import pyarrow.parquet as pq

    versions = sorted((store / "catalog").glob("v*/index/pairs"))
    return sum(pq.read_metadata(p).num_rows for p in versions[-1].rglob("*.parquet")) if versions else 0


if __name__ == "__main__":
    main()
