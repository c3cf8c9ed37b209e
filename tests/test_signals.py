"""A stop (Ctrl-C, SIGTERM) is never lost, even when it lands inside a finalizer.

Python prints and drops an exception raised in ``__del__``; a signal whose handler raised there
(a crypto library freeing a key while an agent signs, as a CI run once caught) let the run go on to
its end and exit 0. ``stop_on_signals`` raises such a stop again once the finalizer has returned.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from learnledger.cli.signals import Stopped, stop_on_signals


class SignalledWhileFinalized:
    """Its finalizer receives SIGINT: the handler runs inside ``__del__``."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # bytecodes for the interpreter to run the handler on, still in __del__
            pass


def test_a_stop_that_lands_in_a_finalizer_is_raised_after_it() -> None:
    with pytest.raises(Stopped) as stop:  # a lost stop would let the loop end after 10 s, raising nothing
        with stop_on_signals():
            SignalledWhileFinalized()  # dropped at once: its __del__ runs here and gets the signal
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                time.sleep(0.01)
    assert stop.value.signal_number == signal.SIGINT


def test_a_stop_outside_a_finalizer_is_raised_at_once_and_the_handlers_are_restored() -> None:
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
    with pytest.raises(Stopped) as stop:
        with stop_on_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert stop.value.signal_number == signal.SIGTERM
    assert {number: signal.getsignal(number) for number in before} == before
