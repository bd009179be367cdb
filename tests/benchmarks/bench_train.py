"""Training throughput with the real loader vs the same model fed tensors already in memory.

Both sides run the training loop's own step (`hephaestus.train.loop.train_step`: forward, loss,
backward, AdamW) on the same model and batch, in alternating rounds inside one process, so a change
in machine load hits both alike:
  loader:  batches from `MinicubeDataset.from_catalog` (zarr crops, z-score, the paper's
           augmentation) through the loop's own loader (`make_loader`, the plan `plan_loader("auto")`
           picks from this machine: training threads, loader workers, priority, prefetch), over a
           store built by the real synth -> ingest -> catalog path in a temporary folder;
  memory:  one batch of random tensors of the same shape, already on the device, at its best
           torch thread count (1 or every core: the baseline is the fastest of them).
ratio = loader / memory samples per second (issue 15 item 5 asks >= 0.9 on CPU). The old default,
loading in the training process, is measured beside it.

CPU: a small model (MobileNetV3) at the platform's default crop (512 px, what `hmc train` feeds), and
again at 128 px, where loading and augmenting weigh 16x more against the model's compute (information:
a CPU run's worst case); the CPU numbers say nothing about a GPU node.
CUDA (issue 15 item 6): ResNet-50 at 512 x 512 with bf16 autocast, single pairs and series, GPU
utilisation sampled during each side (torch.cuda.utilization, else nvidia-smi), and a sweep of
loader worker counts reporting the smallest that keeps the GPU >= 90% busy. Without CUDA the GPU
rows say "not measured". Meant to run in one short call on a lent GPU machine (about 3-5 minutes).

Usage: .venv/bin/python tests/benchmarks/bench_train.py [--quick] [--store DIR] [--steps N] [--rounds N]
The last stdout line is one JSON object (with the README's "table" rows).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import torch  # noqa: E402
from perf_table import table_row  # noqa: E402

from hephaestus.platform.inputs import DEFAULT_CROP  # noqa: E402
from hephaestus.train.config import RunConfig  # noqa: E402
from hephaestus.train.data.loader import LoaderPlan, available_cores, busy_cores, plan_loader  # noqa: E402
from hephaestus.train.loop import make_loader, train_step  # noqa: E402
from hephaestus.train.models import build_model  # noqa: E402

GOAL_RATIO = 0.9
GOAL_BUSY = 90.0
Batch = dict[str, torch.Tensor]


def build_store(root: Path, size: int, pairs: int) -> str:
    """A small store through the real pipeline: synthetic sources, ingest (zarr v3), catalog."""
    from hephaestus.catalog import build_catalog
    from hephaestus.ingest import IngestConfig, run_ingest
    from hephaestus.ingest.synthetic import SynthConfig, generate

    generate(
        SynthConfig(frames=2, pairs=pairs, height=size, width=size, seed=0, positive_fraction=0.3),
        root / "src",
    )
    run_ingest(IngestConfig(sources=str(root / "src"), out=str(root / "store"), workers=2))
    build_catalog(root / "store")
    return str(root / "store")


def endless(loader) -> Iterator[Batch]:  # type: ignore[no-untyped-def]
    """The loader's batches epoch after epoch (set_epoch: persistent workers carry on)."""
    epoch = 0
    while True:
        loader.set_epoch(epoch)
        yield from loader
        epoch += 1


def in_memory(batch: Batch) -> Iterator[Batch]:
    while True:
        yield batch


class Utilisation:
    """Samples GPU utilisation (%) every `interval` s in a thread while the block runs."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def read() -> float | None:
        try:
            return float(torch.cuda.utilization())
        except Exception:  # noqa: BLE001 - pynvml missing: ask nvidia-smi
            try:
                out = subprocess.run(
                    ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", "0"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                )
                return float(out.stdout.strip().splitlines()[0])
            except Exception:  # noqa: BLE001
                return None

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self.read()
            if value is not None:
                self.samples.append(value)
            self._stop.wait(self.interval)

    def __enter__(self) -> Utilisation:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


class Trainer:
    """A model, its optimiser and the loop's step, timed over `steps` batches at a thread count."""

    def __init__(self, run: RunConfig, channels: int, device: torch.device) -> None:
        torch.manual_seed(0)
        self.run, self.device = run, device
        self.model = build_model(run.model, channels, weights="random").module.to(device).train()
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=run.learning_rate, weight_decay=run.weight_decay
        )
        self.loss_fn = torch.nn.CrossEntropyLoss()

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def time(self, batches: Iterator[Batch], steps: int, threads: int) -> tuple[float, int, float | None]:
        """(seconds, samples, mean GPU utilisation or None) of `steps` optimiser steps."""
        torch.set_num_threads(threads)
        seen = 0
        self._sync()
        with Utilisation() if self.device.type == "cuda" else _NoUtilisation() as util:
            start = time.perf_counter()
            for _ in range(steps):
                seen += train_step(
                    self.model, next(batches), self.run, self.optimizer, self.loss_fn, self.device
                )[1]
            self._sync()
            seconds = time.perf_counter() - start
        return seconds, seen, util.mean


class _NoUtilisation:
    mean = None

    def __enter__(self) -> _NoUtilisation:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class Side:
    """One side of the comparison: its batches, thread count and running totals."""

    def __init__(self, name: str, batches: Iterator[Batch], threads: int) -> None:
        self.name, self.batches, self.threads = name, batches, threads
        self.seconds = 0.0
        self.samples = 0
        self.busy: list[float] = []

    def add(self, result: tuple[float, int, float | None]) -> None:
        self.seconds += result[0]
        self.samples += result[1]
        if result[2] is not None:
            self.busy.append(result[2])

    @property
    def rate(self) -> float:
        return self.samples / self.seconds if self.seconds else 0.0

    @property
    def gpu_busy(self) -> float | None:
        return round(sum(self.busy) / len(self.busy), 1) if self.busy else None


def interleave(trainer: Trainer, sides: list[Side], steps: int, rounds: int) -> None:
    """Warm every side up (kernels, workers, open cubes), then time them in alternating rounds."""
    for side in sides:
        trainer.time(side.batches, 2, side.threads)
    for _ in range(rounds):
        for side in sides:
            side.add(trainer.time(side.batches, steps, side.threads))
        print("  " + ", ".join(f"{s.name} {s.rate:.1f}" for s in sides) + " samples/s", file=sys.stderr)


def dataset_for(store: str, crop: int, series: bool):  # type: ignore[no-untyped-def]
    from hephaestus.train.data import LoaderConfig, MinicubeDataset

    cfg = LoaderConfig(
        store_url=store,
        split="train",
        series=series,
        crop_size=crop,
        max_offset=crop // 4,
        augment=True,
        shuffle=True,
        seed=0,
        undersample=False,
    )
    return MinicubeDataset.from_catalog(cfg)


def compare(
    store: str,
    model: str,
    crop: int,
    batch_size: int,
    series: bool,
    steps: int,
    rounds: int,
    device: torch.device,
) -> dict[str, Any]:
    """Loader (auto plan, and in-process on CPU) against in-memory tensors at their best thread count."""
    cores = available_cores()
    run = RunConfig(model=model, batch_size=batch_size, crop_size=crop, series=series, weights="random")
    dataset = dataset_for(store, crop, series)
    channels = dataset.in_channels
    trainer = Trainer(run, channels, device)
    busy = busy_cores()
    plan = plan_loader("auto", device_type=device.type, cores=cores, load=busy)
    image = torch.randn(batch_size, channels, crop, crop, device=device)
    label = torch.randint(0, 2, (batch_size,), device=device)
    memory_threads = sorted({1, cores}) if device.type == "cpu" else [plan.torch_threads]
    sides = [Side(f"memory@{t}", in_memory({"image": image, "label": label}), t) for t in memory_threads]
    sides.append(
        Side(
            "loader", endless(make_loader(dataset, run, device, training=True, plan=plan)), plan.torch_threads
        )
    )
    if device.type == "cpu":
        inline = LoaderPlan(num_workers=0, torch_threads=cores)
        sides.append(
            Side("in-process", endless(make_loader(dataset, run, device, training=True, plan=inline)), cores)
        )
    print(
        f"{'series' if series else 'single'}: {len(dataset)} train samples, {channels} channels, "
        f"{model} at {crop} px, batch {batch_size}; plan: {plan.describe()}",
        file=sys.stderr,
    )
    interleave(trainer, sides, steps, rounds)
    by = {s.name: s for s in sides}
    best = max((s for s in sides if s.name.startswith("memory@")), key=lambda s: s.rate)
    loader = by["loader"]
    out: dict[str, Any] = {
        "series": series,
        "samples": len(dataset),
        "channels": channels,
        "plan": plan.describe(),
        "busy_cores_at_plan": round(busy, 2),
        "loader_workers": plan.num_workers,
        "torch_threads": plan.torch_threads,
        "samples_per_s_loader": round(loader.rate, 2),
        "samples_per_s_memory": round(best.rate, 2),
        "memory_best_threads": best.threads,
        "samples_per_s_memory_by_threads": {
            s.threads: round(s.rate, 2) for s in sides if s.name.startswith("memory@")
        },
        "ratio": round(loader.rate / best.rate, 3),
    }
    if "in-process" in by:
        out["samples_per_s_in_process"] = round(by["in-process"].rate, 2)
        out["ratio_in_process"] = round(by["in-process"].rate / best.rate, 3)
    if device.type == "cuda":
        out["gpu_busy_loader"] = loader.gpu_busy
        out["gpu_busy_memory"] = best.gpu_busy
    return out


def worker_sweep(
    store: str, model: str, crop: int, batch_size: int, steps: int, device: torch.device, counts: list[int]
) -> dict[str, Any]:
    """GPU busy % and samples/s with 1, 2, 4, ... loader workers: the smallest count keeping it >= 90%."""
    run = RunConfig(model=model, batch_size=batch_size, crop_size=crop, weights="random")
    dataset = dataset_for(store, crop, False)
    trainer = Trainer(run, dataset.in_channels, device)
    base = plan_loader("auto", device_type=device.type)
    points = []
    for workers in counts:
        plan = LoaderPlan(
            num_workers=workers,
            torch_threads=base.torch_threads,
            prefetch_factor=base.prefetch_factor,
            persistent_workers=True,
            pin_memory=True,
        )
        loader = make_loader(dataset, run, device, training=True, plan=plan)
        batches = endless(loader)
        trainer.time(batches, 3, plan.torch_threads)
        seconds, samples, busy = trainer.time(batches, steps, plan.torch_threads)
        points.append({"workers": workers, "samples_per_s": round(samples / seconds, 1), "gpu_busy": busy})
        print(f"  sweep: {points[-1]}", file=sys.stderr)
        del batches, loader
    enough = [p["workers"] for p in points if p["gpu_busy"] is not None and p["gpu_busy"] >= GOAL_BUSY]
    return {"points": points, "workers_for_90_busy": min(enough) if enough else None}


def table(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The README rows: the CPU ratio against its goal, and the GPU figures (or that they were not measured)."""
    rows = []
    if result["device"] == "cpu":
        c = result["single"]
        what = (
            f"{result['model']}, {result['crop']} px, batch {result['batch_size']}, {result['cores']} cores"
        )
        rows.append(
            table_row(
                f"training samples/s, real loader / in-memory tensors (CPU: {what}; {c['plan']})",
                f"{c['ratio']:.2f} ({c['samples_per_s_loader']:.1f} vs {c['samples_per_s_memory']:.1f} samples/s)",
                f">= {GOAL_RATIO}",
                c["ratio"] >= GOAL_RATIO,
            )
        )
        rows.append(
            table_row(
                "same, loading in the training process (the previous default)",
                f"{c['ratio_in_process']:.2f} ({c['samples_per_s_in_process']:.1f} samples/s)",
            )
        )
        small = result.get("small_crop")
        if small:
            rows.append(
                table_row(
                    f"same at {small['crop']} px, batch {small['batch_size']} (loading 16x heavier against the "
                    f"model's compute; {small['plan']}); in the training process",
                    f"{small['ratio']:.2f} ({small['samples_per_s_loader']:.1f} vs "
                    f"{small['samples_per_s_memory']:.1f} samples/s); {small['ratio_in_process']:.2f}",
                )
            )
        not_measured = "not measured (no CUDA device on this machine)"
        rows.append(
            table_row("GPU (ResNet-50, 512 px, bf16): samples/s and GPU busy, loader vs memory", not_measured)
        )
        rows.append(table_row("GPU: loader workers to keep the GPU >= 90% busy", not_measured))
        return rows
    for key in ("single", "series"):
        c = result[key]
        rows.append(
            table_row(
                f"GPU {result['device']} ({result['model']}, {result['crop']} px, bf16, batch "
                f"{result['batch_size']}, {key}): samples/s, real loader vs in-memory; GPU busy",
                f"{c['samples_per_s_loader']:.0f} vs {c['samples_per_s_memory']:.0f} ({c['ratio']:.2f}); "
                f"busy {c['gpu_busy_loader']}% vs {c['gpu_busy_memory']}%",
                f">= {GOAL_BUSY:.0f}% busy",
                None if c["gpu_busy_loader"] is None else c["gpu_busy_loader"] >= GOAL_BUSY,
            )
        )
    sweep = result["sweep"]
    tried = ", ".join(f"{p['workers']}: {p['gpu_busy']}%" for p in sweep["points"])
    found = sweep["workers_for_90_busy"]
    rows.append(
        table_row(
            f"GPU: loader workers to keep the GPU >= 90% busy (single; tried {tried})",
            str(found) if found is not None else f"more than {sweep['points'][-1]['workers']}",
            ">= 90% busy",
            found is not None,
        )
    )
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--store", default=None, help="use this store instead of building one")
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps per side and round")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds")
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    cores = available_cores()
    load_before = os.getloadavg()
    if cuda:
        model, crop, batch_size, size, pairs = "resnet50", 512, 16, 640, 24 if args.quick else 48
        steps = args.steps or (8 if args.quick else 20)
        rounds = args.rounds or 2
    else:
        # the platform's default crop (what `hmc train` feeds), and a small crop where loading weighs
        # 16x more against the model's compute (information: the worst case of a CPU run)
        model, crop, batch_size = "mobilenetv3_large_100", (256 if args.quick else DEFAULT_CROP), 4
        small_crop, small_batch = (64 if args.quick else 128), 8
        size, pairs = (320, 24) if args.quick else (DEFAULT_CROP + 128, 48)
        steps = args.steps or (3 if args.quick else 6)
        rounds = args.rounds or (2 if args.quick else 3)
        print(
            "no CUDA device: GPU figures (issue 15 item 6) are NOT measured on this machine", file=sys.stderr
        )

    result: dict[str, Any] = {
        "benchmark": "train",
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "cores": cores,
        "model": model,
        "crop": crop,
        "batch_size": batch_size,
        "bf16": cuda,
        "augment": True,
        "steps_per_side": steps * rounds,
        "quick": args.quick,
    }
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        t0 = time.perf_counter()
        store = args.store or build_store(Path(tmp), size, pairs)
        result["store_build_s"] = round(time.perf_counter() - t0, 1)
        print(f"store ready in {result['store_build_s']:.0f} s", file=sys.stderr)
        result["single"] = compare(store, model, crop, batch_size, False, steps, rounds, device)
        if not cuda:
            result["small_crop"] = {"crop": small_crop, "batch_size": small_batch}
            result["small_crop"].update(
                compare(store, model, small_crop, small_batch, False, 2 * steps, rounds, device)
            )
        if cuda:
            result["series"] = compare(store, model, crop, batch_size, True, steps, rounds, device)
            counts = sorted({w for w in (1, 2, 4, 8, 12, cores - 1) if 1 <= w <= max(1, cores - 1)})
            result["sweep"] = worker_sweep(store, model, crop, batch_size, steps, device, counts)
        else:
            result["gpu"] = "not measured: no CUDA device"
    result["ratio"] = result["single"]["ratio"]
    result["load_average"] = [round(x, 2) for x in (*load_before, *os.getloadavg())]
    result["table"] = table(result)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
