"""Issue 27, item 5: errors name what failed, early, redacted, in one line.

Each case runs `hmc` as a user does (tests/faults/harness.py) against real servers or real files and asserts
the exit code, the one line and that nothing was created or lost. No case gets as far as starting Ray.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import assert_one_line, run_hmc
from object_servers import aws_env, moto_server

TESTS = Path(__file__).resolve().parents[1]
RAY_STARTED = "Ray's logs go to"  # what `hmc train` prints once it is about to start Ray


def _split_store(root: Path) -> Path:
    """tests/train's small catalogued store (one factory cube per split)."""
    spec = importlib.util.spec_from_file_location("train_conftest", TESTS / "train" / "conftest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_split_store(root)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _split_store(tmp_path_factory.mktemp("faults-store"))


@pytest.fixture(scope="module")
def strict_s3() -> Iterator[str]:
    """A moto S3 server that checks credentials (the suite's shared one accepts any)."""
    old = os.environ.get("INITIAL_NO_AUTH_ACTION_COUNT")
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"  # read by the moto server process at start, only
    servers = moto_server()
    try:
        endpoint = servers.__enter__()
    finally:  # restored at once: any other server this session starts accepts any credentials again
        if old is None:
            os.environ.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
        else:
            os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = old
    try:
        yield endpoint
    finally:
        servers.__exit__(None, None, None)


def test_wrong_s3_credentials_say_access_denied(strict_s3: str, tmp_path: Path) -> None:
    env = {**aws_env(strict_s3), "AWS_ACCESS_KEY_ID": "AKIAWRONGKEY", "AWS_SECRET_ACCESS_KEY": "not-the-key"}
    outcome = run_hmc(["catalog", "build", "s3://hmc-denied/store"], env=env, cwd=tmp_path, timeout=120)
    line = assert_one_line(outcome, 2, "access denied", "s3://hmc-denied/store")
    assert "unreachable" not in line and "not-the-key" not in outcome.stderr


def test_access_denied_is_not_retried(strict_s3: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Timed in this process (a subprocess's start-up dominates on a loaded machine): five retries would
    sleep 7.5 s between attempts; a refusal answers at once."""
    from hephaestus.platform import storage

    env = {**aws_env(strict_s3), "AWS_ACCESS_KEY_ID": "AKIAWRONGKEY", "AWS_SECRET_ACCESS_KEY": "not-the-key"}
    for name, value in {**env, "HMC_STORAGE_RETRIES": "5"}.items():
        monkeypatch.setenv(name, value)
    t0 = time.monotonic()
    with pytest.raises(storage.StorageAccessDeniedError, match="access denied"):
        storage.check_url("s3://hmc-denied/results", "output")
    assert time.monotonic() - t0 < 5


def test_an_endpoint_with_user_info_is_never_printed(tmp_path: Path) -> None:
    """A credential written into AWS_ENDPOINT_URL (user:password@host) appears nowhere on the terminal."""
    env = {
        **aws_env("http://127.0.0.1:9"),  # the discard port: nothing answers
        "AWS_ENDPOINT_URL": "http://hmcuser:s3cr3tpw@127.0.0.1:9",
        "HMC_STORAGE_TIMEOUT_S": "1",
        "HMC_STORAGE_RETRIES": "0",
    }
    outcome = run_hmc(
        ["catalog", "build", "s3://hmc-any/store?X-Amz-Signature=sig0123"], env=env, cwd=tmp_path
    )
    line = assert_one_line(outcome, 1, "s3://hmc-any/store", "http://127.0.0.1:9")
    assert "unreachable" in line
    for secret in ("s3cr3tpw", "hmcuser", "sig0123"):
        assert secret not in outcome.stdout + outcome.stderr


def test_train_into_a_missing_bucket_is_refused_and_creates_nothing(store: Path, s3_server: str) -> None:
    import boto3

    bucket = "hmc-no-such-bucket"
    client = boto3.client("s3", endpoint_url=s3_server)
    outcome = run_hmc(["train", str(store), "--out", f"s3://{bucket}/results", "--epochs", "1"], cwd=store)
    line = assert_one_line(outcome, 2, f"s3://{bucket}/results", "does not exist")
    assert RAY_STARTED not in outcome.stderr, line
    assert bucket not in {b["Name"] for b in client.list_buckets()["Buckets"]}


def test_a_deleted_cube_fails_train_before_ray_starts(tmp_path: Path) -> None:
    store = _split_store(tmp_path / "store")
    cube = sorted((store / "cubes").glob("*.zarr"))[0]
    shutil.rmtree(cube)
    t0 = time.monotonic()
    outcome = run_hmc(
        ["train", str(store), "--out", str(tmp_path / "results"), "--epochs", "1"], cwd=tmp_path
    )
    line = assert_one_line(outcome, 2, cube.name, "cannot be opened")
    assert RAY_STARTED not in outcome.stderr, line
    assert not (tmp_path / "results" / "logs").exists()  # Ray never got a log file
    assert time.monotonic() - t0 < 60


def test_a_bad_checkpoint_fails_monitor_before_ingest(tmp_path: Path) -> None:
    """The monitor loads its checkpoints first: a broken one is named before a product is ingested."""
    bad = tmp_path / "ckpt"
    bad.mkdir()
    (bad / "run.json").write_text("{}")
    sources = tmp_path / "sources"
    (sources / "licsar").mkdir(parents=True)
    store = tmp_path / "store"
    outcome = run_hmc(["monitor", str(sources), str(store), "--checkpoint", str(bad)], cwd=tmp_path)
    assert_one_line(outcome, 2, str(bad))
    assert not (store / "cubes").exists() and not (store / "monitor").exists()


def _fill_limit(kib: int) -> None:
    """In the child: files may grow to `kib` KiB (RLIMIT_FSIZE); a larger write fails with EFBIG, a real
    out-of-room error from the kernel on a real filesystem path (no root needed, unlike a small tmpfs)."""
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the default kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (kib * 1024, kib * 1024))


def test_a_write_out_of_room_names_the_path(store: Path, tmp_path: Path) -> None:
    """A catalog build that runs out of room names the file it was writing (EFBIG through RLIMIT_FSIZE)."""
    import subprocess

    from harness import HMC, environment

    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    shutil.rmtree(copy / "catalog", ignore_errors=True)
    before = {p.relative_to(copy) for p in copy.rglob("*")}
    done = subprocess.run(
        [*HMC, "catalog", "build", str(copy)],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: _fill_limit(1),
    )
    from harness import Outcome

    line = assert_one_line(Outcome(done.returncode, done.stdout, done.stderr), 1, str(copy))
    assert "file too large" in line or "no space left" in line
    assert {p.relative_to(copy) for p in copy.rglob("*.tmp")} == set()  # no temporary file outlives it
    assert {p.relative_to(copy) for p in copy.rglob("cubes/*")} <= before  # the cubes are untouched


def test_a_failure_inside_ray_train_is_its_root_cause_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ray's own wrappers (WorkerGroupError > UserExceptionWithTraceback > RayTaskError) around a platform
    error: one line, the platform error's own message and exit code, URLs redacted; the traceback, Ray's
    long text included, goes to the command's log file."""
    from ray.exceptions import RayTaskError
    from ray.train import WorkerGroupError
    from ray.train.v2._internal.exceptions import UserExceptionWithTraceback

    from hephaestus.cli.app import report_error
    from hephaestus.train.cubes_preflight import CatalogCubeMissingError

    root = CatalogCubeMissingError("s3://key:secret@bucket/cubes/001A.zarr?token=t0k: cannot be opened")
    task = RayTaskError("train_fn", "Traceback ...\n" + "x" * 1150, root)
    worker = UserExceptionWithTraceback(task, "Traceback (most recent call last):\n  ...\n" + "y" * 1150)
    failure = WorkerGroupError("worker 0 failed", {0: worker})
    log = tmp_path / "ray.log"
    code = report_error(failure, debug=False, log_file=str(log))
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert lines == ["error: s3://bucket/cubes/001A.zarr: cannot be opened"]
    assert not log.exists()  # a platform error needs no traceback to be understood


def test_an_unexpected_error_inside_ray_names_its_type_and_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ray.exceptions import RayTaskError

    from hephaestus.cli.app import report_error

    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError as exc:
        task = RayTaskError("read_chunk", "Traceback (most recent call last): in the worker", exc)
    log = tmp_path / "ray.log"
    code = report_error(task, debug=False, log_file=str(log))
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: division by zero (ZeroDivisionError; details in {log})"
    ]
    text = log.read_text()
    assert "in the worker" in text and "1 / 0" in text  # Ray's remote traceback and the cause's own
