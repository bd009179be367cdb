"""The Ray session: connect to a cluster (RAY_ADDRESS / --address) or start a local runtime."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

# Variables that Ray workers need to reach storage the way the driver does. Only names and
# non-secret switches: credentials reach workers through their own environment or identity.
WORKER_ENV_PASSTHROUGH = (
    "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT",
    "STORAGE_EMULATOR_HOST",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_DEFAULT_REGION",
    "AWS_S3_ENDPOINT",
    "AWS_HTTPS",
    "AWS_VIRTUAL_HOSTING",
    "HMC_S3_ANON",
)
SECRET_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def worker_env(include_credentials: bool = False) -> dict[str, str]:
    """Environment for Ray workers (runtime_env). Credentials only for local runtimes that share this host."""
    env = {"GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}
    names = WORKER_ENV_PASSTHROUGH + (SECRET_ENV if include_credentials else ())
    env.update({k: os.environ[k] for k in names if k in os.environ})
    return env


def _quiet_ray_env() -> None:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Use the running Ray (already initialised, `address`, or RAY_ADDRESS) or start a local one.

    Shuts down only what it started.
    """
    import ray

    _quiet_ray_env()
    if ray.is_initialized():
        yield
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    local = address is None or address == "local"
    kwargs: dict[str, object] = {
        "runtime_env": {"env_vars": worker_env(include_credentials=local)},
        "logging_level": logging.WARNING,
        "log_to_driver": True,
        "include_dashboard": False,
    }
    if local:
        # "local" starts a private runtime even when another Ray runs on this host (`ray start`).
        kwargs["address"] = "local"
        kwargs["num_cpus"] = num_cpus
    else:
        kwargs["address"] = address
        kwargs.pop("include_dashboard")
    log.info("starting Ray (%s)", "local" if local else address)
    ray.init(**kwargs)
    try:
        yield
    finally:
        ray.shutdown()
