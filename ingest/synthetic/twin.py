"""The synthetic twin of the published dataset: real annotations over drawn physics.

`generate_twin(annotations, out, ...)` writes, for the real frames, source products in the formats
`generate` writes (LiCSAR GeoTIFFs, ERA5 NetCDF, annotation JSON), one pair per real annotation with
its frame id, dates, uniqueID, flags and caption, and a drawn scene that agrees with it:

- frames at their real volcanoes (frame_names.json matched to the GVP list, gvp.py): the frame box is
  centred on them and each edifice reaches its GVP summit elevation;
- each annotated polygon gets a source of its activity type (Mogi, dyke, sill, spheroid, earthquake;
  unidentified: a Mogi) at its centroid, with the annotated intensity's fringe count and phase sign
  (Unrest uplift, Rebound subsidence), shrunk until its visible fringes (half a fringe of LOS or
  more) lie inside the polygon (one pixel of slack); Non_Deformation pairs draw none;
- stratified / turbulent atmosphere, glacier and orbital fringes on the side of each threshold that
  the codes say; low coherence, no information, corrupted and processing errors where flagged;
- no product where the authors' index (quality_timeseries.json) has none for a pair that is not
  flagged corrupted, processing error or no information (the 15 pairs without an InSAR product).

`scale` shrinks the grid and the polygons: pixels stay 0.001 deg, a frame of H x W real pixels
becomes round(H * scale) x round(W * scale), a miniature of the real frame (volcanoes keep their
places relative to the frame, at `scale` times their distances). Frames are 1070 x 1409 (the
published sample) or larger where the polygons reach further. A polygon too small to cover a pixel
centre once shrunk becomes the pixel under its centroid, so the cube's masks (the polygons
rasterised) still mark every positive.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio.features
from numpy.typing import NDArray
from scipy import ndimage

from hephaestus.ingest.synthetic import deformation, frames, geometry, gvp, labels, scene, terrain
from hephaestus.ingest.synthetic.config import SynthConfig
from hephaestus.ingest.synthetic.generator import (
    Directive,
    PlannedPair,
    SynthManifest,
    render_pair,
    write_frame,
    write_frame_era5,
    write_frame_metadata,
    write_pair,
)
from hephaestus.ingest.synthetic.noise import power_law_field
from hephaestus.ingest.synthetic.release import check_record, write_record
from hephaestus.ingest.synthetic.sources import SourceModel
from hephaestus.platform import annotation as ann_io
from hephaestus.platform import schema
from hephaestus.platform.errors import InputError, InputNotFoundError
from hephaestus.platform.schema import GRID_SPACING_DEG

SAMPLE_SHAPE = (1070, 1409)
"""Rows x columns of the published sample cube (106A_09090_000404): the real frame size."""
QUALITY_INDEX = "quality_timeseries.json"
FRAME_NAMES = "frame_names.json"
GVP_TABLE = Path("..") / "volcanoes" / "gvp_holocene.csv"
"""Where the authors' index, the frame list and the GVP table sit relative to the annotations."""
FRINGES_OF_INTENSITY = {
    "Low": (1.25, 1.75),
    "Medium": (2.25, 3.75),
    "High": (4.25, 8.75),
    "None": (1.25, 3.75),
}
"""Fringe count drawn for an annotated intensity (labels.intensity_of_fringes gives it back)."""
FIT_SHRINK = 0.7
FIT_STEPS = 14


class TwinError(InputError):
    """The twin's inputs do not fit together (unknown frame, bad scale)."""


def _default(annotations: str | Path, rel: str | Path) -> Path:
    return Path(annotations).parent / rel


def read_quality_index(path: str | Path) -> set[int]:
    """uniqueIDs of the pairs the authors' index lists (they have a usable product)."""
    try:
        index = json.loads(Path(path).read_text())
    except OSError as exc:
        raise InputNotFoundError(f"{path}: cannot read the quality index ({exc.strerror})") from exc
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc
    return {
        int(u) for by_primary in index.values() for entry in by_primary.values() for u in entry["uniqueID"]
    }


def load_records(annotations: str | Path) -> list[ann_io.Annotation]:
    """Every annotation of the tarball or folder, validated by the platform's one parser."""
    out: list[ann_io.Annotation] = []
    for raw in ann_io.iter_raw(str(annotations)):
        out.extend(ann_io.parse_file(raw))
    return sorted(out, key=lambda a: a.unique_id)


def real_record(annotations: str | Path, unique_id: int) -> dict[str, object]:
    """The published record of one pair (KeyError when the annotations have none)."""
    for raw in ann_io.iter_raw(str(annotations)):
        if raw.name == f"{unique_id}.json":
            return dict(ann_io.parse_file(raw)[0].record)
    raise KeyError(f"{annotations}: no annotation with unique id {unique_id}")


def frame_shape(records: Sequence[ann_io.Annotation], scale: float) -> tuple[int, int]:
    """The scaled frame: the published sample's size, or larger where the polygons reach further."""
    h, w = SAMPLE_SHAPE
    for a in records:
        for p in a.polygons:
            w = max(w, math.ceil(max(x for x, _ in p.xy)))
            h = max(h, math.ceil(max(y for _, y in p.xy)))
    return max(8, round(h * scale)), max(8, round(w * scale))


def scale_polygon(xy: Sequence[tuple[float, float]], scale: float, shape: tuple[int, int]) -> list[float]:
    """Flat [x1, y1, ...] of the polygon shrunk by `scale`; the pixel under its centroid when it would
    no longer cover a pixel centre."""
    pts = [(x * scale, y * scale) for x, y in xy]
    burnt = _rasterize([pts], shape)
    if not burnt.any():
        cx = min(max(int(np.mean([x for x, _ in pts])), 0), shape[1] - 1)
        cy = min(max(int(np.mean([y for _, y in pts])), 0), shape[0] - 1)
        pts = [(cx, cy), (cx + 1, cy), (cx + 1, cy + 1), (cx, cy + 1)]
    return [round(float(c), 4) for p in pts for c in p]


def _rasterize(polys: Sequence[Sequence[tuple[float, float]]], shape: tuple[int, int]) -> NDArray[np.bool_]:
    shapes = [({"type": "Polygon", "coordinates": [[*p, p[0]]]}, 1) for p in polys if len(p) >= 3]
    if not shapes:
        return np.zeros(shape, bool)
    return rasterio.features.rasterize(shapes, out_shape=shape, dtype="uint8").astype(bool)


def _twin_source(kind: str, rng: np.random.Generator, east: float, north: float, size: float) -> SourceModel:
    """A source of the annotated type whose dimensions scale with `size` (m), so shrinking it
    shrinks its fringe pattern without changing its shape."""
    at = (("east", east), ("north", north))
    if kind in ("Mogi", "Unidentified"):
        return SourceModel(kind, "mogi", (*at, ("depth", size)))
    if kind == "Spheroid":
        return SourceModel(
            kind,
            "spheroid",
            (*at, ("depth", size), ("semi_axis", 0.45 * size), ("plunge", 60.0), ("azimuth", 0.0)),
        )
    if kind == "Sill":
        return SourceModel(kind, "penny", (*at, ("depth", size), ("radius", 0.6 * size)))
    strike = float(rng.uniform(0.0, 360.0))
    if kind == "Dyke":
        width = 0.5 * size
        return SourceModel(
            kind,
            "okada",
            (
                *at,
                ("depth", 0.15 * size + width / 2.0),
                ("strike", strike),
                ("dip", 85.0),
                ("length", 1.2 * size),
                ("width", width),
            ),
        )
    return SourceModel(
        "Earthquake",
        "okada",
        (
            *at,
            ("depth", 0.3 * size + 0.35 * size),
            ("strike", strike),
            ("dip", 60.0),
            ("length", 1.4 * size),
            ("width", 0.7 * size),
            ("rake", float(rng.choice([-90.0, 90.0, 0.0]))),
        ),
    )


def fit_source(
    frame: scene.Frame,
    region: NDArray[np.bool_],
    kind: str,
    intensity: str,
    inflation: bool,
    rng: np.random.Generator,
    nu: float,
) -> labels.DrawnSource:
    """The source of one annotated polygon: at its centroid, with the intensity's fringe count, shrunk
    until every pixel with half a fringe of its LOS motion lies in the polygon (or one pixel out)."""
    rows, cols = np.nonzero(region)
    r, c = int(round(rows.mean())), int(round(cols.mean()))
    if not region[r, c]:  # a concave polygon: take its pixel nearest the centroid
        k = int(np.argmin((rows - r) ** 2 + (cols - c) ** 2))
        r, c = int(rows[k]), int(cols[k])
    pixel_m = GRID_SPACING_DEG * geometry.METRES_PER_DEG_LAT
    size = max(math.sqrt(rows.size / math.pi), 0.5) * pixel_m
    fringes = float(rng.uniform(*FRINGES_OF_INTENSITY[intensity]))
    allowed = ndimage.binary_dilation(region, iterations=1)
    land = frame.land
    sign = 1.0 if inflation else -1.0
    d_los = np.zeros(region.shape)
    for _ in range(FIT_STEPS):
        model = _twin_source(kind, rng, float(frame.east[r, c]), float(frame.north[r, c]), size)
        unit = geometry.los(*model.displacement(frame.east, frame.north, nu), frame.look)
        span = float(np.ptp(unit[land])) if land.any() else 0.0
        if span > 0.0:
            d_los = unit * (fringes * deformation.FRINGE_M / span) * sign
            if not ((np.abs(d_los) >= 0.5 * deformation.FRINGE_M) & ~allowed).any():
                break
        size *= FIT_SHRINK
    src = labels.DrawnSource(kind, d_los, inflation, mask=region)
    src.fringes = geometry.fringes(d_los[land]) if land.any() else 0.0
    return src


def _directive(
    frame: scene.Frame, a: ann_io.Annotation, scale: float, rng: np.random.Generator, nu: float
) -> Directive:
    record = dict(a.record)
    shape = (frame.height, frame.width)
    scaled = [scale_polygon(p.xy, scale, shape) for p in a.polygons]
    record["segmentation_mask"] = scaled
    phase = str(record["phase"])
    sources = []
    for p, flat in zip(a.polygons, scaled, strict=True):
        region = _rasterize([list(zip(flat[0::2], flat[1::2], strict=True))], shape)
        kind = schema.ACTIVITY_TYPE.meaning(p.activity)
        if p.deformation == schema.DEFORMATION.code("Earthquake"):
            kind = "Earthquake"
        elif kind in ("None", "Earthquake"):
            kind = "Unidentified"
        intensity = schema.INTENSITY.meaning(p.intensity)
        sources.append(fit_source(frame, region, kind, intensity, phase != "Rebound", rng, nu))
    return Directive(
        record=record,
        sources=sources,
        atmospheric=int(record["atmospheric_fringes"]),
        orbital=int(record["orbital_fringes"]),
        glacier=int(record["glacier_fringes"]),
        low_coherence=int(record["low_coherence"]),
        no_info=int(record["no_info"]),
        processing_error=int(record["processing_error"]),
    )


def _elevation(edifices: list[terrain.Edifice]) -> Callable[[NDArray, NDArray], NDArray]:
    def z(east: NDArray, north: NDArray) -> NDArray:
        return np.max([e.elevation(east, north) for e in edifices], axis=0)

    return z


def _frame_box(volcanoes: list[frames.Volcano], shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """(lat_c, lon_c, lat_max, lon_min): the volcanoes' mean position and the frame box centred on it,
    snapped to the 0.001-degree grid."""
    h, w = shape
    lat_c = float(np.mean([v.lat for v in volcanoes]))
    lon_c = float(np.mean([v.lon for v in volcanoes]))
    lat_max = round(lat_c * 1000 + h / 2) / 1000.0
    lon_min = round(lon_c * 1000 - w / 2) / 1000.0
    return lat_c, lon_c, lat_max, lon_min


def _edifices(
    volcanoes: list[frames.Volcano],
    reference: frames.Volcano,
    box: tuple[float, float, float, float],
    shape: tuple[int, int],
    scale: float,
    trng: np.random.Generator,
) -> list[terrain.Edifice]:
    """An edifice per volcano inside the miniature frame reaching its GVP summit (a low mound when
    none falls inside); the crater and radius draws come from `trng` volcano by volcano."""
    lat_c, lon_c, lat_max, lon_min = box
    h, w = shape
    extent = min(h, w) * GRID_SPACING_DEG * geometry.METRES_PER_DEG_LAT
    base = max(0.35 * min(v.summit_m for v in volcanoes), 20.0)
    edifices = []
    for v in volcanoes:  # miniature: offsets from the frame centre shrink by `scale`
        row = h / 2 - (v.lat - lat_c) / GRID_SPACING_DEG * scale
        col = w / 2 + (v.lon - lon_c) / GRID_SPACING_DEG * scale
        if not (0 <= row < h and 0 <= col < w):
            continue
        e, n = geometry.local_metres(
            np.array(lat_max - row * GRID_SPACING_DEG),
            np.array(lon_min + col * GRID_SPACING_DEG),
            reference.lat,
            reference.lon,
        )
        crater = float(trng.uniform(0.01, 0.04)) * max(v.summit_m - base, 50.0)
        edifices.append(
            terrain.Edifice(
                east=float(e),
                north=float(n),
                summit_m=max(v.summit_m - base, 50.0) + crater,
                radius_m=float(np.clip(trng.uniform(0.08, 0.2) * extent, 300.0, 15_000.0)),
                base_m=base,
                tilt_east=0.0,
                tilt_north=0.0,
                crater_radius_m=max(0.03 * extent, 50.0),
                crater_depth_m=crater,
            )
        )
    if not edifices:
        edifices.append(terrain.Edifice(0.0, 0.0, 50.0, 0.2 * extent, base, 0.0, 0.0, 0.03 * extent, 0.0))
    return edifices


def build_twin_frame(
    config: SynthConfig,
    index: int,
    fid: str,
    volcanoes: list[frames.Volcano],
    shape: tuple[int, int],
    scale: float,
    pairs: list[tuple[dt.date, dt.date]],
) -> scene.Frame:
    """A real frame in miniature: its box centred on its volcanoes, an edifice per volcano inside it
    reaching the GVP summit elevation, the calendar of its annotated pairs."""
    frng = scene.rng(config.seed, scene.FRAME, index)
    trng = scene.rng(config.seed, scene.TERRAIN, index)
    h, w = shape
    box = _frame_box(volcanoes, shape)
    lat_max, lon_min = box[2], box[3]
    main = volcanoes[0]
    volcano = frames.Volcano(
        main.name, main.lat, main.lon, main.summit_m, False, any(v.glaciated for v in volcanoes)
    )
    east, north, lat2, lon2 = scene.grid(lat_max, lon_min, h, w, volcano.lat, volcano.lon)
    elevation = _elevation(_edifices(volcanoes, volcano, box, shape, scale, trng))
    dem = (elevation(east, north) + 20.0 * power_law_field(east.shape, 3.0, trng)).astype(np.float32)
    dem = np.maximum(dem, np.float32(1.0))
    view = frames.viewing(fid, frng)
    fields = scene.frame_fields(config, view, lat_max, lon_min, volcano, east, north, dem, elevation, trng)
    return scene.Frame(
        index=index,
        fid=fid,
        volcano=volcano,
        lat_max=lat_max,
        lon_min=lon_min,
        height=h,
        width=w,
        view=view,
        center_time_s=frames.center_time_seconds(fid, volcano.lon, frng),
        east=east,
        north=north,
        lat=lat2,
        lon=lon2,
        water=np.zeros((h, w), bool),
        acquisitions=sorted({d for p in pairs for d in p}),
        pairs=sorted(set(pairs)),
        volcanic=[],
        **fields,
    )


def _date(value: np.datetime64) -> dt.date:
    return value.astype("datetime64[D]").astype(dt.date)


@dataclass
class _TwinTally:
    """What the twin has written so far, gathered pair by pair into its manifest."""

    total: int
    progress: Callable[[int, int], None] | None
    paths: list[str] = field(default_factory=list)
    positives: int = 0
    done: int = 0
    uids: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    corrupted: list[int] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)

    def add(self, pair: PlannedPair, paths: list[str]) -> None:
        """Count one written pair and report progress."""
        self.paths += paths
        self.positives += pair.positive
        self.uids.append(pair.uid)
        if pair.missing:
            self.missing.append(pair.uid)
        if pair.corrupted:
            self.corrupted.append(pair.uid)
        if pair.processing_error:
            self.errors.append(pair.uid)
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)

    def manifest(self, chosen: Sequence[str]) -> SynthManifest:
        """The run's manifest, in the order the pairs were written."""
        return SynthManifest(
            frames=tuple(chosen),
            pairs=self.total,
            positives=self.positives,
            paths=tuple(sorted(self.paths)),
            unique_ids=tuple(self.uids),
            missing_products=tuple(self.missing),
            corrupted=tuple(self.corrupted),
            processing_errors=tuple(self.errors),
        )


def _listed_volcanoes(
    annotations: str | Path,
    frames_wanted: Sequence[str] | None,
    frame_names: str | Path | None,
    gvp_table: str | Path | None,
) -> dict[str, list[frames.Volcano]]:
    """Frame id -> volcanoes; a wanted frame missing from the frame list is refused here, before the
    19,919 annotation files are read."""
    volcano_table = gvp.frame_volcanoes(
        frame_names or _default(annotations, FRAME_NAMES), gvp_table or _default(annotations, GVP_TABLE)
    )
    unlisted = [f for f in frames_wanted or () if f not in volcano_table]
    if unlisted:  # refused before the 19,919 files are read
        raise TwinError(
            f"frame(s) {', '.join(unlisted)} not in the frame list; known: {sorted(volcano_table)}"
        )
    return volcano_table


def _chosen_frames(
    annotations: str | Path,
    records: Sequence[ann_io.Annotation],
    only_ids: set[int] | None,
    frames_wanted: Sequence[str] | None,
    volcano_table: Mapping[str, list[frames.Volcano]],
) -> tuple[list[str], dict[str, list[ann_io.Annotation]]]:
    """(frames to write, annotations of each frame): the wanted frames (or every annotated one),
    refused by name when one has no annotation or is not in the frame list."""
    by_frame: dict[str, list[ann_io.Annotation]] = {}
    for a in records:
        if only_ids is None or a.unique_id in only_ids:
            by_frame.setdefault(a.frame_id, []).append(a)
    chosen = sorted(by_frame) if not frames_wanted else list(dict.fromkeys(frames_wanted))
    unknown = [f for f in chosen if f not in by_frame]
    if unknown:
        raise TwinError(f"{annotations}: no annotation of frame(s) {', '.join(unknown)}")
    missing_volcanoes = [f for f in chosen if f not in volcano_table]
    if missing_volcanoes:
        raise TwinError(f"frame(s) {', '.join(missing_volcanoes)} not in the frame list")
    return chosen, by_frame


def _twin_pair(
    cfg: SynthConfig,
    frame: scene.Frame,
    a: ann_io.Annotation,
    dates: tuple[dt.date, dt.date],
    scale: float,
    available: set[int],
) -> PlannedPair:
    """The planned pair of one real annotation: its flags as categories, its directive fitted with the
    pair's own source generator; no product where the authors' index has none and no flag explains it."""
    rec = a.record
    flagged = bool(rec["corrupted"]) or int(rec["processing_error"]) != 0 or bool(rec["no_info"])
    rng = scene.rng(cfg.seed, scene.SOURCE, 1_000_000 + a.unique_id)
    return PlannedPair(
        uid=a.unique_id,
        frame_index=frame.index,
        primary=dates[0],
        secondary=dates[1],
        positive=any(lab != schema.NEGATIVE_LABEL for lab in a.labels),
        missing=a.unique_id not in available and not flagged,
        corrupted=bool(rec["corrupted"]),
        processing_error=int(rec["processing_error"]) != 0,
        directive=_directive(frame, a, scale, rng, cfg.poisson_ratio),
    )


def _write_twin_frame(
    cfg: SynthConfig,
    index: int,
    fid: str,
    anns: list[ann_io.Annotation],
    volcanoes: list[frames.Volcano],
    scale: float,
    available: set[int],
    out: Path,
    tally: _TwinTally,
    until: dt.date | None = None,
) -> None:
    """One real frame: its miniature scene and weather, its metadata and ERA5, then each annotated
    pair rendered and written in the annotations' order.

    `until` (a feed): only the pairs acquired up to that date that `out` lacks, the ERA5 of their dates
    and the frame's metadata once. The scene is drawn from all of `anns` either way, so a feed released
    in steps ends with the bytes of the one-shot twin."""
    pairs = [(_date(a.primary), _date(a.secondary)) for a in anns]
    frame = build_twin_frame(cfg, index, fid, volcanoes, frame_shape(anns, scale), scale, pairs)
    scene.draw_weather(cfg, frame, index)
    due = [
        (a, dates)
        for a, dates in zip(anns, pairs, strict=True)
        if until is None or (dates[1] <= until and not (out / "annotations" / f"{a.unique_id}.json").exists())
    ]
    if until is None:
        tally.paths += write_frame(cfg, frame, out)
    else:
        if not (out / "licsar" / fid / "metadata" / "metadata.txt").exists():
            tally.paths += write_frame_metadata(frame, out)
        dates = sorted({d for _, ds in due for d in ds})
        missing = [d for d in dates if not (out / "era5" / f"era5_{fid}_{d.strftime('%Y%m%d')}.nc").exists()]
        tally.paths += write_frame_era5(cfg, frame, out, missing)
    for a, dates in due:
        pair = _twin_pair(cfg, frame, a, dates, scale, available)
        rendered = render_pair(cfg, frame, pair)
        tally.add(pair, write_pair(frame, pair, rendered, out))  # the annotation last: the pair is complete


def short_pairs(records: Sequence[ann_io.Annotation], max_days: int) -> set[int]:
    """uniqueIDs of the pairs whose temporal baseline is at most `max_days` (what a monitor sees first:
    LiCSAR forms each new acquisition's pairs with the previous few)."""
    return {
        a.unique_id
        for a in records
        if int((a.secondary - a.primary).astype("timedelta64[D]").astype(int)) <= max_days
    }


def generate_twin(
    annotations: str | Path,
    out_dir: str | Path,
    *,
    frames_wanted: Sequence[str] | None = None,
    scale: float = 0.1,
    seed: int = 0,
    quality: str | Path | None = None,
    frame_names: str | Path | None = None,
    gvp_table: str | Path | None = None,
    config: SynthConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    records: Sequence[ann_io.Annotation] | None = None,
    only_ids: set[int] | None = None,
    max_baseline_days: int | None = None,
    until: dt.date | None = None,
) -> SynthManifest:
    """Write the twin of the real frames (`frames_wanted`, or all) under `out_dir` (new or empty).

    `records`: the annotations already parsed from `annotations` (load_records), to read them once;
    `only_ids`: write only these pairs (a figure's pair at full scale without its whole frame);
    `max_baseline_days`: only pairs of at most that temporal baseline; `until`: a simulated feed
    (release.py) of the pairs acquired up to that date: run again with a later date and the same
    settings to add the pairs acquired since (the manifest then lists what this call wrote)."""
    if not 0.0 < scale <= 1.0:
        raise TwinError(f"--scale {scale}: must be in (0, 1]")
    out = Path(out_dir)
    settings = {
        "frames": sorted(frames_wanted or []),
        "scale": scale,
        "seed": seed,
        "max_baseline_days": max_baseline_days,
        "only_ids": sorted(only_ids) if only_ids is not None else None,
    }
    if until is not None:
        check_record(out, "twin", settings, until)
    elif out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out}: output folder is not empty; choose a new folder")
    cfg = (config or SynthConfig()).model_copy(update={"seed": seed, "swath_footprint": False})
    volcano_table = _listed_volcanoes(annotations, frames_wanted, frame_names, gvp_table)
    available = read_quality_index(quality or _default(annotations, QUALITY_INDEX))
    records = list(records) if records is not None else load_records(annotations)
    if max_baseline_days is not None:
        short = short_pairs(records, max_baseline_days)
        only_ids = short if only_ids is None else only_ids & short
    chosen, by_frame = _chosen_frames(annotations, records, only_ids, frames_wanted, volcano_table)
    out.mkdir(parents=True, exist_ok=True)
    due = [
        a
        for f in chosen
        for a in by_frame[f]
        if until is None
        or (_date(a.secondary) <= until and not (out / "annotations" / f"{a.unique_id}.json").exists())
    ]
    tally = _TwinTally(total=len(due), progress=progress)
    for index, fid in enumerate(chosen):
        _write_twin_frame(
            cfg, index, fid, by_frame[fid], volcano_table[fid], scale, available, out, tally, until
        )
    if until is not None:
        write_record(out, "twin", settings, until)
    return tally.manifest(chosen)
