"""Monitoring: score every new pair of a store with trained checkpoints and raise alerts, restartably.

`hmc monitor` (platform/cli_monitor.py) runs the cycle: discover new products and ingest them (ingest),
update the catalog (catalog), then this package: `Scorer` predicts each new pair (classifier score,
segmenter mask), `detect` turns a mask into an alert's geometry and figures, `Journal` makes the
tables under STORE/monitor/ grow without loss or repeat whatever point a run is killed at.
"""
