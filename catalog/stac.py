"""STAC: one Item per cube and the Collection that is also the catalog's publication pointer.

Items carry the projection, datacube, label, table and hephaestus extensions (their volcanoes:
`frame_volcanoes`); the Collection carries
the table extension (pair and series indexes as assets) and the hephaestus one (version, build
parameters, normalisation statistics; platform/stac_extension.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.resources import files

import numpy as np
import pyarrow as pa
import pystac
from pystac.extensions.datacube import DatacubeExtension, Dimension, Variable
from pystac.extensions.label import LabelClasses, LabelExtension, LabelType
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.table import Column, TableExtension

from hephaestus.catalog.scan import CubeScan
from hephaestus.platform import schema, volcanoes
from hephaestus.platform import stac_extension as hx
from hephaestus.platform.stac_extension import HephaestusExtension

COLLECTION_ID = "hephaestus-minicubes"
ZARR_MEDIA_TYPE = "application/vnd+zarr"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
LICENSE = "CC-BY-4.0"


@cache
def frame_names() -> dict[str, list[str]]:
    """Volcanoes each LiCSAR frame covers (the authors' frame_names.json, CC-BY 4.0)."""
    raw = json.loads(files("hephaestus.catalog").joinpath("frame_names.json").read_text())
    return {frame: [v.strip() for v in names.split(",") if v.strip()] for frame, names in raw.items()}


def frame_volcanoes(frame_id: str, bbox: tuple[float, float, float, float]) -> list[str]:
    """The Item's `hephaestus:volcanoes`: the authors' list for a frame of frame_names.json, else the GVP
    volcanoes inside the frame's footprint (nearest its centre first), in the form people write them
    ("Sierra Negra", platform.volcanoes.display_name); empty when none lies inside (or no GVP table is
    beside this checkout): a frame never names a volcano outside it."""
    listed = frame_names().get(frame_id)
    if listed:
        return [volcanoes.display_name(n) for n in listed]
    try:
        return [v.display for v in volcanoes.in_footprint(bbox)]
    except volcanoes.VolcanoTableError:
        return []


def _iso(day: np.datetime64 | dt.date) -> str:
    return f"{np.datetime64(day, 'D')}T00:00:00Z"


def _utc(day: np.datetime64 | dt.date) -> dt.datetime:
    d = np.datetime64(day, "D").astype(object)
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)


def table_columns(arrow_schema: pa.Schema, descriptions: Mapping[str, str]) -> list[Column]:
    return [
        Column(
            {
                "name": f.name,
                "type": str(f.type),
                **({"description": descriptions[f.name]} if f.name in descriptions else {}),
            }
        )
        for f in arrow_schema
    ]


def cube_item(
    scan: CubeScan,
    *,
    pairs_href: str,
    pairs_schema: pa.Schema,
    descriptions: Mapping[str, str],
    cube_href: str | None = None,
) -> pystac.Item:
    """The STAC Item of one cube: footprint from its grid, its time range, extensions and assets.

    `cube_href`: the zarr asset's href, relative to the Item's own file (StoreLayout paths and
    layout.href_between make it); None: the cube's stored reference (`scan.cube_ref`) as is.
    """
    west, south, east, north = scan.bbox
    geometry = {
        "type": "Polygon",
        "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
    }
    dates = scan.primary_dates + scan.secondary_dates
    start, end = min(dates), max(dates)
    rows = scan.rows
    n_pos = sum(1 for r in rows if r["positive"])
    item = pystac.Item(
        id=scan.frame_id,
        geometry=geometry,
        bbox=[west, south, east, north],
        datetime=None,
        start_datetime=_utc(start),
        end_datetime=_utc(end),
        properties={"title": f"Hephaestus Minicube {scan.frame_id}"},
        collection=COLLECTION_ID,
    )
    HephaestusExtension.ext(item, add_if_missing=True).apply(
        frame_id=scan.frame_id,
        volcanoes=frame_volcanoes(scan.frame_id, scan.bbox),
        pairs=len(rows),
        usable_pairs=sum(1 for r in rows if r["usable"]),
        positive_pairs=n_pos,
        cube_version=scan.cube_version,
    )
    _apply_projection(item, scan)
    _apply_datacube(item, scan)
    _apply_label(item)
    _add_assets(item, scan, pairs_href, pairs_schema, descriptions, cube_href)
    return item


def _apply_projection(item: pystac.Item, scan: CubeScan) -> None:
    """EPSG:4326 grid of the cube: shape and the affine transform of its pixel edges."""
    west, south, east, north = scan.bbox
    step = schema.GRID_SPACING_DEG
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.code = f"EPSG:{schema.CRS_EPSG}"
    proj.shape = [scan.height, scan.width]
    proj.transform = [step, 0.0, west, 0.0, -step, north]
    proj.bbox = [west, south, east, north]


def _apply_datacube(item: pystac.Item, scan: CubeScan) -> None:
    """The cube's four dimensions and every schema variable (datacube extension)."""
    step = schema.GRID_SPACING_DEG
    cube = DatacubeExtension.ext(item, add_if_missing=True)
    dims = {
        schema.LON: Dimension.from_dict(
            {
                "type": "spatial",
                "axis": "x",
                "extent": [min(scan.lon), max(scan.lon)],
                "step": step,
                "reference_system": schema.CRS_EPSG,
                "description": "pixel-centre longitude",
            }
        ),
        schema.LAT: Dimension.from_dict(
            {
                "type": "spatial",
                "axis": "y",
                "extent": [min(scan.lat), max(scan.lat)],
                "step": -step,
                "reference_system": schema.CRS_EPSG,
                "description": "pixel-centre latitude (descending)",
            }
        ),
        schema.PRIMARY: Dimension.from_dict(
            {
                "type": "temporal",
                "extent": [_iso(min(scan.primary_dates)), _iso(max(scan.primary_dates))],
                "values": [_iso(d) for d in scan.primary_dates],
                "description": "primary acquisition dates",
            }
        ),
        schema.SECONDARY: Dimension.from_dict(
            {
                "type": "temporal",
                "extent": [_iso(min(scan.secondary_dates)), _iso(max(scan.secondary_dates))],
                "values": [_iso(d) for d in scan.secondary_dates],
                "description": "secondary acquisition dates",
            }
        ),
    }
    variables = {}
    for name, info in scan.variables.items():
        var = schema.VARIABLES[name]
        d = {
            "dimensions": info["dims"],
            "type": "data" if var.is_raster else "auxiliary",
            "description": info["description"] or name,
        }
        if info.get("unit"):
            d["unit"] = info["unit"]
        variables[name] = Variable(d)
    cube.apply(dimensions=dims, variables=variables)


def _apply_label(item: pystac.Item) -> None:
    """What the annotations label (label extension): deformation classes, raster masks, manual."""
    label = LabelExtension.ext(item, add_if_missing=True)
    label.apply(
        label_description="Expert InSAR annotations: deformation class per pixel (deformation_mask), "
        "source type and intensity masks, per-pair phase, flags and caption",
        label_type=LabelType.RASTER,
        label_properties=None,
        label_classes=[LabelClasses.create(classes=list(schema.DEFORMATION.flag_values), name=None)],
        label_tasks=["classification", "segmentation"],
        label_methods=["manual"],
    )


def _add_assets(
    item: pystac.Item,
    scan: CubeScan,
    pairs_href: str,
    pairs_schema: pa.Schema,
    descriptions: Mapping[str, str],
    cube_href: str | None = None,
) -> None:
    """The zarr cube and the shared pair index, filtered to this cube (table + hephaestus extensions)."""
    item.add_asset(
        "zarr",
        pystac.Asset(
            href=scan.cube_ref if cube_href is None else cube_href,
            media_type=ZARR_MEDIA_TYPE,
            title=f"Minicube {scan.frame_id} (zarr)",
            roles=["data"],
        ),
    )
    pairs_asset = pystac.Asset(
        href=pairs_href,
        media_type=PARQUET_MEDIA_TYPE,
        title="Pair index (hive-partitioned Parquet; filter frame_id)",
        roles=["metadata", "index"],
    )
    item.add_asset("pairs", pairs_asset)
    HephaestusExtension.ext(pairs_asset).filter = {"frame_id": scan.frame_id}
    TableExtension.ensure_has_extension(item, add_if_missing=True)
    tab = TableExtension.ext(pairs_asset)
    tab.columns = table_columns(pairs_schema, descriptions)
    tab.row_count = len(scan.rows)


def collection(
    *,
    version: str,
    items: Sequence[pystac.Item],
    temporal: tuple[dt.datetime | None, dt.datetime | None],
    assets: Mapping[str, tuple[str, pa.Schema, int, str, Mapping[str, str]]],
    extra: Mapping[str, object],
) -> pystac.Collection:
    """The Collection: extent from the items (whole world without items), index assets, statistics."""
    if items:
        boxes = np.array([it.bbox for it in items], dtype="float64")
        bbox = [
            float(boxes[:, 0].min()),
            float(boxes[:, 1].min()),
            float(boxes[:, 2].max()),
            float(boxes[:, 3].max()),
        ]
        # STAC 1.1.0: the first box is the union; sub-boxes only when they say more (two or more
        # items), since the schema takes one box or at least three (a lone sub-box repeats the union)
        bboxes = [bbox] + ([list(map(float, b)) for b in boxes] if len(items) > 1 else [])
    else:
        bboxes = [[-180.0, -90.0, 180.0, 90.0]]
    coll = pystac.Collection(
        id=COLLECTION_ID,
        title="Hephaestus Minicubes",
        description=(
            "InSAR volcanic unrest minicubes (LiCSAR interferograms, coherence, DEM, ERA5) with expert "
            "annotations, a pair index and a series index (Papadopoulos et al., Hephaestus Minicubes, "
            "arXiv 2505.17782)."
        ),
        extent=pystac.Extent(pystac.SpatialExtent(bboxes), pystac.TemporalExtent([list(temporal)])),
        license=LICENSE,
        keywords=["InSAR", "volcano", "deformation", "Sentinel-1", "datacube"],
        providers=[
            pystac.Provider(
                name="Orion Lab, National Observatory of Athens and NTUA", roles=["producer", "licensor"]
            ),
            pystac.Provider(name="COMET LiCSAR", roles=["producer"]),
        ],
    )
    HephaestusExtension.ext(coll, add_if_missing=True).apply({hx.VERSION: version, **extra})
    coll.add_link(
        pystac.Link(
            rel="license",
            target="https://creativecommons.org/licenses/by/4.0/",
            media_type="text/html",
            title="CC-BY 4.0",
        )
    )
    TableExtension.ensure_has_extension(coll, add_if_missing=True)
    coll.extra_fields["table:tables"] = [
        {"name": key, "description": spec[3]} for key, spec in assets.items()
    ]
    for key, (href, arrow_schema, n_rows, desc, descriptions) in assets.items():
        asset = pystac.Asset(
            href=href, media_type=PARQUET_MEDIA_TYPE, title=desc, roles=["metadata", "index"]
        )
        coll.add_asset(key, asset)
        tab = TableExtension.ext(asset)
        tab.columns = table_columns(arrow_schema, descriptions)
        tab.row_count = n_rows
    if items:
        coll.summaries.add(hx.FRAME_ID, sorted(it.id for it in items))
        coll.summaries.add("proj:code", [f"EPSG:{schema.CRS_EPSG}"])
    return coll


def item_dict(item: pystac.Item, collection_href: str, asset_hrefs: Mapping[str, str] | None = None) -> dict:
    """An Item as JSON with relative links to the collection (no absolute self link).

    `asset_hrefs` (asset key -> href) replace the Item's own asset hrefs in the JSON: the same Item
    written into another document (items.parquet) gets hrefs relative to that document.
    """
    item.clear_links()
    d = item.to_dict(include_self_link=False, transform_hrefs=False)
    for key, href in (asset_hrefs or {}).items():
        d["assets"][key]["href"] = href
    d["links"] = [
        {"rel": "root", "href": collection_href, "type": "application/json"},
        {"rel": "parent", "href": collection_href, "type": "application/json"},
        {"rel": "collection", "href": collection_href, "type": "application/json"},
    ]
    return d


def collection_dict(coll: pystac.Collection, item_hrefs: Sequence[str]) -> dict:
    d = coll.to_dict(include_self_link=False, transform_hrefs=False)
    links = [ln for ln in d.get("links", []) if ln.get("rel") not in ("root", "item", "self")]
    links.insert(0, {"rel": "root", "href": "./collection.json", "type": "application/json"})
    links += [{"rel": "item", "href": h, "type": "application/geo+json"} for h in item_hrefs]
    d["links"] = links
    return d
