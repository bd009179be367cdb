"""Open a published minicube wherever and however it is shipped: `.zarr` folder, `.zarr.zip` or `.zarr.tar`."""

from __future__ import annotations

import posixpath

import xarray as xr

from hephaestus.platform import cube_text, storage
from hephaestus.platform.cube import CubeUnreadableError, open_cube, validate_cube

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
        members = [m for m in tar.getmembers() if m.isfile()]
    roots = sorted(
        (m.name for m in members if posixpath.basename(m.name) in ("zarr.json", ".zgroup")),
        key=lambda p: (p.count("/"), p),
    )
    if not roots:
        raise CubeUnreadableError(f"{storage.redact(url)}: no zarr group inside the tarball")
    prefix = posixpath.dirname(roots[0])
    refs: dict[str, list] = {}
    for m in members:
        if prefix and not m.name.startswith(prefix + "/"):
            continue
        key = m.name[len(prefix) :].lstrip("/")
        if key and ".." not in key.split("/"):
            refs[key] = [url, m.offset_data, m.size]
    return refs


def _open_tar(url: str) -> xr.Dataset:
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
    store = zarr.storage.FsspecStore(fs=fs, path="", read_only=True)
    ds = cube_text.decode(xr.open_zarr(store, consolidated=None, chunks=None, decode_timedelta=False))
    validate_cube(ds, source=url)
    return ds


def open_published(url: str) -> xr.Dataset:
    """A lazy, validated dataset for a published cube in any of its shipped forms."""
    text = storage.normalize(url)
    if text.endswith(".tar"):
        return _open_tar(text)
    return open_cube(text)
