"""`hmc dashboard`: a static web view of a store (map, volcano timelines, alert pages, STAC browser).

Why here, under catalog/: the site is a view of what the catalog publishes (the STAC collection and
items, the pair index) joined with the monitor's tables (monitor/tables.py, paths in
`StoreLayout.monitor`) and the cubes the catalog points to. It needs platform and the catalog's reader
and nothing from ingest or train, so the dependency rule (stages use platform; train reads the catalog;
only the CLI imports a stage) holds with it in the catalog stage. The CLI is cli/dashboard.py.

The site is plain files with relative links (open index.html from a folder or a bucket): no server,
no CDN, no tile server. The map is inline SVG in lon/lat over a Natural Earth relief image copied from
an installed package at build time (assets.py); figures are PNGs drawn with matplotlib.
"""

from hephaestus.monitor.dashboard.site import DashboardReport, build_dashboard

__all__ = ["DashboardReport", "build_dashboard"]
