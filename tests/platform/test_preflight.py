"""URLs are checked once, before any work (and before Ray): fast, bounded, one-line errors.

Endpoints here are real sockets on 127.0.0.1: a closed port, and a server that accepts connections and
never answers (the case that used to hang an ingest for ten minutes).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hephaestus.platform import storage
from hephaestus.platform.errors import InputError, PlatformRuntimeError


@pytest.fixture
def fake_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:  # type: ignore[valid-type]
    def point_at(port: int) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv(storage.TIMEOUT_ENV, "1")
        monkeypatch.setenv(storage.RETRIES_ENV, "1")

    yield point_at


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unknown_scheme_is_one_line_input_error() -> None:
    with pytest.raises(InputError, match=r"foo://x: unknown storage scheme 'foo'") as err:
        storage.check_url("foo://x", "output")
    assert "\n" not in str(err.value)


def test_output_naming_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        storage.check_url(tmp_path / "plain", "output")
    with pytest.raises(InputError, match="is a file, not a folder"):
        storage.check_url(tmp_path / "plain" / "store", "output")
    assert storage.check_url(tmp_path / "new" / "store", "output") == str(tmp_path / "new" / "store")


def test_relative_paths_become_absolute_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tour" / "store").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert storage.check_url("tour/store", "source") == str(tmp_path / "tour" / "store")


def test_unreachable_endpoint_fails_fast(fake_s3) -> None:  # type: ignore[no-untyped-def]
    fake_s3(_closed_port())
    t0 = time.monotonic()
    with pytest.raises(PlatformRuntimeError, match="unreachable after 2 attempt") as err:
        storage.check_url("s3://bucket/store", "output")
    assert time.monotonic() - t0 < 10 and "\n" not in str(err.value)


def test_endpoint_that_never_answers_is_bounded(fake_s3, silent_server: int) -> None:  # type: ignore[no-untyped-def]
    fake_s3(silent_server)
    t0 = time.monotonic()
    with pytest.raises(PlatformRuntimeError, match="unreachable") as err:
        storage.check_url("s3://bucket/store", "output")
    assert time.monotonic() - t0 < 10  # 2 attempts of 1 s, not ten minutes
    assert "127.0.0.1" in str(err.value)


def test_real_s3_bucket_passes_and_missing_bucket_is_named(s3_bucket: str) -> None:
    assert storage.check_url(f"{s3_bucket}/store", "output") == f"{s3_bucket}/store"
    with pytest.raises(InputError, match="bucket does not exist"):
        storage.check_url("s3://no-such-bucket-here/store", "output")


def test_ingest_refuses_bad_out_before_ray(tmp_path: Path) -> None:
    import ray

    from hephaestus.ingest import IngestConfig, run_ingest

    (tmp_path / "src").mkdir()
    with pytest.raises(InputError, match="unknown storage scheme"):
        run_ingest(IngestConfig(sources=str(tmp_path / "src"), out="foo://x"))
    assert not ray.is_initialized()


@pytest.mark.slow  # synth -> ingest -> catalog -> one training run: about two minutes on 2 cores
def test_benchmark_on_a_relative_store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trials run in Ray's per-trial folders: a relative store path must have been made absolute first."""
    from hephaestus.catalog import build_catalog
    from hephaestus.ingest import IngestConfig, run_ingest
    from hephaestus.ingest.synthetic import SynthConfig, generate
    from hephaestus.platform.ray_session import ray_session
    from hephaestus.train.benchmark import run_benchmark
    from hephaestus.train.config import GridConfig, RunConfig

    monkeypatch.chdir(tmp_path)
    generate(SynthConfig(frames=2, pairs=30, height=96, width=96, seed=0), Path("tour/src"))
    grid = GridConfig(
        name="relative",
        models=("mobilenetv3_large_100",),
        series=(False,),
        atmosphere=(False,),
        seeds=(0,),
        base=RunConfig(epochs=1, crop_size=32, batch_size=4, workers=1, weights="random", augment=False),
    )
    with ray_session(num_cpus=2):
        run_ingest(IngestConfig(sources="tour/src", out="tour/store", workers=2))
        build_catalog("tour/store")
        summary = run_benchmark("tour/store", grid, "tour/results")
    assert summary.failed == {} and len(summary.trained) == 1
    assert (tmp_path / "tour" / "results" / "results.parquet").exists()
