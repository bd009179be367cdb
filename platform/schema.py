"""The Hephaestus minicube schema: the one place that names every variable, dim, dtype, unit and code.

Ingest writes cubes from it, `open_cube` checks cubes against it, the catalog and the loader read
codes from it. The published cubes (zarr v2, built by the authors) and the platform's own cubes
share these names, dims, dtypes and codes, so that one loader serves both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

# ---------------------------------------------------------------------------------------------
# Schema versions
# ---------------------------------------------------------------------------------------------
FIRST_VERSION = "1.0.0"
"""The authors' published cubes: they carry no version attribute and read as this version."""
SCHEMA_VERSION = "1.1.0"
"""The version this platform writes (root attribute `SCHEMA_VERSION_ATTR` of every cube ingest builds).

Semantic: a minor version only adds optional variables (cubes of an older minor version still open,
and the model inputs of existing checkpoints never change); a major version breaks, and a cube of
another major version is refused."""
SCHEMA_VERSIONS: Mapping[str, str] = MappingProxyType(
    {
        "1.0.0": "the authors' published minicubes: every variable below, all required",
        "1.1.0": "cubes record their schema version (`hmc_schema_version`); variables may be optional",
    }
)
"""What each schema version added (a new entry per version; the last one is `SCHEMA_VERSION`)."""
SCHEMA_VERSION_ATTR = "hmc_schema_version"
"""Root attribute: the schema version a cube was written with (absent: `FIRST_VERSION`)."""


def version_tuple(version: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a "X.Y.Z" schema version; ValueError for anything else."""
    parts = str(version).strip().split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"schema version {version!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = (int(p) for p in parts)
    return major, minor, patch


def schema_version(attrs: Mapping[str, object]) -> str:
    """The schema version of a cube from its root attributes; the authors' cubes (none recorded) are 1.0.0."""
    found = attrs.get(SCHEMA_VERSION_ATTR)
    return str(found) if found else FIRST_VERSION


# ---------------------------------------------------------------------------------------------
# Dimensions
# ---------------------------------------------------------------------------------------------
PRIMARY = "primary_date"
SECONDARY = "secondary_date"
LAT = "latitude"
LON = "longitude"
PAIR_DIMS: tuple[str, str] = (PRIMARY, SECONDARY)
RASTER_DIMS: tuple[str, str, str, str] = (PRIMARY, SECONDARY, LAT, LON)
GRID_DIMS: tuple[str, str] = (LAT, LON)

GRID_SPACING_DEG = 0.001
"""Pixel size of the published cubes and of LiCSAR frame products (about 111 m)."""

CRS_EPSG = 4326
GRID_MAPPING = "spatial_ref"

C_BAND_WAVELENGTH_M = 0.055465
"""Sentinel-1 C-band radar wavelength: one fringe (2 pi of phase) is half of it in LOS motion."""


# ---------------------------------------------------------------------------------------------
# Category codes (written into cube attributes as flag_values / flag_meanings)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Codes:
    """An ordered code table: code values and their meanings, CF flag style."""

    name: str
    meanings: Mapping[int, str]

    def code(self, meaning: str) -> int:
        for value, text in self.meanings.items():
            if text == meaning:
                return value
        raise KeyError(f"{self.name}: unknown category {meaning!r}; known: {list(self.meanings.values())}")

    def meaning(self, value: int) -> str:
        try:
            return self.meanings[int(value)]
        except KeyError:
            raise KeyError(f"{self.name}: unknown code {value!r}; known: {list(self.meanings)}") from None

    @property
    def flag_values(self) -> list[int]:
        return list(self.meanings)

    @property
    def flag_meanings(self) -> str:
        return " ".join(self.meanings.values())

    def attrs(self) -> dict[str, object]:
        return {"flag_values": self.flag_values, "flag_meanings": self.flag_meanings}


def _codes(name: str, pairs: dict[int, str]) -> Codes:
    return Codes(name, MappingProxyType(dict(pairs)))


DEFORMATION = _codes("deformation", {0: "Non_Deformation", 1: "Deformation", 2: "Earthquake"})
ACTIVITY_TYPE = _codes(
    "activity_type",
    {0: "None", 1: "Mogi", 2: "Dyke", 3: "Sill", 4: "Spheroid", 5: "Earthquake", 6: "Unidentified"},
)
# Intensity follows the original Hephaestus code (Low 0, Medium 1, High 2). The mask background
# is therefore -1: 0 must stay "Low" so that the published codes keep their meaning.
INTENSITY = _codes("intensity_level", {-1: "None", 0: "Low", 1: "Medium", 2: "High"})
PHASE = _codes("phase", {0: "Rest", 1: "Unrest", 2: "Rebound", 3: "None"})
ATMOSPHERIC_FRINGES = _codes("atmospheric_fringes", {0: "none", 1: "stratified", 2: "turbulent", 3: "both"})
GLACIER_FRINGES = _codes("glacier_fringes", {0: "none", 1: "present", 2: "strong"})
ORBITAL_FRINGES = _codes("orbital_fringes", {0: "none", 1: "present"})
PROCESSING_ERROR = _codes("processing_error", {0: "none", 2: "type_2", 3: "type_3"})

CODES: Mapping[str, Codes] = MappingProxyType(
    {
        "deformation_mask": DEFORMATION,
        "activity_type_mask": ACTIVITY_TYPE,
        "intensity_level_mask": INTENSITY,
        "atmospheric_fringes": ATMOSPHERIC_FRINGES,
        "glacier_fringes": GLACIER_FRINGES,
        "orbital_fringes": ORBITAL_FRINGES,
        "phase": PHASE,
    }
)

LABELS = tuple(DEFORMATION.meanings.values())
NEGATIVE_LABEL = "Non_Deformation"
INTENSITY_LEVELS = ("Low", "Medium", "High")
PHASES = tuple(PHASE.meanings.values())


# ---------------------------------------------------------------------------------------------
# Variables
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variable:
    """One data variable of a minicube as published."""

    name: str
    dims: tuple[str, ...]
    dtype: str  # numpy kind spec: "float32", "int32", "bool", "int64" or "str"
    units: str | None = None
    long_name: str = ""
    fill_value: object = None
    codes: Codes | None = None
    extra_attrs: Mapping[str, object] = field(default_factory=dict)
    required: bool = True
    """Every cube holds it. A variable added after 1.0.0 is optional: cubes written before lack it,
    `open_cube` accepts them, and readers treat it as absent there."""
    since: str = FIRST_VERSION
    """The schema version that added it (a cube of that version or later holds it)."""
    valid_range: tuple[float, float] | None = None
    """The physical range of its finite values (phase [-pi, pi], coherence 0..255): a stored value
    beyond it, by more than `VALID_RANGE_SLACK`, is damage, refused at read (the loader and predict)."""

    @property
    def is_raster(self) -> bool:
        return LAT in self.dims

    @property
    def has_statistics(self) -> bool:
        """A float field on the grid: a model input candidate, normalised with (mean, std) statistics."""
        return self.is_raster and self.dtype == "float32"

    def expected_in(self, version: str) -> bool:
        """Whether a cube of schema `version` must hold this variable."""
        return self.required or version_tuple(version) >= version_tuple(self.since)

    def attrs(self) -> dict[str, object]:
        out: dict[str, object] = {"long_name": self.long_name}
        if self.units:
            out["units"] = self.units
        if self.is_raster:
            out["grid_mapping"] = GRID_MAPPING
        if self.codes is not None:
            out.update(self.codes.attrs())
        out.update(self.extra_attrs)
        return out

    def dtype_matches(self, dtype: np.dtype) -> bool:
        dtype = np.dtype(dtype)
        if self.dtype == "str":
            return dtype.kind in ("U", "O", "T", "S")
        return dtype == np.dtype(self.dtype)

    def numpy_dtype(self, str_len: int = 1) -> np.dtype:
        return np.dtype(f"<U{str_len}") if self.dtype == "str" else np.dtype(self.dtype)


VALID_RANGE_SLACK = 1e-3
"""Absolute slack on a `valid_range` at read: float rounding of sources that sit on the bound (ingest
accepts |phase| up to pi + its `phase_tolerance`, 1e-4 by default)."""


ERA5_FIELDS: tuple[str, ...] = (
    "total_column_water_vapour",
    "surface_pressure",
    "vertical_integral_of_temperature",
)
"""Every ERA5 field a cube holds (ingest fetches each). A field added later goes after these, with
optional variables (`era5_variables(..., required=False, since=...)`); the model's atmosphere
channels are the fields of the required variables only (`required_era5_fields`), so a new field
never changes the inputs of an existing model."""
ERA5_UNITS = {
    "total_column_water_vapour": "kg m-2",
    "surface_pressure": "Pa",
    "vertical_integral_of_temperature": "K kg m-2",
}
ERA5_SHORT_NAMES = {
    "total_column_water_vapour": "tcwv",
    "surface_pressure": "sp",
    "vertical_integral_of_temperature": "vit",
}
ERA5_LONG_NAMES = {
    "total_column_water_vapour": "Total column vertically-integrated water vapour",
    "surface_pressure": "Surface pressure",
    "vertical_integral_of_temperature": "Vertical integral of temperature",
}
"""The `long_name` of each field in the CDS's NetCDF files (a field without one: its name, capitalised)."""


def era5_file_attrs() -> dict[str, tuple[str, str]]:
    """ERA5 short name -> (long_name, units) of every field, as the CDS writes them in its NetCDF files."""
    return {
        ERA5_SHORT_NAMES[f]: (ERA5_LONG_NAMES.get(f, f.replace("_", " ").capitalize()), ERA5_UNITS[f])
        for f in ERA5_FIELDS
    }


def era5_variable(which: str, field_name: str) -> str:
    """Cube variable name of an ERA5 field at the primary or secondary acquisition."""
    if which not in ("primary", "secondary"):
        raise ValueError(f"which must be 'primary' or 'secondary', not {which!r}")
    if field_name not in ERA5_FIELDS:
        raise ValueError(f"unknown ERA5 field {field_name!r}; known: {ERA5_FIELDS}")
    return _era5_name(which, field_name)


def _era5_name(which: str, field_name: str) -> str:
    return f"{which}_date_{field_name}"


def era5_variables(
    field_name: str, units: str, *, required: bool = True, since: str = FIRST_VERSION
) -> tuple[Variable, Variable]:
    """The cube variables of one ERA5 field: at the primary and at the secondary acquisition."""
    return tuple(  # type: ignore[return-value]
        Variable(
            _era5_name(which, field_name),
            RASTER_DIMS,
            "float32",
            units,
            f"ERA5 {field_name.replace('_', ' ')} at the {which} acquisition",
            required=required,
            since=since,
        )
        for which in ("primary", "secondary")
    )


def _vars() -> dict[str, Variable]:
    v: list[Variable] = [
        Variable(
            "insar_difference",
            RASTER_DIMS,
            "float32",
            "rad",
            "wrapped interferometric phase",
            valid_range=(-math.pi, math.pi),
        ),
        Variable(
            "insar_coherence",
            RASTER_DIMS,
            "float32",
            "1",
            "interferometric coherence scaled to 0..255",
            valid_range=(0.0, 255.0),
        ),
        Variable("dem", GRID_DIMS, "float32", "m", "elevation above the ellipsoid (LiCSAR hgt)"),
    ]
    era5 = [era5_variables(f, ERA5_UNITS[f]) for f in ERA5_FIELDS]
    v += [p for p, _ in era5] + [s for _, s in era5]  # every primary field first, as published
    v += [
        Variable("deformation_mask", RASTER_DIMS, "int32", None, "deformation class", codes=DEFORMATION),
        Variable(
            "activity_type_mask", RASTER_DIMS, "int32", None, "deformation source type", codes=ACTIVITY_TYPE
        ),
        Variable(
            "intensity_level_mask", RASTER_DIMS, "int32", None, "deformation intensity", codes=INTENSITY
        ),
        Variable(
            "atmospheric_fringes", PAIR_DIMS, "int32", None, "atmospheric fringes", codes=ATMOSPHERIC_FRINGES
        ),
        Variable("glacier_fringes", PAIR_DIMS, "int32", None, "glacier fringes", codes=GLACIER_FRINGES),
        Variable("orbital_fringes", PAIR_DIMS, "int32", None, "orbital fringes", codes=ORBITAL_FRINGES),
    ]
    for flag in ("corrupted", "processing_error", "low_coherence", "no_info", "is_crowd", "valid_date_pair"):
        v.append(Variable(flag, PAIR_DIMS, "bool", None, flag.replace("_", " ")))
    v += [
        Variable("confidence", PAIR_DIMS, "float32", "1", "annotator confidence 0..1"),
        Variable(
            "phase",
            PAIR_DIMS,
            "str",
            None,
            "volcanic phase",
            codes=None,
            extra_attrs={"categories": " ".join(PHASES)},
        ),
        Variable("caption", PAIR_DIMS, "str", None, "expert caption"),
        Variable("unique_id", PAIR_DIMS, "str", None, "Hephaestus sample id"),
    ]
    return {x.name: x for x in v}


VARIABLES: Mapping[str, Variable] = MappingProxyType(_vars())
RASTER_VARIABLES: tuple[str, ...] = tuple(k for k, x in VARIABLES.items() if x.dims == RASTER_DIMS)
PAIR_VARIABLES: tuple[str, ...] = tuple(k for k, x in VARIABLES.items() if x.dims == PAIR_DIMS)
MASK_VARIABLES: tuple[str, ...] = ("deformation_mask", "activity_type_mask", "intensity_level_mask")


def required_variables() -> tuple[str, ...]:
    """The variables every cube holds (`open_cube` refuses a cube lacking one)."""
    return tuple(k for k, x in VARIABLES.items() if x.required)


def required_era5_fields() -> tuple[str, ...]:
    """The ERA5 fields whose variables every cube holds, in `ERA5_FIELDS` order: the model's
    atmosphere channels (a model can only take what every cube has)."""
    return tuple(
        f
        for f in ERA5_FIELDS
        if all(
            (x := VARIABLES.get(era5_variable(w, f))) is not None and x.required
            for w in ("primary", "secondary")
        )
    )


def with_variables(*new: Variable) -> Mapping[str, Variable]:
    """`VARIABLES` with `new` added: how a later minor version extends the schema (tests stand in for
    one with it). New variables must be optional, else every cube written before would be refused."""
    out = dict(VARIABLES)
    for var in new:
        if var.name in out:
            raise ValueError(f"variable {var.name!r} is already in the schema")
        if var.required:
            raise ValueError(f"variable {var.name!r}: a variable added to a released schema must be optional")
        version_tuple(var.since)
        out[var.name] = var
    return MappingProxyType(out)


def era5_extension(field_name: str, units: str, short_name: str, since: str) -> dict[str, object]:
    """The ERA5 tables with one more, optional field: {table name: new value} for `VARIABLES`,
    `ERA5_FIELDS`, `ERA5_UNITS` and `ERA5_SHORT_NAMES` (a test sets them on this module)."""
    if field_name in ERA5_FIELDS:
        raise ValueError(f"ERA5 field {field_name!r} is already in the schema")
    return {
        "VARIABLES": with_variables(*era5_variables(field_name, units, required=False, since=since)),
        "ERA5_FIELDS": (*ERA5_FIELDS, field_name),
        "ERA5_UNITS": {**ERA5_UNITS, field_name: units},
        "ERA5_SHORT_NAMES": {**ERA5_SHORT_NAMES, field_name: short_name},
    }


STRING_LENGTHS = {"phase": 10, "caption": 572, "unique_id": 10}
"""Fixed-width string sizes of the published cubes (<U10, <U572)."""

MASK_FILL = {"deformation_mask": 0, "activity_type_mask": 0, "intensity_level_mask": INTENSITY.code("None")}
"""Background code of each mask where no polygon was drawn."""

COORD_DTYPES = {PRIMARY: "datetime64[ns]", SECONDARY: "datetime64[ns]", LAT: "float64", LON: "float64"}


# ---------------------------------------------------------------------------------------------
# Hephaestus annotation JSON (one file per pair): the real files' fields, in their order
# ---------------------------------------------------------------------------------------------
ANNOTATION_FIELD_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "uniqueID": "id",
        "frameID": "text",
        "primary_date": "date",
        "secondary_date": "date",
        "corrupted": "code",
        "processing_error": "code",
        "glacier_fringes": "code",
        "orbital_fringes": "code",
        "atmospheric_fringes": "code",
        "low_coherence": "code",
        "no_info": "code",
        "image_artifacts": "code",
        "label": "names",
        "activity_type": "names",
        "intensity_level": "names",
        "phase": "text",
        "confidence": "number",
        "segmentation_mask": "polygons",
        "is_crowd": "code",
        "caption": "text",
    }
)
"""Every field of an annotation file with its kind (id: int, text/date: str, code: int flag or class,
names: list of str, number: float, polygons: list of flat [x, y, ...] lists); the order of the files."""
ANNOTATION_FIELDS: tuple[str, ...] = tuple(ANNOTATION_FIELD_KINDS)


def _annotation_fields(*kinds: str) -> tuple[str, ...]:
    return tuple(k for k, kind in ANNOTATION_FIELD_KINDS.items() if kind in kinds)


ANNOTATION_INT_FIELDS: tuple[str, ...] = _annotation_fields("code")
ANNOTATION_LIST_FIELDS: tuple[str, ...] = _annotation_fields("names")
ANNOTATION_STR_FIELDS: tuple[str, ...] = _annotation_fields("text", "date")


# ---------------------------------------------------------------------------------------------
# Normalisation statistics (the model input channels: hephaestus.platform.inputs)
# ---------------------------------------------------------------------------------------------
AUTHORS_STATISTICS: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "insar_difference": (0.001489616346722796, 1.6176833645747521),
        "insar_coherence": (69.3472689222075, 76.50325808397666),
        "dem": (833.0587512223403, 977.504283216005),
        "total_column_water_vapour": (22.526107385139355, 12.85386775756665),
        "surface_pressure": (92966.61998575741, 9132.050564654619),
        "vertical_integral_of_temperature": (2396036.7821715856, 263503.6556952968),
    }
)
"""The authors' per-variable (mean, std), from their statistics.json; primary and secondary share.
Values only: the statistics keys are `statistics_keys()` (a later field has no authors' entry)."""


def statistics_key(variable: str) -> str:
    """Key into the statistics table: primary/secondary ERA5 variables share one entry."""
    for prefix in ("primary_date_", "secondary_date_"):
        if variable.startswith(prefix):
            return variable[len(prefix) :]
    return variable


def statistics_keys(*, required_only: bool = False) -> tuple[str, ...]:
    """Every statistics key, from the schema's float grid variables in their order (each once);
    `required_only`: only keys of required variables (those every catalog has pixels of)."""
    keys = (
        statistics_key(name)
        for name, var in VARIABLES.items()
        if var.has_statistics and (var.required or not required_only)
    )
    return tuple(dict.fromkeys(keys))


# ---------------------------------------------------------------------------------------------
# Splits (paper section 4): by primary date
# ---------------------------------------------------------------------------------------------
SPLITS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "train": ("2014-01-01", "2019-05-31"),
        "val": ("2019-06-01", "2019-12-31"),
        "test": ("2020-01-01", "2021-12-31"),
    }
)


SERIES_LENGTH = 3
"""Pairs per time series (paper section 4: T = 3) unless a catalog is built with another length; the
catalog records its length (STAC collection `hephaestus:series_length`) and training reads it from there."""


def split_of(primary_date: np.datetime64 | str) -> str | None:
    """Benchmark split of a primary date, or None outside the paper's windows."""
    day = np.datetime64(primary_date, "D")
    for name, (start, end) in SPLITS.items():
        if np.datetime64(start, "D") <= day <= np.datetime64(end, "D"):
            return name
    return None


SplitScheme = Literal["paper", "volcano"]
SPLIT_SCHEMES: Mapping[str, str] = MappingProxyType({"paper": "split", "volcano": "volcano_split"})
"""Split scheme -> the pair-index (and series-table) column holding it. `paper`: by primary date (SPLITS;
every frame in every split). `volcano`: whole volcanoes held out (every pair of a frame, and every frame
of a volcano, in one split; catalog/volcano_split.py). Catalogs built before the volcano scheme lack its
column (readers refuse to select by it)."""
DEFAULT_SPLIT_SCHEME: SplitScheme = "paper"


def split_column(scheme: str) -> str:
    """The column of a split scheme; ValueError naming the known schemes for any other."""
    try:
        return SPLIT_SCHEMES[scheme]
    except KeyError:
        raise ValueError(f"unknown split scheme {scheme!r}; known: {', '.join(SPLIT_SCHEMES)}") from None


def cube_attrs(frame_id: str, description: str = "") -> dict[str, object]:
    """Global attributes of a cube, with the code tables so that a cube documents itself."""
    attrs: dict[str, object] = {
        "title": f"Hephaestus Minicube {frame_id}",
        "frame_id": frame_id,
        "description": description or "InSAR interferograms, coherence, DEM, ERA5 and expert annotations",
        "Conventions": "CF-1.8",
        SCHEMA_VERSION_ATTR: SCHEMA_VERSION,
    }
    for var, codes in CODES.items():
        attrs[f"{var}_flag_values"] = codes.flag_values
        attrs[f"{var}_flag_meanings"] = codes.flag_meanings
    return attrs
