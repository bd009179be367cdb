"""The dashboard's PNGs, drawn with matplotlib (object API, Agg: no display, no global pyplot state)."""

from __future__ import annotations

import datetime as dt
import io
import math
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.image import imsave
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon as PolygonPatch

from hephaestus.platform.figure_text import plain

MAX_IMAGE_PIXELS = 800
"""Interferograms are decimated to at most this many pixels a side (a real frame is ~1400 wide)."""
PREDICTED_COLOUR = "#e4002b"
TRUE_COLOUR = "#00e5ff"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


EPISODE_COLOURS = {"opened": "#e4002b", "ongoing": "#f08c00", "ended": "#8a96a3"}
"""Shading of an episode on a timeline, by its status (monitor/episodes.py)."""


def timeline_png(rows: list[dict], title: str, episodes: list[dict] | None = None) -> bytes:
    """Score (top) and deformed area (bottom) against the secondary date, one colour per frame; alerts as
    red triangles; episodes shaded from their start to their end date. Points, no lines: pairs of one
    secondary date may have several primaries, so a line would zigzag."""
    fig = Figure(figsize=(8.0, 4.2))
    ax, area_ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    frames = sorted({r["frame_id"] for r in rows})
    for k, frame in enumerate(frames):
        mine = [r for r in rows if r["frame_id"] == frame]
        style = {"ms": 5, "alpha": 0.8, "color": f"C{k % 10}"}
        ax.plot(
            [r["secondary_date"] for r in mine], [r["score"] for r in mine], "o", label=plain(frame), **style
        )
        sized = [r for r in mine if r.get("deformed_area_km2") is not None]
        area_ax.plot(
            [r["secondary_date"] for r in sized], [r["deformed_area_km2"] for r in sized], "o", **style
        )
    alerted = [r for r in rows if r["alert"]]
    if alerted:
        ax.plot(
            [r["secondary_date"] for r in alerted],
            [r["score"] for r in alerted],
            "^",
            ms=10,
            color=PREDICTED_COLOUR,
            label="alert",
            zorder=5,
        )
    shaded = set()
    for ep in episodes or []:
        colour = EPISODE_COLOURS.get(str(ep.get("status")), EPISODE_COLOURS["ended"])
        label = None if ep.get("status") in shaded else f"episode ({plain(str(ep.get('status')))})"
        shaded.add(ep.get("status"))
        for axis in (ax, area_ax):
            axis.axvspan(ep["start_date"], ep["end_date"], color=colour, alpha=0.15, lw=0, label=label)
            label = None
    if not rows:
        ax.text(0.5, 0.5, "no scores yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("deformation score")
    area_ax.set_ylabel("deformed area (km²)")
    area_ax.set_xlabel("secondary date")
    fig.suptitle(plain(title))
    for axis in (ax, area_ax):
        axis.grid(alpha=0.3)
    if rows:
        ax.legend(
            loc="lower left",
            bbox_to_anchor=(0.0, 1.01),
            fontsize=7,
            ncols=min(4, len(frames) + 1 + len(shaded)),
            frameon=False,
        )
    fig.autofmt_xdate()
    return _png(fig)


def _rings(geometry: dict | None) -> list[list[list[float]]]:
    """Outer and inner rings of a GeoJSON Polygon / MultiPolygon (lon, lat)."""
    if not geometry:
        return []
    if geometry.get("type") == "Polygon":
        return list(geometry["coordinates"])
    if geometry.get("type") == "MultiPolygon":
        return [ring for poly in geometry["coordinates"] for ring in poly]
    return []


def pair_png(
    phase: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    predicted: dict | None,
    true_mask: np.ndarray | None,
    title: str,
) -> bytes:
    """Wrapped phase (radians) in lon/lat with the predicted polygon and the true mask's outline."""
    step = max(1, math.ceil(max(phase.shape) / MAX_IMAGE_PIXELS))
    phase = phase[::step, ::step]
    lat, lon = lat[::step], lon[::step]
    dlat = abs(float(lat[1] - lat[0])) if lat.size > 1 else 0.001
    dlon = abs(float(lon[1] - lon[0])) if lon.size > 1 else 0.001
    extent = (
        float(lon.min()) - dlon / 2,
        float(lon.max()) + dlon / 2,
        float(lat.min()) - dlat / 2,
        float(lat.max()) + dlat / 2,
    )
    height = 6.0 * phase.shape[0] / max(phase.shape[1], 1)
    fig = Figure(figsize=(7.0, max(2.5, min(height, 8.0)) + 0.6))
    ax = fig.add_subplot()
    shown = np.where(phase == 0, np.nan, phase)  # 0 is LiCSAR's no-data
    origin = "upper" if lat.size < 2 or lat[0] > lat[-1] else "lower"
    im = ax.imshow(shown, cmap="twilight", vmin=-np.pi, vmax=np.pi, extent=extent, origin=origin)
    fig.colorbar(im, ax=ax, label="wrapped phase (rad)", fraction=0.046, pad=0.04)
    handles = []
    if true_mask is not None and np.any(true_mask[::step, ::step]):
        ax.contour(lon, lat, (true_mask[::step, ::step] > 0).astype(float), levels=[0.5], colors=TRUE_COLOUR)
        handles.append(Line2D([], [], color=TRUE_COLOUR, label="true mask (annotation)"))
    rings = _rings(predicted)
    for ring in rings:
        ax.add_patch(PolygonPatch(np.asarray(ring), closed=True, fill=False, ec=PREDICTED_COLOUR, lw=1.8))
    if rings:
        handles.append(Line2D([], [], color=PREDICTED_COLOUR, label="predicted mask (alert)"))
    if handles:
        ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.8)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(plain(title), fontsize=10)
    return _png(fig)


STRIP_PANEL_PIXELS = 240
"""A pair's compact image: each panel decimated to at most this many pixels a side."""
STRIP_GAP = 4
"""White pixels between two panels of a pair's compact image."""
STRIP_PANELS = ("wrapped phase", "coherence", "annotated mask")


@dataclass(frozen=True)
class StripGrid:
    """Where a pair's compact image puts the frame: panel size (pixels), decimation step, and the
    lon/lat of its top-left pixel edge and pixel size (degrees, before decimation), so that a page can
    draw a polygon over a panel."""

    panel_width: int
    panel_height: int
    step: int
    west: float
    north: float
    dlon: float
    dlat: float

    @property
    def width(self) -> int:
        return len(STRIP_PANELS) * self.panel_width + (len(STRIP_PANELS) - 1) * STRIP_GAP

    def pixel(self, lon: float, lat: float, panel: int) -> tuple[float, float]:
        """(x, y) in the image's pixels of a lon/lat point drawn over `panel`."""
        x = (lon - self.west) / self.dlon / self.step + panel * (self.panel_width + STRIP_GAP)
        return x, (self.north - lat) / self.dlat / self.step


def strip_grid(lat: np.ndarray, lon: np.ndarray) -> StripGrid:
    """The compact image's grid of a cube grid (pixel-centre coordinates, any latitude order)."""
    step = max(1, math.ceil(max(lat.size, lon.size) / STRIP_PANEL_PIXELS))
    dlon = abs(float(lon[1] - lon[0])) if lon.size > 1 else 0.001
    dlat = abs(float(lat[1] - lat[0])) if lat.size > 1 else 0.001
    return StripGrid(
        math.ceil(lon.size / step),
        math.ceil(lat.size / step),
        step,
        float(lon.min()) - dlon / 2,
        float(lat.max()) + dlat / 2,
        dlon,
        dlat,
    )


def pair_strip_png(
    phase: np.ndarray, coherence: np.ndarray, annotated: np.ndarray | None, lat: np.ndarray
) -> bytes:
    """A pair's compact image, north up: wrapped phase | coherence | annotated mask (cyan) over a grey
    phase. No figure layout (an image per pair of a whole store must be cheap): the panels' titles and the
    predicted mask are drawn by the page (`StripGrid`), so this image does not change when an alert does."""
    if lat.size > 1 and lat[0] < lat[-1]:  # south up in the cube: flip to north up
        phase, coherence = phase[::-1], coherence[::-1]
        annotated = None if annotated is None else annotated[::-1]
    step = max(1, math.ceil(max(phase.shape) / STRIP_PANEL_PIXELS))
    phase, coherence = phase[::step, ::step], coherence[::step, ::step]
    nodata = ~np.isfinite(phase) | (phase == 0)  # 0 is LiCSAR's no-data
    cyclic = colormaps["twilight"]((np.nan_to_num(phase) + np.pi) / (2 * np.pi))
    cyclic[nodata] = (1.0, 1.0, 1.0, 1.0)
    coh = np.clip(np.nan_to_num(coherence) / 255.0, 0.0, 1.0)
    grey = colormaps["gray"](coh)
    grey[nodata] = (1.0, 1.0, 1.0, 1.0)
    masked = np.repeat(0.55 + 0.35 * (cyclic[..., :3].mean(axis=-1, keepdims=True)), 3, axis=-1)
    masked = np.concatenate([masked, np.ones(masked.shape[:2] + (1,))], axis=-1)
    if annotated is not None:
        hit = annotated[::step, ::step] > 0
        masked[hit] = [*(int(TRUE_COLOUR[i : i + 2], 16) / 255 for i in (1, 3, 5)), 1.0]
    gap = np.ones((phase.shape[0], STRIP_GAP, 4))
    strip = np.concatenate([cyclic, gap, grey, gap, masked], axis=1)[..., :3]  # RGB: a third smaller
    buf = io.BytesIO()
    imsave(buf, (strip * 255).round().astype(np.uint8), format="png")
    return buf.getvalue()


def iso(day: dt.date | None) -> str:
    return day.isoformat() if day is not None else ""
