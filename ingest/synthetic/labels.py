"""Labels from the physics: masks, polygons, intensity, phase and captions of a pair.

- Mask: pixels where the drawn sources move the ground by at least `mask_fringe_fraction` of a
  fringe along the line of sight (|d_LOS| >= f * lambda / 2; f = 0.5 -> 1.39 cm), over land where the
  true coherence is at least VISIBLE_GAMMA; small gaps closed and holes filled, as an annotator
  outlines a pattern; each pixel belongs to the source that moves it most.
- Intensity from the fringe count n = floor(peak-to-peak LOS / (lambda / 2)) of the source over
  land: n <= 1 Low, 2-3 Medium, >= 4 High (earthquakes: "None", as in the real annotations).
- Phase: Unrest for inflation (volume increase), Rebound for deflation, Rest for negatives,
  "None" when only an earthquake is present.
- Polygons: the outline of each connected mask region (rasterio.features.shapes) as flat
  [x1, y1, x2, y2, ...] lists with x = column and y = row on pixel corners, unclosed like the real
  files; rasterising them back (pixel centres inside) gives the mask again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import rasterio.features
from numpy.typing import NDArray
from scipy import ndimage

from hephaestus.platform.annotation import intensity_of_fringes
from hephaestus.platform.schema import ANNOTATION_FIELDS, C_BAND_WAVELENGTH_M

MIN_REGION_PIXELS = 6
VISIBLE_GAMMA = 0.2
"""Fringes are drawn by annotators only where the coherence lets them be seen."""


def deformation_mask(
    d_los: NDArray, land: NDArray, fraction: float, wavelength: float = C_BAND_WAVELENGTH_M
) -> NDArray[np.bool_]:
    """Where the deformation is visible, cleaned like an annotator's outline."""
    raw = (np.abs(d_los) >= fraction * wavelength / 2.0) & land
    if not raw.any():
        return raw
    closed = ndimage.binary_closing(raw, structure=np.ones((3, 3), bool), iterations=2, border_value=0)
    filled = ndimage.binary_fill_holes(closed | raw)
    labels, n = ndimage.label(filled)
    if n == 0:
        return filled
    sizes = ndimage.sum(filled, labels, index=np.arange(1, n + 1))
    keep = np.flatnonzero(sizes >= MIN_REGION_PIXELS) + 1
    return np.isin(labels, keep)


def _own_mask(region: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """A source's regions with their holes filled (the polygons keep exteriors only: a dyke's trough
    ringed by its lobes belongs to the pattern), regions under MIN_REGION_PIXELS dropped."""
    filled = ndimage.binary_fill_holes(region)
    labels_, n = ndimage.label(filled)
    sizes = ndimage.sum(filled, labels_, index=np.arange(1, n + 1)) if n else np.zeros(0)
    return np.isin(labels_, np.flatnonzero(sizes >= MIN_REGION_PIXELS) + 1)


def assign_masks(sources: list[DrawnSource], land: NDArray, fraction: float) -> list[DrawnSource]:
    """Mask of each source: the visible area of their summed LOS field, each pixel given to the source
    that moves it most (so polygon i goes with activity_type[i] and the union is what is visible).

    Returns the sources that keep a mask. A source left without one is dropped from the labels and
    the phase, so the masks are drawn again from the sum of the others: a pixel that only the
    dropped source made visible must not stay in a survivor's mask. Every mask pixel has
    |sum of the kept sources' LOS| >= `fraction` of a fringe, or is enclosed by such pixels of the
    same mask (coherence gaps inside the pattern are closed; a dip of the deformation between two
    lobes is labelled only where the lobes ring it).
    """
    kept = list(sources)
    while kept:
        total = np.sum([s.d_los for s in kept], axis=0)
        strong = np.abs(total) >= fraction * C_BAND_WAVELENGTH_M / 2.0
        visible = deformation_mask(total, land, fraction) & strong
        owner = np.argmax(np.abs(np.stack([s.d_los for s in kept])), axis=0)
        for i, s in enumerate(kept):
            s.mask = _own_mask(visible & (owner == i))
        survivors = [s for s in kept if s.mask.any()]
        if len(survivors) == len(kept):
            break
        for s in kept:
            if not s.mask.any():
                s.mask = np.zeros(total.shape, bool)
        kept = survivors
    return kept


def polygons(mask: NDArray[np.bool_]) -> list[list[float]]:
    """Exterior outline of each connected region, flat [x, y, ...] in pixel-corner coordinates."""
    if not mask.any():
        return []
    out: list[list[float]] = []
    data = mask.astype(np.uint8)
    for geom, value in rasterio.features.shapes(data, mask=mask, connectivity=4):
        if value != 1:
            continue
        ring = geom["coordinates"][0][:-1]  # unclosed, as in the real files
        out.append([float(c) for xy in ring for c in xy])
    out.sort(key=lambda p: (min(p[1::2]), min(p[0::2])))
    return out


def location_words(mask: NDArray[np.bool_]) -> str:
    """Where a region sits in the image, in the annotators' words (top-left ... bottom-right)."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return "central"
    h, w = mask.shape
    r, c = rows.mean() / h, cols.mean() / w
    vert = "top" if r < 1 / 3 else ("bottom" if r > 2 / 3 else "central")
    horiz = "left" if c < 1 / 3 else ("right" if c > 2 / 3 else "")
    if vert == "central" and not horiz:
        return "central"
    return f"{vert}-{horiz}" if horiz else vert


@dataclass
class DrawnSource:
    """What was drawn for one source of a pair, enough to label it."""

    activity_type: str
    d_los: NDArray
    inflation: bool
    mask: NDArray[np.bool_] = field(default_factory=lambda: np.zeros((0, 0), bool))
    fringes: float = 0.0

    @property
    def intensity(self) -> str:
        return "None" if self.activity_type == "Earthquake" else intensity_of_fringes(self.fringes)


def _article(word: str) -> str:
    return "An" if word[0].lower() in "aeiou" else "A"


def deformation_sentences(sources: list[DrawnSource]) -> str:
    """The deformation part of a caption, modelled on the real ones."""

    def kind(s: DrawnSource) -> str:
        return "earthquake" if s.activity_type == "Earthquake" else f"{s.activity_type.lower()}-type"

    if not sources:
        return "No deformation activity can be detected."
    if len(sources) == 1:
        s = sources[0]
        where = location_words(s.mask)
        if s.activity_type == "Earthquake":
            return f"An earthquake deformation pattern can be detected on the {where} side of the region."
        return (
            f"{_article(kind(s))} {kind(s)} deformation pattern of {s.intensity.lower()} intensity "
            f"can be detected on the {where} side of the region."
        )
    parts = []
    for s in sources:
        desc = kind(s) if s.activity_type == "Earthquake" else f"{kind(s)} of {s.intensity.lower()} intensity"
        parts.append(f"{_article(desc).lower()} {desc} is located in the {location_words(s.mask)} side")
    number = {2: "Two", 3: "Three"}.get(len(sources), str(len(sources)))
    return (
        f"{number} deformation patterns can be detected. "
        + (", and ".join(parts)).capitalize()
        + " of the image."
    )


def noise_sentences(
    atmospheric: int, strat_where: str, turb_where: str, orbital: int, low_coherence: int, glacier: int = 0
) -> str:
    out = []
    if atmospheric in (1, 3):
        out.append(
            f"Vertical stratification effect can be detected on the high altitude areas in the {strat_where} "
            "side of the region."
        )
    if atmospheric in (2, 3):
        where = (
            "wider area of the region" if turb_where == "wider area" else f"{turb_where} side of the region"
        )
        out.append(f"Turbulent mixing effect can be detected on the {where}.")
    if orbital:
        out.append("Orbital fringes can be detected across the whole image.")
    if glacier:
        strength = "Strong glacier" if glacier == 2 else "Glacier"
        out.append(f"{strength} fringes due to ice flow can be detected on the high altitude areas.")
    if low_coherence:
        out.append("Noisy areas can be detected due to low coherence.")
    if atmospheric == 0 and not orbital:
        out.append("The atmospheric impact is low.")
    return " ".join(out)


def annotation(
    *,
    unique_id: int,
    frame_id: str,
    primary: str,
    secondary: str,
    sources: list[DrawnSource],
    atmospheric: int,
    orbital: int,
    low_coherence: int,
    no_info: int,
    corrupted: int,
    processing_error: int,
    caption: str,
    glacier: int = 0,
    confidence: float = 0.8,
) -> dict[str, object]:
    """One annotation with exactly the real files' fields, types and order."""
    poly_list: list[list[float]] = []
    types: list[str] = []
    levels: list[str] = []
    for s in sources:
        for p in polygons(s.mask):
            poly_list.append(p)
            types.append(s.activity_type)
            levels.append(s.intensity)
    labels: list[str] = []
    if any(s.activity_type != "Earthquake" for s in sources):
        labels.append("Deformation")
    if any(s.activity_type == "Earthquake" for s in sources):
        labels.append("Earthquake")
    volcanic = [s for s in sources if s.activity_type != "Earthquake"]
    if not sources:
        phase = "Rest"
    elif volcanic:
        phase = "Unrest" if volcanic[0].inflation else "Rebound"
    else:
        phase = "None"
    out: dict[str, object] = {
        "uniqueID": int(unique_id),
        "frameID": frame_id,
        "primary_date": primary,
        "secondary_date": secondary,
        "corrupted": int(corrupted),
        "processing_error": int(processing_error),
        "glacier_fringes": int(glacier),
        "orbital_fringes": int(orbital),
        "atmospheric_fringes": int(atmospheric),
        "low_coherence": int(low_coherence),
        "no_info": int(no_info),
        "image_artifacts": 0,
        "label": labels or ["Non_Deformation"],
        "activity_type": types,
        "intensity_level": levels,
        "phase": phase,
        "confidence": float(confidence),
        "segmentation_mask": poly_list,
        "is_crowd": 0,
        "caption": caption,
    }
    assert tuple(out) == ANNOTATION_FIELDS
    return out
