"""A fresh local Ray for the training tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def local_ray(num_cpus: int = 2) -> Iterator[None]:
    """address="local": never join a cluster that another process happens to run on this machine."""
    import ray

    from hephaestus.platform.ray_session import local_init_kwargs

    if ray.is_initialized():
        ray.shutdown()
    ray.init(**local_init_kwargs(num_cpus), logging_level="WARNING")
    try:
        yield
    finally:
        ray.shutdown()
