"""Physics-based synthetic LiCSAR / ERA5 / annotation sources: `generate(SynthConfig(...), out_dir)`."""

from hephaestus.ingest.synthetic.config import SynthConfig
from hephaestus.ingest.synthetic.generator import SynthManifest, generate

__all__ = ["SynthConfig", "SynthManifest", "generate"]
