"""Read one window of a sample's steps from a cube into the model input: the one reader of training and prediction.

The training dataset reads its crops with it and `hmc predict` reads whole frames with it, so for the
same pair and window both hand the model the same tensor (the input specification does the rest).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hephaestus.platform.inputs import InputSpec
from hephaestus.train.data.chunks import Window, read_windows
from hephaestus.train.data.cubes import OpenCube
from hephaestus.train.data.samples import Step

MASK_VARIABLE = "deformation_mask"


def read_input(
    cube: OpenCube, steps: Sequence[Step], spec: InputSpec, r0: int, c0: int, rows: int, cols: int
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised image [T*C, rows, cols] float32 and mask [rows, cols] int64 of the window at (r0, c0).

    The part of the window outside the frame is 0 in both. The mask is deformation_mask != 0
    (deformation or earthquake), united over the steps.
    """
    if len(steps) != spec.series_length:
        raise ValueError(f"{len(steps)} steps for a spec of series length {spec.series_length}")
    h, w = cube.height, cube.width
    rr1, cc1 = min(r0 + rows, h), min(c0 + cols, w)
    channels = spec.channels
    nch = len(channels)
    # np.empty: every pixel of the frame part is written below, only the outside needs zeros
    # (a zeroed 9-27 MB buffer per crop costs more than a tenth of the whole read)
    image = np.empty((spec.in_channels, rows, cols), dtype=np.float32)
    image[:, rr1 - r0 :, :] = 0.0
    image[:, :, cc1 - c0 :] = 0.0
    mask = np.zeros((rows, cols), dtype=np.int64)
    requests, targets = [], []
    dem = cube.whole_dem() if "dem" in channels else None
    if dem is not None:
        image[channels.index("dem"), : rr1 - r0, : cc1 - c0] = dem[r0:rr1, c0:cc1]
    for t, step in enumerate(steps):
        lead = (step.primary_index, step.secondary_index)
        for j, var in enumerate(channels):
            if var == "dem" and (t > 0 or dem is not None):
                continue  # the DEM goes into step 0 only; normalise() copies it into the others
            window = Window(() if var == "dem" else lead, r0, rr1, c0, cc1)
            requests.append((cube.reader(var), window))
            targets.append(t * nch + j)
        requests.append((cube.reader(MASK_VARIABLE), Window(lead, r0, rr1, c0, cc1)))
        targets.append(-1)
    first_mask = targets.index(-1)
    for n, piece, (rs, cs) in read_windows(requests, cube.fetcher):
        channel = targets[n]
        if channel >= 0:
            image[channel, rs, cs] = piece
        elif n == first_mask:
            np.not_equal(piece, 0, out=mask[rs, cs])
        else:
            mask[rs, cs] |= piece != 0
    nodata = {var: cube.nodata_value(var) for var in channels}
    spec.normalise(image[:, : rr1 - r0, : cc1 - c0], nodata)
    return image, mask
