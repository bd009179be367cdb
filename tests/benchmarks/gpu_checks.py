"""Every GPU check of issue 26 (item 3) in one prepared run, within 8 minutes, for the day a GPU is lent.

Steps, each time-boxed (a step past its box is recorded as timed out and the next one runs):
  nvml         nvidia-smi and NVML (pynvml) see the GPU; torch sees CUDA
  single       bench_train: ResNet-50, 512 px, bf16, single pairs, loader vs in-memory, GPU busy
  series       the same on series (9 steps of channels)
  channels     channels_last on vs off (in-memory and loader rates, single)
  cudnn        cudnn.benchmark off (the default is on: compare with `single`)
  sweep        loader workers 0, 2, 4, 8, 12, ... : samples/s, GPU busy, loader cores one GPU needs
The store is built once (by the first bench step) and reused. Results: one JSON file per step and
`gpu_checks.json` (all of them) under $OUT when set (else a temporary folder); the last stdout line is
the summary JSON.

`--dry-run` (no GPU needed; what the CPU test runs): the same steps on the CPU with tiny sizes
(`bench_train.py --quick`), proving the script's plumbing; its numbers mean nothing.

Usage, from the repository root with its venv only:
    .venv/bin/python tests/benchmarks/gpu_checks.py            # on a lent GPU (under 8 minutes)
    .venv/bin/python tests/benchmarks/gpu_checks.py --dry-run  # on CPU
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BUDGET_S = 8 * 60
"""The whole run's time box (issue 26): the steps' boxes below add up to less."""

# (name, bench_train.py flags, time box in seconds on a GPU)
GPU_STEPS: list[tuple[str, list[str], int]] = [
    ("single", ["--only", "single"], 100),
    ("series", ["--only", "series"], 90),
    ("channels", ["--only", "single", "--channels-last", "--rounds", "1"], 50),
    ("cudnn", ["--only", "single", "--no-cudnn-benchmark", "--rounds", "1"], 50),
    ("sweep", ["--only", "sweep", "--steps", "40"], 120),
]
DRY_FLAGS = ["--quick", "--steps", "2", "--rounds", "1", "--warmup", "1"]
DRY_STEPS: list[tuple[str, list[str], int]] = [
    ("single", ["--only", "single"], 240),
    ("channels", ["--only", "single", "--channels-last"], 120),
    ("sweep", ["--only", "sweep", "--workers", "0,1"], 180),
]


def nvml_check() -> dict[str, Any]:
    """nvidia-smi's one-line view, NVML's inventory through pynvml, and torch's view of CUDA."""
    import torch

    from hephaestus.train.gpu_usage import inventory

    out: dict[str, Any] = {"torch_cuda": torch.cuda.is_available(), "nvml": inventory()}
    if torch.cuda.is_available():
        out["torch_device"] = torch.cuda.get_device_name(0)
        out["bf16"] = torch.cuda.is_bf16_supported()
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            done = subprocess.run(
                [
                    smi,
                    "--query-gpu=name,memory.total,driver_version,utilization.gpu",
                    "--format=csv,noheader",
                ],
                capture_output=True,
                text=True,
                timeout=20,
            )
            out["nvidia_smi"] = done.stdout.strip() or done.stderr.strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            out["nvidia_smi"] = f"failed: {exc}"
    else:
        out["nvidia_smi"] = "not installed"
    return out


def run_bench(flags: list[str], box: int, store: str | None) -> dict[str, Any]:
    """bench_train.py with `flags` (and the shared store) in a subprocess of at most `box` seconds."""
    cmd = [sys.executable, str(HERE / "bench_train.py"), *flags]
    if store:
        cmd += ["--store", store]
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=box, cwd=HERE.parent.parent)
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-2000:]
        return {"ok": False, "timed_out": True, "box_s": box, "stderr_tail": _text(tail)}
    seconds = round(time.perf_counter() - started, 1)
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        result = None
    if done.returncode or result is None:
        return {"ok": False, "rc": done.returncode, "seconds": seconds, "stderr_tail": done.stderr[-2000:]}
    return {"ok": True, "seconds": seconds, "result": result}


def _text(data: bytes | str) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def build_store(root: Path, dry: bool) -> str:
    """The benchmark store, once for every step (bench_train's own builder)."""
    sys.path.insert(0, str(HERE))
    from bench_train import build_store as build

    size, pairs = (320, 24) if dry else (640, 48)
    return build(root, size, pairs)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes: the script's plumbing only")
    parser.add_argument("--only", default=None, help="comma-separated steps to run (default: all)")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    out = Path(os.environ.get("OUT") or tempfile.mkdtemp(prefix="gpu-checks-"))
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {
        "benchmark": "gpu_checks",
        "dry_run": args.dry_run,
        "out": str(out),
        "steps": {},
    }
    summary["steps"]["nvml"] = nvml_check()
    cuda = bool(summary["steps"]["nvml"]["torch_cuda"])
    if not cuda and not args.dry_run:
        summary["error"] = "no CUDA device: run with --dry-run on CPU"
        print(json.dumps(summary))
        return summary
    steps = DRY_STEPS if args.dry_run else GPU_STEPS
    chosen = set(args.only.split(",")) if args.only else None
    with tempfile.TemporaryDirectory(prefix="gpu-checks-store-") as tmp:
        t0 = time.perf_counter()
        store = build_store(Path(tmp), args.dry_run)
        summary["store_build_s"] = round(time.perf_counter() - t0, 1)
        for name, flags, box in steps:
            if chosen is not None and name not in chosen:
                continue
            left = BUDGET_S - (time.perf_counter() - began) - 5
            if left < 20:
                summary["steps"][name] = {"ok": False, "skipped": "the 8-minute budget is spent"}
                continue
            print(f"gpu_checks: {name} (box {min(box, int(left))} s)", file=sys.stderr)
            result = run_bench([*flags, *(DRY_FLAGS if args.dry_run else [])], min(box, int(left)), store)
            summary["steps"][name] = result
            (out / f"{name}.json").write_text(json.dumps(result, indent=1))
    summary["seconds"] = round(time.perf_counter() - began, 1)
    summary["ok"] = all(s.get("ok", True) for s in summary["steps"].values())
    (out / "gpu_checks.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
