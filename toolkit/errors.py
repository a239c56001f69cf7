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
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: object) -> None:
    global _terminated
    if _terminated:  # a second SIGTERM while stopping: do not interrupt the clean-up
        return
    _terminated = True
    raise Terminated()


def interrupt_exit_code() -> int:
    """130 after Ctrl-C, 143 (128 + SIGTERM) after SIGTERM: what a shell reports for each."""
    return 143 if _terminated else 130


def interrupt_message() -> str:
    return "terminated" if _terminated else "interrupted"
