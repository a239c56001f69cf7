"""The one exception type for everything a user can cause.

Library code raises :class:`ToolkitError` with a message that says what is wrong and what
to do about it; the CLI prints that message on one line and exits with code 2.
"""

from __future__ import annotations


class ToolkitError(Exception):
    """A problem the user can fix (bad folder, bad CSV, unknown plugin, bad study file).

    The message must name the problem and the remedy, in one line.
    """

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))
        self.message = " ".join(message.split())

    def __str__(self) -> str:
        return self.message


class WriteError(ToolkitError, OSError):
    """A file or folder the toolkit writes could not be written: the disk is full, a file-size
    limit was reached, the folder is read-only or forbidden, or a file sits where a folder
    should be. The message names the path, the cause and the remedy
    (:func:`toolkit.io.write_error` builds it).

    It is also an :class:`OSError`, so code that goes on without an unwritable cache still does.
    """


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (a cluster preempting the job, ``kill``): stop as Ctrl-C would."""


_terminated = False


def terminated() -> bool:
    """Whether this process was asked to stop by SIGTERM (its exit code is then 143)."""
    return _terminated


def catch_interrupts() -> None:
    """Stop cleanly on Ctrl-C and on SIGTERM: both raise KeyboardInterrupt in the main thread,
    so a run ends marked interrupted with its best weights kept, and the same command resumes.

    SIGINT is re-enabled when the process was started with it ignored, as a shell does for a
    background job (``cmd &``). SIGTERM (what clusters and ``kill`` send) raises
    :class:`Terminated`, a KeyboardInterrupt, instead of ending the process on the spot.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.default_int_handler):
        signal.signal(signal.SIGINT, _on_sigint)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


def defer_interrupts() -> None:
    """Hold Ctrl-C and SIGTERM until :func:`resume_interrupts` (calls nest): for a lock file
    held between two calls, which an interrupt arriving after its creation but before its
    holder's ``try`` would leave behind for every other process to wait out."""
    global _deferring
    _deferring += 1


def resume_interrupts() -> None:
    """End one :func:`defer_interrupts`; the last one raises an interrupt that arrived."""
    global _deferring, _pending
    _deferring = max(0, _deferring - 1)
    if _deferring == 0 and _pending is not None:
        err, _pending = _pending, None
        raise err


def ignore_file_size_signal() -> None:
    """Make a write past the file-size limit (``ulimit -f``) fail with EFBIG, which becomes a
    one-line error, instead of SIGXFSZ ending the process with no word. CPython ignores the
    signal at start-up already; this keeps it so when the toolkit runs inside another host."""
    import signal
    import threading

    if hasattr(signal, "SIGXFSZ") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def quiet_thread_write_errors() -> None:
    """A background thread whose write fails (TensorBoard's event writer on a full disk) prints
    no traceback: the main thread meets the same error at its next write and reports it as one
    line. Other errors in threads keep Python's report, and ``--debug`` keeps all of them."""
    import os
    import threading

    global _thread_hook
    if _thread_hook:
        return
    _thread_hook = True
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if not isinstance(args.exc_value, OSError) or os.environ.get("TOOLKIT_DEBUG") == "1":
            previous(args)

    threading.excepthook = hook


_thread_hook = False


_deferring = 0  # defer_interrupts() calls not yet resumed
_pending: KeyboardInterrupt | None = None  # an interrupt held meanwhile


def _interrupt(err: KeyboardInterrupt) -> None:
    global _pending
    if _deferring:
        _pending = _pending or err
        return
    raise err


def _on_sigint(signum: int, frame: object) -> None:
    _interrupt(KeyboardInterrupt())


def _on_sigterm(signum: int, frame: object) -> None:
    global _terminated
    if _terminated:  # a second SIGTERM while stopping: do not interrupt the clean-up
        return
    _terminated = True
    _interrupt(Terminated())


def interrupt_exit_code() -> int:
    """130 after Ctrl-C, 143 (128 + SIGTERM) after SIGTERM: what a shell reports for each."""
    return 143 if _terminated else 130


def interrupt_message() -> str:
    return "terminated" if _terminated else "interrupted"
