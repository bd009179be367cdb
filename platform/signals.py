"""Interrupts that tell the truth: SIGINT and SIGTERM end a command as a KeyboardInterrupt (exit 130 / 143).

Python turns SIGINT into KeyboardInterrupt, but SIGTERM would kill the process without running a single
`finally` (Ray left running, no summary), and Ray replaces both handlers itself: `ray.init` makes SIGTERM
`sys.exit(15)` (exit 15, no word said), Ray Tune's SIGINT handler ends a grid quietly as if it had
finished. `install` puts one handler on both signals that raises a KeyboardInterrupt naming the signal in the main thread, so
every context manager on the way out runs (Ray is shut down) and the CLI reports which signal stopped
what; code that starts Ray calls it again once Ray is up.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from hephaestus.platform.errors import interrupted

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
