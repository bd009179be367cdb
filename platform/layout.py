"""Where everything lives under a store URL and a results URL: the one owner of every path between stages.

A store (`STORE`, any fsspec URL) holds::

    cubes/<FRAME>.zarr                   published minicubes (ingest writes, catalog and train read)
    staging/<FRAME>/cube.zarr            a cube being built; becomes cubes/<FRAME>.zarr when complete
    staging/<FRAME>/plan.json            the plan record: its presence says the staged template is complete
    staging/<FRAME>/done/<TASK>.json     one done-marker per finished write task (a re-run skips it)
    ledgers/<FRAME>.json                 a published cube's per-task fingerprints and outcomes (a re-run
                                         after a changed input rewrites only the tasks that input feeds)
    quarantine/<FRAME>__<PRODUCT>.json   one record per refused source product
    catalog/collection.json              the STAC Collection, also the pointer to the published version
    catalog/<VERSION>/index/pairs/       pair index (hive-partitioned Parquet)
    catalog/<VERSION>/index/series/      series table (hive-partitioned Parquet)
    catalog/<VERSION>/items/<FRAME>.json STAC Items, one per cube
    catalog/<VERSION>/items.parquet      stac-geoparquet mirror of the Items
    catalog/<VERSION>/cache/scan.parquet what the build read from each cube (cube version, per-pair
                                         statistics): the next build reuses it for unchanged pairs
    monitor/scores.parquet               every pair the monitor scored (schema: monitor/tables.py)
    monitor/alerts.parquet               one row per detection (schema: monitor/tables.py)
    monitor/alerts.geojson               the same alerts as a GeoJSON FeatureCollection
    monitor/episodes.parquet             unrest episodes, recomputed every cycle (schema: monitor/episodes.py)
    monitor/episodes.geojson             the same episodes as a GeoJSON FeatureCollection
    monitor/state/                       the monitor's cycle journal (restart without loss or repeat)
    monitor/state/cycle.json             the latest cycle: number, phase, start time (monitor/journal.py)

A results folder (`RESULTS`) holds `checkpoints/<RUN>/checkpoint_*/` with the files named in
:class:`CheckpointFiles`, `results.parquet`, `runs/<RUN>.json`, `history/<RUN>.jsonl`, the summary
tables and figure, `tune/` and `mlruns/` (MLflow) (:class:`ResultsLayout`). Ids that come from input files (frame ids, run ids, version names) are
checked by `storage.safe_component` before they become paths.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from hephaestus.platform import storage

CUBE_SUFFIXES: Final = (".zarr", ".zarr.zip")
"""Cube names the catalog accepts under cubes/ (ingest writes `.zarr`)."""
CATALOG_VERSION: Final = re.compile(r"^v\d{8}T\d{12}-[0-9a-f]{8}$")
"""Catalog version folder names (`new_version` in catalog/publish.py makes them)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _frame(frame_id: str) -> str:
    return storage.safe_component(frame_id, what="frame id")


_ABSOLUTE_SQL: Final = r"^([A-Za-z][A-Za-z0-9+.-]+:|/)"
"""`is_absolute_ref` as a regular expression (a scheme of two letters or more, or a leading '/')."""


def is_absolute_ref(ref: str) -> bool:
    """A stored reference that names its target on its own: a URL with a scheme or an absolute path
    (catalogs published before store-relative references hold these; they resolve to themselves)."""
    return len(urlsplit(str(ref)).scheme) > 1 or os.path.isabs(ref)


def href_between(document: str, target: str) -> str:
    """The href from a file to another, both given relative to the store root, as STAC wants it:
    relative to the folder of the document that holds it (a trailing '/' of `target` is kept; an
    absolute `target` is returned as it is)."""
    if is_absolute_ref(target):
        return target
    rel = posixpath.relpath(target.rstrip("/"), posixpath.dirname(document) or ".")
    return rel + "/" if target.endswith("/") else rel


def is_cube_name(name: str) -> bool:
    """A complete cube under cubes/ (names starting with '.' or '_' are in progress or hidden)."""
    return name.endswith(CUBE_SUFFIXES) and not name.startswith((".", "_"))


def safe_name(text: str) -> str:
    """A file-name-safe rendering of any id: safe ids unchanged, unsafe ones mangled with a hash
    so that two of them never collide (used where a refusal must still be filed, e.g. quarantine)."""
    try:
        return storage.safe_component(text)
    except storage.UnsafePathComponentError:
        digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        return f"unsafe-{_UNSAFE.sub('_', text)[:40].strip('._-') or 'id'}-{digest}"


@dataclass(frozen=True)
class Staging:
    """The staging folder of one frame's cube (small and picklable: write tasks get it as is)."""

    url: str

    @property
    def cube(self) -> str:
        return storage.join(self.url, "cube.zarr")

    @property
    def plan(self) -> str:
        return storage.join(self.url, "plan.json")

    def done_marker(self, task_id: str) -> str:
        return storage.join(self.url, "done", f"{storage.safe_component(task_id, what='task id')}.json")

    def retired_cube(self) -> str:
        """A fresh name beside the staged cube for an older published cube being replaced."""
        return storage.join(self.url, f"old-{uuid.uuid4().hex}.zarr")


@dataclass(frozen=True)
class CatalogVersion:
    """The files of one catalog version, as URLs and as hrefs relative to the collection or an item."""

    url: str
    version: str

    @property
    def path(self) -> str:
        """This version's folder relative to the store root (`catalog/<VERSION>`)."""
        return f"{StoreLayout.CATALOG_DIR}/{self.version}"

    def item_path(self, frame_id: str) -> str:
        """An Item's file relative to the store root (the document its asset hrefs are relative to)."""
        return f"{self.path}/items/{_frame(frame_id)}.json"

    @property
    def pairs_path(self) -> str:
        """The pair index folder relative to the store root (with its trailing '/', as an href)."""
        return f"{self.path}/{self.PAIRS_HREF}"

    @property
    def geoparquet_path(self) -> str:
        """items.parquet relative to the store root (its Items' hrefs are relative to it)."""
        return f"{self.path}/{self.GEOPARQUET_HREF}"

    PAIRS_HREF = "index/pairs/"
    SERIES_HREF = "index/series/"

    @property
    def pairs_index(self) -> str:
        return storage.join(self.url, "index", "pairs")

    @property
    def series_index(self) -> str:
        return storage.join(self.url, "index", "series")

    def item(self, frame_id: str) -> str:
        return storage.join(self.url, "items", f"{_frame(frame_id)}.json")

    @property
    def geoparquet(self) -> str:
        return storage.join(self.url, "items.parquet")

    @property
    def scan_cache(self) -> str:
        """What the build read from each cube, for the next build to reuse (catalog/incremental.py)."""
        return storage.join(self.url, "cache", "scan.parquet")

    # hrefs: the collection sits at catalog/collection.json, items at catalog/<VERSION>/items/
    def href(self, relative: str) -> str:
        """An href from the collection to a file of this version."""
        return f"./{self.version}/{relative}"

    def item_href(self, frame_id: str) -> str:
        return self.href(f"items/{_frame(frame_id)}.json")

    ITEM_TO_COLLECTION = "../../collection.json"
    ITEM_TO_PAIRS = "../index/pairs/"
    GEOPARQUET_TO_COLLECTION = "../collection.json"
    GEOPARQUET_HREF = "items.parquet"


class _Root:
    """A layout rooted at one URL (normalised once; shown redacted)."""

    def __init__(self, url: str | os.PathLike[str]) -> None:
        self.url = storage.normalize(url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({storage.redact(self.url)!r})"


class StoreLayout(_Root):
    """Every path under one store URL.

    References stored inside a store (the pair index's and series table's `cube_url`, STAC hrefs) are
    relative, so a store copied elsewhere (another folder, a bucket) reads its own files: `relative`
    makes one (a '/'-separated path from the store root, e.g. `cubes/<FRAME>.zarr`) and `resolve` turns
    one back into a URL under the store it was read from. An absolute reference (a URL, an absolute
    path: catalogs published before) resolves to itself.
    """

    CUBES_DIR = "cubes"
    CATALOG_DIR = "catalog"

    # references -------------------------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """The URL of a stored reference: relative ones under this store, absolute ones unchanged."""
        if is_absolute_ref(ref):
            return storage.normalize(ref)
        return storage.join(self.url, *[p for p in str(ref).split("/") if p])

    def resolve_href(self, document: str, href: str) -> str:
        """The URL an href stored in `document` names (`href_between`'s inverse; `document` is a path from
        the store root). An absolute href, or one that climbs out of the store, is returned as written."""
        if is_absolute_ref(href):
            return href
        target = posixpath.normpath(posixpath.join(posixpath.dirname(document), href))
        if target.startswith(".."):
            return href
        url = self.resolve(target)
        return url + "/" if href.endswith("/") and not url.endswith("/") else url

    def resolve_sql(self, column: str) -> str:
        """`resolve` as a SQL expression over a text column (DuckDB views: no Python call per row)."""
        prefix = (self.url.rstrip("/") + "/").replace("'", "''")
        return (
            f"CASE WHEN {column} IS NULL OR regexp_matches({column}, '{_ABSOLUTE_SQL}') THEN {column} "
            f"ELSE '{prefix}' || {column} END"
        )

    def relative(self, url: str) -> str:
        """`url` as a reference relative to this store's root ('/'-separated); a URL outside the store
        is refused (it cannot travel with a copy of the store)."""
        target = storage.normalize(url)
        if storage.is_local(self.url) and storage.is_local(target):
            try:
                return Path(target).relative_to(self.url).as_posix()
            except ValueError:
                pass
        elif target.startswith(self.url.rstrip("/") + "/"):
            return target[len(self.url.rstrip("/")) + 1 :].strip("/")
        raise ValueError(f"{storage.redact(target)} is not under the store {storage.redact(self.url)}")

    # cubes ------------------------------------------------------------------------------------
    @property
    def cubes(self) -> str:
        return storage.join(self.url, self.CUBES_DIR)

    def cube(self, frame_id: str) -> str:
        """Where the published cube of a frame lives (the frame id is checked first)."""
        return storage.join(self.cubes, f"{_frame(frame_id)}.zarr")

    def staging(self, frame_id: str) -> Staging:
        return Staging(storage.join(self.url, "staging", _frame(frame_id)))

    def ledger(self, frame_id: str) -> str:
        """The ledger of a published cube: which write task consumed which input versions, with what outcome."""
        return storage.join(self.url, "ledgers", f"{_frame(frame_id)}.json")

    # quarantine -------------------------------------------------------------------------------
    @property
    def quarantine(self) -> str:
        return storage.join(self.url, "quarantine")

    @staticmethod
    def quarantine_name(frame: str, product: str) -> str:
        """The record's file name: any frame or product id, made safe (unsafe ids get a hash)."""
        return f"{safe_name(frame)}__{safe_name(product)}.json"

    def quarantine_record(self, frame: str, product: str) -> str:
        return storage.join(self.quarantine, self.quarantine_name(frame, product))

    # catalog ----------------------------------------------------------------------------------
    @property
    def catalog(self) -> str:
        return storage.join(self.url, self.CATALOG_DIR)

    @property
    def pointer(self) -> str:
        """catalog/collection.json: the published Collection, which names the current version."""
        return storage.join(self.catalog, "collection.json")

    def catalog_version(self, version: str) -> CatalogVersion:
        if not CATALOG_VERSION.match(str(version)):
            raise ValueError(f"not a catalog version name: {version!r}")
        return CatalogVersion(storage.join(self.catalog, version), version)

    # monitoring -------------------------------------------------------------------------------
    @property
    def monitor(self) -> MonitorFiles:
        return MonitorFiles(storage.join(self.url, "monitor"))


@dataclass(frozen=True)
class MonitorFiles:
    """The monitor's outputs under one store (tables described in monitor/tables.py, monitor/episodes.py
    and docs/monitoring.md)."""

    url: str

    @property
    def scores(self) -> str:
        return storage.join(self.url, "scores.parquet")

    @property
    def alerts(self) -> str:
        return storage.join(self.url, "alerts.parquet")

    @property
    def alerts_geojson(self) -> str:
        return storage.join(self.url, "alerts.geojson")

    @property
    def episodes(self) -> str:
        return storage.join(self.url, "episodes.parquet")

    @property
    def episodes_geojson(self) -> str:
        return storage.join(self.url, "episodes.geojson")

    @property
    def state(self) -> str:
        return storage.join(self.url, "state")

    @property
    def cycle(self) -> str:
        """The latest cycle's record (number, phase, start time; monitor/journal.py)."""
        return storage.join(self.state, "cycle.json")


class CheckpointFiles:
    """File names inside a training checkpoint folder (written by the loop, read by predict)."""

    MODEL = "model.pt"
    BEST = "best.pt"
    OPTIMIZER = "optimizer.pt"
    STATE = "state.json"
    RUN = "run_config.json"
    INPUT = "input.json"


class ResultsLayout(_Root):
    """Every path under one results URL (training runs)."""

    @property
    def results_table(self) -> str:
        """One row per finished run (rebuilt from the run records)."""
        return storage.join(self.url, "results.parquet")

    @property
    def runs(self) -> str:
        """One JSON record per finished run: `<RUN>.json`."""
        return storage.join(self.url, "runs")

    def run_record(self, run_id: str) -> str:
        return storage.join(self.runs, f"{storage.safe_component(run_id, what='run id')}.json")

    def history(self, run_id: str) -> str:
        """A run's per-epoch history (JSON lines)."""
        return storage.join(self.url, "history", f"{storage.safe_component(run_id, what='run id')}.jsonl")

    def summary(self, name: str) -> str:
        """A summary file: the paper's tables (`table3.md`, `.csv`) and the comparison figure."""
        return storage.join(self.url, storage.safe_component(name, what="summary file"))

    @property
    def tune(self) -> str:
        """Ray Tune's experiment folder (trial state for resuming the grid)."""
        return storage.join(self.url, "tune")

    @property
    def mlruns(self) -> str:
        """The default MLflow file store of the runs (train/tracking.py), for local results."""
        return storage.join(self.url, "mlruns")

    @property
    def checkpoints(self) -> str:
        """Ray Train's storage path: one folder per run id below it."""
        return storage.join(self.url, "checkpoints")

    def run_checkpoints(self, run_id: str) -> str:
        return storage.join(self.checkpoints, storage.safe_component(run_id, what="run id"))
