"""A Ray client (`ray://`) driver uses a cluster the platform started, and every Ray process stays on loopback.

Issue 27: the per-driver server that Ray's client proxier spawns looked for the GCS at the host's network
address while the platform's nodes listen on 127.0.0.1 only, so a `ray://` driver waited for its timeout.
"""

from __future__ import annotations

import ipaddress
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hephaestus.infra.local_cluster import (
    Listener,
    LocalClusterConfig,
    cluster_env,
    exposed_listeners,
    listeners,
    local_cluster,
    proc_net_ip,
)
from hephaestus.platform.ray_session import NODE_IP_ENV, loopback_env

# Connects through RAY_ADDRESS=ray://..., runs one task, stays connected until its stdin closes.
DRIVER = """
import sys, ray
ray.init(logging_level="ERROR")
node_ip = ray.get(ray.remote(num_cpus=1)(lambda: ray.util.get_node_ip_address()).remote())
print("task ran on", node_ip, flush=True)
sys.stdin.read()
ray.shutdown()
print("disconnected", flush=True)
"""
CONNECT_TIMEOUT_S = 60.0


def _first_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    """The driver's first stdout line, or '' when it has printed none within `timeout_s`."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(process.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=timeout_s):
            return ""
    return process.stdout.readline().strip()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _environ(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return []


def _client_server_logs(cluster_head_temp: Path) -> str:
    logs = sorted(cluster_head_temp.glob("session_*/logs/ray_client_server*.err"))
    return "\n".join(f"== {p.name}\n" + p.read_text(errors="replace")[-1500:] for p in logs)


@pytest.mark.timeout(120)
def test_a_ray_client_driver_runs_a_task_on_a_platform_head_within_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(NODE_IP_ENV, raising=False)  # the default: nodes on loopback
    started = time.monotonic()
    cfg = LocalClusterConfig(workers=0, head_cpus=1, start_timeout_s=60)
    with local_cluster(cfg) as cluster:
        assert cluster.client_address.startswith("ray://127.0.0.1:")
        env = {**cluster_env(), "RAY_ADDRESS": cluster.client_address}
        driver = subprocess.Popen(
            [sys.executable, "-c", DRIVER],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = _first_line(driver, CONNECT_TIMEOUT_S)
            assert line == "task ran on 127.0.0.1", (
                f"the ray:// driver got no task result in {CONNECT_TIMEOUT_S:.0f} s ({line!r});\n"
                + _client_server_logs(cluster.head.temp_dir)
            )
            # While the driver is connected: its own client server exists and nothing listens beyond loopback.
            seen = [x for node in cluster.nodes for x in listeners(node)]
            specific = [x for x in seen if "--mode=specific-server" in _cmdline(x.pid)]
            assert specific, f"no per-driver client server among the listeners {seen}"
            # ray-project/ray#63202: the proxy forks these servers with gRPC's fork handlers off.
            assert all(b"GRPC_ENABLE_FORK_SUPPORT=0" in _environ(x.pid) for x in specific)
            assert {x.process for x in seen} >= {"gcs_server", "raylet"}
            assert exposed_listeners(cluster) == []
            out, err = driver.communicate(input="", timeout=30)
        finally:
            if driver.poll() is None:
                driver.kill()
                driver.wait()
        assert driver.returncode == 0, err[-2000:]
        assert out.strip().endswith("disconnected")
    assert time.monotonic() - started < 110


def test_node_processes_get_the_loopback_switch_unless_the_operator_names_an_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(NODE_IP_ENV, raising=False)
    assert loopback_env() == {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    monkeypatch.setenv(NODE_IP_ENV, "auto")
    assert loopback_env() == {}
    monkeypatch.setenv(NODE_IP_ENV, "10.1.2.3")
    assert loopback_env() == {}


@pytest.mark.parametrize(
    ("raw", "host", "loopback"),
    [
        ("0100007F", "127.0.0.1", True),
        ("00000000", "0.0.0.0", False),
        ("020200C0", "192.0.2.2", False),
        ("0000000000000000FFFF00000100007F", "::ffff:127.0.0.1", True),  # dual-stack, loopback
        ("00000000000000000000000001000000", "::1", True),
        ("00000000000000000000000000000000", "::", False),
    ],
)
def test_proc_net_addresses_are_decoded_and_classified(raw: str, host: str, loopback: bool) -> None:
    assert ipaddress.ip_address(proc_net_ip(raw)) == ipaddress.ip_address(host)
    assert Listener(pid=1, process="x", host=host, port=1).loopback is loopback
