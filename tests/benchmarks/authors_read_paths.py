"""Harness that times the dataset authors' own read paths, run with the python of their environment
(tests/authors_env.py `authors_bench_python`: zarr 2.18, webdataset 0.2.86, albumentations 1.3.0 on
OpenCV) and their code imported from a checkout of Orion-AI-Lab/Hephaestus-minicubes (never copied here).

  training: `utilities.utils.create_webdataset_loaders(configs)["train"]`, iterated as their training
            loop does (their `get_patches`: torch.load of the pre-cut crop, their albumentations
            `ReplayCompose` built per sample when configs["augment"], z-score with statistics.json);
  dataset:  `dataset.dataset_utils.InSarDataset.__getitem__` as written (open the cube, `.sel` whole
            slices, stack, crop around the deformation); it never augments (its `augment` method is
            not called), so "augmented" applies their `utilities.utils.augment` to its output, as
            `get_patches` does.

Modules their files import but these paths never call (ray, torchmetrics, psutil, the focal loss)
are stubbed; `InSarDataset` is made without its constructor (which parses annotation files) and given
the attributes `__getitem__` reads. Timing: CPU seconds of this process, one core, one thread.

Usage (by bench_authors_paths.py): <authors python> authors_read_paths.py SPEC.json -> one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
import types


def _stub_unused_imports() -> None:
    for name in (
        "ray",
        "psutil",
        "torchmetrics",
        "torchmetrics.classification",
        "losses",
        "losses.focal_loss",
    ):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["ray"].remote = lambda f: f
    for attr in ("Accuracy", "F1Score", "JaccardIndex", "Precision", "Recall", "AUROC"):
        setattr(sys.modules["torchmetrics"], attr, None)
    sys.modules["torchmetrics.classification"].AveragePrecision = None
    sys.modules["losses.focal_loss"].FocalLoss = None


def configs_for(spec: dict, steps: int, augment: bool) -> dict:
    """Their configs.json values for a segmentation run, with the loader in this process (workers 0)."""
    with open(os.path.join(spec["src"], "configs", "augmentations", "augmentation.json")) as fh:
        aug = json.load(fh)
    return {
        "seed": 333,
        "task": "segmentation",
        "timeseries_length": steps,
        "mask_target": "union",
        "geomorphology_channels": ["insar_difference", "insar_coherence", "dem"],
        "atmospheric_channels": [
            "total_column_water_vapour",
            "surface_pressure",
            "vertical_integral_of_temperature",
        ],
        "image_size": spec["crop"],
        "architecture": "unet",
        "webdataset": True,
        "webdataset_root": spec["wds_root"],
        "webdataset_shuffle_size": 100,
        "webdataset_initial_buffer": 300,
        "batch_size": 2,
        "num_workers": 0,
        "prefetch_factor": None,  # torch refuses a prefetch factor without workers
        "persistent_workers": False,
        "augment": augment,
        "statistics": "statistics.json",
        **aug,
    }


def time_training(spec: dict, steps: int, augment: bool) -> tuple[float, int]:
    import utilities.utils as utils

    configs = configs_for(spec, steps, augment)
    loader, _, _ = utils.create_webdataset_loaders(configs)
    n = 0
    t = time.process_time()
    for images, _labels, _samples in loader:
        n += len(images)
    return time.process_time() - t, n


def time_dataset(spec: dict, steps: int, augment: bool, samples: list[dict]) -> tuple[float, int]:
    import torch
    import utilities.utils as utils
    from dataset.dataset_utils import InSarDataset
    from utilities import augmentations

    configs = configs_for(spec, steps, augment)
    configs["webdataset"] = False
    ds = InSarDataset.__new__(InSarDataset)
    channels = configs["geomorphology_channels"] + [
        f"{w}_date_{v}" for v in configs["atmospheric_channels"] for w in ("primary", "secondary")
    ]
    ds.__dict__.update(
        config=configs,
        zarr_path=spec["zarr_path"],
        image_size=configs["image_size"],
        timeseries_length=steps,
        channels=channels,
        num_channels=len(channels),
        interferograms_timeseries=samples,
        pos_count={},
        neg_count={},
        webdataset_write=False,
        eval=False,
    )
    crop = configs["image_size"]

    def one(i: int) -> None:
        image, mask = ds[i]
        if augment:
            compose = augmentations.get_augmentations(configs, crop)
            masks = mask.reshape(1, 1, crop, crop).repeat(steps, 1, 1, 1)  # one per step, as exported
            utils.augment(compose, image.reshape(steps, -1, crop, crop), masks)

    torch.manual_seed(0)
    for i in range(min(2, len(samples))):
        one(i)  # warm-up: page cache
    t = time.process_time()
    for i in range(len(samples)):
        one(i)
    return time.process_time() - t, len(samples)


def main() -> None:
    with open(sys.argv[1]) as fh:
        spec = json.load(fh)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    import numcodecs

    numcodecs.blosc.set_nthreads(1)
    _stub_unused_imports()
    sys.path.insert(0, spec["src"])
    os.chdir(spec["src"])  # their normalize() opens statistics.json relative to the working directory
    out: dict = {}
    for mode, m in spec["modes"].items():
        for augment in (False, True):
            key = "augmented" if augment else "plain"
            time_training(spec, m["steps"], augment)  # warm-up pass: page cache, imports
            secs, n = time_training(spec, m["steps"], augment)
            out[f"{mode}/training/{key}"] = [secs, n]
            secs, n = time_dataset(spec, m["steps"], augment, m["samples"])
            out[f"{mode}/dataset/{key}"] = [secs, n]
    import albumentations
    import webdataset
    import zarr

    out["versions"] = {
        "zarr": zarr.__version__,
        "webdataset": webdataset.__version__,
        "albumentations": albumentations.__version__,
        "opencv": cv2.__version__,
        "torch": torch.__version__,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
