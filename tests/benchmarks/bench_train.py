"""Training throughput with the real loader vs the same model fed random tensors already in memory.

One run, side by side: the same model, batch, crop and optimiser step (AdamW, cross-entropy),
  loader:  batches from `MinicubeDataset.from_catalog` (zarr crops, z-score, augmentation) through a
           torch DataLoader, over a small store built by the real synth -> ingest -> catalog path;
  memory:  one batch of random tensors of the same shape, already on the device.
ratio = loader / memory samples per second: near 1 means compute limits training, well below 1
means loading does. A loader-only pass (no model) is reported too.
On CUDA: ResNet-50 at 512 x 512 with bf16 autocast (the paper's setting); on CPU a small model at
a small crop (the CPU numbers say nothing about a GPU node, only about this machine).
Usage: .venv/bin/python tests/benchmarks/bench_train.py [--quick] [--store URL] [--steps N]
The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from hephaestus.train.loop import _collate  # noqa: E402
from hephaestus.train.models import build_model  # noqa: E402


def build_store(root: Path, quick: bool) -> str:
    """A small store through the real pipeline: synthetic sources, ingest (zarr v3), catalog."""
    from hephaestus.catalog import build_catalog
    from hephaestus.ingest import IngestConfig, run_ingest
    from hephaestus.ingest.synthetic import SynthConfig, generate

    size = 128 if quick else 256
    pairs = 24 if quick else 48
    generate(
        SynthConfig(frames=2, pairs=pairs, height=size, width=size, seed=0, positive_fraction=0.3),
        root / "src",
    )
    run_ingest(IngestConfig(sources=str(root / "src"), out=str(root / "store"), workers=2))
    build_catalog(root / "store")
    return str(root / "store")


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_steps(model, optimizer, batches, steps: int, device: torch.device) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Seconds and samples for `steps` optimiser steps drawing batches from an iterator."""
    loss_fn = torch.nn.CrossEntropyLoss()
    seen = 0
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        image, label = next(batches)
        image = image.to(device, non_blocking=True)
        label = label.to(device, non_blocking=True)
        with autocast(device):
            logits = model(image)
        loss = loss_fn(logits.float(), label)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += len(image)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, seen


def loader_batches(dataset, batch_size: int, workers: int, pin: bool):  # type: ignore[no-untyped-def]
    """Endless (image, label) batches from the real loader, a new epoch when one ends."""
    epoch = 0
    while True:
        dataset.set_epoch(epoch)
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=workers,
            collate_fn=_collate,
            pin_memory=pin,
            persistent_workers=False,
        )
        for batch in loader:
            yield batch["image"], batch["label"]
        epoch += 1


def memory_batches(image: torch.Tensor, label: torch.Tensor):  # type: ignore[no-untyped-def]
    while True:
        yield image, label


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--store", default=None, help="use this store instead of building one")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--loader-workers", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3, help="alternating memory/loader rounds")
    args = parser.parse_args(argv)

    from hephaestus.train.data import LoaderConfig, MinicubeDataset

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    if cuda:
        model_name, crop, batch_size = "resnet50", 512, 16
        steps = args.steps or (10 if args.quick else 30)
        workers = args.loader_workers if args.loader_workers is not None else min(8, os.cpu_count() or 1)
    else:
        model_name, crop, batch_size = "mobilenetv3_large_100", (64 if args.quick else 128), 8
        steps = args.steps or (4 if args.quick else 10)
        # The training loop's default on 2 cores: the model takes both, loading runs in the main process.
        workers = args.loader_workers if args.loader_workers is not None else 0

    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        t0 = time.perf_counter()
        store = args.store or build_store(Path(tmp), args.quick)
        build_s = time.perf_counter() - t0
        cfg = LoaderConfig(
            store_url=store, split="train", crop_size=crop, max_offset=crop // 4, augment=True, seed=0
        )
        dataset = MinicubeDataset.from_catalog(cfg)
        channels = dataset.in_channels
        print(
            f"store ready in {build_s:.0f} s: {len(dataset)} train samples, {channels} channels",
            file=sys.stderr,
        )

        torch.manual_seed(0)
        model = build_model(model_name, channels, weights="random").module.to(device).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=1e-2)
        pin = device.type == "cuda"

        # Loader-only pass: how fast the loader alone delivers samples.
        batches = loader_batches(dataset, batch_size, workers, pin)
        next(batches)
        start = time.perf_counter()
        for _ in range(steps):
            next(batches)
        loader_only = steps * batch_size / (time.perf_counter() - start)

        # Warm up both paths (first steps allocate and tune kernels), then time them in alternating
        # rounds so that a change in machine load hits both sides alike.
        image = torch.randn(batch_size, channels, crop, crop, device=device)
        label = torch.randint(0, 2, (batch_size,), device=device)
        in_memory = memory_batches(image, label)
        batches = loader_batches(dataset, batch_size, workers, pin)
        train_steps(model, optimizer, in_memory, 2, device)
        train_steps(model, optimizer, batches, 1, device)
        mem_s = mem_n = load_s = load_n = 0.0
        for _ in range(args.rounds):
            s, n = train_steps(model, optimizer, in_memory, steps, device)
            mem_s, mem_n = mem_s + s, mem_n + n
            s, n = train_steps(model, optimizer, batches, steps, device)
            load_s, load_n = load_s + s, load_n + n

    memory = mem_n / mem_s
    loader = load_n / load_s
    result = {
        "benchmark": "train",
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "cpu_threads": torch.get_num_threads(),
        "model": model_name,
        "crop": crop,
        "batch_size": batch_size,
        "channels": channels,
        "bf16": bool(cuda),
        "steps": steps * args.rounds,
        "loader_workers": workers,
        "augment": True,
        "samples_per_s_loader": round(loader, 2),
        "samples_per_s_memory": round(memory, 2),
        "ratio": round(loader / memory, 3),
        "loader_only_samples_per_s": round(loader_only, 2),
        "bound_by": "loading" if loader / memory < 0.8 else "compute",
        "store_build_s": round(build_s, 1),
        "quick": args.quick,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
