"""Real object-store servers on 127.0.0.1 for tests and benchmarks: a moto S3 server and a request-counting proxy.

One place for starting them, so that the pytest fixtures (tests/conftest.py) and the benchmarks
(tests/benchmarks/bench_remote.py) talk to the same kind of server the same way.

The proxy is a plain HTTP/1.1 reverse proxy in front of the server: every request a client makes
really crosses a socket and is forwarded, and the proxy records method, path, Range header, status
and the body bytes it returned. Nothing of the request's headers but the Range is kept, so
signatures and keys never reach a log.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"server on port {port} did not start in {timeout} s")


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto S3 server process on 127.0.0.1; yields its endpoint URL and stops it afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def aws_env(endpoint: str) -> dict[str, str]:
    """The AWS_* environment that points s3fs, boto3, obstore and Ray workers at a local server."""
    host = endpoint.split("://", 1)[-1]
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_S3_ENDPOINT": host,
        "AWS_HTTPS": "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE",
    }


@contextmanager
def aws_environment(endpoint: str) -> Iterator[str]:
    """`aws_env(endpoint)` set in this process for the duration (clients read it when they are built)."""
    env = aws_env(endpoint)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield endpoint
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass(frozen=True)
class Request:
    """One request the proxy forwarded (no headers but the Range: nothing secret)."""

    method: str
    path: str
    range: str | None
    status: int
    nbytes: int


class CountingProxy:
    """An HTTP reverse proxy on 127.0.0.1 in front of `upstream` that records every request.

    Use as a context manager; point the client at `endpoint`; read `requests` (and `reset()` between
    measurements). Requests are forwarded with their Host header unchanged, so signed requests stay valid.
    """

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.split("://", 1)[-1].partition(":")
        self._upstream = (host, int(port or 80))
        self._lock = threading.Lock()
        self._log: list[Request] = []
        self._in_flight = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="s3-proxy")

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._log)

    def reset(self) -> None:
        """Forget what was recorded, once no request is in flight (a client may leave some running)."""
        self.wait_idle()
        with self._lock:
            self._log.clear()

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Return once no request has been in flight for 50 ms."""
        deadline = time.time() + timeout
        quiet_since = None
        while time.time() < deadline:
            with self._lock:
                busy = self._in_flight > 0
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.time()
            elif time.time() - quiet_since >= 0.05:
                return
            time.sleep(0.005)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _begin(self) -> None:
        with self._lock:
            self._in_flight += 1

    def _record(self, req: Request | None) -> None:
        with self._lock:
            self._in_flight -= 1
            if req is not None:
                self._log.append(req)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self
        local = threading.local()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - silent
                return

            def _forward(self) -> None:
                proxy._begin()
                recorded = False
                try:
                    status, headers, data = self._upstream_call()
                    proxy._record(  # before the client can see the answer
                        Request(
                            self.command,
                            self.path.split("?", 1)[0],
                            self.headers.get("Range"),
                            status,
                            len(data),
                        )
                    )
                    recorded = True
                    self.send_response_only(status)
                    for k, v in headers:
                        if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length":
                            self.send_header(k, v)
                    # HEAD: the object's size as the server said it; otherwise the body we send
                    size = dict((k.lower(), v) for k, v in headers).get("content-length", "0")
                    self.send_header("Content-Length", size if self.command == "HEAD" else str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    if not recorded:
                        proxy._record(None)

            def _upstream_call(self) -> tuple[int, list[tuple[str, str]], bytes]:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                for attempt in range(2):
                    conn = getattr(local, "conn", None)
                    if conn is None:
                        conn = local.conn = http.client.HTTPConnection(*proxy._upstream, timeout=60)
                    try:
                        conn.request(self.command, self.path, body=body, headers=headers)
                        resp = conn.getresponse()
                        return resp.status, resp.getheaders(), resp.read()
                    except (http.client.HTTPException, OSError):
                        conn.close()
                        local.conn = None
                        if attempt:
                            raise
                raise AssertionError("unreachable")

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

        return Handler


def race_exclusive_creates(url: str, writers: int) -> list[bool]:
    """`writers` threads released together, each trying `storage.create_exclusive(url, b"writer K")`: what each got."""
    from hephaestus.platform import storage

    barrier = threading.Barrier(writers)
    results: list[bool] = []

    def race(k: int) -> None:
        barrier.wait()
        results.append(storage.create_exclusive(url, f"writer {k}".encode()))

    threads = [threading.Thread(target=race, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
