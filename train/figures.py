"""Pictures of a benchmark a person would rather look at than tables: training curves and test predictions.

Curves come from the runs' history files; predictions from a finished run's checkpoint applied to the
test split exactly as the run's own test evaluation saw it (same source, crops and normalisation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from hephaestus.platform.figure_text import plain
from hephaestus.train import history
from hephaestus.train.data.config import LoaderConfig
from hephaestus.train.metrics import deformation_probability
from hephaestus.train.predict import load_checkpoint
from hephaestus.train.sources import CatalogSource, open_split


def training_curves(results_url: str, run_ids: Sequence[str]) -> Figure:
    """One panel per run: train and validation loss per epoch, validation F1 on a second axis."""
    n = max(1, len(run_ids))
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
    for k, run_id in enumerate(run_ids):
        ax = fig.add_subplot(rows, cols, k + 1)
        records = [r for r in history.read(history.history_url(results_url, run_id)) if not r.get("done")]
        epochs = [int(r["epoch"]) + 1 for r in records]
        ax.plot(epochs, [r.get("train_loss") for r in records], "o-", label="train loss")
        ax.plot(epochs, [r.get("val_loss") for r in records], "s-", label="val loss")
        ax.set_xlabel("epoch")
        ax.set_title(plain(run_id), fontsize=8)
        twin = ax.twinx()
        twin.plot(epochs, [r.get("val_f1") for r in records], "^--", color="tab:green", label="val F1")
        twin.set_ylim(0, 1)
        if k == 0:
            lines = ax.get_lines() + twin.get_lines()
            ax.legend(lines, [line.get_label() for line in lines], fontsize=7, loc="upper right")
    return fig


@torch.no_grad()
def test_predictions(checkpoint: str, store_url: str, count: int = 6) -> list[dict[str, Any]]:
    """The first `count` test samples (positives first) with the run's deformation probability.

    Classifiers give a score per sample, segmenters a probability map. Sample i is the run's own test
    crop i (the same LoaderConfig.for_split), so the picture shows what the test metrics measured.
    """
    loaded = load_checkpoint(checkpoint)
    dataset = open_split(CatalogSource(store_url), LoaderConfig.for_split(loaded.run, "test"))
    labels = np.asarray(getattr(dataset, "labels", [int(dataset[i]["label"]) for i in range(len(dataset))]))
    order = list(np.flatnonzero(labels == 1)[: (count + 1) // 2]) + list(np.flatnonzero(labels != 1))
    out = []
    for index in order[:count]:
        sample = dataset[int(index)]
        logits = loaded.module(sample["image"][None].float())
        prob = deformation_probability(logits)[0].numpy()
        out.append(
            {
                "id": str(sample["id"]),
                "phase": sample["image"][0].numpy(),
                "mask": np.asarray(sample["mask"]),
                "label": int(sample["label"]),
                "probability": prob,
            }
        )
    return out


def predictions_figure(panels: Mapping[str, list[dict[str, Any]]]) -> Figure:
    """Rows of test pairs: phase, true mask, then per model the predicted mask (segmenter) or score."""
    names = list(panels)
    samples = next(iter(panels.values()), [])
    n = len(samples)
    cols = 2 + len(names)
    fig = Figure(figsize=(2.3 * cols, 2.3 * max(n, 1)), layout="constrained")
    for row in range(n):
        base = samples[row]
        ax = fig.add_subplot(n, cols, row * cols + 1)
        ax.imshow(base["phase"], cmap="twilight")
        ax.set_title(plain(f"pair {base['id']} phase"), fontsize=8)
        ax = fig.add_subplot(n, cols, row * cols + 2)
        ax.imshow(base["mask"], cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"true mask (label {base['label']})", fontsize=8)
        for k, name in enumerate(names):
            item = panels[name][row]
            ax = fig.add_subplot(n, cols, row * cols + 3 + k)
            prob = np.asarray(item["probability"])
            if prob.ndim == 2:
                ax.imshow(prob > 0.5, cmap="gray", vmin=0, vmax=1)
                ax.set_title(plain(f"{name}: predicted mask"), fontsize=8)
            else:
                score = float(prob)
                ax.imshow(base["phase"], cmap="twilight", alpha=0.35)
                verdict = "deformation" if score > 0.5 else "none"
                ax.text(0.5, 0.5, f"{score:.2f}\n{verdict}", ha="center", va="center", fontsize=12,
                        transform=ax.transAxes)  # fmt: skip
                ax.set_title(plain(f"{name}: score"), fontsize=8)
    for ax in fig.axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
