"""A real multi-node Ray cluster on one machine, built from `ray start` processes.

Each node (one head, N workers) is its own `ray start --block` process in its own session and
temp dir, exactly the way nodes join a cluster on separate machines. Teardown signals only the
process groups started here: `ray stop` would kill every Ray runtime on the host, including
other users' clusters.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hephaestus.platform import storage
from hephaestus.platform.config import Config
from hephaestus.platform.errors import PlatformRuntimeError
from hephaestus.platform.ray_session import loopback_env, node_ip

READY_MARK = "Ray runtime started."


class ClusterStartError(PlatformRuntimeError):
    """A node did not come up; the message carries the tail of its log."""


class LocalClusterConfig(Config):
    """Shape of the rehearsal cluster (defaults fit a 2-core machine)."""

    workers: int = 2
    cpus_per_worker: int = 1
    head_cpus: int = 0
    object_store_bytes: int = 100 * 1024**2
    start_timeout_s: float = 90.0
    stop_timeout_s: float = 20.0


def free_port() -> int:
    """A TCP port that is free now on every interface (the node binds it right after)."""
    with socket.socket() as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


# `ray start` with Ray's loopback rewrite turned off (see ray_session.keep_loopback), joining a head
# allowed under `loopback_env` (ray_session.allow_node_join) and Ray client servers started without
# gRPC's fork handlers (ray_session.client_servers_without_grpc_fork_handlers), run by this interpreter.
RAY_START = (
    "import sys; from hephaestus.platform import ray_session as s; "
    "s.keep_loopback(); s.allow_node_join(); s.client_servers_without_grpc_fork_handlers(); "
    "from ray.scripts.scripts import main; sys.exit(main())"
)


def ray_command() -> list[str]:
    """The `ray` CLI of this interpreter's environment, keeping a loopback node address."""
    return [sys.executable, "-c", RAY_START]


def node_ip_args() -> list[str]:
    """`--node-ip-address` of every node: 127.0.0.1 unless the operator set HMC_RAY_NODE_IP."""
    ip = node_ip()
    return [f"--node-ip-address={ip}"] if ip else []


def cluster_env() -> dict[str, str]:
    """Environment for node processes: no auth token, no usage stats, the storage backends' defaults
    (gcsfs without its gRPC probe)."""
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)  # a node must not attach to some other cluster
    env.setdefault("RAY_AUTH_MODE", "disabled")
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    for name, value in storage.worker_env_defaults().items():
        env.setdefault(name, value)
    # The head's Ray client proxy waits this long for a client's server; 30 s is short on a busy host.
    env.setdefault("RAY_CLIENT_SERVER_CHECK_CHANNEL_TIMEOUT_S", "120")
    return env


def node_env(address: str) -> dict[str, str]:
    """Environment of one node's processes: they know their own cluster.

    Ray's helpers inside workers (e.g. Ray Train's placement-group cleaner) look the cluster up by
    RAY_ADDRESS and otherwise scan the host for GCS processes, which finds every cluster on a shared
    machine. `ray start` itself only takes `--address` from its flags. `loopback_env`: the processes
    Ray spawns itself (the Ray client's per-driver servers above all) find the GCS on 127.0.0.1 too.
    """
    return {**cluster_env(), **loopback_env(), "RAY_ADDRESS": address}


@dataclass
class Node:
    """One `ray start --block` process and where its files are."""

    name: str
    process: subprocess.Popen[bytes]
    temp_dir: Path
    log_path: Path

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def worker_logs(self) -> list[Path]:
        """Log files of the Ray worker processes this node ran (evidence that tasks ran here)."""
        return sorted(self.temp_dir.glob("session_*/logs/worker-*.out"))


@dataclass
class LocalCluster:
    """A running head plus workers.

    `address` (HOST:PORT of the GCS) is what drivers on the cluster's network pass as `--address` or
    RAY_ADDRESS; `client_address` (ray://HOST:PORT) is for drivers outside it (Ray client).
    """

    address: str
    client_address: str
    head: Node
    workers: list[Node] = field(default_factory=list)

    @property
    def nodes(self) -> list[Node]:
        return [self.head, *self.workers]


def _start_node(name: str, args: list[str], root: Path, cfg: LocalClusterConfig, address: str) -> Node:
    # Short temp dirs: Ray's Unix socket paths must stay under ~107 characters.
    temp_dir = Path(tempfile.mkdtemp(prefix=f"{name[:1]}", dir=root))
    log_path = root / f"{name}.log"
    cmd = [
        *ray_command(),
        "start",
        *args,
        *node_ip_args(),
        # Several raylets share this host: give each its own agent port instead of Ray's fixed default.
        f"--dashboard-agent-listen-port={free_port()}",
        f"--object-store-memory={cfg.object_store_bytes}",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
        "--block",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=node_env(address), start_new_session=True
        )
    node = Node(name=name, process=process, temp_dir=temp_dir, log_path=log_path)
    try:
        _wait_ready(node, cfg.start_timeout_s)
    except BaseException:
        stop_node(node, cfg.stop_timeout_s)  # a half-started node may have left its GCS running
        raise
    return node


def _wait_ready(node: Node, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise ClusterStartError(
                f"{node.name} exited with code {node.process.returncode}; log {node.log_path}:\n"
                + node.log_tail()
            )
        if READY_MARK in node.log_path.read_text(errors="replace"):
            return
        time.sleep(0.3)
    raise ClusterStartError(
        f"{node.name} not ready after {timeout_s:.0f} s; log {node.log_path}:\n" + node.log_tail()
    )


def stop_node(node: Node, timeout_s: float = 20.0) -> None:
    """SIGTERM the node's process group (Ray shuts its processes down), SIGKILL what is left."""
    if node.process.poll() is None:
        try:
            os.killpg(node.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            node.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
    # Whatever still lives in the node's own session (raylet, agents, workers) goes too.
    try:
        os.killpg(node.process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if node.process.poll() is None:
        node.process.wait(timeout=timeout_s)
    deadline = time.monotonic() + timeout_s
    while alive_processes(node) and time.monotonic() < deadline:
        time.sleep(0.2)


def alive_processes(node: Node) -> list[int]:
    """Live PIDs in the node's process group (empty after a clean stop; zombies are dead)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if fields[0] != "Z" and int(fields[2]) == node.process.pid:
            pids.append(int(entry.name))
    return pids


@dataclass(frozen=True)
class Listener:
    """A TCP socket listening in one of a node's processes (from /proc: no root, no psutil)."""

    pid: int
    process: str
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        ip = ipaddress.ip_address(self.host)
        mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1, a dual-stack socket
        return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def proc_net_ip(text: str) -> str:
    """An address of /proc/net/tcp{,6}: 32-bit words in host (little-endian) byte order."""
    raw = bytes.fromhex(text)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def _listening_sockets() -> dict[str, tuple[str, int]]:
    """Socket inode -> (host, port) of every TCP socket in LISTEN state (0A) on this host."""
    found: dict[str, tuple[str, int]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:  # no IPv6
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A":
                host, port = fields[1].split(":")
                found[fields[9]] = (proc_net_ip(host), int(port, 16))
    return found


def listeners(node: Node) -> list[Listener]:
    """Every TCP listener of the node's processes (GCS, raylet, agents, client servers, workers)."""
    sockets = _listening_sockets()
    out = []
    for pid in alive_processes(node):
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue  # exited meanwhile
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:  # closed meanwhile
                continue
            inode = link.removeprefix("socket:[").removesuffix("]")
            if link.startswith("socket:[") and inode in sockets:
                out.append(Listener(pid, name, *sockets[inode]))
    return out


def exposed_listeners(cluster: LocalCluster) -> list[Listener]:
    """Listeners of the cluster's processes reachable from other hosts (none when nodes use loopback)."""
    return [x for node in cluster.nodes for x in listeners(node) if not x.loopback]


@contextmanager
def local_cluster(cfg: LocalClusterConfig | None = None, root: Path | None = None) -> Iterator[LocalCluster]:
    """Start a head and `cfg.workers` worker nodes; stop all of them on exit, whatever happens."""
    cfg = cfg or LocalClusterConfig()
    own_root = root is None
    base = Path(tempfile.mkdtemp(prefix="hmcray.", dir="/tmp")) if root is None else root
    base.mkdir(parents=True, exist_ok=True)
    started: list[Node] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def _interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        for sig in previous:
            signal.signal(sig, _interrupted)
    except ValueError:  # not the main thread: rely on the finally below
        previous = {}
    try:
        port, client_port = free_port(), free_port()
        head_args = [
            "--head",
            f"--num-cpus={cfg.head_cpus}",
            f"--port={port}",
            f"--ray-client-server-port={client_port}",
            f"--dashboard-port={free_port()}",
        ]
        head = _start_node("head", head_args, base, cfg, f"127.0.0.1:{port}")
        started.append(head)
        # The address the head advertises (127.0.0.1 unless HMC_RAY_NODE_IP), as `ray start` wrote it.
        address = (head.temp_dir / "ray_current_cluster").read_text().strip()
        host = address.rsplit(":", 1)[0]
        cluster = LocalCluster(
            address=address,
            client_address=f"ray://{host}:{client_port}",
            head=head,
        )
        for i in range(cfg.workers):
            worker = _start_node(
                f"worker{i + 1}",
                [f"--address={address}", f"--num-cpus={cfg.cpus_per_worker}"],
                base,
                cfg,
                address,
            )
            started.append(worker)
            cluster.workers.append(worker)
        yield cluster
    finally:
        for node in reversed(started):
            stop_node(node, cfg.stop_timeout_s)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if own_root:
            shutil.rmtree(base, ignore_errors=True)
