"""Mined windows: where a classifier scored highest in each training pair without deformation.

The file `train.hard_negatives.mine` writes and the dataset reads (`DataSpec.hard_negatives`): a JSON object
{cube_url: {unique_id: [row0, col0]}} (ids are unique per frame only). A training pair with a mined window
gets that window instead of a uniform one `HARD_SHARE` of the time, labelled as any frame window is.
"""

from __future__ import annotations

import json

from hephaestus.platform import storage
from hephaestus.platform.errors import InputError

MinedWindows = dict[str, dict[str, tuple[int, int]]]
"""{cube_url: {unique_id: (row0, col0)}}."""
HARD_SHARE = 0.5
"""Chance that a training window of a pair with a mined window is that window (else a uniform one)."""


class MinedWindowsError(InputError):
    """A hard-negatives file that is not {cube_url: {unique_id: [row0, col0]}}."""


def write_mined(url: str, mined: MinedWindows) -> None:
    """Write the mined windows to `url` (whole or not at all)."""
    storage.write_text_atomic(
        url, json.dumps({c: {u: list(rc) for u, rc in w.items()} for c, w in mined.items()})
    )


def read_mined(url: str) -> MinedWindows:
    """The mined windows at `url`, refused in one line naming the file when malformed."""
    try:
        data = json.loads(storage.read_bytes(url))
        return {
            str(cube): {str(uid): (int(rc[0]), int(rc[1])) for uid, rc in windows.items()}
            for cube, windows in data.items()
        }
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise MinedWindowsError(f"{storage.redact(url)}: not a hard-negatives file ({exc})") from None


__all__ = ["HARD_SHARE", "MinedWindows", "MinedWindowsError", "read_mined", "write_mined"]
