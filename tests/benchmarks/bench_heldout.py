"""Detection where monitoring uses it: whole-frame metrics on volcanoes the models never saw (issue 23).

Trains the demo's detectors on a catalogued store (the twin of real frames, or the free generator) with the
catalog's volcano split (frames of the test and validation volcanoes held out whole), each training scheme
side by side, then scores every pair of the held-out test volcanoes through the monitor's own code path
(`hmc evaluate`: whole-frame score, calibrated threshold, area gate) and reports, per scheme: frame AUROC,
precision / recall / F1 at the calibrated threshold, false alerts per volcano-year, onset delay, with the
persistence rule off (K=1) and on (K=2). `--paper` adds the chosen scheme on the paper's split.

Schemes (names as in the JSON):
- `clf-centred`: MobileNetV3 on the paper's crop placement (around the deformation, frame centre otherwise);
- `clf-frame`: the same on frame windows (`windows: frame`: anywhere in the frame, labels from the window);
- `clf-frame-synth`: frame windows with half of the windows without deformation given a drawn source's
  fringes (`synthetic_positives: 0.5`, `train.data.inject`);
- `clf-frame-synth-aug`: the same with the authors' augmentation (blur, resized crop, flips, rotation);
- `seg-centred`: a ResNet-18 UNet, its frame score the highest pixel probability;
- `clf-frame+seg`: the monitor's pairing: the classifier's score, the segmenter's mask and area gate.

Usage: .venv/bin/python tests/benchmarks/bench_heldout.py --store STORE --out RESULTS [--epochs 20] [--paper]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--schemes", default="clf-centred,clf-frame,seg-centred")
    ap.add_argument(
        "--paper", action="store_true", help="also the frame-window classifier on the paper split"
    )
    args = ap.parse_args()

    from hephaestus.platform.ray_session import ray_session

    wanted = args.schemes.split(",")
    result: dict[str, Any] = {"store": args.store, "epochs": args.epochs, "schemes": {}}
    checkpoints: dict[str, str] = {}
    with ray_session():
        plans = {
            "clf-centred": dict(model="mobilenetv3_large_100", epochs=args.epochs),
            # a frame-window epoch keeps half the samples of a centred one: twice the epochs, same steps
            "clf-frame": dict(model="mobilenetv3_large_100", epochs=2 * args.epochs, windows="frame"),
            "clf-frame-synth": dict(
                model="mobilenetv3_large_100",
                epochs=2 * args.epochs,
                windows="frame",
                synthetic_positives=0.5,
            ),
            "clf-frame-synth-aug": dict(
                model="mobilenetv3_large_100",
                epochs=2 * args.epochs,
                windows="frame",
                synthetic_positives=0.5,
                augment=True,
            ),
            "seg-centred": dict(model="unet", epochs=args.epochs),
        }
        for name in wanted:
            ckpt, seconds = _run(args.store, args.out, "volcano", **plans[name])
            checkpoints[name] = ckpt
            result["schemes"][name] = {
                "train_seconds": round(seconds, 1),
                **_evaluate([ckpt], args.store, "volcano"),
            }
            print(name, json.dumps(result["schemes"][name]), flush=True)
        if "clf-frame" in checkpoints and "seg-centred" in checkpoints:
            pair = [checkpoints["clf-frame"], checkpoints["seg-centred"]]
            result["schemes"]["clf-frame+seg"] = _evaluate(pair, args.store, "volcano")
            print("clf-frame+seg", json.dumps(result["schemes"]["clf-frame+seg"]), flush=True)
        if args.paper:
            ckpt, seconds = _run(args.store, args.out, "paper", **plans["clf-frame"])
            result["paper_split"] = {
                "clf-frame": {"train_seconds": round(seconds, 1), **_evaluate([ckpt], args.store, "paper")}
            }
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
