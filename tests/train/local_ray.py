"""A fresh local Ray for the training tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def local_ray(num_cpus: int = 2) -> Iterator[None]:
    """address="local": never join a cluster that another process happens to run on this machine."""
    import ray

    from hephaestus.platform.ray_session import worker_env

    if ray.is_initialized():
        ray.shutdown()
    ray.init(
        address="local",
        num_cpus=num_cpus,
        include_dashboard=False,
        runtime_env={"env_vars": worker_env(include_credentials=True)},
        logging_level="WARNING",
    )
    try:
        yield
    finally:
        ray.shutdown()
