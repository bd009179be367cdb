"""Read a synthetic source folder back and draw a pair like the paper's Fig. 2: phase, coherence, masks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.errors
import rasterio.features
from matplotlib.figure import Figure
from numpy.typing import NDArray

from hephaestus.platform.errors import InputError, InputNotFoundError
from hephaestus.platform.figure_text import plain
from hephaestus.platform.storage import safe_component

ACTIVITY_COLOURS = {
    "Mogi": "tab:red",
    "Dyke": "tab:orange",
    "Sill": "tab:blue",
    "Spheroid": "tab:purple",
    "Earthquake": "tab:green",
    "Unidentified": "tab:gray",
}


@dataclass(frozen=True)
class PairProducts:
    """One pair as read from the source folder (arrays None when the pair has no product)."""

    annotation: dict[str, object]
    phase: NDArray[np.float32] | None
    coherence: NDArray[np.float32] | None  # 0..1
    dem: NDArray[np.float32] | None

    def mask(self) -> NDArray[np.uint8]:
        """Polygon index + 1 per pixel (0 background), rasterised from the annotation."""
        shape = self.phase.shape if self.phase is not None else (0, 0)
        polys = self.annotation["segmentation_mask"]
        if not polys or self.phase is None:
            return np.zeros(shape, np.uint8)
        shapes = []
        for i, flat in enumerate(polys):  # type: ignore[union-attr]
            ring = list(zip(flat[0::2], flat[1::2], strict=True))
            shapes.append(({"type": "Polygon", "coordinates": [ring + ring[:1]]}, i + 1))
        return rasterio.features.rasterize(shapes, out_shape=shape, fill=0, dtype="uint8")


def _read_band(path: Path) -> NDArray:
    try:
        with rasterio.open(path) as src:
            return src.read(1)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"{path}: not a readable GeoTIFF ({exc})") from exc


class SyntheticSources:
    """Reader over an `hmc synth` output folder (the same layout as the real archives)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not (self.root / "annotations").is_dir():
            raise InputNotFoundError(f"{self.root}: no annotations/ folder; is this an `hmc synth` output?")

    def unique_ids(self) -> list[int]:
        return sorted(int(p.stem) for p in (self.root / "annotations").glob("*.json") if p.stem.isdigit())

    def annotation(self, unique_id: int | str) -> dict[str, object]:
        path = self.root / "annotations" / f"{safe_component(str(unique_id), 'unique id')}.json"
        if not path.is_file():
            raise InputNotFoundError(f"{path}: no annotation with unique id {unique_id}")
        try:
            record = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not a valid annotation JSON ({exc})") from exc
        missing = [
            k for k in ("frameID", "primary_date", "secondary_date", "segmentation_mask") if k not in record
        ]
        if not isinstance(record, dict) or missing:
            raise InputError(f"{path}: annotation lacks {missing or 'a JSON object'}")
        return record

    def read(self, unique_id: int | str) -> PairProducts:
        ann = self.annotation(unique_id)
        frame = safe_component(str(ann["frameID"]), "frame id")
        d1 = safe_component(str(ann["primary_date"]), "date")
        name = f"{d1}_{safe_component(str(ann['secondary_date']), 'date')}"
        base = self.root / "licsar" / frame
        pha_path = base / "interferograms" / name / f"{name}.geo.diff_pha.tif"
        hgt_path = base / "metadata" / f"{frame}.geo.hgt.tif"
        if not pha_path.is_file():
            return PairProducts(ann, None, None, None)
        phase = _read_band(pha_path)
        cc = _read_band(pha_path.with_name(f"{name}.geo.cc.tif"))
        coh = cc.astype(np.float32) / 255.0 if cc.dtype == np.uint8 else cc.astype(np.float32)
        dem = None
        if hgt_path.is_file():
            dem = _read_band(hgt_path)
        return PairProducts(ann, phase, coh, dem)

    def plot(self, unique_id: int | str) -> Figure:
        """Wrapped phase, coherence and the annotated masks of a pair; returns the Figure."""
        pair = self.read(unique_id)
        ann = pair.annotation
        fig = Figure(figsize=(12, 4.4), layout="constrained")
        axes = fig.subplots(1, 3)
        title = (
            f"{ann['frameID']}  {ann['primary_date']}-{ann['secondary_date']}  id {ann['uniqueID']}  "
            f"{'/'.join(ann['label'])}"
        )  # type: ignore[arg-type]
        fig.suptitle(plain(title))
        if pair.phase is None:
            for ax in axes:
                ax.text(0.5, 0.5, "no InSAR product", ha="center", va="center", transform=ax.transAxes)
                ax.set_axis_off()
            return fig
        phase = np.ma.masked_equal(pair.phase, 0.0)
        im = axes[0].imshow(phase, cmap="twilight", vmin=-np.pi, vmax=np.pi, interpolation="nearest")
        fig.colorbar(im, ax=axes[0], shrink=0.8, label="wrapped phase (rad)")
        axes[0].set_title("interferogram")
        im = axes[1].imshow(pair.coherence, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        fig.colorbar(im, ax=axes[1], shrink=0.8, label="coherence")
        axes[1].set_title("coherence")
        axes[2].imshow(phase, cmap="twilight", vmin=-np.pi, vmax=np.pi, alpha=0.45, interpolation="nearest")
        types = ann["activity_type"]
        for i, flat in enumerate(ann["segmentation_mask"]):  # type: ignore[arg-type]
            xs, ys = list(flat[0::2]) + [flat[0]], list(flat[1::2]) + [flat[1]]
            kind = types[i] if i < len(types) else "Unidentified"  # type: ignore[index]
            axes[2].plot(xs, ys, color=ACTIVITY_COLOURS.get(kind, "k"), lw=1.5, label=plain(kind))
        if ann["segmentation_mask"]:
            axes[2].legend(loc="lower right", fontsize=8)
        axes[2].set_title(plain(f"mask: {', '.join(ann['activity_type']) or 'none'}"))  # type: ignore[arg-type]
        for ax in axes:
            ax.set_xlabel("column")
            ax.set_ylabel("row")
        return fig


Source = SyntheticSources
"""Alias: `Source(folder).plot(unique_id)`."""


def _outline(ax, flat: list[float], colour: str, label: str | None = None) -> None:  # type: ignore[no-untyped-def]
    xs, ys = list(flat[0::2]) + [flat[0]], list(flat[1::2]) + [flat[1]]
    ax.plot(xs, ys, color=colour, lw=1.5, label=None if label is None else plain(label))


def plot_twin(sources: str | Path, unique_id: int, real_record: dict[str, object]) -> Figure:
    """A twin pair beside its real annotation: the real polygons in the real image's pixel grid
    (1070 x 1409, the published sample's size), and the twin's wrapped phase with the same polygons
    shrunk to the twin's grid, where the drawn source's fringes sit inside them."""
    pair = SyntheticSources(sources).read(unique_id)
    ann = pair.annotation
    fig = Figure(figsize=(15, 4.6), layout="constrained")
    axes = fig.subplots(1, 3)
    fig.suptitle(
        plain(
            f"{real_record['frameID']}  {real_record['primary_date']}-{real_record['secondary_date']}  "
            f"id {real_record['uniqueID']}  {'/'.join(real_record['label'])}  "  # type: ignore[arg-type]
            f"phase {real_record['phase']}  intensity {', '.join(real_record['intensity_level'])}"  # type: ignore[arg-type]
        )
    )
    types = list(real_record["activity_type"])  # type: ignore[call-overload]
    axes[0].set_xlim(0, 1409)
    axes[0].set_ylim(1070, 0)
    axes[0].set_aspect("equal")
    for i, flat in enumerate(real_record["segmentation_mask"]):  # type: ignore[arg-type]
        kind = types[i] if i < len(types) else "Unidentified"
        _outline(axes[0], flat, ACTIVITY_COLOURS.get(kind, "k"), kind)
    axes[0].set_title("real annotation (expert polygons, real pixel grid)")
    if real_record["segmentation_mask"]:
        axes[0].legend(loc="lower right", fontsize=8)
    if pair.phase is None:
        axes[1].text(0.5, 0.5, "no InSAR product", ha="center", va="center", transform=axes[1].transAxes)
    else:
        phase = np.ma.masked_equal(pair.phase, 0.0)
        im = axes[1].imshow(phase, cmap="twilight", vmin=-np.pi, vmax=np.pi, interpolation="nearest")
        fig.colorbar(im, ax=axes[1], shrink=0.8, label="wrapped phase (rad)")
        for i, flat in enumerate(ann["segmentation_mask"]):  # type: ignore[arg-type]
            kind = types[i] if i < len(types) else "Unidentified"
            _outline(axes[1], flat, ACTIVITY_COLOURS.get(kind, "k"))
    axes[1].set_title("twin: drawn physics, same polygons (scaled)")
    polys = list(ann["segmentation_mask"])  # type: ignore[call-overload]
    if pair.phase is not None and polys:  # zoom on the polygons: the fitted source's fringes
        xs = [x for flat in polys for x in flat[0::2]]
        ys = [y for flat in polys for y in flat[1::2]]
        pad = max(max(xs) - min(xs), max(ys) - min(ys), 8.0)
        axes[2].imshow(
            np.ma.masked_equal(pair.phase, 0.0),
            cmap="twilight",
            vmin=-np.pi,
            vmax=np.pi,
            interpolation="nearest",
        )
        for i, flat in enumerate(polys):
            kind = types[i] if i < len(types) else "Unidentified"
            _outline(axes[2], flat, ACTIVITY_COLOURS.get(kind, "k"))
        axes[2].set_xlim(min(xs) - pad, max(xs) + pad)
        axes[2].set_ylim(max(ys) + pad, min(ys) - pad)
        axes[2].set_title("twin, zoomed on the annotation")
    else:
        axes[2].set_axis_off()
    for ax in axes:
        ax.set_xlabel("column")
        ax.set_ylabel("row")
    return fig
