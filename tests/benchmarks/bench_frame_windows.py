"""Train for what is scored (issue 23 item 3): centred training crops vs frame windows, scored as monitoring scores.

Trains the demo's classifier (`train.config.demo_grid` base: mobilenetv3_large_100 from random weights,
lr 2e-3, 64 px crops, max_offset 16, no augmentation) twice on the same store, once with
`windows="centred"` (the paper's placement) and once with `windows="frame"`, then scores every test
pair of the store as the monitor does: the whole-frame input (`train.predict.prediction_input`), the
model slid over it (`sliding_prediction`, per-pixel mean of the overlapping window probabilities), the
pair's score the highest value over pixels with data (`monitor.score.Scorer.predict`). AUROC of that
score against the pair's positive flag is the whole-frame AUROC; the crop AUROC is the run's own test
metric (fixed centred crops). Undersampled frame-window epochs hold the covering windows and as many
others (`sampling.COVER_PROBABILITY` of the positives' count, twice), so the frame run gets
`--epochs / COVER_PROBABILITY` epochs by default: both runs take about the same optimizer steps.
A store is built (synth -> ingest -> catalog, the demo's sizes by
default) unless one is given.

Usage: nice -n 10 .venv/bin/python tests/benchmarks/bench_frame_windows.py [--store DIR] [--epochs N]
       [--frames N --pairs N --size PX] [--atmosphere] [--out DIR]
The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import numpy as np  # noqa: E402

from hephaestus.train.data.sampling import COVER_PROBABILITY  # noqa: E402

MODES = ("centred", "frame")


def build_store(root: Path, frames: int, pairs: int, size: int, seed: int) -> str:
    """A store through the real pipeline with the demo's generator settings (30 % positives)."""
    from hephaestus.catalog import build_catalog
    from hephaestus.ingest import IngestConfig, run_ingest
    from hephaestus.ingest.synthetic import SynthConfig, generate

    synth = SynthConfig(frames=frames, pairs=pairs, height=size, width=size, seed=seed, positive_fraction=0.3)
    generate(synth, root / "src")
    run_ingest(IngestConfig(sources=str(root / "src"), out=str(root / "store"), workers=1))
    build_catalog(root / "store")
    return str(root / "store")


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a positive outscores a negative (ties count half): the Mann-Whitney form."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (pos.size * neg.size))


def frame_scores(checkpoint: str, store: str, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """(whole-frame score, positive flag) of every usable pair of `split`, scored as the monitor scores."""
    from hephaestus import catalog
    from hephaestus.platform import schema
    from hephaestus.platform.cube import open_cube
    from hephaestus.train.predict import load_checkpoint, prediction_input, sliding_prediction

    model = load_checkpoint(checkpoint)
    rows = catalog.read_pairs(store, split=split, usable_only=True).to_pylist()
    cubes: dict[str, Any] = {}
    scores, labels = [], []
    for row in rows:
        url = str(row["cube_url"])
        ds = cubes.setdefault(url, open_cube(url))
        i, j = int(row["primary_index"]), int(row["secondary_index"])
        phase = np.asarray(ds["insar_difference"].isel({schema.PRIMARY: i, schema.SECONDARY: j}).values)
        valid = np.isfinite(phase) & (phase != 0)
        image = prediction_input(model.spec, ds, url, i, j, store)
        window = min(model.spec.crop_size, max(image.shape[1:]))
        prob = sliding_prediction(model.module, image, model.run.task, window)
        scores.append(float(np.max(np.where(valid, prob, 0.0))))
        labels.append(int(bool(row["positive"])))
    return np.array(scores), np.array(labels)


def train_mode(store: str, out: Path, windows: str, epochs: int, atmosphere: bool) -> dict[str, Any]:
    from hephaestus.train.config import demo_grid
    from hephaestus.train.trainer import train_run

    base = demo_grid().base
    run = base.model_copy(
        update=dict(
            model="mobilenetv3_large_100",
            epochs=epochs,
            atmosphere=atmosphere,
            windows=windows,
            mlflow_tracking_uri="off",
            loader_workers=0,
        )
    )
    t0 = time.perf_counter()
    result = train_run(run, store, str(out / windows))
    seconds = time.perf_counter() - t0
    assert result.checkpoint, f"{windows}: no checkpoint"
    t1 = time.perf_counter()
    scores, labels = frame_scores(result.checkpoint, store)
    return {
        "windows": windows,
        "epochs": epochs,
        "crop_auroc": result.metrics.get("test_auroc"),
        "crop_f1": result.metrics.get("test_f1"),
        "frame_auroc": auroc(scores, labels),
        "frame_positive_rate_at_0.5": float(np.mean(scores >= 0.5)),
        "frame_precision_at_0.5": float(labels[scores >= 0.5].mean()) if (scores >= 0.5).any() else None,
        "test_pairs": int(labels.size),
        "test_positives": int(labels.sum()),
        "train_seconds": round(seconds, 1),
        "score_seconds": round(time.perf_counter() - t1, 1),
        "best_epoch": result.best_epoch,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", help="an ingested store with a catalog (default: built in a temp folder)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--frame-epochs", type=int, help="default: epochs / COVER_PROBABILITY (equal steps)")
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=300, help="pairs per frame of the built store")
    ap.add_argument("--size", type=int, default=128, help="frame edge (px) of the built store")
    ap.add_argument("--seed", type=int, default=0, help="generator seed of the built store")
    ap.add_argument("--atmosphere", action="store_true", help="add the ERA5 channels")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated windows modes")
    ap.add_argument("--out", help="results folder (default: a temp folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-frame-windows-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        store = args.store or build_store(root, args.frames, args.pairs, args.size, args.seed)
        build_s = time.perf_counter() - t0
        out = Path(args.out) if args.out else root / "results"
        frame_epochs = args.frame_epochs or round(args.epochs / COVER_PROBABILITY)
        epochs = {"centred": args.epochs, "frame": frame_epochs}
        runs = [train_mode(store, out, m, epochs[m], args.atmosphere) for m in args.modes.split(",")]
    for r in runs:
        print(
            f"{r['windows']:>8}: crop AUROC {r['crop_auroc']:.3f}  whole-frame AUROC {r['frame_auroc']:.3f}"
            f"  frames >= 0.5: {r['frame_positive_rate_at_0.5']:.2f} ({r['test_pairs']} test pairs)"
        )
    summary = {
        "benchmark": "frame_windows",
        "epochs": epochs,
        "store": args.store or f"built: {args.frames} frames x {args.pairs} pairs, {args.size} px",
        "store_build_seconds": round(build_s, 1),
        "runs": runs,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
