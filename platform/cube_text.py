"""How a cube stores its pair text variables (`phase`, `unique_id`, `caption`) for every zarr reader.

Zarr v2 specifies fixed-width strings, so v2 cubes keep the published `<U` layout (zarr 2.18, the
authors' loader and ours read it alike). Zarr v3 specifies no string data type: zarr itself warns
(UnstableSpecificationWarning) and strict readers (tensorstore's `zarr3` driver, the `zarrs`
pipeline) refuse such arrays. v3 cubes therefore store plain numbers:

- `phase`: int8 codes with CF `flag_values`/`flag_meanings` (schema.PHASE); -1: no annotation;
- `unique_id`: int64 (the annotations' uniqueID is an integer); -1: no sample;
- `caption`: a CF contiguous ragged array of UTF-8 bytes: `caption_length` (primary, secondary,
  int32, bytes per pair in row-major order) and `caption_utf8` (`caption_byte`, uint8). A cube that
  grew by appends (ingest/append.py) also has `caption_offset` (primary, secondary, int64: where each
  pair's bytes start): the new pairs' bytes go after the old ones, so no published byte moves.

`decode` turns either layout into the schema's in-memory form (strings, "" where nothing is),
so `open_cube` returns the same values for both.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from hephaestus.platform import schema
from hephaestus.platform.errors import InputError

TEXT_VARIABLES: tuple[str, ...] = ("phase", "unique_id", "caption")
CAPTION_LENGTH = "caption_length"
CAPTION_BYTES = "caption_utf8"
CAPTION_BYTE_DIM = "caption_byte"
CAPTION_OFFSET = "caption_offset"
NO_VALUE = -1
"""Stored code of "nothing here" (no annotation, no sample) in the integer-coded text variables."""

CAPTION_CHUNK = 1 << 20
"""Chunk length of `caption_utf8` (bytes): the ragged array grows when the pair scalars are written."""


class CubeTextError(InputError):
    """A pair text value that has no stored encoding (unknown phase, non-integer sample id)."""


def _phase_codes(phase: np.ndarray) -> np.ndarray:
    text = np.char.strip(np.asarray(phase).astype(str))
    codes = np.full(text.shape, NO_VALUE, dtype="int8")
    known = text == ""
    for code, meaning in schema.PHASE.meanings.items():
        hit = text == meaning
        codes[hit] = code
        known |= hit
    if not known.all():
        bad = sorted(set(text[~known].tolist()))
        raise CubeTextError(f"phase: unknown value(s) {bad}; known: {list(schema.PHASES)}")
    return codes


def _id_numbers(unique_id: np.ndarray) -> np.ndarray:
    text = np.char.strip(np.asarray(unique_id).astype(str))
    out = np.full(text.shape, NO_VALUE, dtype="int64")
    for idx, value in np.ndenumerate(text):
        if value == "":
            continue
        if not value.isdigit():
            raise CubeTextError(f"unique_id: {value!r} is not a non-negative integer")
        out[idx] = int(value)
    return out


def encode(values: Mapping[str, np.ndarray]) -> dict[str, xr.DataArray]:
    """The v3 stored arrays of `phase`, `unique_id` and `caption` (string arrays over the pair dims)."""
    captions = [str(c).encode("utf-8") for c in np.asarray(values["caption"]).ravel()]
    shape = np.asarray(values["caption"]).shape
    lengths = np.asarray([len(c) for c in captions], dtype="int32").reshape(shape)
    blob = np.frombuffer(b"".join(captions), dtype="uint8")
    phase_attrs = schema.VARIABLES["phase"].attrs()
    phase_attrs.pop("categories", None)
    phase_attrs.update(schema.PHASE.attrs())
    phase_attrs["comment"] = f"{NO_VALUE}: no annotation"
    return {
        "phase": xr.DataArray(_phase_codes(values["phase"]), dims=schema.PAIR_DIMS, attrs=phase_attrs),
        "unique_id": xr.DataArray(
            _id_numbers(values["unique_id"]),
            dims=schema.PAIR_DIMS,
            attrs={**schema.VARIABLES["unique_id"].attrs(), "comment": f"{NO_VALUE}: no sample"},
        ),
        CAPTION_LENGTH: xr.DataArray(
            lengths,
            dims=schema.PAIR_DIMS,
            attrs={
                "long_name": "bytes of the pair's UTF-8 caption",
                "sample_dimension": CAPTION_BYTE_DIM,
                "comment": f"CF contiguous ragged array over {CAPTION_BYTES}, pairs in row-major order",
            },
        ),
        CAPTION_BYTES: xr.DataArray(
            blob,
            dims=(CAPTION_BYTE_DIM,),
            attrs={"long_name": "expert captions, UTF-8 bytes, concatenated"},
        ),
    }


def encode_dataset(ds: xr.Dataset) -> xr.Dataset:
    """A dataset with its pair text in the v3 stored form (what `to_zarr(zarr_format=3)` should get)."""
    stored = encode({name: ds[name].values for name in TEXT_VARIABLES})
    return ds.drop_vars(["caption"]).assign(stored)


def encodings() -> dict[str, dict[str, object]]:
    """`to_zarr` encodings of the stored text arrays: one chunk each, -1 as the codes' fill."""
    return {
        "phase": {"fill_value": NO_VALUE},
        "unique_id": {"fill_value": NO_VALUE},
        CAPTION_LENGTH: {"fill_value": 0},
        CAPTION_BYTES: {"chunks": (CAPTION_CHUNK,), "fill_value": 0},
    }


def is_encoded(ds: xr.Dataset) -> bool:
    return CAPTION_LENGTH in ds.variables


def decode(ds: xr.Dataset) -> xr.Dataset:
    """The schema's string form of the pair text, whichever layout the cube uses (no-op for strings)."""
    if not is_encoded(ds):
        return ds
    codes = np.asarray(ds["phase"].values)
    phase = np.full(codes.shape, "", dtype=f"<U{schema.STRING_LENGTHS['phase']}")
    for code, meaning in schema.PHASE.meanings.items():
        phase[codes == code] = meaning
    numbers = np.asarray(ds["unique_id"].values)
    ids = np.array(
        [str(int(n)) if n >= 0 else "" for n in numbers.ravel()],
        dtype=f"<U{schema.STRING_LENGTHS['unique_id']}",
    ).reshape(numbers.shape)
    lengths = np.asarray(ds[CAPTION_LENGTH].values, dtype="int64")
    blob = np.asarray(ds[CAPTION_BYTES].values, dtype="uint8").tobytes()
    if CAPTION_OFFSET in ds.variables:
        starts = np.asarray(ds[CAPTION_OFFSET].values, dtype="int64").ravel()
    else:
        starts = np.cumsum(lengths.ravel()) - lengths.ravel()
    texts = [
        blob[a : a + n].decode("utf-8") if n > 0 and a >= 0 else ""
        for a, n in zip(starts, lengths.ravel(), strict=True)
    ]
    width = max([schema.STRING_LENGTHS["caption"], *map(len, texts)])
    captions = np.array(texts, dtype=f"<U{width}").reshape(lengths.shape)
    out = ds.drop_vars([v for v in (CAPTION_LENGTH, CAPTION_BYTES, CAPTION_OFFSET) if v in ds.variables])
    for name, values in (("phase", phase), ("unique_id", ids), ("caption", captions)):
        out[name] = xr.DataArray(values, dims=schema.PAIR_DIMS, attrs=schema.VARIABLES[name].attrs())
    return out


def caption_offsets(lengths: np.ndarray) -> np.ndarray:
    """Where each pair's caption starts in the contiguous ragged array (row-major), as `caption_offset`."""
    flat = np.asarray(lengths, dtype="int64").ravel()
    return (np.cumsum(flat) - flat).reshape(np.shape(lengths))


def append_captions(captions: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lengths, offsets, bytes) of new pairs' captions stored after the first `start` bytes."""
    encoded = [str(c).encode("utf-8") for c in np.asarray(captions).ravel()]
    lengths = np.asarray([len(c) for c in encoded], dtype="int32").reshape(np.shape(captions))
    offsets = (start + caption_offsets(lengths)).astype("int64")
    return lengths, offsets, np.frombuffer(b"".join(encoded), dtype="uint8")
