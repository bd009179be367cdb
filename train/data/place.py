"""Compiled placement: stored or decoded chunk tiles -> one normalised channel (or mask) of a model input.

Why compiled: a 512 px crop of 128 px chunks touches 25 chunks per channel. In numpy each chunk piece
costs a decode call, a slice assignment, and the channel then two or three more passes (subtract,
multiply, zero the no-data and non-finite pixels); together they took more time than decoding. Here
each chunk is decoded into one cache-resident tile (c-blosc's `blosc_decompress_ctx`, the library
numcodecs bundles, called from compiled code) and each output pixel is read once from it, normalised
and written, with no temporary arrays.

Why banded, with streaming stores: a crop (9.4 MB for 9 channels of 512 px) does not stay in cache
while the next channels' chunks stream through it, so plain stores into it, tile by tile, pay for
reading every output line from memory before writing it. Each row of tiles is normalised into a small
band buffer (in cache), then the band's rows, contiguous in the crop, are copied out with non-temporal
(streaming) stores that write whole lines without reading them first (bench_loader_breakdown.py).

Two inputs (`window.Tiles`): decoded tiles [tile rows, tile cols, chunk rows, chunk cols], or the
stored bytes of blosc chunks (`StoredChunks`); the window starts at (r_in, c_in) inside tile (0, 0).
The arithmetic is `ChannelScale.apply` + `zero_nonfinite` (platform/inputs.py) in the same float32
steps, so both give identical bits: tests/train/data/test_place.py compares them.
"""

from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
import numcodecs.blosc
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from hephaestus.platform.cube import CHECKSUM_MISMATCH
from hephaestus.platform.errors import IntegrityError
from hephaestus.platform.inputs import ChannelScale
from hephaestus.train.data.checksum import crc32c_value
from hephaestus.train.data.window import StoredChunks, Tiles

__all__ = ["or_nonzero", "scale_into"]

BAND_ROWS = 128
"""Rows per band when the tiles are already decoded (a whole-frame DEM is one tile): 128 x 512 px
float32 is 256 KiB, at home in a core's L2 cache."""

# c-blosc's public C API (blosc.h) from the numcodecs extension that bundles it, and the C library's
# pread, linked by name so that numba can cache the compiled functions (addresses registered anew in
# every process)
llvm.add_symbol(
    "blosc_decompress_ctx",
    ctypes.cast(ctypes.CDLL(numcodecs.blosc.__file__).blosc_decompress_ctx, ctypes.c_void_p).value,
)
llvm.add_symbol("pread", ctypes.cast(ctypes.CDLL(None).pread, ctypes.c_void_p).value)
_blosc_decompress_ctx = types.ExternalFunction(
    "blosc_decompress_ctx", types.intc(types.uintp, types.uintp, types.size_t, types.intc)
)
_pread = types.ExternalFunction("pread", types.intp(types.intc, types.uintp, types.size_t, types.int64))


@intrinsic
def _stream_vectors(typingctx, dst, src, count):  # type: ignore[no-untyped-def]
    """Copy `count` vectors of 8 float32 from address `src` to the 32-byte aligned address `dst` with
    non-temporal stores (LLVM's `!nontemporal`; a plain store where the target has none)."""
    sig = types.void(types.uintp, types.uintp, types.intp)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        d, s, n = args
        vector = ir.VectorType(ir.FloatType(), 8).as_pointer()
        to, frm = builder.inttoptr(d, vector), builder.inttoptr(s, vector)
        streaming = builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)])
        with cgutils.for_range(builder, n) as loop:
            value = builder.load(builder.gep(frm, [loop.index]), align=4)
            store = builder.store(value, builder.gep(to, [loop.index]), align=32)
            store.set_metadata("nontemporal", streaming)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _store_fence(typingctx):  # type: ignore[no-untyped-def]
    """Order the streaming stores before anything that follows (they bypass the usual ordering)."""

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return types.void(), codegen


@njit(cache=True, nogil=True, boundscheck=False)
def _stream_copy(dst, src, n):  # type: ignore[no-untyped-def]
    """dst[:n] = src[:n] (1-D float32): plain stores up to dst's first 32-byte boundary and after its
    last whole vector, streaming stores between."""
    head, at = 0, dst.ctypes.data
    while head < n and (at + 4 * head) % 32 != 0:
        dst[head] = src[head]
        head += 1
    vectors = (n - head) // 8
    _stream_vectors(at + 4 * head, src.ctypes.data + 4 * head, vectors)
    for k in range(head + 8 * vectors, n):
        dst[k] = src[k]


@njit(cache=True, nogil=True, boundscheck=False)
def _flush_band(band, out, r_out, rows, cols):  # type: ignore[no-untyped-def]
    """out[r_out : r_out + rows, :cols] = band[:rows, :cols]; one streamed run when rows are whole."""
    if cols == out.shape[1] and cols == band.shape[1]:
        _stream_copy(out.reshape(-1)[r_out * cols :], band.reshape(-1), rows * cols)
        return
    for r in range(rows):
        _stream_copy(out[r_out + r], band[r], cols)


@njit(cache=True, nogil=True)
def _rows_cols(tile, i, j, r_in, c_in, rows, cols):  # type: ignore[no-untyped-def]
    """The part of tile (i, j) inside the window: its rows [r_lo, r_hi) in window-grid coordinates and
    its columns [c_lo, c_hi) in the tile, with the output column of c_lo."""
    th, tw = tile.shape
    c_lo, c_hi = max(j * tw, c_in), min((j + 1) * tw, c_in + cols)
    return max(i * th, r_in), min((i + 1) * th, r_in + rows), c_lo - j * tw, c_hi - j * tw, c_lo - c_in


@njit(cache=True, nogil=True, boundscheck=False)
def _scale_tile(tile, i, j, r_in, c_in, out, rows, cols, mean, inv_std, zero_a, zero_b):  # type: ignore[no-untyped-def]
    r_lo, r_hi, a, b, d = _rows_cols(tile, i, j, r_in, c_in, rows, cols)
    for r in range(r_lo, r_hi):
        src, dst = tile[r - i * tile.shape[0], a:b], out[r - r_in, d : d + b - a]
        for c in range(b - a):  # branch-free, so that it vectorises
            raw = src[c]
            y = (np.float32(raw) - mean) * inv_std
            keep = (raw != zero_a) & (raw != zero_b) & (np.abs(y) < np.inf)
            dst[c] = y if keep else np.float32(0.0)


@njit(cache=True, nogil=True, boundscheck=False)
def _or_tile(tile, i, j, r_in, c_in, out, rows, cols):  # type: ignore[no-untyped-def]
    r_lo, r_hi, a, b, d = _rows_cols(tile, i, j, r_in, c_in, rows, cols)
    for r in range(r_lo, r_hi):
        src, dst = tile[r - i * tile.shape[0], a:b], out[r - r_in, d : d + b - a]
        for c in range(b - a):
            if src[c] != 0:
                dst[c] = 1


@njit(cache=True, nogil=True, boundscheck=False)
def _chunk(index, i, j, fd, data, blosc, crc, fill, scratch, scratch_bytes):  # type: ignore[no-untyped-def]
    """Chunk (i, j) decoded: the fill tile when never written, else read/decoded into `scratch`.
    Second value: 0, -1 when the stored bytes are not one chunk (short read, bad blosc data), or -2 when
    they do not match their CRC-32C (`crc`: the last 4 stored bytes, as zarr's crc32c codec writes it)."""
    at, n = np.int64(index[i, j, 0]), np.int64(index[i, j, 1])  # never written: 2**64 - 1 -> -1
    if at < 0:
        return fill, 0
    size = scratch.nbytes
    if not blosc and not crc:
        if n != size:
            return scratch, -1
        if fd >= 0:
            return scratch, (0 if _pread(fd, scratch.ctypes.data, n, at) == n else -1)
        scratch_bytes[:] = data[at : at + n]
        return scratch, 0
    if fd >= 0:
        if n > data.shape[0] or _pread(fd, data.ctypes.data, n, at) != n:
            return scratch, -1
        at = 0
    if crc:
        if n < 4:
            return scratch, -1
        n -= 4
        if np.int64(crc32c_value(data.ctypes.data + at, n)) != _u32(data, at + n):
            return scratch, -2
        if not blosc:
            if n != size:
                return scratch, -1
            scratch_bytes[:] = data[at : at + n]
            return scratch, 0
    # blosc's header says how many bytes it holds and decodes to; c-blosc 1 trusts it, so check it
    # against the stored length first (a corrupt header must not make it read past the buffer)
    if n < 16 or _u32(data, at + 4) != size or _u32(data, at + 12) != n:
        return scratch, -1
    got = _blosc_decompress_ctx(data.ctypes.data + at, scratch.ctypes.data, size, 1)
    return scratch, (0 if got == size else -1)


@njit(cache=True, nogil=True)
def _u32(data, at):  # type: ignore[no-untyped-def]
    """The little-endian uint32 at byte `at`."""
    return (
        np.int64(data[at])
        | (np.int64(data[at + 1]) << 8)
        | (np.int64(data[at + 2]) << 16)
        | (np.int64(data[at + 3]) << 24)
    )


@njit(cache=True, nogil=True, boundscheck=False)
def _scale_tiles(tiles, r_in, c_in, out, rows, cols, mean, inv_std, zero_a, zero_b, band):  # type: ignore[no-untyped-def]
    """Bands of at most band.shape[0] rows (decoded tiles can be re-read, so bands may cut tile rows)."""
    th = tiles.shape[2]
    for i in range(tiles.shape[0]):
        for lo in range(max(i * th, r_in), min((i + 1) * th, r_in + rows), band.shape[0]):
            hi = min(lo + band.shape[0], (i + 1) * th, r_in + rows)
            for j in range(tiles.shape[1]):
                # the band's first row is window-grid row lo: (r_in, rows) -> (lo, hi - lo) puts it at 0
                _scale_tile(tiles[i, j], i, j, lo, c_in, band, hi - lo, cols, mean, inv_std, zero_a, zero_b)
            _flush_band(band, out, lo - r_in, hi - lo, cols)
    _store_fence()


@njit(cache=True, nogil=True, boundscheck=False)
def _scale_stored(
    index,
    fd,
    data,
    blosc,
    crc,
    fill,
    scratch,
    scratch_bytes,
    r_in,
    c_in,
    out,
    rows,
    cols,
    mean,
    inv_std,
    zero_a,
    zero_b,
    band,
):  # type: ignore[no-untyped-def]
    """One band per row of chunks (band.shape[0] == the chunk height: each chunk is decoded once)."""
    th = scratch.shape[0]
    for i in range(index.shape[0]):
        lo, hi = max(i * th, r_in), min((i + 1) * th, r_in + rows)
        for j in range(index.shape[1]):
            tile, err = _chunk(index, i, j, fd, data, blosc, crc, fill, scratch, scratch_bytes)
            if err:
                _store_fence()
                return i * index.shape[1] + j, err
            _scale_tile(tile, i, j, lo, c_in, band, hi - lo, cols, mean, inv_std, zero_a, zero_b)
        _flush_band(band, out, lo - r_in, hi - lo, cols)
    _store_fence()
    return -1, 0


@njit(cache=True, nogil=True, boundscheck=False)
def _or_tiles(tiles, r_in, c_in, out, rows, cols):  # type: ignore[no-untyped-def]
    for i in range(tiles.shape[0]):
        for j in range(tiles.shape[1]):
            _or_tile(tiles[i, j], i, j, r_in, c_in, out, rows, cols)


@njit(cache=True, nogil=True, boundscheck=False)
def _or_stored(index, fd, data, blosc, crc, fill, scratch, scratch_bytes, r_in, c_in, out, rows, cols):  # type: ignore[no-untyped-def]
    for i in range(index.shape[0]):
        for j in range(index.shape[1]):
            if np.int64(index[i, j, 0]) < 0:
                continue  # never written: the fill value (callers OR only masks whose fill is 0)
            tile, err = _chunk(index, i, j, fd, data, blosc, crc, fill, scratch, scratch_bytes)
            if err:
                return i * index.shape[1] + j, err
            _or_tile(tile, i, j, r_in, c_in, out, rows, cols)
    return -1, 0


def _stored_args(tiles: Tiles) -> tuple:
    stored = tiles.stored
    assert stored is not None
    scratch = tiles.array[0, 0]
    return (
        stored.index,
        stored.fd,
        stored.data,
        stored.blosc,
        stored.crc,
        stored.fill,
        scratch,
        scratch.reshape(-1).view(np.uint8),
    )


def _check(result: tuple[int, int], stored: StoredChunks) -> None:
    failed, err = result
    if failed < 0:
        return
    where = f"chunk {divmod(failed, stored.grid[1])} of the window"
    if err == -2:
        raise IntegrityError(f"{where}: {CHECKSUM_MISMATCH}")
    what = "blosc data that does not decode to" if stored.blosc else "a stored length that is not"
    raise ValueError(f"{where}: {what} one chunk")


def scale_into(out: np.ndarray, tiles: Tiles, scale: ChannelScale, rows: int, cols: int) -> None:
    """out[r, c] = the normalised pixel (r_in + r, c_in + c) of the tiles (0 for no-data and non-finite)
    for r < rows, c < cols (the part of a crop inside the frame; the rest of out is left as it is).

    `out`: one float32 channel of the model input, C-contiguous (so that the loops vectorise and each band
    goes out as one streamed run).
    """
    if out.dtype != np.float32 or not out.flags.c_contiguous:
        raise TypeError(
            f"out must be a C-contiguous float32 array, got {out.dtype} {out.flags.c_contiguous=}"
        )
    if len(scale.zero_values) > 2:
        raise ValueError(f"at most two no-data values per channel, got {scale.zero_values}")
    # numpy 2 compares a float array with a Python float in the array's dtype, an int array in float64;
    # NaN pads the pair (nothing equals NaN)
    dtype = tiles.array.dtype
    zdtype = dtype.type if dtype.kind == "f" else np.float64
    za, zb = (zdtype(v) for v in (*scale.zero_values, np.nan, np.nan)[:2])
    args = (tiles.r_in, tiles.c_in, out, rows, cols, scale.mean, scale.inv_std, za, zb)
    stored = tiles.stored
    tile_rows = tiles.array.shape[2]
    if stored is None:
        _scale_tiles(tiles.array, *args, np.empty((min(tile_rows, BAND_ROWS), cols), np.float32))
        return
    _check(_scale_stored(*_stored_args(tiles), *args, np.empty((tile_rows, cols), np.float32)), stored)


def or_nonzero(out: np.ndarray, tiles: Tiles, rows: int, cols: int) -> None:
    """out[r, c] = 1 where tile pixel (r_in + r, c_in + c) is not 0, for r < rows, c < cols (masks
    united over steps; chunks never written are skipped, so the mask's fill value must be 0)."""
    stored = tiles.stored
    if stored is None:
        _or_tiles(tiles.array, tiles.r_in, tiles.c_in, out, rows, cols)
        return
    _check(_or_stored(*_stored_args(tiles), tiles.r_in, tiles.c_in, out, rows, cols), stored)
