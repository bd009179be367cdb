"""Open a published minicube wherever and however it is shipped: `.zarr` folder, `.zarr.zip` or `.zarr.tar`."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

import numpy as np
import xarray as xr
import zarr.abc.store

from hephaestus.platform import cube_text, schema, storage
from hephaestus.platform.cube import CubeUnreadableError, open_cube, validate_cube, zarr_store

CUBE_SUFFIXES = (".zarr.tar", ".zarr.zip", ".zarr")


def frame_name(url: str) -> str:
    """The file name without its cube suffix (a fallback when a cube carries no frame_id)."""
    name = posixpath.basename(storage.normalize(url).rstrip("/"))
    for suffix in CUBE_SUFFIXES + (".tar", ".zip"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _tar_references(url: str) -> dict[str, list]:
    """Byte ranges of the cube's members inside an uncompressed tarball, keyed by zarr key.

    Reads go through fsspec's ReferenceFileSystem (one ranged read per chunk, thread-safe), so the
    tarball is never extracted and members outside the cube are never touched.
    """
    import tarfile

    loc = storage.location(url)
    with loc.fs.open(loc.path, "rb") as fh:
        try:
            tar = tarfile.open(fileobj=fh, mode="r:")  # plain tar only: members must be addressable
        except tarfile.ReadError as exc:
            raise CubeUnreadableError(f"{storage.redact(url)}: not an uncompressed tar ({exc})") from exc
        listed = tar.getmembers()
    members = [m for m in listed if m.isfile()]
    roots = sorted(
        (m.name for m in members if posixpath.basename(m.name) in ("zarr.json", ".zgroup")),
        key=lambda p: (p.count("/"), p),
    )
    if not roots:
        raise CubeUnreadableError(f"{storage.redact(url)}: no zarr group inside the tarball")
    prefix = posixpath.dirname(roots[0])
    for m in listed:  # a link or device inside the cube would read as a missing chunk (fill values)
        inside = not prefix or m.name.startswith(prefix + "/")
        if inside and not (m.isfile() or m.isdir()):
            kind = "symlink" if m.issym() else "hard link" if m.islnk() else "special file"
            raise CubeUnreadableError(
                f"{storage.redact(url)}: member {m.name} is a {kind}, not a regular file"
            )
    refs: dict[str, list] = {}
    for m in members:
        if prefix and not m.name.startswith(prefix + "/"):
            continue
        key = m.name[len(prefix) :].lstrip("/")
        if key and ".." not in key.split("/"):
            refs[key] = [url, m.offset_data, m.size]
    return refs


def _tar_store(url: str) -> zarr.abc.store.Store:
    import fsspec
    import zarr.storage

    refs = _tar_references(url)
    fs = fsspec.filesystem(
        "reference",
        fo=refs,
        remote_protocol=storage.protocol_of(url),
        remote_options=storage.storage_options(url),
        asynchronous=True,
    )
    return zarr.storage.FsspecStore(fs=fs, path="", read_only=True)


def cube_store(url: str) -> zarr.abc.store.Store:
    """The read-only zarr store of a published cube in any shipped form."""
    text = storage.normalize(url)
    return _tar_store(text) if text.endswith(".tar") else zarr_store(text)


MEASURED: tuple[str, ...] = (
    *(n for n in schema.RASTER_VARIABLES if n not in schema.MASK_VARIABLES),
    *(n for n, v in schema.VARIABLES.items() if v.dims == schema.GRID_DIMS),
)
"""Data variables whose stored chunks always hold measurements (InSAR, ERA5 of a pair with a product;
the DEM): a writer never skips one as fill-valued, so a missing one is lost data."""


def _dims(arr: zarr.Array) -> tuple[str, ...]:
    return tuple(getattr(arr.metadata, "dimension_names", None) or arr.attrs.get("_ARRAY_DIMENSIONS") or ())


def _read_fill(arr: zarr.Array) -> object:
    """What zarr returns for a missing chunk: the declared fill value, or the dtype's zero where a v2 array
    declares none (zarr 3's reading; a zarr 3 writer skips chunks equal to that zero)."""
    fill = arr.metadata.fill_value
    return np.zeros((), arr.dtype)[()] if fill is None else fill


def _missing_keys(store: zarr.abc.store.Store, keys: list[str]) -> list[str]:
    """The keys the store does not hold, asked concurrently (listing is not reliable through every store)."""
    import asyncio

    from zarr.core.sync import sync

    async def check() -> list[bool]:
        gate = asyncio.Semaphore(64)

        async def one(key: str) -> bool:
            async with gate:
                return await store.exists(key)

        return await asyncio.gather(*(one(k) for k in keys))

    return [k for k, there in zip(keys, sync(check()), strict=True) if not there]


def _needed_chunks(arr: zarr.Array, dims: tuple[str, ...], valid: np.ndarray) -> list[tuple[str, str]]:
    """(key, where) of the stored objects (chunks or shards) of a measured variable that hold data: all of
    them for the DEM, those covering at least one valid pair for a raster over pairs."""
    pairs = dims[:2] == schema.PAIR_DIMS
    out = []
    for key, region in zip(arr._iter_shard_keys(), arr._iter_shard_regions(), strict=True):
        where = ""
        if pairs:
            hit = np.argwhere(valid[region[0], region[1]])
            if not hit.size:
                continue  # only pairs without a product: "no product" by construction
            i, j = hit[0] + (region[0].start, region[1].start)
            where = f", pair {int(i)},{int(j)}"
        out.append((f"{arr.path}/{key}", where))
    return out


def verify_chunks(url: str) -> None:
    """Refuse a cube that lost data: a missing chunk of a measured variable, one of a dimension coordinate
    that leaves it broken, or a small array that does not decode.

    zarr reads a missing chunk as the fill value, and writers skip chunks equal to it (zarr 3 always,
    zarr 2 where a fill value is declared). Such a chunk is accepted where the fill value is its content
    by construction: any chunk of the grid mapping (its value is unused: its attributes are the CRS), of a
    mask where that fill is a background code, of a pair scalar (flags, codes, text: the fill is "none"),
    of a raster over pairs where no covered pair has a product, and of a dimension coordinate whose values
    still read strictly monotonic and finite. A missing chunk of a MEASURED variable where a product
    exists is refused, naming the variable and the chunk.
    """
    import zarr

    store = cube_store(url)
    group = zarr.open_group(store, mode="r")
    arrays = dict(group.arrays())
    flag = arrays.get("valid_date_pair")
    try:
        valid = np.asarray(flag[...], bool) if flag is not None else np.zeros((0, 0), bool)
    except Exception as exc:
        raise CubeUnreadableError(
            f"{storage.redact(url)}: variable 'valid_date_pair': a chunk does not decode "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    for name, arr in arrays.items():
        dims = _dims(arr)
        where = f"{storage.redact(url)}: variable {name!r}"
        if name in MEASURED:
            needed = _needed_chunks(arr, dims, valid)
            missing = set(_missing_keys(store, [k for k, _ in needed]))
            lost = [(k, w) for k, w in needed if k in missing]
            if lost:
                raise CubeUnreadableError(
                    f"{where} misses {len(lost)} of its {len(needed)} chunk(s) holding data "
                    f"(first: {lost[0][0]}{lost[0][1]})"
                )
        elif name in schema.MASK_FILL:
            backgrounds = {0, schema.MASK_FILL[name]}
            fill = _read_fill(arr)
            if fill not in backgrounds:
                keys = [f"{arr.path}/{k}" for k in arr._iter_shard_keys()]
                missing = _missing_keys(store, keys)
                if missing:
                    raise CubeUnreadableError(
                        f"{where} misses chunk {missing[0]} and its fill value {fill} is no background code"
                    )
        if len(dims) > 2:
            continue  # rasters are read pair by pair by tasks
        try:
            values = arr[...]
        except Exception as exc:  # a chunk that is there but does not decode
            raise CubeUnreadableError(
                f"{where}: a chunk does not decode ({type(exc).__name__}: {exc})"
            ) from exc
        if dims == (name,):
            _check_coordinate(store, arr, np.asarray(values), where)


def _check_coordinate(store: zarr.abc.store.Store, arr: zarr.Array, values: np.ndarray, where: str) -> None:
    """A dimension coordinate may miss a chunk only where its fill is its true value: it still reads
    strictly monotonic and finite (its values are distinct, so a lost chunk repeats the fill)."""
    keys = [f"{arr.path}/{k}" for k in arr._iter_shard_keys()]
    missing = _missing_keys(store, keys)
    if not missing:
        return
    numbers = values.astype("float64")
    step = np.diff(numbers)
    if not (np.isfinite(numbers).all() and ((step > 0).all() or (step < 0).all())):
        raise CubeUnreadableError(f"{where} misses chunk {missing[0]}: the coordinate is broken")


def platform_backgrounds(cell: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One pair's rasters with the mask background in the platform's encoding.

    The published cubes mark background (outside every deformation polygon: `deformation_mask` 0, "none")
    with 0 in all three masks, but their intensity codes are Low 0, Medium 1, High 2, so there 0 also
    reads "Low" (minicube-format.md). The platform's background is `schema.MASK_FILL` (intensity "None"
    -1). Every mask pixel where the deformation mask says no deformation therefore gets its background
    code; codes inside the deformed area are kept as published. Idempotent on platform-encoded cubes.
    """
    out = dict(cell)
    if "deformation_mask" not in out:
        return out
    background = np.asarray(out["deformation_mask"]) == schema.DEFORMATION.code("Non_Deformation")
    for name in schema.MASK_VARIABLES:
        if name in out:
            values = np.asarray(out[name])
            out[name] = np.where(background, values.dtype.type(schema.MASK_FILL[name]), values)
    return out


def _open_tar(url: str) -> xr.Dataset:
    store = _tar_store(url)
    ds = cube_text.decode(xr.open_zarr(store, consolidated=None, chunks=None, decode_timedelta=False))
    validate_cube(ds, source=url)
    return ds


def open_published(url: str) -> xr.Dataset:
    """A lazy, validated dataset for a published cube in any of its shipped forms."""
    text = storage.normalize(url)
    if text.endswith(".tar"):
        return _open_tar(text)
    return open_cube(text)
