"""Long-running commands stop the same way on Ctrl-C (SIGINT) and on SIGTERM, whatever they inherited.

A process started from a background job inherits SIGINT ignored (SIG_IGN), and Python then installs
no KeyboardInterrupt handler; a supervisor (systemd, docker, a test) sends SIGTERM, which Python does
not catch at all. Both would kill a devnet or a launch without saving its state or stopping its
children. So each long-running command (devnet, launch, agent, store serve, run, watch) installs its own
handler for both signals, turning either into KeyboardInterrupt at the point the command waits, and
its ``except KeyboardInterrupt`` path saves, stops children and says what it kept.

A signal's handler runs wherever the main thread is, and an exception raised inside a finalizer
(``__del__``, such as a crypto library freeing a key while the agents sign) is printed and dropped:
the stop would be lost and the run go on to its end. So a stop that lands in a finalizer is kept and
raised again a moment later (``RETRY_S``, by SIGALRM), once the finalizer has returned.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

RETRY_S = 0.05
"""How soon a stop that landed in a finalizer is raised again."""

_pending: list[int] = []
"""The stop signal waiting to be raised outside a finalizer (at most one)."""


class Stopped(KeyboardInterrupt):
    """Raised in the main thread by SIGINT or SIGTERM; ``signal_number`` says which."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


def _in_finalizer(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def _raise_stopped(signal_number: int, frame: FrameType | None) -> None:
    if _in_finalizer(frame):  # raised here it would be dropped: raise it again in a moment
        _pending[:] = [signal_number]
        signal.setitimer(signal.ITIMER_REAL, RETRY_S)
        return
    _pending.clear()
    raise Stopped(signal_number)


def _retry_pending(signal_number: int, frame: FrameType | None) -> None:
    if _pending:
        _raise_stopped(_pending[0], frame)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise ``Stopped`` (a KeyboardInterrupt); restored after."""
    previous = {number: signal.signal(number, _raise_stopped) for number in STOP_SIGNALS}
    previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, _retry_pending)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _pending.clear()
        for number, handler in previous.items():
            signal.signal(number, handler)

