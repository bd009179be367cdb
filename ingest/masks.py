"""Burn annotation polygons into the three mask rasters on the interferogram grid."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from affine import Affine
from rasterio.features import rasterize

from hephaestus.platform import schema
from hephaestus.platform.annotation import Polygon

# Polygon coordinates are in pixel units (x = column, y = row): the identity transform maps them
# onto the array so that a pixel is burnt when its centre lies inside the polygon.
PIXEL_TRANSFORM = Affine.identity()


def rasterize_masks(polygons: Sequence[Polygon], height: int, width: int) -> dict[str, np.ndarray]:
    """deformation / activity type / intensity masks (int32); later polygons win where they overlap."""
    out: dict[str, np.ndarray] = {}
    codes = {
        "deformation_mask": [p.deformation for p in polygons],
        "activity_type_mask": [p.activity for p in polygons],
        "intensity_level_mask": [p.intensity for p in polygons],
    }
    for name in schema.MASK_VARIABLES:
        fill = schema.MASK_FILL[name]
        if not polygons:
            out[name] = np.full((height, width), fill, dtype="int32")
            continue
        shapes = [
            ({"type": "Polygon", "coordinates": [list(p.xy) + [p.xy[0]]]}, int(code))
            for p, code in zip(polygons, codes[name], strict=True)
        ]
        out[name] = rasterize(
            shapes,
            out_shape=(height, width),
            transform=PIXEL_TRANSFORM,
            fill=fill,
            all_touched=False,
            dtype="int32",
        )
    return out
