"""The fault harness: run `hmc` as a user does (a subprocess) and check how a fault is reported.

Every fault case of tests/faults/ asserts the same three things: the exit code, one line on stderr that names
what failed (the file, URL, setting or run), and that nothing good was lost (checked by the case itself).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

HMC = (sys.executable, "-m", "hephaestus.cli.app")


@dataclass(frozen=True)
class Outcome:
    """What a user sees of one `hmc` command: exit code, stdout, stderr."""

    rc: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        """The non-empty stderr lines that are not progress output."""
        return [line for line in self.stderr.splitlines() if line.strip() and "it/s]" not in line]


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment with Ray kept on loopback and quiet, plus `extra`."""
    env = dict(os.environ)
    env.setdefault("RAY_AUTH_MODE", "disabled")
    env.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    env.update(extra or {})
    return env


def run_hmc(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> Outcome:
    """Run `hmc ARGV` to its end."""
    done = subprocess.run(
        [*HMC, *argv], cwd=cwd, env=environment(env), capture_output=True, text=True, timeout=timeout
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def interrupt_hmc(
    argv: Sequence[str],
    *,
    when: str,
    sig: int = signal.SIGINT,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> Outcome:
    """Run `hmc ARGV`, send `sig` once stdout or stderr has shown the text `when`, and wait for its end."""
    log = Path(cwd or ".") / f".hmc-{os.getpid()}-{time.monotonic_ns()}.log"
    with open(log, "w+") as out:
        proc = subprocess.Popen(
            [*HMC, *argv], cwd=cwd, env=environment(env), stdout=out, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                if when in log.read_text(errors="replace"):
                    proc.send_signal(sig)
                    break
                time.sleep(0.1)
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text(errors="replace")
    log.unlink()
    return Outcome(proc.returncode, text, text)


def assert_one_line(outcome: Outcome, rc: int, *names: str) -> str:
    """The outcome exited `rc` and its last stderr line names every one of `names`; that line."""
    assert outcome.rc == rc, (outcome.rc, outcome.stderr[-2000:])
    lines = outcome.error_lines
    assert lines, f"nothing on stderr (rc {outcome.rc})"
    last = lines[-1]
    assert last.startswith("error:"), last  # a line of its own (not glued to a progress board's last line)
    for name in names:
        assert name in last, (name, last)
    assert "Traceback" not in outcome.stderr, outcome.stderr[-2000:]
    print(f"[fault] exit {outcome.rc}: {last}")  # `pytest -s tests/faults` lists what each case printed
    return last
