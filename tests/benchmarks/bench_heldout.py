"""Detection where monitoring uses it: whole-frame metrics on volcanoes the models never saw (issue 23).

Trains the demo's detectors on a catalogued store (the twin of real frames, or the free generator) with the
catalog's volcano split (frames of the test and validation volcanoes held out whole), each training scheme
side by side, then scores every pair of the held-out test volcanoes through the monitor's own code path
(`hmc evaluate`: whole-frame score, calibrated threshold, area gate) and reports, per scheme: frame AUROC,
precision / recall / F1 at the calibrated threshold, false alerts per volcano-year, onset delay, with the
persistence rule off (K=1) and on (K=2), per seed and as a mean over seeds (training on a CPU is not
bit-reproducible and one seed's figure swings by several AUROC points). `--paper S` adds scheme S on the
paper's split.

Schemes (names as in the JSON):
- `clf-centred`: MobileNetV3 on the paper's crop placement (around the deformation, frame centre otherwise);
- `clf-frame-loss`: the same on frame windows (`windows: frame`: anywhere in the frame, labels from the
  window), the epoch of the lowest validation loss kept (before the whole-frame choice);
- `clf-frame`: frame windows, the epoch of the highest whole-frame validation AUROC kept (`select_by` auto);
- `clf-frame-synth`: frame windows with half of the windows without deformation given a drawn source's
  fringes (`synthetic_positives: 0.5`, `train.data.inject`);
- `clf-frame-hard`, `clf-frame-synth-hard`: `clf-frame` (`clf-frame-synth`), then its highest-scoring
  window of every training pair without deformation mined and fed back as a negative half of the time,
  fine-tuning its weights for half as many epochs at lr 5e-4 (`train.hard_negatives`, `hard_negatives`);
- `clf-frame-synth-aug`: `clf-frame-synth` with the authors' augmentation (blur, resized crop, flips, rotation);
- `seg-centred`: a ResNet-18 UNet, its frame score the highest pixel probability;
- `clf-frame+seg`, `clf-frame-synth+seg`: the monitor's pairing (seed 0): the classifier's score, the segmenter's
  mask and area gate.

Usage: .venv/bin/python tests/benchmarks/bench_heldout.py --store STORE --out RESULTS [--epochs 20]
       [--schemes a,b] [--seeds 0,1,2] [--paper SCHEME]
Last stdout line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any


def _run(store: str, out: str, split_scheme: str, **settings: Any) -> tuple[str, float]:
    from hephaestus.train.config import RunConfig
    from hephaestus.train.trainer import train_run

    base = dict(
        crop_size=64, max_offset=16, batch_size=16, encoder="resnet18", augment=False, weights="random",
        workers=1, num_to_keep=1, atmosphere=False, mlflow_tracking_uri="off", split_scheme=split_scheme,
    )  # fmt: skip
    run = RunConfig(**{**base, **settings})
    start = time.perf_counter()
    result = train_run(run, store, out)
    assert result.checkpoint, run.run_id
    return result.checkpoint, time.perf_counter() - start


def _evaluate(checkpoints: list[str], store: str, split_scheme: str) -> dict[str, Any]:
    from hephaestus.monitor.evaluate import evaluate, summarise

    ev = evaluate(checkpoints, store, split="test", split_scheme=split_scheme)
    k2 = summarise(ev.rows, ev.summary["threshold"], persistence=2)
    keep = (
        "frame_auroc",
        "precision",
        "recall",
        "f1",
        "false_alerts_per_volcano_year",
        "onset_delay",
        "pairs",
    )
    return {
        **{k: ev.summary[k] for k in (*keep, "threshold", "threshold_source")},
        "persistence_2": {k: k2[k] for k in keep},
    }


MEAN_KEYS = ("frame_auroc", "precision", "recall", "f1", "false_alerts_per_volcano_year")


def _mean(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over seeds of each metric (None where a seed has none: no alert gives no precision), and the
    onsets missed and counted, summed."""
    out: dict[str, Any] = {}
    for k in MEAN_KEYS:
        values = [r[k] for r in runs if r.get(k) is not None]
        out[k] = round(sum(values) / len(values), 4) if values else None
        out[f"{k}_by_seed"] = [None if r.get(k) is None else round(r[k], 4) for r in runs]
    out["onsets_missed"] = sum(r["onset_delay"]["missed"] for r in runs)
    out["onsets"] = sum(r["onset_delay"]["episodes"] for r in runs)
    return out


def plans(epochs: int) -> dict[str, dict[str, Any]]:
    """Each scheme's run settings (a frame-window epoch keeps half the samples of a centred one: twice the
    epochs, the same optimiser steps)."""
    clf, frame = "mobilenetv3_large_100", dict(epochs=2 * epochs, windows="frame")
    return {
        "clf-centred": dict(model=clf, epochs=epochs),
        "clf-frame-loss": dict(model=clf, **frame, select_by="val_loss"),
        "clf-frame": dict(model=clf, **frame),
        "clf-frame-synth": dict(model=clf, **frame, synthetic_positives=0.5),
        "clf-frame-synth-aug": dict(model=clf, **frame, synthetic_positives=0.5, augment=True),
        "clf-frame-hard": {},  # two stages: `_hard_run`
        "clf-frame-synth-hard": {},
        "seg-centred": dict(model="unet", epochs=epochs),
    }


HARD_BASE = {"clf-frame-hard": "clf-frame", "clf-frame-synth-hard": "clf-frame-synth"}
"""Two-stage schemes and the scheme of their first stage."""
HARD_LR = 5e-4
"""Stage 2 of the hard-negative scheme fine-tunes stage 1's weights at a quarter of the from-scratch rate."""


def _hard_run(store: str, out: str, seed: int, base: dict[str, Any], stage1: str | None) -> tuple[str, float]:
    """Stage 1: the base scheme's run `base` (reused when this invocation trained it, or given); mine the
    highest-scoring window of every training pair without deformation (`train.hard_negatives`); stage 2:
    fine-tune stage 1's weights on frame windows that draw the mined windows half of the time."""
    from pathlib import Path

    from hephaestus.train.data.mined import write_mined
    from hephaestus.train.hard_negatives import mine
    from hephaestus.train.predict import resolve_checkpoint

    start = time.perf_counter()
    if stage1 is None:
        stage1, _ = _run(store, f"{out}/stage1", "volcano", seed=seed, **base)
    folder = Path(resolve_checkpoint(stage1))
    mined_url = f"{out}/mined-s{seed}.json"
    Path(out).mkdir(parents=True, exist_ok=True)
    write_mined(mined_url, mine(str(folder), store, "volcano"))
    weights = folder / "best.pt" if (folder / "best.pt").exists() else folder / "model.pt"
    stage2 = {**base, "epochs": base["epochs"] // 2, "hard_negatives": mined_url}
    ckpt, _ = _run(store, out, "volcano", seed=seed, weights=str(weights), lr=HARD_LR, **stage2)
    return ckpt, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--schemes", default="clf-centred,clf-frame-loss,clf-frame,clf-frame-synth")
    ap.add_argument(
        "--seeds", default="0", help="comma-separated seeds; each scheme is trained once per seed"
    )
    ap.add_argument("--paper", default="", help="also this scheme on the paper's split (seed 0)")
    ap.add_argument(
        "--stage1",
        default=None,
        help="two-stage schemes: first-stage checkpoints, one per seed (comma-separated)",
    )
    ap.add_argument(
        "--frame-val-every",
        type=int,
        default=1,
        help="monitoring classifiers: whole-frame validation every N epochs",
    )
    args = ap.parse_args()

    from hephaestus.platform.ray_session import ray_session

    wanted = args.schemes.split(",")
    seeds = [int(x) for x in args.seeds.split(",")]
    settings = plans(args.epochs)
    for plan in settings.values():
        if plan.get("windows") == "frame":
            plan["frame_val_every"] = args.frame_val_every
    result: dict[str, Any] = {"store": args.store, "epochs": args.epochs, "seeds": seeds, "schemes": {}}
    checkpoints: dict[tuple[str, int], str] = {}
    with ray_session():
        for name in wanted:
            runs = []
            for seed in seeds:
                out = f"{args.out}/{name}"  # one folder per scheme: run ids do not name every setting
                if name in HARD_BASE:
                    given = dict(zip(seeds, args.stage1.split(","), strict=False)) if args.stage1 else {}
                    first = checkpoints.get((HARD_BASE[name], seed)) or given.get(seed)
                    ckpt, seconds = _hard_run(args.store, out, seed, settings[HARD_BASE[name]], first)
                else:
                    ckpt, seconds = _run(args.store, out, "volcano", seed=seed, **settings[name])
                checkpoints[(name, seed)] = ckpt
                runs.append(
                    {
                        "seed": seed,
                        "train_seconds": round(seconds, 1),
                        **_evaluate([ckpt], args.store, "volcano"),
                    }
                )
                print(name, json.dumps(runs[-1]), flush=True)
            result["schemes"][name] = {"runs": runs, "mean": _mean(runs)}
            print(name, "mean", json.dumps(result["schemes"][name]["mean"]), flush=True)
        for clf in ("clf-frame", "clf-frame-synth"):
            if (clf, seeds[0]) in checkpoints and ("seg-centred", seeds[0]) in checkpoints:
                pair = [checkpoints[(clf, seeds[0])], checkpoints[("seg-centred", seeds[0])]]
                result["schemes"][f"{clf}+seg"] = _evaluate(pair, args.store, "volcano")
        if args.paper:
            ckpt, seconds = _run(
                args.store, f"{args.out}/paper-{args.paper}", "paper", **settings[args.paper]
            )
            result["paper_split"] = {
                args.paper: {"train_seconds": round(seconds, 1), **_evaluate([ckpt], args.store, "paper")}
            }
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
