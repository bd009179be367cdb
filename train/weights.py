"""Checkpoint weights: the digest written with them, the verified load, and the finiteness rule.

The training loop records the SHA-256 of every weights file it writes in the checkpoint's input record
(`input.json`, key `DIGESTS_KEY`); `load_weights` checks it before torch reads a byte, so a damaged file is
refused naming it, never loaded. A checkpoint written before digests existed has its zip's own CRC-32 of
every member checked instead (torch's reader does not check them: 4 KiB flipped inside a tensor loaded).
Weights with a NaN or infinite value are never written (`require_finite`, before saving) and never loaded.
"""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from hephaestus.platform.errors import DivergenceError, IntegrityError

__all__ = ["DIGESTS_KEY", "file_digest", "load_weights", "nonfinite_tensors", "require_finite"]

DIGESTS_KEY = "sha256"
"""Key of the input record (`input.json`) mapping each weights file name to the SHA-256 of its bytes."""

_BLOCK = 1 << 20


def file_digest(path: Path) -> str:
    """The SHA-256 (hex) of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def nonfinite_tensors(state: Mapping[str, Any]) -> list[str]:
    """The names of the floating-point tensors of a state dict that hold a NaN or an infinity."""
    return [
        name
        for name, value in state.items()
        if isinstance(value, torch.Tensor)
        and value.is_floating_point()
        and not bool(torch.isfinite(value).all())
    ]


def require_finite(state: Mapping[str, Any], what: str) -> None:
    """DivergenceError naming `what` (run, epoch) when any weight is NaN or infinite: such weights are
    never published as a checkpoint."""
    bad = nonfinite_tensors(state)
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise DivergenceError(f"{what}: non-finite weights in {bad[0]}{more}; no checkpoint written")


def _check_zip(path: Path, where: str) -> None:
    """Every member of the checkpoint's zip read and its CRC-32 checked (the check of a checkpoint with
    no recorded digest)."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise IntegrityError(
            f"{where}: not a readable checkpoint archive ({' '.join(str(exc).split())})"
        ) from None
    if bad is not None:
        raise IntegrityError(f"{where}: member {bad} fails its CRC check: the file is damaged")


def load_weights(path: Path, where: str, digest: str | None = None) -> dict[str, Any]:
    """The state dict of a weights file, verified: its SHA-256 against `digest` (the recorded one; None: the
    zip's member CRCs instead), readable by torch (tensors only), every weight finite. Any failure is one
    IntegrityError naming `where` (the checkpoint file as the user gave it)."""
    size = path.stat().st_size
    if size == 0:
        raise IntegrityError(f"{where}: empty file (0 bytes): the checkpoint was not written whole")
    if digest is not None:
        found = file_digest(path)
        if found != digest:
            raise IntegrityError(
                f"{where}: SHA-256 {found[:16]}... does not match the digest recorded with it "
                f"({digest[:16]}...): the file is damaged"
            )
    else:
        _check_zip(path, where)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (EOFError, RuntimeError, ValueError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise IntegrityError(f"{where}: unreadable weights ({type(exc).__name__}: {reason})") from None
    if not isinstance(state, Mapping):
        raise IntegrityError(f"{where}: not a state dict of tensors ({type(state).__name__})")
    bad = nonfinite_tensors(state)
    if bad:
        raise IntegrityError(
            f"{where}: non-finite weights in {bad[0]}"
            + (f" and {len(bad) - 1} more" if len(bad) > 1 else "")
            + ": the run that wrote them diverged"
        )
    return dict(state)
