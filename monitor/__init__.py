"""Monitoring, a stage of its own: new interferograms in, scores, alerts and a web view out.

`cycle.run_cycle` is one cycle (`hmc monitor` repeats it): discover new products and ingest them (ingest),
update the catalog (catalog), then score: `Scorer` predicts each new pair (classifier score, segmenter
mask), `detect` turns a mask into an alert's geometry and figures, `baseline` keeps the backlog, the
training pairs and unusable pairs from alerting, `Journal` makes the tables under STORE/monitor/
(`tables`: their schemas) grow without loss or repeat whatever point a run is killed at, `episodes` groups
the alerts into unrest episodes, and `dashboard` writes the static site of a monitored store
(docs/monitoring.md: every table's columns).
"""
