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


def catch_interrupts() -> None:
    """Make Ctrl-C (SIGINT) raise KeyboardInterrupt even when the process was started with it
    ignored, as a shell does for a background job (``cmd &``): a run must still end cleanly,
    marked interrupted with its best weights kept."""
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    if main and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
