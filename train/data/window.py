"""What a window read asks for and hands back, and the arithmetic of cutting a window into chunks.

A `Window` is rows x columns of an array's last two dims at fixed leading indices. The reader
(`chunks.read_tiles`) answers each with `Tiles`: the decoded chunks the window touches, side by side,
or, undecoded, `StoredChunks` (where each chunk's stored bytes are) for the compiled placement of
`place.py`. `axis_pieces` is the chunk arithmetic both `Tiles.pieces` and `ArrayReader.plan` use;
`EMPTY` is zarr's shard-index mark for a chunk never written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["EMPTY", "StoredChunks", "Tiles", "Window", "axis_pieces"]

EMPTY = np.uint64(2**64 - 1)
"""Offset (and length) of a chunk never written, in a zarr shard index and in `StoredChunks.index`."""


@dataclass(frozen=True)
class Window:
    """Rows [r0, r1) and columns [c0, c1) of the last two dims, at fixed leading indices."""

    lead: tuple[int, ...]
    r0: int
    r1: int
    c0: int
    c1: int


@dataclass(frozen=True)
class Tiles:
    """The decoded chunks a window touches, side by side: `array[i, j]` is the 2-D slice of the i-th
    chunk row and j-th chunk column; the window starts at (r_in, c_in) of `array[0, 0]`.

    `written`: how many of the chunks were stored (0: the window is all fill value). The array is the
    reader's scratch buffer, valid until the generator yields the next item.
    """

    array: np.ndarray
    r_in: int
    c_in: int
    written: int
    stored: StoredChunks | None = None
    """Set instead of decoded tiles (`read_tiles(..., undecoded=True)`): where the stored chunks are, for
    the compiled placement to read and decode tile by tile (`array` is then one scratch tile [1, 1, h, w])."""

    def pieces(self, w: Window) -> Iterator[tuple[np.ndarray, tuple[slice, slice]]]:
        """(source piece, destination slices in the window) per tile, for slice-by-slice placement."""
        if self.stored is not None:
            raise ValueError("stored (undecoded) tiles have no pieces: read them with undecoded=False")
        th, tw = self.array.shape[2:]
        rows = axis_pieces(self.r_in, self.r_in + w.r1 - w.r0, th)  # tile-grid coordinates: tile 0 first
        cols = axis_pieces(self.c_in, self.c_in + w.c1 - w.c0, tw)
        for i, rsrc, rdst in rows:
            for j, csrc, cdst in cols:
                yield self.array[i, j][rsrc, csrc], (rdst, cdst)


@dataclass(frozen=True)
class StoredChunks:
    """Where the stored bytes of a window's chunks are, for compiled code to read and decode them.

    `index[i, j]` = (offset, length) of the chunk at tile (i, j) in the open file `fd` (a shard), or in
    `data` when fd is -1 (bytes already read); offset 2**64 - 1: never written (fill value), as in a
    zarr shard index. With a file, `data` is a scratch buffer for one chunk's stored bytes.
    `blosc`: blosc-compressed, else the chunk's raw native bytes. `crc`: each chunk's stored bytes end in
    their CRC-32C (zarr's `crc32c` codec; the length in `index` includes its 4 bytes).
    """

    fd: int
    data: np.ndarray  # uint8
    index: np.ndarray  # uint64 [tile rows, tile cols, 2]
    blosc: bool
    fill: np.ndarray  # one 2-D chunk of the fill value
    crc: bool = False

    @property
    def grid(self) -> tuple[int, int]:
        return int(self.index.shape[0]), int(self.index.shape[1])


def axis_pieces(start: int, stop: int, size: int) -> list[tuple[int, slice, slice]]:
    """(chunk number, slice in the chunk, slice in the window) of every chunk [start, stop) touches
    along one dim of chunk length `size`."""
    out = []
    for n in range(start // size, (stop - 1) // size + 1):
        a, b = max(start, n * size), min(stop, (n + 1) * size)
        out.append((n, slice(a - n * size, b - n * size), slice(a - start, b - start)))
    return out
