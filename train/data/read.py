"""Read one window of a sample's steps from a cube into the model input: the one reader of training and prediction.

The training dataset reads its crops with it and `hmc predict` reads whole frames with it, so for the
same pair and window both hand the model the same tensor (the input specification does the rest).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hephaestus.platform.cube import CubeUnreadableError
from hephaestus.platform.inputs import ChannelScale, InputSpec
from hephaestus.platform.storage import redact
from hephaestus.train.data.array_reader import ArrayReader
from hephaestus.train.data.chunks import read_tiles
from hephaestus.train.data.cubes import OpenCube
from hephaestus.train.data.place import or_nonzero, scale_into
from hephaestus.train.data.samples import Step
from hephaestus.train.data.window import Tiles, Window

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
    requests: list[tuple[ArrayReader, Window]] = []
    targets: list[tuple[np.ndarray, ChannelScale | None]] = []  # (channel view or the mask, its scale)
    dem = cube.whole_dem() if "dem" in channels else None
    rows_in, cols_in = rr1 - r0, cc1 - c0  # the part of the window inside the frame
    if dem is not None:
        scale = spec.channel_scale("dem", cube.nodata_value("dem"))
        scale_into(image[channels.index("dem")], Tiles(dem[None, None], r0, c0, 1), scale, rows_in, cols_in)
    for t, step in enumerate(steps):
        lead = (step.primary_index, step.secondary_index)
        for j, var in enumerate(channels):
            if var == "dem" and (t > 0 or dem is not None):
                continue  # the DEM goes into step 0 only; copy_dem() copies it into the others
            requests.append((cube.reader(var), Window(() if var == "dem" else lead, r0, rr1, c0, cc1)))
            scale = spec.channel_scale(var, cube.nodata_value(var))
            targets.append((image[t * nch + j], scale))
        requests.append((cube.reader(MASK_VARIABLE), Window(lead, r0, rr1, c0, cc1)))
        targets.append((mask, None))
    # each channel is placed and normalised in one compiled pass as soon as its chunks are decoded,
    # while they are still in cache (place.py); a mask whose chunks were never written adds nothing
    masks = cube.reader(MASK_VARIABLE)
    mask_fill_zero = masks.fast and masks.fill_is_zero
    for n, tiles in read_tiles(requests, cube.fetcher, undecoded=True):
        out, scale = targets[n]
        try:
            if scale is not None:
                scale_into(out, tiles, scale, rows_in, cols_in)
            elif tiles.written or not mask_fill_zero:
                or_nonzero(out, tiles, rows_in, cols_in)
        except ValueError as exc:
            name, w = requests[n][0].array.path, requests[n][1]
            raise CubeUnreadableError(
                f"{redact(cube.url)}: {name} at {w.lead} rows {w.r0}:{w.r1} cols {w.c0}:{w.c1}: {exc}"
            ) from exc
    spec.copy_dem(image)
    return image, mask
