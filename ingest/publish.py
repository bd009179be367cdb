"""Staging and publishing: a cube is built in its staging folder and becomes visible at its published
place only when complete (both places: platform/layout.py).

Locally publishing is one `os.rename` (atomic). On object stores the staged objects are copied
with the group metadata (`zarr.json`, or `.zgroup`/`.zattrs`/`.zmetadata`) LAST, so a reader can
never open a partial cube: without the root metadata there is no group to open. The root carries
the plan fingerprint (`hmc_ingest_fingerprint`), which is also the completion marker that lets a
re-run skip a finished cube.
"""

from __future__ import annotations

import errno
import json
import os
import posixpath
import shutil
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from hephaestus.platform import cube_text, storage
from hephaestus.platform.cube import FINGERPRINT_ATTR, HISTORY_ATTR, VERSION_ATTR, version_token
from hephaestus.platform.layout import Staging

from .encoding import ROOT_KEYS


def published_fingerprint(url: str) -> str | None:
    """Fingerprint of the complete cube at `url`, or None when there is none (or it is partial)."""
    try:
        v3 = storage.join(url, "zarr.json")
        if storage.exists(v3):
            return json.loads(storage.read_bytes(v3)).get("attributes", {}).get(FINGERPRINT_ATTR)
        if all(storage.exists(storage.join(url, k)) for k in ROOT_KEYS[2]):
            return json.loads(storage.read_bytes(storage.join(url, ".zattrs"))).get(FINGERPRINT_ATTR)
    except (OSError, ValueError):
        return None
    return None


def read_plan(staging: str) -> dict:
    """The staging folder's plan record (`write_plan`), or {} when there is none or it is unreadable."""
    url = Staging(staging).plan
    try:
        return json.loads(storage.read_bytes(url)) if storage.exists(url) else {}
    except (OSError, ValueError):
        return {}


def read_plan_fingerprint(staging: str) -> str | None:
    return read_plan(staging).get("fingerprint")


def version_attrs(fingerprint: str, history: list[str] | None = None) -> dict[str, object]:
    """The root attributes that stamp a cube's content: plan fingerprint, version token, append history.

    A build from scratch or a partial rewrite starts a new history (published pairs may have changed);
    only an append carries the history on (see ingest/append.py).
    """
    attrs: dict[str, object] = {FINGERPRINT_ATTR: fingerprint, VERSION_ATTR: version_token(fingerprint)}
    if history:
        attrs[HISTORY_ATTR] = list(history)
    return attrs


def write_template(
    template: xr.Dataset, staging: str, fingerprint: str, zarr_format: int, encoding: dict, plan_summary: dict
) -> None:
    """Start a fresh staged cube: metadata and coordinates only (dask-lazy variables are not computed)."""
    storage.remove(staging)
    template = template.assign_attrs(version_attrs(fingerprint))
    if zarr_format == 3:
        template = cube_text.encode_dataset(template)
    from .encoding import V2_WRITE_EMPTY_CHUNKS
    from .writer import open_store

    store = open_store(Staging(staging).cube)
    with zarr.config.set({"array.write_empty_chunks": zarr_format == 2 and V2_WRITE_EMPTY_CHUNKS}):
        template.to_zarr(
            store,
            mode="w",
            compute=False,
            zarr_format=zarr_format,
            encoding=encoding,
            consolidated=zarr_format == 2,
        )
    # The plan record goes last: its presence says the template is complete and tasks may resume.
    write_plan(staging, fingerprint, plan_summary)


def write_plan(staging: str, fingerprint: str, plan_summary: dict) -> None:
    storage.write_text_atomic(Staging(staging).plan, json.dumps({"fingerprint": fingerprint, **plan_summary}))


def stage_copy(dest: str, staging: str, fingerprint: str) -> None:
    """Start a staged cube as a copy of the published local cube `dest`, stamped with the new fingerprint
    (a partial rewrite: the tasks whose inputs changed then overwrite their cells)."""
    storage.remove(staging)
    cube = storage.normalize(Staging(staging).cube)
    shutil.copytree(storage.normalize(dest), cube)
    v3 = os.path.join(cube, "zarr.json")
    if os.path.exists(v3):
        meta = json.loads(Path(v3).read_text())
        _stamp(meta.setdefault("attributes", {}), fingerprint)
        storage.write_text_atomic(v3, json.dumps(meta, indent=2))
        return
    attrs_path = os.path.join(cube, ".zattrs")
    attrs = json.loads(Path(attrs_path).read_text())
    _stamp(attrs, fingerprint)
    storage.write_text_atomic(attrs_path, json.dumps(attrs, indent=4))
    consolidated = os.path.join(cube, ".zmetadata")
    if os.path.exists(consolidated):
        meta = json.loads(Path(consolidated).read_text())
        _stamp(meta.get("metadata", {}).setdefault(".zattrs", {}), fingerprint)
        storage.write_text_atomic(consolidated, json.dumps(meta, indent=4))


def _stamp(attrs: dict, fingerprint: str) -> None:
    attrs.pop(HISTORY_ATTR, None)
    attrs.update(version_attrs(fingerprint))


def write_pair_scalars(staging: str, zarr_format: int, scalars: dict[str, np.ndarray]) -> None:
    """Pair-level variables (flags, strings): small, written once by the driver, so no races.

    v3 stores the text as numbers (platform.cube_text); its ragged caption bytes grow to fit here.
    """
    from .writer import _Arrays

    arrays = _Arrays(Staging(staging).cube, zarr_format)
    values: dict[str, np.ndarray] = dict(scalars)
    if zarr_format == 3:
        stored = cube_text.encode({name: values.pop(name) for name in cube_text.TEXT_VARIABLES})
        values.update({name: np.asarray(a.values) for name, a in stored.items()})
        blob = values.pop(cube_text.CAPTION_BYTES)
        arrays[cube_text.CAPTION_BYTES].resize(blob.shape)
        if blob.size:
            arrays[cube_text.CAPTION_BYTES][...] = blob
    arrays.set_whole(values)


def _is_root(rel: str, zarr_format: int) -> bool:
    return rel in ROOT_KEYS[zarr_format]


def exchange_paths(a: str, b: str) -> bool:
    """Swap two existing paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False if unsupported.

    Replacing a published cube this way leaves no moment without a cube at its URL, even if the process
    dies halfway (two renames would leave none between them).
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), a)


def publish(staging: str, dest: str, zarr_format: int) -> None:
    """Make the staged cube visible at `dest` (replacing an older one), then drop the staging folder."""
    src = Staging(staging).cube
    if storage.is_local(dest):
        src_p, dest_p = storage.normalize(src), storage.normalize(dest)
        os.makedirs(os.path.dirname(dest_p), exist_ok=True)
        if os.path.exists(dest_p) and exchange_paths(src_p, dest_p):
            shutil.rmtree(src_p, ignore_errors=True)  # the old cube, swapped into staging
            storage.remove(staging)
            return
        old = None
        if os.path.exists(dest_p):  # no atomic exchange here (not Linux, or the filesystem refuses)
            old = storage.normalize(Staging(staging).retired_cube())
            os.rename(dest_p, old)
        os.rename(src_p, dest_p)
        if old:
            shutil.rmtree(old, ignore_errors=True)
        storage.remove(staging)
        return
    s_loc, d_loc = storage.location(src), storage.location(dest)
    if d_loc.fs.exists(d_loc.path):  # an older cube: hide it first (root first), then clear it
        for key in ROOT_KEYS[zarr_format] + ROOT_KEYS[5 - zarr_format]:
            p = posixpath.join(d_loc.path, key)
            if d_loc.fs.exists(p):
                d_loc.fs.rm(p)
        d_loc.fs.rm(d_loc.path, recursive=True)
    files = sorted(s_loc.fs.find(s_loc.path))
    rels = [f[len(s_loc.path) :].lstrip("/") for f in files]
    body = [(f, r) for f, r in zip(files, rels, strict=True) if not _is_root(r, zarr_format)]
    root = [(f, r) for f, r in zip(files, rels, strict=True) if _is_root(r, zarr_format)]
    root.sort(key=lambda fr: ROOT_KEYS[zarr_format].index(fr[1]))
    # One object at a time: batched concurrent transfers stall some servers (the GCS emulator) and
    # gain little here, where tasks already wrote the bulk in parallel.
    for f, r in body + root:
        d_loc.fs.pipe_file(posixpath.join(d_loc.path, r), s_loc.fs.cat_file(f))
    d_loc.fs.invalidate_cache()
    storage.remove(staging)


def stored_bytes(url: str) -> int:
    loc = storage.location(url)
    try:
        return int(loc.fs.du(loc.path, total=True))
    except (OSError, FileNotFoundError):
        return 0
