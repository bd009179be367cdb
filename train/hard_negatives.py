"""Hard negatives: the window a trained classifier scores highest in each training pair without deformation.

Why: the monitor keeps a frame's highest window score, so one atmospheric pattern that looks like fringes
anywhere in the frame is a false alert. Frame windows drawn uniformly rarely land on such a pattern, and
the network never learns it is not deformation. Mining the highest-scoring window of every training pair
without deformation and feeding those windows back as negatives (`DataSpec.hard_negatives`; the dataset
draws the mined window instead of a uniform one half of the time) trains on exactly the windows that make
false alerts (the bootstrapping of Sung & Poggio 1998, the hard-negative mining of detection networks).

The mined windows are written with `train.data.mined.write_mined` and read by the dataset.
"""

from __future__ import annotations

import numpy as np

from hephaestus.platform import storage
from hephaestus.train.data.mined import MinedWindows
from hephaestus.train.frame_score import located_pairs, scoring_rows
from hephaestus.train.predict import (
    LoadedModel,
    PredictError,
    load_checkpoint,
    prediction_input,
    window_probabilities,
)


def top_window(model: LoadedModel, image: np.ndarray, batch_size: int = 8) -> tuple[int, int, float]:
    """(row0, col0, score) of the highest-scoring window of the crop size over the whole-frame `image`,
    on the monitor's window grid (`predict.window_probabilities`)."""
    window = min(model.spec.crop_size, max(image.shape[1:]))
    corners: list[tuple[int, int]] = []
    scores: list[float] = []
    for chunk, prob in window_probabilities(model.module, image, window, batch_size):
        corners.extend(chunk)
        scores.extend(prob.tolist())
    best = int(np.argmax(scores))
    return corners[best][0], corners[best][1], float(scores[best])


def mine(checkpoint: str, store: str, split_scheme: str, batch_size: int = 8) -> MinedWindows:
    """The highest-scoring window of every training pair without deformation of `store`, for the
    classifier at `checkpoint`."""
    model = load_checkpoint(checkpoint)
    if model.run.task != "classification":
        raise PredictError(f"{storage.redact(checkpoint)}: hard negatives are mined with a classifier")
    mined: MinedWindows = {}
    negatives = (row for row in scoring_rows(store, "train", split_scheme) if not row["positive"])
    for row, ds, url, i, j in located_pairs(negatives):
        r0, c0, _ = top_window(model, prediction_input(model.spec, ds, url, i, j, store), batch_size)
        mined.setdefault(url, {})[str(row["unique_id"])] = (r0, c0)
    return mined


__all__ = ["mine", "top_window"]
