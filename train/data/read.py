"""Read one window of a sample's steps from a cube into the model input: the one reader of training and prediction.

The training dataset reads its crops with it and `hmc predict` reads whole frames with it, so for the
same pair and window both hand the model the same tensor (the input specification does the rest).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hephaestus.platform.cube import CubeUnreadableError
from hephaestus.platform.errors import IntegrityError
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
    placed, current = -1, None
    try:
        for n, tiles in read_tiles(requests, cube.fetcher, undecoded=True):
            current = n
            out, scale = targets[n]
            if scale is not None:
                scale_into(out, tiles, scale, rows_in, cols_in)
                check_range(out[:rows_in, :cols_in], scale)
            elif tiles.written or not mask_fill_zero:
                or_nonzero(out, tiles, rows_in, cols_in)
            placed, current = n, None
    except ValueError as exc:  # IntegrityError, zarr's checksum mismatch, undecodable bytes
        # a failure inside `read_tiles` is the next window's: windows are decoded in order, just before
        # they are handed over (a shard index's failure names its shard key itself)
        failed = current if current is not None else min(placed + 1, len(requests) - 1)
        raise _unreadable(cube, requests, failed, exc) from exc
    spec.copy_dem(image)
    return image, mask


def _unreadable(
    cube: OpenCube, requests: Sequence[tuple[ArrayReader, Window]], n: int, exc: BaseException
) -> CubeUnreadableError:
    """One line naming the cube, variable and window (pair indices, rows, columns) and what failed."""
    reason = " ".join(str(exc).split())
    name, w = requests[n][0].array.path, requests[n][1]
    return CubeUnreadableError(
        f"{redact(cube.url)}: {name} at {w.lead} rows {w.r0}:{w.r1} cols {w.c0}:{w.c1}: {reason}"
    )


def check_range(channel: np.ndarray, scale: ChannelScale) -> None:
    """IntegrityError when a normalised channel holds a value whose raw value lies outside the variable's
    physical range (`ChannelScale.normalised_bounds`): damaged bytes are refused, never trained on.
    One min and one max over the placed channel (no-data is 0 there, inside the bounds)."""
    bounds = scale.normalised_bounds()
    if bounds is None or channel.size == 0:
        return
    low, high = channel.min(), channel.max()
    if low >= bounds[0] and high <= bounds[1]:
        return
    lo, hi = scale.valid_range  # type: ignore[misc]
    raise IntegrityError(
        f"values outside the physical range [{lo:.6g}, {hi:.6g}] (read {scale.raw(low):.6g} .. "
        f"{scale.raw(high):.6g}): the stored pair is damaged"
    )
