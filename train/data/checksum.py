"""CRC-32C of stored chunks, as zarr's `crc32c` codec writes it: the chunk's bytes, then their checksum in
4 little-endian bytes (v2 cubes: numcodecs' `crc32`, the CRC-32 first, `verify_crc32_first`). The loader
verifies it wherever it reads stored bytes itself (zarr's own reader verifies it too): here for Python reads, and from compiled code through `crc32c_value`, the C function
of google-crc32c (zarr's own dependency, hardware CRC instructions where the CPU has them) linked by
name as place.py links c-blosc.
"""

from __future__ import annotations

import ctypes
import zlib

import google_crc32c._crc32c as _native
import llvmlite.binding as llvm
import numpy as np
from numba import types

from hephaestus.platform.errors import IntegrityError

__all__ = ["CRC_BYTES", "crc32c", "crc32c_value", "verify", "verify_crc32_first"]

CRC_BYTES = 4
"""Bytes of the checksum at the end of a checksummed chunk."""

_c_crc32c_value = ctypes.CDLL(_native.__file__).crc32c_value
_c_crc32c_value.restype = ctypes.c_uint32
_c_crc32c_value.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
llvm.add_symbol("crc32c_value", ctypes.cast(_c_crc32c_value, ctypes.c_void_p).value)
crc32c_value = types.ExternalFunction("crc32c_value", types.uint32(types.uintp, types.size_t))
"""uint32 crc32c_value(const uint8_t *data, size_t count), callable from numba-compiled code."""


def crc32c(data: bytes | memoryview | np.ndarray) -> int:
    """The CRC-32C of a buffer, read in place (google-crc32c's C function; its Python wrapper takes bytes
    only, which would copy every chunk)."""
    array = np.frombuffer(data, dtype=np.uint8)
    return int(_c_crc32c_value(array.ctypes.data, array.size))


def verify(data: bytes | memoryview | np.ndarray, what: str) -> memoryview:
    """The payload of a checksummed chunk (its bytes without the trailing CRC-32C); IntegrityError naming
    `what` when the checksum does not match (or the chunk is too short to hold one)."""
    view = _bytes_of(data, what)
    payload, stored = view[:-CRC_BYTES], bytes(view[-CRC_BYTES:])
    _compare(what, "crc32c", stored, crc32c(payload))
    return payload


def verify_crc32_first(data: bytes | memoryview | np.ndarray, what: str) -> memoryview:
    """The payload of a chunk numcodecs' `crc32` codec encoded (the compressor slot of v2 cubes,
    `ingest.encoding.v2_checksummed`): the CRC-32 (zlib's) of the rest in its first 4 little-endian bytes.
    IntegrityError naming `what` as `verify` does."""
    view = _bytes_of(data, what)
    payload, stored = view[CRC_BYTES:], bytes(view[:CRC_BYTES])
    _compare(what, "crc32", stored, zlib.crc32(payload))
    return payload


def _bytes_of(data: bytes | memoryview | np.ndarray, what: str) -> memoryview:
    view = memoryview(data).cast("B")
    if len(view) < CRC_BYTES:
        raise IntegrityError(f"{what}: {len(view)} stored bytes, too short for its checksum")
    return view


def _compare(what: str, kind: str, stored: bytes, computed: int) -> None:
    if computed != int.from_bytes(stored, "little"):
        raise IntegrityError(
            f"{what}: checksum mismatch (stored {kind} {stored[::-1].hex()}, computed {computed:08x})"
        )
