"""Which whole-frame score to take from a segmenter: the highest pixel probability, or the k-th highest.

A segmenter's probability map over a whole frame has isolated speckle pixels near 1 on frames without
deformation; deformation worth an alert covers a region. The k-th highest probability over the frame's
pixels with data is high only where at least k pixels are confident. This script scores the test pairs of a
store with a segmenter checkpoint (whole frames, `train.frame_score.FrameModels.probability`, the monitor's
path) and reports the frame AUROC for each k.

Usage: .venv/bin/python tests/benchmarks/bench_segment_score.py --checkpoint CKPT --store STORE
       [--split-scheme volcano] [--ks 1,4,16,64]
Last stdout line: one JSON object.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--split-scheme", default="volcano")
    ap.add_argument("--ks", default="1,4,16,64")
    args = ap.parse_args()

    from hephaestus import catalog
    from hephaestus.platform.cube import open_cube
    from hephaestus.train.frame_metrics import frame_auroc
    from hephaestus.train.frame_score import FrameModels, pair_phase
    from hephaestus.train.predict import pair_indices

    ks = [int(k) for k in args.ks.split(",")]
    models = FrameModels.load([args.checkpoint], args.store)
    assert models.segmenter is not None, "give a segmentation checkpoint"
    rows = [
        p
        for p in catalog.read_pairs(args.store, split="test", split_scheme=args.split_scheme).to_pylist()
        if p.get("has_product") and p.get("cube_url")
    ]
    scores: dict[int, list[float]] = {k: [] for k in ks}
    labels = []
    cubes: dict = {}
    for row in rows:
        url = str(row["cube_url"])
        ds = cubes.setdefault(url, open_cube(url))
        i, j = pair_indices(ds, row["primary_date"], row["secondary_date"])
        _, valid = pair_phase(ds, i, j)
        prob = np.sort(models.probability(models.segmenter, ds, url, i, j)[valid])[::-1]
        for k in ks:
            scores[k].append(float(prob[min(k, len(prob)) - 1]) if len(prob) else 0.0)
        labels.append(bool(row["positive"]))
    result = {
        "checkpoint": args.checkpoint,
        "pairs": len(labels),
        "positives": int(sum(labels)),
        "frame_auroc_by_k": {str(k): frame_auroc(scores[k], labels) for k in ks},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
