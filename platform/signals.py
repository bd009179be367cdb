"""Interrupts that tell the truth: SIGINT and SIGTERM end a command as a KeyboardInterrupt (exit 130 / 143).

Python turns SIGINT into KeyboardInterrupt, but SIGTERM would kill the process without running a single
`finally` (Ray left running, no summary), and Ray replaces both handlers itself: `ray.init` makes SIGTERM
`sys.exit(15)` (exit 15, no word said), Ray Tune's SIGINT handler ends a grid quietly as if it had
finished. `install` puts one handler on both signals that raises a KeyboardInterrupt naming the signal in the main thread, so
every context manager on the way out runs (Ray is shut down) and the CLI reports which signal stopped
what; code that starts Ray calls it again once Ray is up.

Ray Train's `TorchTrainer.fit` (Train v2) goes further: it puts its own SIGINT handler in place while it
runs, which aborts the run's controller and then ends the driver with `sys.exit(0)` (seen as exit 1 with
nothing said) or lets `fit` fail with an actor error. No handler of ours can run then, so `noticed` watches
the signals themselves (Python's wakeup file descriptor receives every caught signal's number, whichever
handler runs) and turns whatever the block ended with into the interrupt that arrived.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from hephaestus.platform.errors import SIGNUM_ATTR, interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise interrupted(signum)


def install() -> bool:
    """Make SIGINT and SIGTERM raise `errors.interrupted(signum)` in the main thread; False (nothing done) elsewhere."""
    if threading.current_thread() is not threading.main_thread():
        return False
    for sig in SIGNALS:
        signal.signal(sig, _raise_interrupted)
    return True


def _drain(fd: int) -> bytes:
    """Everything written to the non-blocking pipe end `fd` so far."""
    got = b""
    while True:
        try:
            chunk = os.read(fd, 512)
        except BlockingIOError:
            return got
        if not chunk:
            return got
        got += chunk


@contextlib.contextmanager
def noticed() -> Iterator[None]:
    """Run a block that may replace the SIGINT handler (Ray Train's `fit`): a SIGINT or SIGTERM that
    arrives during it ends it as `errors.interrupted(signum)` (the first one that came), whether the block
    then returned, raised its own error or called `sys.exit`; our handlers are put back afterwards (when
    the CLI wanted them). Outside the main thread (where no handler runs) the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    ended: BaseException | None = None
    try:
        yield
    except BaseException as exc:  # SystemExit included: Ray's handler exits 0 after its abort
        ended = exc
    finally:
        signal.set_wakeup_fd(previous)
        seen = _drain(read_end)
        os.close(read_end)
        os.close(write_end)
        if previous >= 0 and seen:  # whoever watched before still hears of every signal
            with contextlib.suppress(OSError):
                os.write(previous, seen)
        reinstall()
    stop = next((s for s in seen if s in SIGNALS), None)
    if stop is not None and not (isinstance(ended, KeyboardInterrupt) and hasattr(ended, SIGNUM_ATTR)):
        raise interrupted(stop) from ended
    if ended is not None:
        raise ended


def reinstall() -> None:
    """After Ray has started: put the handlers back if the CLI had installed them (a library caller that
    never asked for them keeps its own)."""
    global _WANTED
    if _WANTED:
        install()


_WANTED = False


def enable() -> bool:
    """What the CLI calls once at start: install the handlers and keep them across Ray's replacements."""
    global _WANTED
    _WANTED = install()
    return _WANTED
