"""How a pair is named: LiCSAR's pair folder name and the platform's pair uid, one spelling for all stages."""

from __future__ import annotations

import datetime as dt


def pair_name(primary: dt.date, secondary: dt.date) -> str:
    """PRIMARY_SECONDARY as YYYYMMDD_YYYYMMDD: LiCSAR's pair folder name, and what `hmc predict --pair` takes."""
    return f"{primary:%Y%m%d}_{secondary:%Y%m%d}"


def pair_uid(frame_id: str, primary: dt.date, secondary: dt.date) -> str:
    """The pair uid of a scored pair and the id of its alert: FRAME_YYYYMMDD_YYYYMMDD (LiCSAR's own name
    of the pair's folder under the frame), the same whatever cube version or catalog the pair is read from."""
    return f"{frame_id}_{pair_name(primary, secondary)}"
