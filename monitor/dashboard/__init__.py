"""`hmc dashboard`: a static web view of a store: the status board (volcanoes ranked by status, new
since the last cycle marked, the map of frames by status, episode and alert tables that sort and filter
in the browser), volcano timelines with episodes shaded, every scored pair with previous/next, alert pages
with the predicted mask as a GeoTIFF, and the STAC browser.

Why here, in the monitor stage: the site is a view of what the catalog publishes (the STAC collection and
items, the pair index) joined with the monitor's tables (scores, alerts, episodes, the journal's latest
cycle; paths in `StoreLayout.monitor`) and the cubes the catalog points to; an alert's GeoTIFF is written
as `hmc predict` writes its rasters (train/predict.py, imported only when one is written). The CLI is
cli/dashboard.py.

The site is plain files with relative links (open index.html from a folder or a bucket): no server,
no CDN, no tile server. The map is inline SVG in lon/lat over a Natural Earth relief image copied from
an installed package at build time (assets.py); figures are PNGs drawn with matplotlib; sorting and
filtering are assets/board.js (plain DOM); the status rules are status.py.
"""

from hephaestus.monitor.dashboard.site import DashboardReport, build_dashboard

__all__ = ["DashboardReport", "build_dashboard"]
