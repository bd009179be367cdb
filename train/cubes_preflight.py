"""Before Ray starts: every cube the catalog lists for a run can be opened.

A cube deleted (or moved, or left half-written) after the catalog was built would otherwise fail the
run inside a Ray Train worker after its first epoch, as a traceback cut by Ray. One root-metadata read
per cube (`cube_attrs`) is enough to refuse it here, in one line naming the cube.
"""

from __future__ import annotations

from hephaestus.platform.cube import CubeUnreadableError, cube_attrs
from hephaestus.platform.errors import InputNotFoundError
from hephaestus.platform.storage import redact


class CatalogCubeMissingError(InputNotFoundError):
    """A cube the store's catalog lists cannot be opened (deleted, moved, not a zarr group): exit 2."""


def check_cubes(store_url: str) -> int:
    """Open the root metadata of every cube the catalog of `store_url` lists; the number checked.

    Raises `CatalogCubeMissingError` naming the first cube that cannot be opened.
    """
    from hephaestus.catalog import read_pairs
    from hephaestus.catalog.read import CUBE_URL

    pairs = read_pairs(store_url)
    urls = sorted({str(u) for u in pairs.column(CUBE_URL).to_pylist() if u}) if pairs.num_rows else []
    for url in urls:
        try:
            cube_attrs(url)
        except (CubeUnreadableError, OSError) as exc:
            raise CatalogCubeMissingError(
                f"{redact(url)}: cube listed by the catalog of {redact(store_url)} cannot be opened "
                f"({type(exc.__cause__ or exc).__name__}); rebuild the catalog or restore the cube"
            ) from exc
    return len(urls)
