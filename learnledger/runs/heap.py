"""The garbage collector and a process that holds a machine-learning framework.

A process with Keras and TensorFlow loaded and its learners built holds about half a million
long-lived Python objects. CPython's collector walks all of them in every full collection (0.4-0.5 s
on the project's machine), and it starts one after enough younger collections have promoted enough
objects: the small objects each round allocates (JSON answers, receipts, log entries) trigger one
every few dozen rounds. Measured on 20 MNIST rounds on the embedded chain: one full collection,
0.43-0.53 s, about 5% of the run, in some runs and not others.

``frozen_heap`` moves every object alive when the rounds start into the permanent generation
(``gc.freeze``), which collections skip; what the rounds allocate is collected as before. The
set-up's objects are given back to the collector when the rounds end.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the objects alive now out of every collection until the block ends."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
