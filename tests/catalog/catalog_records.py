"""Hand-made annotation records with exactly the fields and types of the real files (catalog tests)."""

from __future__ import annotations

import json
from pathlib import Path


def annotation(
    uid: int,
    frame: str = "124D_04854_171313",
    primary: str = "20180105",
    secondary: str = "20180117",
    label: list[str] | None = None,
    **overrides: object,
) -> dict:
    """One annotation record with exactly the fields and types of the real files."""
    label = label or ["Non_Deformation"]
    positive = label != ["Non_Deformation"]
    rec = {
        "uniqueID": uid,
        "frameID": frame,
        "primary_date": primary,
        "secondary_date": secondary,
        "corrupted": 0,
        "processing_error": 0,
        "glacier_fringes": 0,
        "orbital_fringes": 0,
        "atmospheric_fringes": 2,
        "low_coherence": 0,
        "no_info": 0,
        "image_artifacts": 0,
        "label": label,
        "activity_type": ["Mogi"] if positive else [],
        "intensity_level": ["Low"] if positive else [],
        "phase": "Unrest" if positive else "Rest",
        "confidence": 0.8,
        "segmentation_mask": [[10.0, 20.0, 19.0, 20.0, 19.0, 29.0, 10.0, 29.0]] if positive else [],
        "is_crowd": 0,
        "caption": "test caption",
    }
    rec.update(overrides)
    return rec


def write_annotations(folder: Path, records: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rec in records:
        (folder / f"{rec['uniqueID']}.json").write_text(json.dumps(rec))
    return folder
