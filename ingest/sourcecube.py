"""Open a published minicube wherever and however it is shipped: `.zarr` folder, `.zarr.zip` or `.zarr.tar`."""

from __future__ import annotations

import posixpath

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


def verify_chunks(url: str) -> None:
    """Refuse a cube whose frame arrays (DEM, coordinates) miss a chunk, or whose small arrays do not decode.

    zarr reads a missing chunk as the fill value, so a lost `dem/0.0` would publish a DEM of NaN. Arrays
    over pairs may skip all-fill chunks by design (v3 layout); the rasters are read pair by pair by tasks.
    """
    import zarr
    from zarr.core.sync import sync

    store = cube_store(url)
    group = zarr.open_group(store, mode="r")
    pair_dims = {schema.PRIMARY, schema.SECONDARY}
    for name, arr in group.arrays():
        dims = set(getattr(arr.metadata, "dimension_names", None) or arr.attrs.get("_ARRAY_DIMENSIONS") or ())
        if pair_dims <= dims and len(dims) > 2:
            continue
        where = f"{storage.redact(url)}: variable {name!r}"
        if not dims & pair_dims:
            # stored objects (chunks, or shards) by key: listing is not reliable through every store
            keys = [f"{arr.path}/{k}" for k in arr._async_array._iter_shard_keys()]
            missing = [k for k in keys if not sync(store.exists(k))]
            if missing:
                raise CubeUnreadableError(
                    f"{where} misses {len(missing)} of its {len(keys)} chunk(s) (first: {missing[0]})"
                )
        try:
            arr[...]
        except Exception as exc:  # a chunk that is there but does not decode
            raise CubeUnreadableError(
                f"{where}: a chunk does not decode ({type(exc).__name__}: {exc})"
            ) from exc


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
