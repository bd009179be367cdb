"""Planning (driver side): scan sources, validate what headers and annotations can tell, and lay out
each frame's cube and its tasks. Reads listings, JSON, `metadata.txt` and GeoTIFF/NetCDF headers only.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from hephaestus.platform import annotation as ann_mod
from hephaestus.platform import schema, storage
from hephaestus.platform.errors import InputNotFoundError

from . import era5 as era5_mod
from . import sources
from .config import IngestConfig
from .encoding import fill_value
from .geotiff import Grid, ProductError, check_same_grid, header_grid
from .quarantine import QuarantineRecord
from .writer import FrameContext, PairJob

log = logging.getLogger(__name__)

PLAN_VERSION = "2"  # 2: v3 text as numbers, NaN for "no product", every v2 chunk written


class SourceNotFoundError(InputNotFoundError):
    """A source location (LiCSAR, ERA5 or annotations) does not exist."""


@dataclass
class FrameBuild:
    """Everything needed to build one cube; small (URLs, dates, annotation scalars), no pixels."""

    frame_id: str
    ctx: FrameContext
    primary: np.ndarray
    secondary: np.ndarray
    blocks: list[tuple[str, list[PairJob]]]
    scalars: dict[str, np.ndarray]
    dem_hgt: str | None = None
    dem_cube: str | None = None
    fingerprint: str = ""
    # what the cube's shape depends on, and per write task what its cells depend on (a changed input
    # then invalidates only the tasks it feeds; see ledger.reuse_published)
    structure: str = ""
    task_fingerprints: dict[str, str] = field(default_factory=dict)
    n_pairs: int = 0  # cells with content to write (products)
    description: str = ""
    # what the fingerprint is made of, kept so that an append can fingerprint the published part
    # (region_fingerprint): the plan's jobs in order, the settings and the input files' versions
    jobs: list[PairJob] = field(default_factory=list)
    base: dict = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    frame_files: list[str] = field(default_factory=list)


@dataclass
class Plan:
    builds: list[FrameBuild] = field(default_factory=list)
    quarantine: list[QuarantineRecord] = field(default_factory=list)
    no_product: int = 0
    unannotated_products: int = 0
    ignored: dict[str, str] = field(default_factory=dict)  # input file URL -> why no cube uses it
    inputs: set[str] = field(default_factory=set)  # every source file listed (for the run's accounting)


def failure(exc: BaseException) -> str:
    """One line for a product's quarantine record, whatever went wrong (type included when unexpected)."""
    text = " ".join(str(exc).split())[:500]
    if isinstance(exc, ProductError | ann_mod.AnnotationError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def empty_scalars(n_p: int, n_s: int) -> dict[str, np.ndarray]:
    out = {}
    for name in schema.PAIR_VARIABLES:
        var = schema.VARIABLES[name]
        out[name] = np.full(
            (n_p, n_s), fill_value(name), dtype=var.numpy_dtype(schema.STRING_LENGTHS.get(name, 1))
        )
    return out


def blocks_of(jobs: list[PairJob], per_task: int) -> list[tuple[str, list[PairJob]]]:
    jobs = sorted(jobs, key=lambda j: (j.i, j.j))
    return [(f"pairs-{k // per_task:05d}", jobs[k : k + per_task]) for k in range(0, len(jobs), per_task)]


def fingerprint(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def bounded_records(records: list[QuarantineRecord], source: str) -> list[QuarantineRecord]:
    """`records` as they are up to `annotation.MAX_REFUSED_RECORDS`, else one record listing every refused file."""
    limit = ann_mod.MAX_REFUSED_RECORDS
    if len(records) <= limit:
        return records
    files = tuple(f for r in records for f in r.files)
    reason = (
        f"{storage.redact(source)}: {len(records)} annotation files refused (more than {limit}: "
        f"one record lists them); first: {records[0].reason}"
    )
    return [QuarantineRecord("unknown", "annotation-files", files, reason[:1000], "annotation", kind="file")]


def plan_annotations(url: str, plan: Plan) -> list[ann_mod.Annotation]:
    """Parse every annotation; quarantine malformed ones, duplicate uniqueIDs and doubly annotated pairs."""
    parsed: list[ann_mod.Annotation] = []
    refused: list[QuarantineRecord] = []
    for raw in ann_mod.iter_raw(url):
        plan.inputs.add(raw.origin)
        try:
            parsed.extend(ann_mod.parse_file(raw))
        except ann_mod.AnnotationError as exc:
            frame = exc.frame_id or "unknown"
            product = str(exc.unique_id) if exc.unique_id is not None else raw.name
            refused.append(QuarantineRecord(frame, product, (raw.origin,), str(exc), "annotation"))
        except Exception as exc:  # any other failure of one file is still that file's record
            reason = f"{storage.redact(raw.origin)}: {failure(exc)}"
            refused.append(QuarantineRecord("unknown", raw.name, (raw.origin,), reason, "annotation"))
    plan.quarantine.extend(bounded_records(refused, url))
    by_uid: dict[int, list[ann_mod.Annotation]] = defaultdict(list)
    for a in parsed:
        by_uid[a.unique_id].append(a)
    by_pair: dict[tuple, list[ann_mod.Annotation]] = defaultdict(list)
    for a in parsed:
        by_pair[a.pair_key].append(a)
    good: list[ann_mod.Annotation] = []
    for a in parsed:
        files = tuple(sorted(x.origin for x in by_uid[a.unique_id]))
        if len(by_uid[a.unique_id]) > 1:
            reason = f"duplicate uniqueID {a.unique_id} in {len(files)} files"
            plan.quarantine.append(
                QuarantineRecord(a.frame_id, f"{a.unique_id}-{a.name}", files, reason, "annotation")
            )
            continue
        others = [x.unique_id for x in by_pair[a.pair_key] if x is not a]
        if others:
            reason = f"pair {a.frame_id} {a.primary}..{a.secondary} also annotated by uniqueID(s) {others}"
            plan.quarantine.append(
                QuarantineRecord(a.frame_id, str(a.unique_id), (a.origin,), reason, "annotation")
            )
            continue
        good.append(a)
    return good


def _acquisition(day: np.datetime64, meta: sources.FrameMetadata) -> np.datetime64:
    return np.datetime64(day, "ns") + meta.center_time


@dataclass
class Survey:
    """What the driver finds before any frame is planned: listings, annotations and the ERA5 index.

    `plan` holds the records of this stage (quarantine, ignored files, inputs); `frames` the frames left to
    plan, each with its annotations (`plan_frame`, one per frame, runs anywhere: the runner makes it a task).
    """

    plan: Plan
    frames: list[tuple[sources.FrameSource, list[ann_mod.Annotation]]]
    era5_files: list[era5_mod.Era5File]
    era5_unindexed: list[str] = field(default_factory=list)  # `index_era5=False`: to index (`add_era5`)


def survey_sources(cfg: IngestConfig, index_era5: bool = True) -> Survey:
    """List the sources, parse the annotations and index the ERA5 files; pick the frames to plan.

    `index_era5=False` lists the ERA5 files without reading them (`era5_unindexed`): the caller indexes
    them (in slices, `era5.index_files`) and adds each slice's result with `add_era5`."""
    plan = Plan()
    roots = sources.roots(cfg)
    for kind, url in (("LiCSAR", roots.licsar), ("ERA5", roots.era5), ("annotations", roots.annotations)):
        if not storage.exists(url):
            raise SourceNotFoundError(f"{kind} sources not found at {storage.redact(url)}")
    annotations = plan_annotations(roots.annotations, plan)
    scan = sources.scan_licsar(roots.licsar)
    frames = scan.frames
    plan.ignored.update(scan.ignored)
    plan.inputs.update(scan.ignored)
    plan.inputs.update(u for fr in frames.values() for u in _frame_files(fr, ""))
    for name, fr in frames.items():
        try:
            storage.safe_component(name, "frame folder")
        except storage.UnsafePathComponentError as exc:
            plan.quarantine.append(
                QuarantineRecord(name, "frame", (fr.folder,), str(exc), "scan", kind="frame")
            )
    era5_urls, ignored_era5 = era5_mod.list_folder(roots.era5)
    plan.ignored.update(ignored_era5)
    plan.inputs.update(ignored_era5)
    survey = Survey(plan, [], [], [] if index_era5 else era5_urls)
    if index_era5:
        add_era5(survey, *era5_mod.index_files(era5_urls))
    by_frame: dict[str, list[ann_mod.Annotation]] = defaultdict(list)
    for a in annotations:
        by_frame[a.frame_id].append(a)
    annotated = {(a.frame_id, a.primary, a.secondary) for a in annotations}
    _ignore_unannotated(frames, annotated, plan)
    for frame_id in sorted(by_frame):
        anns = sorted(by_frame[frame_id], key=lambda a: (a.primary, a.secondary))
        if cfg.only_frames is not None and frame_id not in cfg.only_frames:
            plan.ignored.update({a.origin: f"frame {frame_id} not selected" for a in anns})
            plan.ignored.update(_frame_files(frames.get(frame_id), f"frame {frame_id} not selected"))
            continue
        fr = frames.get(frame_id)
        if fr is None:
            plan.no_product += len(anns)
            plan.ignored.update({a.origin: f"no LiCSAR folder for frame {frame_id}" for a in anns})
            continue
        survey.frames.append((fr, anns))
    return survey


def add_era5(
    survey: Survey, files: list[era5_mod.Era5File], bad: list[tuple[str, str]]
) -> list[QuarantineRecord]:
    """Add indexed ERA5 files (`era5.index_files`) to the survey; returns the quarantine records of those
    that cannot serve (also added to the plan)."""
    plan = survey.plan
    survey.era5_files.extend(files)
    plan.inputs.update([*(f.url for f in files), *(u for u, _ in bad)])
    records = [
        QuarantineRecord("era5", url.rsplit("/", 1)[-1], (url,), why, "era5", kind="file") for url, why in bad
    ]
    plan.quarantine.extend(records)
    return records


def plan_frame(
    cfg: IngestConfig,
    fr: sources.FrameSource,
    anns: list[ann_mod.Annotation],
    era5_files: list[era5_mod.Era5File],
) -> Plan:
    """One frame's part of the plan: its build (if any) and its records; a frame that cannot be planned is
    its pairs' quarantine records. Reads the frame's headers only, so it can run on any worker."""
    part = Plan()
    try:
        build = _plan_frame(cfg, fr, anns, era5_files, part)
    except Exception as exc:  # a frame that cannot be planned is its pairs' quarantine records
        log.exception("planning frame %s failed", fr.frame_id)
        _quarantine_all(part, anns, (fr.folder,), f"frame {fr.frame_id}: {failure(exc)}", "scan")
        build = None
    if build is not None:
        part.builds.append(build)
    return part


def merge(plan: Plan, part: Plan) -> None:
    """Add one frame's part (`plan_frame`) to the plan."""
    plan.builds.extend(part.builds)
    plan.quarantine.extend(part.quarantine)
    plan.no_product += part.no_product
    plan.unannotated_products += part.unannotated_products
    plan.ignored.update(part.ignored)
    plan.inputs.update(part.inputs)


def close_plan(plan: Plan, era5_files: list[era5_mod.Era5File]) -> None:
    """After every frame is planned: ERA5 files no planned pair uses are ignored, with the reason."""
    used = {u for b in plan.builds for u in b.ctx.era5_files}
    for f in era5_files:
        if f.url not in used and not f.problem:
            plan.ignored[f.url] = "no planned pair needs an hour from it"


def plan_sources(cfg: IngestConfig) -> Plan:
    """Plan every annotated frame found in the sources, here and one frame after the other (the ingest
    runner plans the frames of a `survey_sources` as tasks instead)."""
    survey = survey_sources(cfg)
    for fr, anns in survey.frames:
        merge(survey.plan, plan_frame(cfg, fr, anns, survey.era5_files))
    close_plan(survey.plan, survey.era5_files)
    return survey.plan


def _versions(urls: list[str | None]) -> dict[str, str]:
    """Version of every source file (annotation tarball members are covered by their parsed content)."""
    return {u: storage.file_version(u) for u in sorted({u for u in urls if u and "!" not in u})}


def _frame_files(fr: sources.FrameSource | None, why: str) -> dict[str, str]:
    if fr is None:
        return {}
    files = [fr.hgt, fr.metadata_url, *(u for p in fr.products.values() for u in (p.phase, p.coherence))]
    return {u: why for u in files if u}


def _ignore_unannotated(frames: dict[str, sources.FrameSource], annotated: set, plan: Plan) -> None:
    """Products no annotation names are not ingested (the cube's pair axes come from annotations)."""
    annotated_frames = {f for f, _, _ in annotated}
    for f, fr in frames.items():
        if f not in annotated_frames:
            plan.ignored.update(_frame_files(fr, f"no annotation for frame {f}"))
        for (p, s), product in fr.products.items():
            if (f, p, s) in annotated:
                continue
            plan.unannotated_products += 1
            why = f"no annotation for pair {f} {p}..{s}"
            plan.ignored.update({u: why for u in (product.phase, product.coherence) if u})


def _quarantine_all(
    plan: Plan, anns: list[ann_mod.Annotation], files: tuple[str, ...], why: str, stage: str
) -> None:
    for a in anns:
        plan.quarantine.append(QuarantineRecord(a.frame_id, str(a.unique_id), (a.origin, *files), why, stage))


def _frame_grid(
    fr: sources.FrameSource, anns: list[ann_mod.Annotation], plan: Plan
) -> tuple[sources.FrameMetadata, Grid, str | None] | None:
    """The frame's metadata, grid (from its hgt) and usable hgt, or None with every annotation quarantined.

    An hgt whose header cannot serve (a size past `geotiff.MAX_SIDE_PIXELS`, bands, CRS, pixel size) is
    quarantined by name and the frame takes the grid its products agree on (`_product_grid`): the frame's
    good products are kept, and its DEM is written as no data."""
    if fr.hgt is None or fr.metadata_url is None:
        missing = "hgt GeoTIFF" if fr.hgt is None else "metadata.txt"
        why = f"frame {fr.frame_id}: no {missing} under metadata/"
        _quarantine_all(plan, anns, (fr.folder,), why, "scan")
        return None
    try:
        meta = sources.read_metadata(fr.metadata_url)
    except ProductError as exc:
        _quarantine_all(plan, anns, (fr.hgt, fr.metadata_url), f"frame {fr.frame_id}: {exc}", "scan")
        return None
    try:
        return meta, header_grid(fr.hgt), fr.hgt
    except ProductError as exc:
        hgt_problem = f"frame {fr.frame_id}: {exc}"
    grid = _product_grid(fr, anns)
    if grid is None:
        _quarantine_all(plan, anns, (fr.hgt, fr.metadata_url), hgt_problem, "scan")
        return None
    name = fr.hgt.rsplit("/", 1)[-1]
    plan.quarantine.append(QuarantineRecord(fr.frame_id, name, (fr.hgt,), hgt_problem, "grid", kind="file"))
    return meta, grid, None


def _product_grid(fr: sources.FrameSource, anns: list[ann_mod.Annotation]) -> Grid | None:
    """The grid most of the annotated products' phase headers share (None: no readable header), for a
    frame whose hgt cannot serve; products off it are refused pair by pair as always."""
    counts: dict[Grid, int] = defaultdict(int)
    for a in anns:
        product = fr.products.get((a.primary, a.secondary))
        if product is None or product.phase is None:
            continue
        try:
            counts[header_grid(product.phase)] += 1
        except ProductError:
            continue
    return max(counts, key=lambda g: counts[g]) if counts else None


def _inside_image(anns: list[ann_mod.Annotation], grid: Grid, plan: Plan) -> list[ann_mod.Annotation]:
    """The annotations whose polygons lie in the frame's image; the others are quarantined."""
    kept: list[ann_mod.Annotation] = []
    for a in anns:
        why = ann_mod.outside_image(a, grid.height, grid.width)
        if why:
            plan.quarantine.append(
                QuarantineRecord(a.frame_id, str(a.unique_id), (a.origin,), why, "annotation")
            )
        else:
            kept.append(a)
    return kept


def _pair_job(
    cfg: IngestConfig,
    fr: sources.FrameSource,
    a: ann_mod.Annotation,
    ij: tuple[int, int],
    frame: tuple[sources.FrameMetadata, Grid],
    era5_files: list[era5_mod.Era5File],
    plan: Plan,
) -> PairJob | None:
    """The write job of one annotated pair, or None (no product, or quarantined with its reason)."""
    meta, grid = frame
    product = fr.products.get((a.primary, a.secondary))
    if product is None:
        plan.no_product += 1
        return None
    if product.phase is None or product.coherence is None:
        missing = "phase (.geo.diff_pha.tif)" if product.phase is None else "coherence (.geo.cc.tif)"
        plan.quarantine.append(
            QuarantineRecord(
                fr.frame_id, str(a.unique_id), (a.origin, product.folder), f"no {missing}", "scan"
            )
        )
        return None
    files = (a.origin, product.phase, product.coherence)
    try:
        for url in (product.phase, product.coherence):
            check_same_grid(header_grid(url, phase=url == product.phase), grid, url)
        picks = [
            era5_mod.nearest_hour(era5_files, grid, _acquisition(d, meta), cfg.max_era5_offset_minutes)
            for d in (a.primary, a.secondary)
        ]
    except Exception as exc:  # this pair only; the frame goes on
        stage = "era5" if isinstance(exc, era5_mod.Era5Error) else "grid"
        era5_files_named = getattr(exc, "files", ())
        plan.quarantine.append(
            QuarantineRecord(fr.frame_id, str(a.unique_id), (*files, *era5_files_named), failure(exc), stage)
        )
        return None
    return PairJob(
        i=ij[0],
        j=ij[1],
        kind="licsar",
        product=str(a.unique_id),
        phase=product.phase,
        coherence=product.coherence,
        polygons=a.polygons,
        era5_primary=picks[0],
        era5_secondary=picks[1],
    )


def _job_key(j: PairJob) -> tuple:
    return (j.i, j.j, j.kind, j.phase, j.coherence, j.polygons, j.era5_primary, j.era5_secondary)


def _frame_fingerprint(
    cfg: IngestConfig, fr: sources.FrameSource, build: FrameBuild, jobs: list[PairJob]
) -> str:
    """What the cube depends on: a plan with the same fingerprint has nothing new to write.

    Also sets `build.structure` (grid, axes, task layout: what a partial rewrite must share with the
    published cube) and `build.task_fingerprints` (per write task: its jobs and its input files' versions).
    """
    used_era5 = build.ctx.era5_files
    # size+mtime / ETag / generation: a replaced file changes the plan, so its pairs are redone
    versions = _versions([fr.hgt, fr.metadata_url, *(f for j in jobs for f in j.files()), *used_era5])
    base = {
        "version": PLAN_VERSION,
        "frame": build.frame_id,
        "grid": build.ctx.grid,
        "primary": build.primary,
        "secondary": build.secondary,
        "zarr_format": cfg.zarr_format,
        "pairs_per_task": cfg.pairs_per_task,
        "chunking": cfg.chunking.model_dump(),
        "hgt": fr.hgt,
    }
    build.structure = fingerprint(
        {
            **base,
            "frame_files": {u: versions.get(u) for u in (fr.hgt, fr.metadata_url) if u},
            "tasks": [(task_id, [(j.i, j.j) for j in tjobs]) for task_id, tjobs in build.blocks],
        }
    )
    build.task_fingerprints = {
        task_id: fingerprint(
            {
                "jobs": [_job_key(j) for j in tjobs],
                "versions": {f: versions.get(f) for j in tjobs for f in j.files()},
            }
        )
        for task_id, tjobs in build.blocks
    }
    build.jobs, build.base, build.versions = list(jobs), base, versions
    build.frame_files = [u for u in (fr.hgt, fr.metadata_url) if u]
    return _content_fingerprint(build, jobs, build.scalars, versions)


def _content_fingerprint(
    build: FrameBuild, jobs: list[PairJob], scalars: dict[str, np.ndarray], versions: dict[str, str]
) -> str:
    return fingerprint(
        {
            **build.base,
            "primary": build.base["primary"][: scalars["valid_date_pair"].shape[0]],
            "secondary": build.base["secondary"][: scalars["valid_date_pair"].shape[1]],
            "versions": versions,
            "jobs": [_job_key(j) for j in jobs],
            "scalars": {k: v.tolist() for k, v in scalars.items()},
        }
    )


def region_fingerprint(build: FrameBuild, n_primary: int, n_secondary: int) -> str:
    """The fingerprint the plan would have had with only its first `n_primary` x `n_secondary` cells.

    An append is safe when this equals the published cube's fingerprint: the published cells are
    exactly what this plan would write there (same annotations, products, ERA5 picks, file versions
    and settings), so only the cells beyond them need writing.
    """
    jobs = [j for j in build.jobs if j.i < n_primary and j.j < n_secondary]
    used = set(build.frame_files) | {f for j in jobs for f in j.files()}
    versions = {u: v for u, v in build.versions.items() if u in used}
    scalars = {k: v[:n_primary, :n_secondary] for k, v in build.scalars.items()}
    return _content_fingerprint(build, jobs, scalars, versions)


def _plan_frame(
    cfg: IngestConfig,
    fr: sources.FrameSource,
    anns: list[ann_mod.Annotation],
    era5_files: list[era5_mod.Era5File],
    plan: Plan,
) -> FrameBuild | None:
    """One frame's cube: its grid, its dates, the pair scalars and the write jobs of its products."""
    found = _frame_grid(fr, anns, plan)
    if found is None:
        return None
    meta, grid, dem_hgt = found
    frame = (meta, grid)
    kept = _inside_image(anns, grid, plan)
    if not kept:
        return None
    primary = np.unique(np.array([a.primary for a in kept], dtype="datetime64[D]"))
    secondary = np.unique(np.array([a.secondary for a in kept], dtype="datetime64[D]"))
    p_index = {d: k for k, d in enumerate(primary)}
    s_index = {d: k for k, d in enumerate(secondary)}
    scalars = empty_scalars(primary.size, secondary.size)
    jobs: list[PairJob] = []
    era5_by_url = {f.url: f for f in era5_files}
    used_era5: dict[str, era5_mod.Era5File] = {}
    for a in kept:
        ij = (p_index[a.primary], s_index[a.secondary])
        for name, value in a.fields.items():
            scalars[name][ij] = value
        job = _pair_job(cfg, fr, a, ij, frame, era5_files, plan)
        if job is not None:
            jobs.append(job)
            for pick in (job.era5_primary, job.era5_secondary):
                used_era5[pick.url] = era5_by_url[pick.url]
    filled = {(job.i, job.j) for job in jobs}
    if cfg.zarr_format == 2:  # the published layout stores fill chunks explicitly (see encoding)
        jobs += [
            PairJob(i=i, j=j, kind="empty")
            for i in range(primary.size)
            for j in range(secondary.size)
            if (i, j) not in filled
        ]
    ctx = FrameContext(
        frame_id=fr.frame_id,
        cube_url="",  # set by the runner (staging location)
        zarr_format=cfg.zarr_format,
        grid=grid,
        phase_tolerance=cfg.phase_tolerance,
        era5_files=used_era5,
    )
    build = FrameBuild(
        frame_id=fr.frame_id,
        ctx=ctx,
        primary=primary,
        secondary=secondary,
        blocks=blocks_of(jobs, cfg.pairs_per_task),
        scalars=scalars,
        dem_hgt=dem_hgt,
        n_pairs=len(filled),
    )
    build.fingerprint = _frame_fingerprint(cfg, fr, build, jobs)
    return build
