"""Source discovery: where LiCSAR, ERA5 and annotations are, and which products each frame has.

Reads file listings and the small `metadata.txt` only; pixels are read by tasks.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

import numpy as np

from hephaestus.platform import storage
from hephaestus.platform.pairs import pair_name

from .config import IngestConfig
from .geotiff import ProductError

_PAIR_DIR = re.compile(r"^(\d{8})_(\d{8})$")
PHASE_SUFFIX = ".geo.diff_pha.tif"
COHERENCE_SUFFIX = ".geo.cc.tif"
HGT_SUFFIX = ".geo.hgt.tif"


@dataclass(frozen=True)
class SourceRoots:
    licsar: str
    era5: str
    annotations: str


def roots(cfg: IngestConfig) -> SourceRoots:
    """The three source locations: explicit flags win over SOURCES/<kind>."""

    def pick(explicit: str | None, sub: str, alternatives: tuple[str, ...] = ()) -> str:
        if explicit:
            return storage.normalize(explicit)
        assert cfg.sources is not None  # guaranteed by IngestConfig
        for name in (sub, *alternatives):
            url = storage.join(cfg.sources, name)
            if storage.exists(url):
                return url
        return storage.join(cfg.sources, sub)

    return SourceRoots(
        licsar=pick(cfg.licsar, "licsar"),
        era5=pick(cfg.era5, "era5"),
        annotations=pick(cfg.annotations, "annotations", ("annotations.tar.gz", "annotations.tar")),
    )


@dataclass(frozen=True)
class PairProduct:
    phase: str | None
    coherence: str | None
    folder: str


@dataclass
class FrameSource:
    """One LiCSAR frame folder: its DEM, acquisition time of day and interferogram products."""

    frame_id: str
    folder: str
    hgt: str | None = None
    metadata_url: str | None = None
    products: dict[tuple[np.datetime64, np.datetime64], PairProduct] = field(default_factory=dict)


@dataclass
class LicsarScan:
    """The frames under a LiCSAR root and every listed file that no frame uses, with the reason."""

    frames: dict[str, FrameSource] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)  # file URL -> why


def _url(loc: storage.Location, path: str) -> str:
    if storage.is_local(loc.url):
        return path
    return f"{storage.protocol_of(loc.url)}://{path}"


def _date(text: str) -> np.datetime64:
    return np.datetime64(f"{text[:4]}-{text[4:6]}-{text[6:]}", "D")


def scan_licsar(url: str) -> LicsarScan:
    """Frames under a LiCSAR root, keyed by folder name (unchecked: the planner checks ids).

    Every file that does not belong where LiCSAR puts it is listed in `ignored` with the reason, so
    that nothing is dropped silently.
    """
    loc = storage.location(url)
    scan = LicsarScan()
    frames = scan.frames
    if not loc.fs.isdir(loc.path):
        return scan
    base = loc.path.rstrip("/")
    for path in sorted(loc.fs.find(base)):
        rel = path[len(base) :].lstrip("/").split("/")
        if len(rel) < 3:
            scan.ignored[_url(loc, path)] = "not under FRAME/metadata/ or FRAME/interferograms/DATE_DATE/"
            continue
        frame_id = rel[0]
        fr = frames.setdefault(frame_id, FrameSource(frame_id, _url(loc, posixpath.join(base, frame_id))))
        name = rel[-1]
        if rel[1] == "metadata" and len(rel) == 3:
            if name == f"{frame_id}{HGT_SUFFIX}":
                fr.hgt = _url(loc, path)
            elif name == "metadata.txt":
                fr.metadata_url = _url(loc, path)
            else:
                scan.ignored[_url(loc, path)] = f"not {frame_id}{HGT_SUFFIX} or metadata.txt"
        elif rel[1] == "interferograms" and len(rel) == 4:
            why = _product_problem(rel[2], name)
            m = _PAIR_DIR.match(rel[2])
            if why or m is None:
                scan.ignored[_url(loc, path)] = why
                continue
            key = (_date(m.group(1)), _date(m.group(2)))
            old = fr.products.get(key, PairProduct(None, None, _url(loc, posixpath.dirname(path))))
            if name == f"{rel[2]}{PHASE_SUFFIX}":
                fr.products[key] = PairProduct(_url(loc, path), old.coherence, old.folder)
            else:
                fr.products[key] = PairProduct(old.phase, _url(loc, path), old.folder)
        else:
            scan.ignored[_url(loc, path)] = "not under FRAME/metadata/ or FRAME/interferograms/DATE_DATE/"
    return scan


def _product_problem(folder: str, name: str) -> str:
    """Why FRAME/interferograms/FOLDER/NAME is not a product file ("" when it is one)."""
    m = _PAIR_DIR.match(folder)
    if not m:
        return f"interferogram folder {folder!r} is not named PRIMARY_SECONDARY (YYYYMMDD_YYYYMMDD)"
    try:
        _date(m.group(1)), _date(m.group(2))
    except ValueError:
        return f"interferogram folder {folder!r} does not name two valid dates"
    if name not in (f"{folder}{PHASE_SUFFIX}", f"{folder}{COHERENCE_SUFFIX}"):
        dates = re.match(r"^(\d{8}_\d{8})\.", name)
        if dates and dates.group(1) != folder:
            return f"file dates {dates.group(1)} do not match its folder {folder}"
        return f"not {folder}{PHASE_SUFFIX} or {folder}{COHERENCE_SUFFIX}"
    return ""


@dataclass(frozen=True)
class FrameMetadata:
    """What the planner needs from LiCSAR's `metadata.txt`."""

    center_time: np.timedelta64  # acquisition time of day (UTC)
    values: dict[str, str]


def read_metadata(url: str) -> FrameMetadata:
    """Parse LiCSAR `key=value` lines; the acquisition time of day is required."""
    try:
        text = storage.read_bytes(url).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProductError(f"{storage.redact(url)}: unreadable metadata: {exc}") from exc
    values: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            values[k.strip()] = v.strip()
    raw = values.get("center_time")
    if raw is None:
        raise ProductError(f"{storage.redact(url)}: no center_time=HH:MM:SS line")
    m = re.fullmatch(r"(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?", raw)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59 or int(m.group(3)) > 60:
        raise ProductError(f"{storage.redact(url)}: center_time {raw!r} is not HH:MM:SS[.ffffff]")
    frac = (m.group(4) or "0")[:9].ljust(9, "0")
    ns = ((int(m.group(1)) * 60 + int(m.group(2))) * 60 + int(m.group(3))) * 10**9 + int(frac)
    for k in ("heading", "avg_incidence_angle"):
        if k in values:
            try:
                float(values[k])
            except ValueError:
                raise ProductError(f"{storage.redact(url)}: {k}={values[k]!r} is not a number") from None
    return FrameMetadata(np.timedelta64(ns, "ns"), values)


def discover_products(cfg: IngestConfig) -> set[str]:
    """Every interferogram product under the LiCSAR sources, as FRAME/PRIMARY_SECONDARY names (a phase
    file present): what a watcher compares with what it has already ingested. Reads listings only."""
    scan = scan_licsar(roots(cfg).licsar)
    return {
        f"{fid}/{pair_name(p.astype(object), s.astype(object))}"
        for fid, fr in scan.frames.items()
        for (p, s), product in fr.products.items()
        if product.phase is not None
    }
