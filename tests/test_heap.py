"""frozen_heap: what was alive before the rounds is kept out of collections, what the rounds make
is collected as before, and everything is handed back afterwards, even after an error."""

from __future__ import annotations

import gc
import weakref

import pytest

from learnledger.runs.heap import frozen_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector frees it


def test_the_heap_is_frozen_while_the_block_runs_and_given_back_after() -> None:
    before = _Node()
    with frozen_heap():
        assert gc.get_freeze_count() > 0
        assert not any(o is before for o in gc.get_objects()), "set-up objects are out of the collector's walks"
        cycle = weakref.ref(_Node())  # garbage made during the rounds
        gc.collect()
        assert cycle() is None, "a cycle made while frozen is still collected"
    assert gc.get_freeze_count() == 0
    assert any(o is before for o in gc.get_objects())
    kept = weakref.ref(before)
    del before
    gc.collect()
    assert kept() is None, "a cycle from before the block is collectable again after it"


def test_an_error_inside_still_unfreezes() -> None:
    with pytest.raises(RuntimeError), frozen_heap():
        raise RuntimeError("a round failed")
    assert gc.get_freeze_count() == 0
