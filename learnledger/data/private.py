"""A research group's own data for ``learnledger agent --data FILE.npz``.

The file holds six arrays, ``x_train``, ``y_train``, ``x_vote``, ``y_vote``, ``x_test``, ``y_test``
(images uint8 channels-last, integer labels), and optionally ``class_names``. It is read with
``allow_pickle=False``: nothing in it is ever executed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from learnledger.data.api import LearnerData, Split
from learnledger.data.errors import DataError

PARTS = ("train", "vote", "test")


def load_private_data(path: Path) -> LearnerData:
    """Read a group's train, vote and test sets from ``path``; DataError names what is missing."""
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"no data file at {path}") from None
    except (OSError, ValueError) as error:
        raise DataError(f"{path} is not a readable .npz file ({error})") from None
    with archive:
        missing = [f"{axis}_{part}" for part in PARTS for axis in "xy" if f"{axis}_{part}" not in archive]
        if missing:
            raise DataError(f"{path} lacks the arrays {', '.join(missing)}; it needs x_/y_ for "
                            "train, vote and test")
        splits = {}
        for part in PARTS:
            x, y = archive[f"x_{part}"], archive[f"y_{part}"]
            if x.dtype != np.uint8:
                raise DataError(f"{path}: x_{part} is {x.dtype}; images are uint8 0..255, channels last")
            splits[part] = Split(x=x, y=y.astype(np.int64))
        names = tuple(str(n) for n in archive["class_names"]) if "class_names" in archive else tuple(
            str(c) for c in np.unique(splits["train"].y))
    return LearnerData(train=splits["train"], vote=splits["vote"], test=splits["test"],
                       class_names=names, provenance={"source": "npz", "path": str(path)})
