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
CUDA (issue 15 item 6, issue 26 item 3): ResNet-50 at 512 x 512 with bf16 autocast, single pairs and
series, GPU utilisation sampled in-process through NVML (`hephaestus.train.gpu_usage`) during each
side, and a sweep of loader worker counts (`--workers`) reporting samples/s, GPU busy and the loader
cores one GPU needs. The loader is persistent and its epoch long (`Repeated`: the small store's epoch
repeated), so the timed steps never cross an epoch boundary; warm-up steps (`--warmup`: cuDNN's
autotuner, the workers' first batches) are excluded. Without CUDA the GPU rows say "not measured";
`--sweep` runs the sweep on CPU too (tiny sizes with `--quick`: how tests run it).
`tests/benchmarks/gpu_checks.py` runs every GPU check through this script within 8 minutes.

Usage: .venv/bin/python tests/benchmarks/bench_train.py [--quick] [--store DIR] [--steps N] [--rounds N]
       [--warmup N] [--workers 0,2,4,8,12] [--only single|series|sweep] [--sweep] [--channels-last]
       [--no-cudnn-benchmark] [--batch-size N]
The last stdout line is one JSON object (with the README's "table" rows).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from perf_table import table_row  # noqa: E402

from hephaestus.platform.inputs import DEFAULT_CROP  # noqa: E402
from hephaestus.train.config import RunConfig  # noqa: E402
from hephaestus.train.data.loader import LoaderPlan, available_cores, busy_cores, plan_loader  # noqa: E402
from hephaestus.train.gpu_usage import GpuBusy  # noqa: E402
from hephaestus.train.loop import DeviceBatches, make_loader, train_step  # noqa: E402
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


class Repeated:
    """A dataset whose epoch is its own epoch's indices `times` over: one long epoch of a small store, so
    a persistent loader's timed steps never wait at an epoch boundary (its queue drained and refilled)."""

    def __init__(self, dataset, times: int) -> None:  # type: ignore[no-untyped-def]
        self.dataset, self.times = dataset, max(1, times)
        self.input_spec = dataset.input_spec
        self.in_channels = dataset.in_channels

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        return self.dataset[index]

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def epoch_indices(self, epoch: int | None = None) -> np.ndarray:
        return np.tile(self.dataset.epoch_indices(epoch), self.times)


class Trainer:
    """A model, its optimiser and the loop's step, timed over `steps` batches at a thread count."""

    def __init__(self, run: RunConfig, channels: int, device: torch.device) -> None:
        torch.manual_seed(0)
        self.run, self.device = run, device
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = run.cudnn_benchmark
        self.model = build_model(run.model, channels, weights="random").module.to(device).train()
        if run.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
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
        with GpuBusy(self.device.index or 0) if self.device.type == "cuda" else _NoUtilisation() as util:
            start = time.perf_counter()
            for _ in range(steps):  # the loop's step: no host-device sync inside
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


def on_device(batches: Iterator[Batch], device: torch.device) -> Iterator[Batch]:
    """The batches copied as the training loop copies them (a side CUDA stream; plain on CPU)."""
    return iter(DeviceBatches(batches, device))


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


def interleave(trainer: Trainer, sides: list[Side], steps: int, rounds: int, warmup: int = 2) -> None:
    """Warm every side up (kernels, workers, open cubes: `warmup` steps, not timed), then time them in
    alternating rounds."""
    for side in sides:
        trainer.time(side.batches, warmup, side.threads)
    for _ in range(rounds):
        for side in sides:
            side.add(trainer.time(side.batches, steps, side.threads))
        print("  " + ", ".join(f"{s.name} {s.rate:.1f}" for s in sides) + " samples/s", file=sys.stderr)


def dataset_for(store: str, crop: int, series: bool, repeat: int = 1):  # type: ignore[no-untyped-def]
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
    dataset = MinicubeDataset.from_catalog(cfg)
    return Repeated(dataset, repeat) if repeat > 1 else dataset


def compare(
    store: str,
    model: str,
    crop: int,
    batch_size: int,
    series: bool,
    steps: int,
    rounds: int,
    device: torch.device,
    opts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Loader (auto plan, and in-process on CPU) against in-memory tensors at their best thread count.
    `opts`: "warmup" steps, "repeat" (epoch length, `Repeated`) and RunConfig settings (channels_last, ...)."""
    opts = dict(opts or {})
    warmup, repeat = opts.pop("warmup", 2), opts.pop("repeat", 1)
    cores = available_cores()
    run = RunConfig(
        model=model, batch_size=batch_size, crop_size=crop, series=series, weights="random", **opts
    )
    dataset = dataset_for(store, crop, series, repeat)
    channels = dataset.in_channels
    trainer = Trainer(run, channels, device)
    busy = busy_cores()
    plan = plan_loader("auto", device_type=device.type, cores=cores, load=busy)
    image = torch.randn(batch_size, channels, crop, crop, device=device)
    label = torch.randint(0, 2, (batch_size,), device=device)
    loader = make_loader(dataset, run, device, training=True, plan=plan)
    memory_threads = sorted({1, cores}) if device.type == "cpu" else [plan.torch_threads]
    sides = [Side(f"memory@{t}", in_memory({"image": image, "label": label}), t) for t in memory_threads]
    sides.append(Side("loader", on_device(endless(loader), device), plan.torch_threads))
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
    interleave(trainer, sides, steps, rounds, warmup)
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
        "warmup_steps": warmup,
        "settings": {
            k: getattr(run, k) for k in ("channels_last", "cudnn_benchmark", "amp", "prefetch_factor")
        },
    }
    if "in-process" in by:
        out["samples_per_s_in_process"] = round(by["in-process"].rate, 2)
        out["ratio_in_process"] = round(by["in-process"].rate / best.rate, 3)
    if device.type == "cuda":
        out["gpu_busy_loader"] = loader.gpu_busy
        out["gpu_busy_memory"] = best.gpu_busy
    return out


def worker_sweep(
    store: str,
    model: str,
    crop: int,
    batch_size: int,
    steps: int,
    device: torch.device,
    counts: list[int],
    opts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """GPU busy % and samples/s at each loader worker count, each over one persistent loader whose epoch
    outlasts the timed steps (warm-up excluded); beside them the in-memory rate (what the GPU does when
    never waiting). Loader cores one GPU needs: the smallest count keeping it >= 90% busy, else the
    in-memory rate over the best rate a worker delivered (an estimate beyond the counts tried)."""
    opts = dict(opts or {})
    warmup, repeat = opts.pop("warmup", 3), opts.pop("repeat", 1)
    run = RunConfig(model=model, batch_size=batch_size, crop_size=crop, weights="random", **opts)
    dataset = dataset_for(store, crop, False, repeat)
    trainer = Trainer(run, dataset.in_channels, device)
    cores = available_cores()
    image = torch.randn(batch_size, dataset.in_channels, crop, crop, device=device)
    memory = in_memory({"image": image, "label": torch.randint(0, 2, (batch_size,), device=device)})
    threads = plan_loader("auto", device_type=device.type, cores=cores).torch_threads
    trainer.time(memory, warmup, threads)
    seconds, samples, memory_busy = trainer.time(memory, steps, threads)
    memory_rate = samples / seconds
    points = []
    for workers in counts:
        plan = plan_loader(workers, device_type=device.type, cores=cores, load=0.0)
        plan = LoaderPlan(
            num_workers=workers,
            torch_threads=plan.torch_threads,
            prefetch_factor=plan.prefetch_factor,
            persistent_workers=workers > 0,
            pin_memory=device.type == "cuda",
        )
        loader = make_loader(dataset, run, device, training=True, plan=plan)
        batches = on_device(endless(loader), device)
        trainer.time(batches, warmup, plan.torch_threads)
        seconds, samples, busy = trainer.time(batches, steps, plan.torch_threads)
        points.append(
            {
                "workers": workers,
                "torch_threads": plan.torch_threads,
                "samples_per_s": round(samples / seconds, 1),
                "gpu_busy": busy,
            }
        )
        print(f"  sweep: {points[-1]}", file=sys.stderr)
        del batches, loader
    enough = [p["workers"] for p in points if p["gpu_busy"] is not None and p["gpu_busy"] >= GOAL_BUSY]
    per_worker = max((p["samples_per_s"] / p["workers"] for p in points if p["workers"]), default=0.0)
    estimate = math.ceil(memory_rate / per_worker) if per_worker else None
    return {
        "points": points,
        "samples_per_s_memory": round(memory_rate, 1),
        "gpu_busy_memory": memory_busy,
        "workers_for_90_busy": min(enough) if enough else None,
        "loader_cores_per_gpu": min(enough) if enough else estimate,
        "loader_cores_per_gpu_estimated": not enough,
        "steps": steps,
        "warmup_steps": warmup,
    }


def table(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The README rows: the CPU ratio against its goal, and the GPU figures (or that they were not measured)."""
    rows: list[dict[str, Any]] = []
    if "single" not in result and result["device"] == "cpu":
        return rows
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
        if "ratio_in_process" not in c:
            return rows
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
        if key not in result:
            continue
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
    sweep = result.get("sweep")
    if not sweep:
        return rows
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


def _counts(text: str | None, cores: int) -> list[int]:
    """Worker counts to sweep: the given list, else 0, 2, 4, 8, 12 and every core but one, within the cores."""
    if text:
        return sorted({int(w) for w in text.split(",") if w.strip()})
    return sorted({w for w in (0, 2, 4, 8, 12, cores - 1) if 0 <= w <= max(0, cores - 1)})


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--store", default=None, help="use this store instead of building one")
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps per side and round")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps before each side")
    parser.add_argument("--workers", default=None, help="loader worker counts to sweep, e.g. 0,2,4,8,12")
    parser.add_argument("--only", choices=("single", "series", "sweep"), default=None)
    parser.add_argument("--sweep", action="store_true", help="run the worker sweep on CPU too")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--no-cudnn-benchmark", action="store_true")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--pairs", type=int, default=None, help="pairs of the store built")
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    cores = available_cores()
    load_before = os.getloadavg()
    if cuda:
        model, crop, batch_size, size = "resnet50", 512, 16, 640
        pairs = args.pairs or (24 if args.quick else 48)
        steps = args.steps or (20 if args.quick else 60)
        rounds = args.rounds or 2
        warmup = args.warmup if args.warmup is not None else 10
    else:
        # the platform's default crop (what `hmc train` feeds), and a small crop where loading weighs
        # 16x more against the model's compute (information: the worst case of a CPU run)
        model, crop, batch_size = "mobilenetv3_large_100", (256 if args.quick else DEFAULT_CROP), 4
        small_crop, small_batch = (64 if args.quick else 128), 8
        size, pairs = (320, 24) if args.quick else (DEFAULT_CROP + 128, 48)
        pairs = args.pairs or pairs
        steps = args.steps or (3 if args.quick else 6)
        rounds = args.rounds or (2 if args.quick else 3)
        warmup = args.warmup if args.warmup is not None else 2
        print(
            "no CUDA device: GPU figures (issue 15 item 6) are NOT measured on this machine", file=sys.stderr
        )
    batch_size = args.batch_size or batch_size
    settings = {"channels_last": args.channels_last, "cudnn_benchmark": not args.no_cudnn_benchmark}
    if args.quick and not cuda:
        settings["prefetch_factor"] = 2
    # one epoch outlasts every timed side: (warm-up + rounds x steps) batches per side, 4 sides at most
    repeat = max(1, math.ceil(4 * (warmup + rounds * steps) * batch_size / max(pairs // 2, 1)))
    opts = {"warmup": warmup, "repeat": repeat, **settings}

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
        "warmup_steps": warmup,
        "quick": args.quick,
        **settings,
    }
    wanted = {args.only} if args.only else ({"single", "series", "sweep"} if cuda else {"single"})
    if args.sweep:
        wanted.add("sweep")
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        t0 = time.perf_counter()
        store = args.store or build_store(Path(tmp), size, pairs)
        result["store_build_s"] = round(time.perf_counter() - t0, 1)
        print(f"store ready in {result['store_build_s']:.0f} s", file=sys.stderr)
        if "single" in wanted:
            result["single"] = compare(store, model, crop, batch_size, False, steps, rounds, device, opts)
        if "single" in wanted and not cuda and not args.only:
            result["small_crop"] = {"crop": small_crop, "batch_size": small_batch}
            result["small_crop"].update(
                compare(store, model, small_crop, small_batch, False, 2 * steps, rounds, device, opts)
            )
        if "series" in wanted:
            result["series"] = compare(store, model, crop, batch_size, True, steps, rounds, device, opts)
        if "sweep" in wanted:
            counts = _counts(args.workers, cores)
            result["sweep"] = worker_sweep(store, model, crop, batch_size, steps, device, counts, opts)
        if not cuda:
            result["gpu"] = "not measured: no CUDA device"
    if "single" in result:
        result["ratio"] = result["single"]["ratio"]
    result["load_average"] = [round(x, 2) for x in (*load_before, *os.getloadavg())]
    result["table"] = table(result)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
