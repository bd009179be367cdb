"""Read one window of a sample's steps from a cube into the model input: the one reader of training and prediction.

The training dataset reads its crops with it and `hmc predict` reads whole frames with it, so for the
same pair and window both hand the model the same tensor (the input specification does the rest).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hephaestus.platform.inputs import ChannelScale, InputSpec, zero_nonfinite
from hephaestus.train.data.chunks import ArrayReader, Window, read_windows
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
    requests: list[tuple[ArrayReader, Window]] = []
    scales: list[tuple[np.ndarray, ChannelScale | None]] = []
    nodata = {var: cube.nodata_value(var) for var in channels}
    dem = cube.whole_dem() if "dem" in channels else None
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf are zeroed per channel
        if dem is not None:
            j = channels.index("dem")
            out = image[j, : rr1 - r0, : cc1 - c0]
            spec.channel_scale("dem", nodata["dem"]).apply(out, dem[r0:rr1, c0:cc1])
            zero_nonfinite(out)
        for t, step in enumerate(steps):
            lead = (step.primary_index, step.secondary_index)
            for j, var in enumerate(channels):
                if var == "dem" and (t > 0 or dem is not None):
                    continue  # the DEM goes into step 0 only; copy_dem() copies it into the others
                window = Window(() if var == "dem" else lead, r0, rr1, c0, cc1)
                requests.append((cube.reader(var), window))
                scales.append((image[t * nch + j], spec.channel_scale(var, nodata[var])))
            requests.append((cube.reader(MASK_VARIABLE), Window(lead, r0, rr1, c0, cc1)))
            scales.append((mask, None))
        # pieces are copied in as they come and each channel is normalised as soon as it is complete
        # (read_windows yields a request's pieces together), while it is still in cache: no second
        # pass over the 9-27 MB image. (Normalising piece by piece, even only the subtraction in
        # place of the copy, measured slower: numpy's strided arithmetic is slower than its copy.)
        current, first_mask = -1, len(channels) - (dem is not None)
        masks = cube.reader(MASK_VARIABLE)
        skip_empty = (
            masks.fast and masks.fill_is_zero
        )  # mask is zeros already: chunks never written add nothing
        for n, piece, dst in read_windows(requests, cube.fetcher):
            if n != current:
                _normalise(scales, current, rr1 - r0, cc1 - c0)
                current = n
            target, scale = scales[n]
            if scale is not None:
                target[dst] = piece
            elif skip_empty and masks.unwritten(piece):
                continue
            elif n == first_mask:
                np.not_equal(piece, 0, out=mask[dst])
            else:
                mask[dst] |= piece != 0
        _normalise(scales, current, rr1 - r0, cc1 - c0)
    spec.copy_dem(image)
    return image, mask


def _normalise(
    scales: Sequence[tuple[np.ndarray, ChannelScale | None]], n: int, rows: int, cols: int
) -> None:
    """Normalise in place the channel request `n` filled (nothing for a mask or before the first request)."""
    if n >= 0 and scales[n][1] is not None:
        channel, scale = scales[n][0][:rows, :cols], scales[n][1]
        scale.apply(channel, channel)
        zero_nonfinite(channel)
