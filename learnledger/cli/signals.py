"""Long-running commands stop the same way on Ctrl-C (SIGINT) and on SIGTERM, whatever they inherited.

A process started from a background job inherits SIGINT ignored (SIG_IGN), and Python then installs
no KeyboardInterrupt handler; a supervisor (systemd, docker, a test) sends SIGTERM, which Python does
not catch at all. Both would kill a devnet or a launch without saving its state or stopping its
children. So each long-running command (devnet, launch, agent, store serve, run, watch) installs its own
handler for both signals, turning either into KeyboardInterrupt at the point the command waits, and
its ``except KeyboardInterrupt`` path saves, stops children and says what it kept.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """Raised in the main thread by SIGINT or SIGTERM; ``signal_number`` says which."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


def _raise_stopped(signal_number: int, frame: FrameType | None) -> None:
    raise Stopped(signal_number)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise ``Stopped`` (a KeyboardInterrupt); restored after."""
    previous = {number: signal.signal(number, _raise_stopped) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)

