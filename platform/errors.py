"""The one error hierarchy of the platform.

Every error a stage raises on purpose derives from :class:`HephaestusError`, so the CLI catches the base once and
prints one line. The two branches say whose fault it is, which decides the exit code:

- :class:`InputError` (exit 2): the user's input or usage is wrong (a file, a URL, a flag, a config value).
- :class:`PlatformRuntimeError` (exit 1): the input was fine but the run failed (a cluster, a server, a build).

Errors keep a standard-library base as well (``ValueError``, ``FileNotFoundError``, ``RuntimeError``) where code
and users already catch those.
"""

from __future__ import annotations

EXIT_INPUT = 2
EXIT_RUNTIME = 1


class HephaestusError(Exception):
    """Base of every error the platform raises on purpose; ``exit_code`` is what the CLI exits with."""

    exit_code: int = EXIT_RUNTIME


class InputError(HephaestusError, ValueError):
    """Bad input or usage: the message names the file or URL and what is wrong (CLI exit 2)."""

    exit_code = EXIT_INPUT


class InputNotFoundError(InputError, FileNotFoundError):
    """A file, folder, URL or catalog that the command needs does not exist (CLI exit 2)."""


class PlatformRuntimeError(HephaestusError, RuntimeError):
    """The input was acceptable but the run failed (CLI exit 1)."""

    exit_code = EXIT_RUNTIME


SIGNUM_ATTR = "hmc_signum"
"""The attribute of a KeyboardInterrupt that names the signal that raised it (absent: SIGINT)."""


def interrupted(signum: int, message: str = "") -> KeyboardInterrupt:
    """The KeyboardInterrupt that SIGINT or SIGTERM raises in the main thread (`hephaestus.platform.signals`):
    a KeyboardInterrupt, so that every `finally` and context manager on the way out runs (Ray is shut down)
    and no `except Exception` takes it for an ordinary error; the signal is kept on it for the exit code."""
    exc = KeyboardInterrupt(message or f"interrupted by {_signal_name(signum)}")
    setattr(exc, SIGNUM_ATTR, signum)
    return exc


def signal_of(exc: BaseException) -> int:
    """The signal that raised an interrupt (SIGINT for a plain KeyboardInterrupt): the CLI exits 128 + it,
    as a shell reports a command a signal stopped (130 for Ctrl-C, 143 for SIGTERM)."""
    return int(getattr(exc, SIGNUM_ATTR, 2))


def _signal_name(signum: int) -> str:
    import signal

    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


_WRAPPER_LIMIT = 16
"""Most wrappers unwrapped (a cause chain is short; never loop on a cycle)."""


def cause_chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions it carries, outermost first: the last is the root cause.

    Ray wraps a task's exception in a `RayTaskError` (`.cause`), Ray Train in a `WorkerGroupError`
    (`.worker_failures`, by rank) or a `ControllerError` (`.controller_failure`), Ray Tune in a
    `TuneError` or `TrainingFailedError` whose cause is the trial's error, and a worker's exception in a
    `UserExceptionWithTraceback` (`._base_exc`); each of them may carry the others. Matched by attribute,
    so this module needs no Ray import. Anything else is its own root.
    """
    chain = [exc]
    for _ in range(_WRAPPER_LIMIT):
        inner = _wrapped(chain[-1])
        if inner is None or any(inner is seen for seen in chain):
            break
        chain.append(inner)
    return chain


def root_cause(exc: BaseException) -> BaseException:
    """The exception a failure inside Ray started from, unwrapped from Ray's carriers (`cause_chain`)."""
    return cause_chain(exc)[-1]


def _wrapped(exc: BaseException) -> BaseException | None:
    if isinstance(exc, HephaestusError) and type(exc).__module__.startswith("hephaestus."):
        return None  # the platform's own error is the message to show (Ray's `RayTaskError(InputError)`
        # classes derive from the cause's class as well: those are unwrapped below)
    failures = getattr(exc, "worker_failures", None)
    if isinstance(failures, dict) and failures:
        first = failures[min(failures)]
        if isinstance(first, BaseException):
            return first
    for name in ("controller_failure", "cause", "_base_exc"):  # _base_exc: Train's UserExceptionWithTraceback
        inner = getattr(exc, name, None)
        if isinstance(inner, BaseException):
            return inner
    module = type(exc).__module__ or ""
    if module.startswith("ray.") and isinstance(exc.__cause__, BaseException):
        return exc.__cause__  # Tune/Train errors raised `from` the trial's own
    return None


def exit_code_of(exc: BaseException) -> int:
    """What the CLI exits with for `exc` (its root cause's type decides)."""
    if isinstance(exc, KeyboardInterrupt):
        return 128 + signal_of(exc)
    cause = root_cause(exc)
    return cause.exit_code if isinstance(cause, HephaestusError) else EXIT_RUNTIME


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (multi-line messages joined with '; '), every URL in it redacted
    (no user-info, no query strings); the type's name when it has no message."""
    from hephaestus.platform.storage.urls import redact_text

    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return redact_text("; ".join(lines)) or type(exc).__name__


def format_error(exc: BaseException, *, details: str | None = None) -> str:
    """The one line the CLI prints for any error: every error passes through here.

    A platform error (`HephaestusError`, also as the root cause of a Ray failure) is its own message, which
    names the file or URL and what is wrong. An interrupt says which signal. Anything else is unexpected:
    the message and its type, and where the traceback is (`details`: the log file, or a hint).
    """
    if isinstance(exc, KeyboardInterrupt):
        name = _signal_name(signal_of(exc))
        return f"error: {name}: interrupted; run the same command again to resume"
    cause = root_cause(exc)
    if isinstance(cause, HephaestusError):
        return f"error: {one_line(cause)}"
    if (
        isinstance(cause, OSError) and cause.errno == 28 and cause.filename
    ):  # ENOSPC outside the storage layer
        from hephaestus.platform.storage.urls import redact_text

        return f"error: no space left on device writing {redact_text(str(cause.filename))}"
    suffix = f"; {details}" if details else ""
    return f"error: {one_line(cause)} ({type(cause).__name__}{suffix})"


class IntegrityError(InputError):
    """Stored bytes fail their checksum or digest, or stored values lie outside their physical range: the
    message names the cube, variable and window (or the file) and what failed (CLI exit 2)."""


class DivergenceError(PlatformRuntimeError):
    """A training run diverged (a non-finite loss or weights): names the run, epoch and step (CLI exit 1)."""
