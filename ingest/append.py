"""Cubes that grow: new dates of a published cube are appended in place, and readers never see a part.

Why plain zarr, not a transactional engine: tests/benchmarks/bench_append.py measured both (README,
"Ingest"; docs/append.md). The mechanism, in write order:

1. `grow`: every array with a date dim is resized in its own metadata (`zarr.json` / `.zarray`) and
   the new date values are written into the coordinates. Readers open cubes through the consolidated
   root metadata (`open_cube`, the loader, the catalog; zarr and xarray by default), which still
   holds the old shapes: they see nothing of this.
2. The write tasks fill the new cells only (indices beyond the old shape): new chunk/shard objects,
   so every published pair keeps its bytes.
3. `write_new_pair_scalars`: flags and text of the new cells, `valid_date_pair` last, so a reader
   that bypasses the consolidated metadata still sees a new pair only once all of it is written.
4. `commit`: one atomic write of the root metadata (consolidated shapes + version token + history).
   Before it a reader sees the old cube; after it, the new one.

An interrupted append leaves the published cube as it was (its root is untouched) and the next run
redoes or resumes it (done-markers in the frame's staging folder, as for a fresh build).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import zarr

from hephaestus.platform import cube_text, schema, storage
from hephaestus.platform.cube import FINGERPRINT_ATTR, VERSION_ATTR, dataset_history, dataset_version

from .encoding import ROOT_KEYS, V2_WRITE_EMPTY_CHUNKS


@dataclass(frozen=True)
class Published:
    """What the committed root metadata of a published cube says (the view every reader has)."""

    zarr_format: int
    primary: np.ndarray  # datetime64[D]
    secondary: np.ndarray
    attrs: dict

    @property
    def fingerprint(self) -> str | None:
        value = self.attrs.get(FINGERPRINT_ATTR)
        return str(value) if value else None

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.primary.size), int(self.secondary.size)


def _store(url: str) -> zarr.abc.store.Store:
    from .writer import open_store

    return open_store(url)


def published(url: str) -> Published | None:
    """The committed view of the cube at `url`, or None when there is no complete cube there."""
    from hephaestus.platform.cube import open_cube

    if not any(storage.exists(storage.join(url, keys[0])) for keys in ROOT_KEYS.values()):
        return None
    try:
        ds = open_cube(url, validate=False)
    except Exception:  # noqa: BLE001 - an unreadable cube is rebuilt, not appended to
        return None
    fmt = 3 if storage.exists(storage.join(url, "zarr.json")) else 2
    return Published(
        zarr_format=fmt,
        primary=np.asarray(ds[schema.PRIMARY].values).astype("datetime64[D]"),
        secondary=np.asarray(ds[schema.SECONDARY].values).astype("datetime64[D]"),
        attrs=dict(ds.attrs),
    )


def is_prefix(old: np.ndarray, new: np.ndarray) -> bool:
    """The old date axis is the start of the new one (new dates only after the old ones)."""
    old = np.asarray(old, dtype="datetime64[D]")
    new = np.asarray(new, dtype="datetime64[D]")
    return old.size <= new.size and bool(np.array_equal(old, new[: old.size]))


def _dims(array: zarr.Array) -> tuple[str, ...]:
    meta = array.metadata
    names = getattr(meta, "dimension_names", None)
    if names:
        return tuple(str(n) for n in names)
    return tuple(array.attrs.get("_ARRAY_DIMENSIONS", ()))


def _open_group(url: str, zarr_format: int) -> zarr.Group:
    """The cube's group read from the per-array metadata (what step 1 changes), not the consolidated root."""
    return zarr.open_group(_store(url), mode="r+", use_consolidated=False, zarr_format=zarr_format)


def encode_dates(array: zarr.Array, dates: np.ndarray) -> np.ndarray:
    """New date values in the coordinate's stored encoding (its CF units and calendar)."""
    from xarray.coding.times import encode_cf_datetime

    units = array.attrs.get("units")
    calendar = array.attrs.get("calendar", "proleptic_gregorian")
    values = np.asarray(dates, dtype="datetime64[ns]")
    if units is None:
        return values.astype(array.dtype)
    from xarray.coding.times import decode_cf_datetime

    numbers, _, _ = encode_cf_datetime(values, units, calendar, dtype=np.dtype(array.dtype))
    numbers = np.asarray(numbers).astype(array.dtype)
    if not np.array_equal(decode_cf_datetime(numbers, units, calendar).astype("datetime64[ns]"), values):
        raise ValueError(f"dates {dates} cannot be stored exactly in units {units!r}")
    return numbers


def grow(url: str, zarr_format: int, old: Published, primary: np.ndarray, secondary: np.ndarray) -> None:
    """Step 1: resize every date-dimensioned array and write the new date coordinates (invisible to
    readers of the consolidated metadata). Idempotent: a resumed append resizes to the same shape."""
    sizes = {schema.PRIMARY: int(primary.size), schema.SECONDARY: int(secondary.size)}
    group = _open_group(url, zarr_format)
    for _, array in group.arrays():
        dims = _dims(array)
        shape = tuple(sizes.get(d, s) for d, s in zip(dims, array.shape, strict=True))
        if shape != tuple(array.shape):
            array.resize(shape)
    for dim, dates, n0 in (
        (schema.PRIMARY, primary, old.shape[0]),
        (schema.SECONDARY, secondary, old.shape[1]),
    ):
        if dates.size > n0:
            array = group[dim]
            array[n0:] = encode_dates(array, dates[n0:])
    if zarr_format == 3 and cube_text.CAPTION_OFFSET not in group:
        _add_caption_offsets(group, old.shape)


def _add_caption_offsets(group: zarr.Group, old_shape: tuple[int, int]) -> None:
    """A v3 cube's first append: captions get explicit offsets (old pairs keep their row-major ones)."""
    lengths = group[cube_text.CAPTION_LENGTH]
    offsets = group.create_array(
        cube_text.CAPTION_OFFSET,
        shape=lengths.shape,
        chunks=lengths.chunks,
        dtype="int64",
        fill_value=-1,
        dimension_names=list(schema.PAIR_DIMS),
        attributes={
            "long_name": "byte offset of the pair's caption in caption_utf8",
            "comment": "-1: no caption; written by appends so that no published caption byte moves",
        },
    )
    n_p, n_s = old_shape
    offsets[:n_p, :n_s] = cube_text.caption_offsets(np.asarray(lengths[:n_p, :n_s]))


def _cells(shape: tuple[int, int], old: tuple[int, int]) -> list[tuple[slice, slice]]:
    """The new cells as (at most) two rectangles: the new rows, and the old rows' new columns."""
    (n_p, n_s), (o_p, o_s) = shape, old
    out = []
    if n_p > o_p:
        out.append((slice(o_p, n_p), slice(0, n_s)))
    if n_s > o_s and o_p > 0:
        out.append((slice(0, o_p), slice(o_s, n_s)))
    return out


def write_new_pair_scalars(
    url: str, zarr_format: int, old: Published, scalars: dict[str, np.ndarray]
) -> None:
    """Step 3: pair flags and text of the new cells only; `valid_date_pair` last."""
    group = _open_group(url, zarr_format)
    shape = scalars["valid_date_pair"].shape
    regions = _cells(shape, old.shape)
    values = {k: v for k, v in scalars.items() if k != "valid_date_pair"}
    if zarr_format == 3:
        text = {name: values.pop(name) for name in cube_text.TEXT_VARIABLES}
        stored = cube_text.encode(text)
        values["phase"] = np.asarray(stored["phase"].values)
        values["unique_id"] = np.asarray(stored["unique_id"].values)
        _append_captions(group, text["caption"], regions)
    for name in [*values, "valid_date_pair"]:
        array = group[name]
        if zarr_format == 2:
            array = array.with_config({"write_empty_chunks": V2_WRITE_EMPTY_CHUNKS})
        data = scalars["valid_date_pair"] if name == "valid_date_pair" else values[name]
        for rows, cols in regions:
            array[rows, cols] = data[rows, cols]


def _append_captions(group: zarr.Group, captions: np.ndarray, regions: list[tuple[slice, slice]]) -> None:
    blob = group[cube_text.CAPTION_BYTES]
    lengths, offsets = group[cube_text.CAPTION_LENGTH], group[cube_text.CAPTION_OFFSET]
    start = _committed_blob_end(group)
    new_bytes = []
    for rows, cols in regions:
        n, o, b = cube_text.append_captions(captions[rows, cols], start)
        lengths[rows, cols] = n
        offsets[rows, cols] = o
        new_bytes.append(b)
        start += b.size
    data = np.concatenate(new_bytes) if new_bytes else np.zeros(0, dtype="uint8")
    end = start
    blob.resize((end,))
    if data.size:
        blob[end - data.size : end] = data


def _committed_blob_end(group: zarr.Group) -> int:
    """Bytes of caption text the committed cube uses (an interrupted append may have grown the blob)."""
    lengths = np.asarray(group[cube_text.CAPTION_LENGTH][...], dtype="int64")
    offsets = np.asarray(group[cube_text.CAPTION_OFFSET][...], dtype="int64")
    used = offsets >= 0
    # cells not yet committed may hold values of an interrupted append: those are rewritten anyway,
    # and ignoring them here at worst leaves unused bytes behind (never overwrites a committed one)
    return int((offsets[used] + lengths[used]).max(initial=0))


def root_metadata_key(zarr_format: int) -> str:
    """The object whose write commits a cube: readers open it first and trust what it says."""
    return "zarr.json" if zarr_format == 3 else ".zmetadata"


def consolidate(url: str, zarr_format: int, attrs: dict | None = None, drop: tuple[str, ...] = ()) -> None:
    """Write the root metadata with every array's current metadata inlined (and `attrs` merged in,
    `drop` removed): one object, written atomically, so readers switch from one view to the next."""
    group = zarr.open_group(_store(url), mode="r", use_consolidated=False, zarr_format=zarr_format)
    names = sorted(group.array_keys())
    storage.location(url).fs.invalidate_cache()  # object stores: listings cached before the resize

    def read(key: str) -> dict:
        return json.loads(storage.read_bytes(storage.join(url, key)))

    if zarr_format == 3:
        root = read("zarr.json")
        root_attrs = root.setdefault("attributes", {})
        root_attrs.update(attrs or {})
        for key in drop:
            root_attrs.pop(key, None)
        root["consolidated_metadata"] = {
            "kind": "inline",
            "must_understand": False,
            "metadata": {name: read(f"{name}/zarr.json") for name in names},
        }
        storage.write_text_atomic(storage.join(url, "zarr.json"), json.dumps(root, indent=2))
        return
    root_attrs = read(".zattrs")
    root_attrs.update(attrs or {})
    for key in drop:
        root_attrs.pop(key, None)
    storage.write_text_atomic(storage.join(url, ".zattrs"), json.dumps(root_attrs, indent=4))
    meta: dict[str, object] = {".zgroup": read(".zgroup"), ".zattrs": root_attrs}
    for name in names:
        meta[f"{name}/.zarray"] = read(f"{name}/.zarray")
        if storage.exists(storage.join(url, f"{name}/.zattrs")):
            meta[f"{name}/.zattrs"] = read(f"{name}/.zattrs")
    body = {"zarr_consolidated_format": 1, "metadata": meta}
    storage.write_text_atomic(storage.join(url, ".zmetadata"), json.dumps(body, indent=4))


def commit(url: str, zarr_format: int, old: Published, fingerprint: str) -> str:
    """Step 4: publish the grown cube in one root-metadata write; returns its new version token."""
    from .publish import version_attrs

    history = [*dataset_history(old.attrs)]
    previous = dataset_version(old.attrs)
    if previous and previous not in history:
        history.append(previous)
    attrs = version_attrs(fingerprint, history)
    consolidate(url, zarr_format, attrs)
    return str(attrs[VERSION_ATTR])
