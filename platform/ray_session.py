"""The Ray session: connect to a cluster (RAY_ADDRESS / --address) or start a local runtime."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hephaestus.platform import storage

log = logging.getLogger(__name__)

# What Ray workers need to reach storage the way the driver does (names and non-secret switches) and what
# must never reach them come from the storage backends: `storage.worker_env_names()`, `secret_env_names()`.
# Never put into runtime_env: Ray writes runtime_env in plain text to its agent logs. Workers of a
# local runtime inherit them from the driver's environment; a cluster's workers use their own identity.
SECRET_ENV = storage.secret_env_names()  # the backends' credentials as this module was imported

LOOPBACK = "127.0.0.1"
# The address the Ray nodes the platform starts for itself advertise. Loopback unless the operator
# names another ("auto": Ray's own choice, the host's network address).
NODE_IP_ENV = "HMC_RAY_NODE_IP"


def worker_env() -> dict[str, str]:
    """Non-secret settings for Ray workers (runtime_env, which Ray logs): endpoints and switches only."""
    env = storage.worker_env_defaults()
    env.update({k: os.environ[k] for k in storage.worker_env_names() if k in os.environ})
    return env


def no_credentials_in_runtime_env() -> None:
    """Stop Ray Tune from copying the driver's AWS keys into each trial's runtime_env (and so its logs).

    Tune propagates them by name (`ray.tune.execution.class_cache.ENV_VARS_TO_PROPAGATE`). Trials of a
    local runtime inherit them from the environment anyway; on a cluster they use the nodes' identity.
    """
    try:
        from ray.tune.execution import class_cache
    except ImportError:  # Tune not installed: nothing copies them
        return
    class_cache.ENV_VARS_TO_PROPAGATE.difference_update(storage.secret_env_names())


def node_ip() -> str | None:
    """IP for Ray nodes started here: 127.0.0.1 unless HMC_RAY_NODE_IP says otherwise (None: Ray picks)."""
    value = os.environ.get(NODE_IP_ENV, LOOPBACK).strip()
    return None if value in ("", "auto") else value


def keep_loopback() -> None:
    """Let Ray nodes advertise 127.0.0.1 when asked to.

    `ray.init(_node_ip_address=...)` and `ray start --node-ip-address` replace a loopback address by the
    host's network address (`services.resolve_ip_for_localhost`), so test and demo traffic would leave
    loopback. Idempotent; does nothing when the operator chose another node address.
    """
    from ray._private import services

    if node_ip() != LOOPBACK or getattr(services.resolve_ip_for_localhost, "keeps_loopback", False):
        return
    original = services.resolve_ip_for_localhost

    def resolve(host: str) -> str:
        return host if host == LOOPBACK else original(host)

    resolve.keeps_loopback = True  # type: ignore[attr-defined]
    services.resolve_ip_for_localhost = resolve


# Ray's own switch for where a process that has not joined a node yet thinks this host is: with it
# off, `services.get_node_ip_address()` answers 127.0.0.1 instead of the host's network address. On
# Linux it is read only there and by `ray start`'s refusal to join a head (see `allow_node_join`).
RAY_CLUSTER_SWITCH_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def loopback_env() -> dict[str, str]:
    """Environment for the Ray nodes the platform starts, so every process Ray spawns stays on loopback.

    `keep_loopback` patches only the process it runs in. Ray also starts fresh interpreters itself, and
    those that reach the cluster before they belong to a node resolve a loopback GCS address to the
    host's network address (`services.canonicalize_bootstrap_address` -> `resolve_ip_for_localhost` ->
    `get_node_ip_address` -> `node_ip_address_from_perspective`). The one that matters: the Ray client
    proxier starts a "specific server" per `ray://` driver (`proxier.py`, `start_ray_client_server` with
    `--address=127.0.0.1:PORT`); it dialled HOST_IP:PORT, where no GCS listens, and the driver waited
    until its timeout. They inherit the node's environment, where this switch makes Ray answer
    127.0.0.1. Empty when the operator chose another node address (HMC_RAY_NODE_IP).
    """
    return {RAY_CLUSTER_SWITCH_ENV: "0"} if node_ip() == LOOPBACK else {}


def allow_node_join() -> None:
    """Let `ray start --address` (a worker node) run under `loopback_env`.

    The switch also makes `ray start` refuse to join a head (meant for Windows/macOS); the platform's
    `ray start` wrapper turns that refusal off in its own process only, its children keep the switch.
    """
    import ray._private.ray_constants as ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = True


GRPC_FORK_ENV = "GRPC_ENABLE_FORK_SUPPORT"


def client_servers_without_grpc_fork_handlers() -> None:
    """Start the head's Ray client proxy with gRPC's fork handlers off (ray-project/ray#63202).

    The proxy forks one server per `ray://` driver while its own gRPC threads run. gRPC's fork handlers
    then restart event-engine threads in the child before it execs, and now and then these crash
    (SIGSEGV in cygrpc: "SpecificServer startup failed", both of its logs empty, the driver refused).
    Without the handlers the child only execs. Only the client server processes get the switch (the
    per-driver servers inherit it from the proxy): workers keep Ray's fork support for code that forks.
    Call it in the `ray start` process of a head; idempotent.
    """
    from ray._private import ray_constants, services

    if getattr(services.start_ray_process, "without_grpc_fork", False):
        return
    original = services.start_ray_process

    def start(command: list[str], process_type: str, *args: object, **kwargs: object) -> object:
        if process_type == ray_constants.PROCESS_TYPE_RAY_CLIENT_SERVER:
            updates = dict(kwargs.get("env_updates") or {})  # type: ignore[call-overload]
            kwargs["env_updates"] = {**updates, GRPC_FORK_ENV: "0"}
        return original(command, process_type, *args, **kwargs)  # type: ignore[arg-type]

    start.without_grpc_fork = True  # type: ignore[attr-defined]
    services.start_ray_process = start


def _is_loopback_address(address: str) -> bool:
    """A GCS address (HOST:PORT) on this host's loopback; Ray client addresses (ray://) are not."""
    host = address.rsplit(":", 1)[0].strip("[]")
    return "://" not in address and host in (LOOPBACK, "localhost", "::1")


def cluster_node_args() -> dict[str, object]:
    """Arguments for every `ray.cluster_utils.Cluster` node (head_node_args, add_node): loopback."""
    keep_loopback()
    return {"node_ip_address": node_ip()} if node_ip() else {}


def local_init_kwargs(num_cpus: int | None = None) -> dict[str, object]:
    """`ray.init` arguments of a private local runtime: loopback, no dashboard, no credentials in runtime_env."""
    _quiet_ray_env()
    keep_loopback()
    kwargs: dict[str, object] = {
        "address": "local",  # a private runtime even when another Ray runs on this host (`ray start`)
        "num_cpus": num_cpus,
        "include_dashboard": False,
        "runtime_env": {"env_vars": worker_env()},
    }
    if node_ip():
        kwargs["_node_ip_address"] = node_ip()
    return kwargs


def connect_kwargs(address: str) -> dict[str, object]:
    """`ray.init` arguments to join the cluster at `address` (a driver on one of its loopback nodes too)."""
    _quiet_ray_env()
    kwargs: dict[str, object] = {"address": address, "runtime_env": {"env_vars": worker_env()}}
    if _is_loopback_address(address) and node_ip() == LOOPBACK:
        keep_loopback()
        kwargs["_node_ip_address"] = LOOPBACK
    return kwargs


LOG_FILE_ENV = "HMC_RAY_LOG"
"""Where this process sends the logs of Ray, Tune and Train (set by the CLI: OUT/logs/ray.log)."""
LOG_OWNER_ENV = "HMC_RAY_LOG_PID"
VERBOSE_ENV = "HMC_VERBOSE"
"""'1': Ray's logs and its workers' output reach the terminal as Ray prints them (`hmc --verbose`)."""
RAY_LOGGERS = ("ray", "ray.tune", "ray.train", "ray.data", "ray.air")


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def send_logs_to(folder: str | os.PathLike[str]) -> Path | None:
    """Route Ray's logs of this process to FOLDER/logs/ray.log (a local folder; else ./hmc-logs/ray.log).

    Returns the file, or None under --verbose (then everything goes to the terminal as Ray prints it).
    The first call of a process wins: `hmc demo` keeps one log for the commands it runs.
    """
    if verbose():
        return None
    if os.environ.get(LOG_FILE_ENV) and os.environ.get(LOG_OWNER_ENV) == str(os.getpid()):
        return Path(os.environ[LOG_FILE_ENV])
    text = os.fspath(folder)
    local = "://" not in text or text.startswith("file://")
    base = Path(text.removeprefix("file://"), "logs") if local else Path("hmc-logs")
    path = (base / "ray.log").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ[LOG_FILE_ENV] = str(path)
    os.environ[LOG_OWNER_ENV] = str(os.getpid())
    _route_ray_loggers()
    return path


def _route_ray_loggers() -> None:
    """Driver-side Ray/Tune/Train Python loggers write to the log file only (nothing on the terminal)."""
    target = os.environ.get(LOG_FILE_ENV)
    if verbose() or not target:
        return
    handler: logging.FileHandler | None = None  # opened only when a logger needs it (an unused one leaks)
    for name in RAY_LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            if isinstance(old, logging.StreamHandler) and not isinstance(old, logging.FileHandler):
                logger.removeHandler(old)
            elif isinstance(old, logging.FileHandler) and old.baseFilename != target:
                logger.removeHandler(old)
                old.close()  # an earlier log file's handler: close its file
        if not any(isinstance(h, logging.FileHandler) for h in logger.handlers):
            if handler is None:
                handler = logging.FileHandler(target, encoding="utf-8")
                handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
        logger.propagate = False


def _note_session_logs() -> None:
    """Name Ray's own per-process log folder in the log file (workers' output stays there)."""
    target = os.environ.get(LOG_FILE_ENV)
    if verbose() or not target:
        return
    try:
        import ray

        folder = Path(ray._private.worker._global_node.get_session_dir_path(), "logs")  # noqa: SLF001
    except Exception:  # a client connection or a Ray without the attribute
        return
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(f"Ray session logs (workers, raylet, GCS): {folder}\n")


def _quiet_ray_env() -> None:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    for name, value in storage.worker_env_defaults().items():
        os.environ.setdefault(name, value)


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Use the running Ray (already initialised, `address`, or RAY_ADDRESS) or start a local one.

    Shuts down only what it started.
    """
    import ray

    _quiet_ray_env()
    no_credentials_in_runtime_env()
    if ray.is_initialized():
        yield
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    local = address is None or address == "local"
    kwargs = local_init_kwargs(num_cpus) if local else connect_kwargs(str(address))
    quiet = not verbose()
    # quiet: workers' stdout/stderr stay in Ray's session logs instead of scrolling past
    kwargs.update(logging_level=logging.WARNING, log_to_driver=not quiet)
    if quiet:
        # Tune's new console reporter prints its banner and TensorBoard hint even at verbose=0
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
        _route_ray_loggers()
    log.info("starting Ray (%s)", "local" if local else address)
    ray.init(**kwargs)
    watchdog = _watch_family() if local else None
    if quiet:
        _route_ray_loggers()  # ray.init installs its own console handlers
        _note_session_logs()
    try:
        yield
    finally:
        ray.shutdown()
        if watchdog is not None:
            _release(watchdog)


# Kills what this driver started if the driver dies without shutting Ray down (SIGKILL, OOM killer):
# Ray reaps its workers, but its dashboard and runtime-env agents (~200 MB each) outlive the driver.
# psutil's kill() checks each process's start time, so a recycled PID is never hit.
_WATCHDOG = (
    "import sys, psutil\n"
    "family = []\n"
    "for pid in sys.argv[1:]:\n"
    "    try:\n"
    "        family.append(psutil.Process(int(pid)))\n"
    "    except psutil.Error:\n"
    "        pass\n"
    "if sys.stdin.read() != 'done':\n"
    "    for p in family:\n"
    "        try:\n"
    "            p.kill()\n"
    "        except psutil.Error:\n"
    "            pass\n"
)


def _watch_family() -> subprocess.Popen[str] | None:
    """A tiny process that outlives this driver and kills the Ray processes it started if it dies."""
    try:
        import psutil

        family = [str(p.pid) for p in psutil.Process().children(recursive=True)]
        return subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, *family],
            stdin=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a Ctrl-C to the driver's group must not end the watch early
        )
    except Exception as exc:  # noqa: BLE001 - the watch is a safety net, never a reason to fail
        log.debug("no Ray watchdog: %s", exc)
        return None


def _release(watchdog: subprocess.Popen[str]) -> None:
    """Ray was shut down cleanly: tell the watchdog to exit without killing anything."""
    try:
        assert watchdog.stdin is not None
        watchdog.stdin.write("done")
        watchdog.stdin.close()
        watchdog.wait(timeout=10)
    except Exception:  # noqa: BLE001
        watchdog.kill()
